"""A model of which refresh tokens are live, checked against the service after every step of random
interleavings of mint / exchange / revoke (token, user, user and application, application, tenant) /
invalidate-all / burial steps, through Flask's test client on a real Redis.

The model knows each token's state: live; a tombstone (revoked one by one or with its user); killed
by an application's valid-from watermark and not yet buried; buried (its record deleted); or, after a
single burial step of one token per bucket, "limbo" (killed, buried or not: the model does not follow
the burial's order). Liveness never depends on that: every state but live is dead everywhere. Counts
are checked exactly where the service promises them (an application's or tenant's revoke counts every
dead token of the scope as previously invalidated, buried or not; invalidated counts are always
exact), and within bounds where a buried token may have left a user's index.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import redis
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from app import create_app
from app.store import keys
from app.worker import Cleaner
from tests.conftest import API_KEY, RedisServer, make_settings
from tests.store.store_kit import make_watermarks

KEY = {"Authorization": API_KEY}
USERS = [str(keys.new_token_id(b)) for b in (1, 1, 6, 11)]  # two share a bucket
LIVE, TOMB, KILLED, LIMBO, LIMBO_TOMB, BURIED = "live", "tomb", "killed", "limbo", "limbo-tomb", "buried"
COUNTED_BY_USER = (TOMB, KILLED)  # still in the user's indexes: a user's revoke counts them previously
MAYBE_COUNTED_BY_USER = (LIMBO, LIMBO_TOMB)


@dataclass
class Token:
    token_id: str
    value: str
    access: str
    user: str
    app: str
    state: str = LIVE


class RevocationModel(RuleBasedStateMachine):
    server: RedisServer  # set by the test

    tokens = Bundle("tokens")

    def __init__(self) -> None:
        super().__init__()
        self.redis = redis.Redis.from_url(self.server.url, decode_responses=True)
        self.redis.flushall()
        self.client = create_app(make_settings(self.server.url)).test_client(use_cookies=False)
        self.marks = make_watermarks(self.redis, cleanup_batch=1)
        self.tenants = [self._tenant(name) for name in ("t-one", "t-two")]
        self.apps = [self._application(self.tenants[i]) for i in (0, 0, 1)]
        self.tenant_of = {self.apps[0]: self.tenants[0], self.apps[1]: self.tenants[0], self.apps[2]: self.tenants[1]}
        self.all: list[Token] = []

    def teardown(self) -> None:
        self.redis.close()

    # -- set-up helpers ---------------------------------------------------------------------------
    def _tenant(self, name: str) -> str:
        response = self.client.post("/api/tenant", json={"tenant": {"name": name}}, headers=KEY)
        assert response.status_code == 200, response.json
        return str(response.json["tenant"]["id"])

    def _application(self, tenant_id: str) -> str:
        app_id = str(uuid.uuid4())
        body = {"application": {"name": app_id[:8], "tenantId": tenant_id}}
        assert self.client.post(f"/api/application/{app_id}", json=body, headers=KEY).status_code == 200
        return app_id

    # -- the model --------------------------------------------------------------------------------
    def _scope(self, user: str | None = None, apps: list[str] | None = None) -> list[Token]:
        return [t for t in self.all if (user is None or t.user == user) and (apps is None or t.app in apps)]

    def _revoke_in_indexes(self, scope: list[Token]) -> tuple[int, int, int]:
        """A user-scoped revoke: (invalidated, least and most previously invalidated), and the states after."""
        live = sum(t.state == LIVE for t in scope)
        low = sum(t.state in COUNTED_BY_USER for t in scope)
        high = low + sum(t.state in MAYBE_COUNTED_BY_USER for t in scope)
        for t in scope:
            t.state = {LIVE: TOMB, KILLED: TOMB, LIMBO: LIMBO_TOMB}.get(t.state, t.state)
        return live, low, high

    def _watermark(self, scope: list[Token]) -> tuple[int, int]:
        """An application's or tenant's revoke: exact counts, and the states after."""
        live = sum(t.state == LIVE for t in scope)
        for t in scope:
            if t.state == LIVE:
                t.state = KILLED
        return live, len(scope) - live

    # -- rules ------------------------------------------------------------------------------------
    @rule(target=tokens, user=st.sampled_from(USERS), app=st.integers(0, 2))
    def mint(self, user: str, app: int) -> Token:
        body = {"userId": user, "applicationId": self.apps[app]}
        response = self.client.post("/api/user/refresh-token", json=body, headers=KEY)
        assert response.status_code == 200, response.json
        minted = response.json
        token = Token(minted["refreshTokenId"], minted["refreshToken"], minted["token"], user, self.apps[app])
        self.all.append(token)
        return token

    @rule(token=tokens)
    def exchange(self, token: Token) -> None:
        response = self.client.post("/api/jwt/refresh", json={"refreshToken": token.value})
        assert response.status_code == (200 if token.state == LIVE else 400), token

    @rule(token=tokens)
    def revoke_token(self, token: Token) -> None:
        response = self.client.delete(f"/api/jwt/refresh/{token.token_id}", headers=KEY)
        if token.state == LIVE:
            assert response.status_code == 200
            assert (response.json["invalidatedTokens"], response.json["previouslyInvalidatedTokens"]) == (1, 0)
            token.state = TOMB
        else:
            assert response.status_code == 404, token

    @rule(user=st.sampled_from(USERS), app=st.none() | st.integers(0, 2))
    def revoke_user(self, user: str, app: int | None) -> None:
        query = f"userId={user}" + (f"&applicationId={self.apps[app]}" if app is not None else "")
        response = self.client.delete(f"/api/jwt/refresh?{query}", headers=KEY)
        assert response.status_code == 200
        live, low, high = self._revoke_in_indexes(self._scope(user, None if app is None else [self.apps[app]]))
        assert response.json["invalidatedTokens"] == live
        assert low <= response.json["previouslyInvalidatedTokens"] <= high

    @rule(user=st.sampled_from(USERS), graph=st.booleans())
    def invalidate_all(self, user: str, graph: bool) -> None:
        if graph:
            response = self.client.post(f"/v1.0/users/{user}/invalidateAllRefreshTokens", headers=KEY)
            assert response.status_code == 204
            self._revoke_in_indexes(self._scope(user))
        else:  # Elasticsearch's, by username: counted
            response = self.client.delete("/_security/oauth2/token", json={"username": user}, headers=KEY)
            live, low, high = self._revoke_in_indexes(self._scope(user))
            assert response.json["invalidated_tokens"] == live
            assert low <= response.json["previously_invalidated_tokens"] <= high

    @rule(app=st.integers(0, 2))
    def revoke_application(self, app: int) -> None:
        response = self.client.delete(f"/api/jwt/refresh?applicationId={self.apps[app]}", headers=KEY)
        assert response.status_code == 200
        expected = self._watermark(self._scope(apps=[self.apps[app]]))
        assert (response.json["invalidatedTokens"], response.json["previouslyInvalidatedTokens"]) == expected

    @rule(tenant=st.integers(0, 1))
    def revoke_tenant(self, tenant: int) -> None:
        body = {"realm_name": self.tenants[tenant]}
        response = self.client.delete("/_security/oauth2/token", json=body, headers=KEY)
        assert response.status_code == 200
        apps = [a for a, t in self.tenant_of.items() if t == self.tenants[tenant]]
        expected = self._watermark(self._scope(apps=apps))
        assert (response.json["invalidated_tokens"], response.json["previously_invalidated_tokens"]) == expected

    @rule()
    def cleanup_step(self) -> None:
        """One worker batch (one token per bucket and application): some killed tokens are buried."""
        for app in self.marks.pending_cleanups():
            self.marks.cleanup_step(app)
        for t in self.all:
            if t.state == KILLED:
                t.state = LIMBO

    @rule()
    def cleanup_everything(self) -> None:
        Cleaner(self.marks).run_once()
        for t in self.all:
            if t.state in (KILLED, LIMBO):
                t.state = BURIED
        assert self.redis.zcard(keys.CLEANUP_JOBS) == 0

    # -- what must always hold ---------------------------------------------------------------------
    @invariant()
    def every_token_is_live_exactly_when_the_model_says_so(self) -> None:
        for t in self.all:
            status = self.client.get(f"/api/jwt/refresh/{t.token_id}", headers=KEY).status_code
            assert status == (200 if t.state == LIVE else 404), t
            valid = self.client.get("/api/jwt/validate", headers={"Authorization": f"Bearer {t.access}"})
            assert valid.status_code == (200 if t.state == LIVE else 401), t

    @invariant()
    def each_user_lists_exactly_their_live_tokens(self) -> None:
        for user in USERS:
            listed = self.client.get(f"/api/jwt/refresh?userId={user}", headers=KEY).json["refreshTokens"]
            assert sorted(t["id"] for t in listed) == sorted(t.token_id for t in self._scope(user) if t.state == LIVE)


def test_the_service_agrees_with_the_model_of_live_tokens(redis_server: RedisServer) -> None:
    machine = type("Machine", (RevocationModel,), {"server": redis_server})
    run_state_machine_as_test(
        machine,
        settings=settings(max_examples=25, stateful_step_count=30, deadline=None),
    )
