"""Settings: the only reader of the environment, called from create_app, never at import time."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields


class SettingsError(ValueError):
    """A setting has a value the service cannot start with."""


@dataclass(frozen=True)
class Settings:
    """Every knob of the service, with its default. See the README's configuration table."""

    redis_url: str | None = None
    bootstrap_api_key: str | None = None
    issuer: str = "http://localhost"
    master_key: str | None = None
    redis_connect_timeout: float = 1.0
    redis_read_timeout: float = 1.0
    store_down_seconds: float = 1.0
    rate_limit_window_seconds: int = 60
    failed_auth_limit: int = 30
    unknown_token_limit: int = 60
    rate_limit_trusted_networks: str = ""
    max_body_bytes: int = 1_048_576
    cache_seconds: float = 2.0
    event_stream_max_length: int = 1_000_000
    list_max_results: int = 1000
    revoke_ids_cap: int = 1000
    default_access_ttl_seconds: int = 3600
    default_refresh_ttl_minutes: int = 43200
    cookie_secure: bool = False
    event_retention_seconds: int = 0
    event_query_scan_limit: int = 10_000
    webhook_max_attempts: int = 4
    webhook_backoff_seconds: float = 1.0
    webhook_backoff_max_seconds: float = 300.0
    webhook_claim_idle_seconds: float = 60.0
    webhook_poll_seconds: float = 0.1
    webhook_batch: int = 16
    webhook_dead_letter_max: int = 10_000
    revoke_wait_replicas: str = "auto"
    revoke_wait_timeout_ms: int = 500
    reuse_history: int = 64
    reuse_history_window_seconds: int = 3600
    log_level: str = "info"
    access_log: bool = True
    fast_path: bool = True
    pin_workers: str = "auto"
    web_concurrency: int = 0  # WEB_CONCURRENCY, the Procfile's worker count (0: not set)
    metrics_access: str = "loopback"
    metrics_token: str | None = None
    metrics_dir: str | None = None
    metrics_cache_seconds: float = 10.0
    metrics_max_applications: int = 100

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from REDIS_URL and REFRESHD_* variables; raise SettingsError on a bad value."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            name = _OTHER_NAMES.get(f.name) or "REFRESHD_" + f.name.upper()
            raw = env.get(name)
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(name, raw, f.default)
        return cls(**values)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1024:
            raise SettingsError("REFRESHD_MAX_BODY_BYTES must be at least 1024")
        if not 1 <= self.list_max_results <= 10_000:
            raise SettingsError("REFRESHD_LIST_MAX_RESULTS must be between 1 and 10000")
        if self.redis_connect_timeout <= 0 or self.redis_read_timeout <= 0:
            raise SettingsError("Redis timeouts must be positive")
        if not 0 < self.store_down_seconds <= 60:
            raise SettingsError("REFRESHD_STORE_DOWN_SECONDS must be above 0 and at most 60")
        self._check_rate_limits()
        if self.bootstrap_api_key is not None and len(self.bootstrap_api_key) < 16:
            raise SettingsError("REFRESHD_BOOTSTRAP_API_KEY must be at least 16 characters")
        self._check_events()
        self._check_redis()
        self._check_operations()

    def _check_rate_limits(self) -> None:
        if not 1 <= self.rate_limit_window_seconds <= 86_400:
            raise SettingsError("REFRESHD_RATE_LIMIT_WINDOW_SECONDS must be between 1 and 86400")
        if self.failed_auth_limit < 0 or self.unknown_token_limit < 0:
            raise SettingsError("REFRESHD_FAILED_AUTH_LIMIT and REFRESHD_UNKNOWN_TOKEN_LIMIT: 0 (off) or more")
        for network in filter(None, (n.strip() for n in self.rate_limit_trusted_networks.split(","))):
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise SettingsError(f"REFRESHD_RATE_LIMIT_TRUSTED_NETWORKS: {network!r} is not a network") from None

    def _check_events(self) -> None:
        if self.event_retention_seconds < 0:
            raise SettingsError("REFRESHD_EVENT_RETENTION_SECONDS must be 0 (off) or positive")
        if not 100 <= self.event_query_scan_limit <= 1_000_000:
            raise SettingsError("REFRESHD_EVENT_QUERY_SCAN_LIMIT must be between 100 and 1000000")
        if not 1 <= self.webhook_max_attempts <= 100:
            raise SettingsError("REFRESHD_WEBHOOK_MAX_ATTEMPTS must be between 1 and 100")
        if not 0 < self.webhook_backoff_seconds <= self.webhook_backoff_max_seconds:
            raise SettingsError("webhook backoff: 0 < REFRESHD_WEBHOOK_BACKOFF_SECONDS <= ..._MAX_SECONDS")
        if self.webhook_claim_idle_seconds <= 0 or self.webhook_poll_seconds <= 0:
            raise SettingsError("REFRESHD_WEBHOOK_CLAIM_IDLE_SECONDS and ..._POLL_SECONDS must be positive")
        if not 1 <= self.webhook_batch <= 1000 or self.webhook_dead_letter_max < 1:
            raise SettingsError("REFRESHD_WEBHOOK_BATCH must be 1..1000, ..._DEAD_LETTER_MAX at least 1")

    def _check_redis(self) -> None:
        if self.redis_url:
            from app.store.urls import parse

            try:
                parse(self.redis_url)
            except ValueError as error:
                raise SettingsError(str(error)) from None
        if self.revoke_wait_replicas not in ("auto", "on", "off"):
            raise SettingsError("REFRESHD_REVOKE_WAIT_REPLICAS must be auto, on or off")
        if self.revoke_wait_timeout_ms < 1:
            raise SettingsError("REFRESHD_REVOKE_WAIT_TIMEOUT_MS must be positive")
        if not 1 <= self.reuse_history <= 10_000 or not 0 <= self.reuse_history_window_seconds <= 86_400:
            raise SettingsError("REFRESHD_REUSE_HISTORY must be 1..10000, ..._WINDOW_SECONDS 0..86400")

    def _check_operations(self) -> None:
        if self.pin_workers not in ("auto", "on", "off"):
            raise SettingsError("REFRESHD_PIN_WORKERS must be auto, on or off")
        if self.web_concurrency < 0:
            raise SettingsError("WEB_CONCURRENCY must be a number of workers")
        if self.log_level.upper() not in LOG_LEVELS:
            raise SettingsError(f"REFRESHD_LOG_LEVEL must be one of {', '.join(LOG_LEVELS).lower()}")
        if self.metrics_access not in METRICS_ACCESS:
            raise SettingsError(f"REFRESHD_METRICS_ACCESS must be one of {', '.join(METRICS_ACCESS)}")
        if self.metrics_token is not None and len(self.metrics_token) < 16:
            raise SettingsError("REFRESHD_METRICS_TOKEN must be at least 16 characters")
        if self.metrics_access == "token" and not self.metrics_token:
            raise SettingsError("REFRESHD_METRICS_ACCESS=token needs REFRESHD_METRICS_TOKEN")
        if self.metrics_cache_seconds < 0 or not 0 <= self.metrics_max_applications <= 10_000:
            raise SettingsError("REFRESHD_METRICS_CACHE_SECONDS >= 0, REFRESHD_METRICS_MAX_APPLICATIONS 0..10000")


_OTHER_NAMES = {
    "redis_url": "REDIS_URL",
    "metrics_dir": "PROMETHEUS_MULTIPROC_DIR",
    "web_concurrency": "WEB_CONCURRENCY",
}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
METRICS_ACCESS = ("loopback", "token", "open", "off")


def _parse(name: str, raw: str, default: object) -> object:
    if isinstance(default, bool):
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{name} must be true or false, not {raw!r}")
    try:
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from None
    return raw
