"""refreshd: refresh-token management and revocation with FusionAuth's JWT refresh API."""

from __future__ import annotations

import gc
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import redis
from apispec import BasePlugin
from flask import Flask
from flask_smorest import Api

from app import affinity, logs, metrics
from app.access import AccessTokens
from app.apikeys import ApiKeys
from app.applications import Registry
from app.config import Settings
from app.errors import StoreBreaker, register_error_handlers
from app.event_log import EventLog
from app.invalidation import Invalidation
from app.oauth import OAuth
from app.schemas.common import Errors
from app.scrape import Scraper
from app.sealing import Sealer
from app.signing import KeyRing, Signer
from app.store.attempts import FailedAttempts
from app.store.config import ConfigStore
from app.store.connection import connect
from app.store.events import EventStore
from app.store.lua import ReplicaWait, Scripts
from app.store.tokens import RefreshTokenStore
from app.store.watermarks import WatermarkStore
from app.store.webhooks import WebhookStore
from app.telemetry import RoutedRequest, Telemetry
from app.throttle import AUTH, GUESS, Throttle
from app.tokens import TokenService
from app.webhooks import Webhooks

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

log = logging.getLogger(__name__)


class EmptyErrorResponses(BasePlugin):
    """401 and 404 answer with an empty body (FusionAuth's way): every operation's spec says so,
    rather than inheriting the JSON error schema of the default response. And any call may meet the
    abuse limits' 429 (app/throttle.py), in the default response's JSON shape."""

    def operation_helper(self, path: str | None = None, operations: dict | None = None, **kwargs: object) -> None:
        for operation in (operations or {}).values():
            responses = operation.setdefault("responses", {})
            responses.setdefault(401, {"description": "Missing or bad credentials, or no permission: no body"})
            responses.setdefault(404, {"description": "Unknown or no longer live: no body"})
            responses.setdefault(429, {"$ref": "#/components/responses/DEFAULT_ERROR"})


class RefreshdApi(Api):
    """flask-smorest, documenting and answering errors in FusionAuth's shape (app/errors.py)."""

    ERROR_SCHEMA = Errors

    def _register_error_handlers(self) -> None:
        """Our handlers (app.errors) answer every error; flask-smorest's 422 body is never used."""


@dataclass
class Services:
    """Everything a request needs, built once per process."""

    settings: Settings
    redis: redis.Redis
    registry: Registry
    api_keys: ApiKeys
    signer: Signer
    tokens: TokenService
    access: AccessTokens
    oauth: OAuth
    invalidation: Invalidation
    event_streams: EventStore
    event_log: EventLog
    webhook_queues: WebhookStore
    webhooks: Webhooks
    breaker: StoreBreaker
    throttle: Throttle
    ready: bool = False

    def before_request(self) -> None:
        """503 at once while Redis is known down (app.errors.StoreBreaker); then, until it succeeds
        once, create what must exist."""
        self.breaker.check()
        if not self.ready:
            self.ensure_ready()

    def ensure_ready(self) -> None:
        """Create what must exist (default tenant, bootstrap key, signing key) once Redis answers;
        retried on the next request after a failure, so a start with Redis down recovers by itself."""
        if self.ready:
            return
        self.registry.default_tenant_id()
        if self.settings.bootstrap_api_key:
            self.api_keys.ensure_bootstrap(self.settings.bootstrap_api_key)
        self.signer.keys.default()
        self.ready = True


def build_services(settings: Settings) -> Services:
    client = connect(settings)
    config = ConfigStore(client)
    keys = KeyRing(config, settings.master_key, settings.cache_seconds)
    signer = Signer(keys, settings.issuer)
    registry = Registry(config, settings.cache_seconds, key_exists=lambda key_id: keys.get(key_id) is not None)
    scripts = Scripts.register(client)
    wait_mode = settings.revoke_wait_replicas if settings.redis_url else "off"  # the embedded store has no replica
    # WAIT must give up before the socket read timeout does, or its answer would be lost
    wait_ms = max(1, min(settings.revoke_wait_timeout_ms, int(settings.redis_read_timeout * 800)))
    replica_wait = ReplicaWait(client, wait_mode, wait_ms)
    store = RefreshTokenStore(
        client,
        scripts,
        settings.event_stream_max_length,
        replica_wait,
        reuse_history=settings.reuse_history,
        reuse_window_ms=settings.reuse_history_window_seconds * 1000,
    )
    watermarks = WatermarkStore(client, scripts, settings.event_stream_max_length, replica_wait=replica_wait)
    throttle = Throttle(
        FailedAttempts(client),
        settings.rate_limit_window_seconds,
        {AUTH: settings.failed_auth_limit, GUESS: settings.unknown_token_limit},
        settings.rate_limit_trusted_networks,
    )
    tokens = TokenService(
        store, watermarks, registry, signer, settings.revoke_ids_cap, settings.list_max_results, throttle
    )
    access = AccessTokens(store, watermarks, registry, signer, tokens)
    oauth = OAuth(tokens, access, registry)
    invalidation = Invalidation(tokens, watermarks, access, registry, settings.revoke_ids_cap)
    api_keys = ApiKeys(config, settings.cache_seconds)
    streams = EventStore(client)

    def access_ttl_of(application_id: str) -> int | None:
        application = registry.application(application_id)
        return application.policy.access_ttl_seconds if application else None

    event_log = EventLog(streams, access_ttl_of, settings.event_query_scan_limit)
    queues = WebhookStore(client, settings.webhook_dead_letter_max)
    webhooks = Webhooks(config, queues, streams, signer, Sealer(settings.master_key), settings.webhook_max_attempts)
    return Services(
        settings, client, registry, api_keys, signer, tokens, access, oauth, invalidation,
        streams, event_log, queues, webhooks, StoreBreaker(settings.store_down_seconds), throttle,
    )  # fmt: skip


def create_app(settings: Settings | None = None) -> Flask:
    """The WSGI application: settings (from the environment unless given), store, API, errors."""
    settings = settings or Settings.from_env()
    logs.configure(settings.log_level)
    metrics.prepare(settings.metrics_dir)
    app = Flask(__name__)
    app.request_class = RoutedRequest
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        API_TITLE="refreshd",
        API_VERSION="0.1.0",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/api/swagger-ui/",
        JSON_SORT_KEYS=False,
    )
    services = build_services(settings)
    app.extensions["refreshd"] = services

    app.before_request(services.before_request)
    register_error_handlers(app, services.breaker)
    api = RefreshdApi(app, spec_kwargs={"extra_plugins": [EmptyErrorResponses()]})
    app.extensions["refreshd_api"] = api
    from app.api import blueprints, docs

    for blueprint in blueprints():
        api.register_blueprint(blueprint)
    app.register_blueprint(docs.assets)
    from app.console import blueprint as console_blueprint

    app.register_blueprint(console_blueprint())

    wsgi_app: WSGIApplication = app.wsgi_app
    if settings.fast_path:
        from app.api.fast import FastPath

        wsgi_app = app.extensions["refreshd_fast_path"] = FastPath(app, services, wsgi_app)
    access_log = logs.access_log(settings.log_level, settings.access_log)
    app.wsgi_app = Telemetry(wsgi_app, Scraper(services), access_log, settings)  # type: ignore[method-assign]
    if not settings.redis_url:
        services.ensure_ready()
        # no separate worker can reach an in-process store: the web process buries watermarked tokens
        # and delivers webhooks
        from app.delivery import delivery_for
        from app.worker import cleaner_for

        threading.Thread(target=cleaner_for(services.redis, settings).run, name="cleanup", daemon=True).start()
        threading.Thread(target=delivery_for(services, settings).run, name="delivery", daemon=True).start()
    return app


def web_application() -> Flask:
    """The app as a web process serves it (wsgi.py, app/asgi.py): each worker on a CPU of its own from
    its first request on (REFRESHD_PIN_WORKERS, app/affinity.py), and what exists once it is made
    (the app, its routes, schemas, scripts, keys), which lives as long as the process, out of the
    collector's sight: a full collection then walks only what requests made, which shortens its
    pauses."""
    app = create_app()
    settings = app.extensions["refreshd"].settings
    affinity.pin_on_first_request(app, settings.pin_workers, settings.web_concurrency)
    gc.collect()
    gc.freeze()
    return app
