"""Who is asking: built by app/auth.py from the request, read by the domain modules."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    """An API key (kind "apiKey"), a user with their access token ("user"), or nobody ("anonymous").

    tenant_id is the tenant the call is limited to: the key's own tenant, or the one chosen with
    X-FusionAuth-TenantId by an unscoped key, or None for every tenant.
    """

    kind: str
    id: str | None
    tenant_id: str | None
    address: str
    user_agent: str
    request_id: str
    trusted: bool = False  # never throttled as a token guesser (presented a valid API key: app/throttle.py)

    @property
    def is_user(self) -> bool:
        return self.kind == "user"

    def actor(self) -> dict[str, str | None]:
        """How an event names the caller: never a secret, only ids and the address."""
        return {"type": self.kind, "id": self.id, "ipAddress": self.address}
