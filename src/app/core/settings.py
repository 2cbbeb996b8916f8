"""The one settings object, read from the environment and an optional ``.env`` file."""

from __future__ import annotations

import logging
import os
import re
import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec
from dotenv import dotenv_values
from limits import parse

__all__ = ("DATA_DIR", "AppEnv", "Settings", "SettingsError", "get_settings", "load_settings", "normalise_database_url")

logger = logging.getLogger(__name__)

MIN_SECRET_KEY_BYTES = 32
# A /metrics token or basic-auth password in production: 128 bits, guessing it over HTTP is hopeless.
MIN_METRICS_SECRET_BYTES = 16
# RFC 6750's token68: what travels in `Authorization: Bearer <token>` unquoted and unchanged.
_TOKEN68 = re.compile(r"[A-Za-z0-9._~+/-]+=*")
DATA_DIR = Path("var")

PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
# Without REDIS_URL the workers use kombu's SQLAlchemy transport on a file: no service to install, dev only.
EMBEDDED_BROKER_URL = f"sqla+sqlite:///{DATA_DIR / 'celery-broker.sqlite3'}"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message is one line that names the variable."""


class AppEnv(StrEnum):
    """Where the app runs; production turns on the strict checks."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"
    TEST = "test"


class Settings(msgspec.Struct, frozen=True, kw_only=True, rename="upper"):
    """Typed configuration. Every field is read from the upper-cased environment variable of its name."""

    app_env: AppEnv = AppEnv.DEVELOPMENT
    project_name: str = "Inkwell"
    version: str = "0.1.0"
    debug: bool = False
    api_v1_str: str = "/api/v1"

    database_url: str = f"sqlite:///{DATA_DIR / 'inkwell.sqlite3'}"
    database_pool_size: PositiveInt = 10
    # Threads that run the (synchronous) handlers, per web process; at most the pool size plus overflow, so a
    # handler never waits for a connection another thread holds.
    web_threads: PositiveInt = 10
    database_max_overflow: Annotated[int, msgspec.Meta(ge=0)] = 10
    database_pool_timeout_seconds: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    database_connect_timeout_seconds: PositiveInt = 5
    database_statement_timeout_ms: PositiveInt = 15_000
    database_echo: bool = False
    # What sits between the app and PostgreSQL: "transaction" for a pooler in transaction mode (PgBouncer as Heroku
    # and most managed offers run it), where a connection carries no session state from one transaction to the next.
    database_pooler: Literal["none", "transaction"] = "none"

    secret_key: str = ""
    # The key TOTP secrets are encrypted with (derived from SECRET_KEY when unset); set it to keep two-factor sign-in
    # working across a rotation of SECRET_KEY (set it to the old SECRET_KEY before rotating).
    two_factor_key: str | None = None
    # How long the challenge a right password gets, when the account has two-factor sign-in, waits for its code.
    two_factor_challenge_seconds: PositiveInt = 300
    access_token_expire_minutes: PositiveInt = 30
    refresh_token_expire_days: PositiveInt = 7

    # argon2id from OWASP's Password Storage Cheat Sheet, whose settings (46 MiB t=1, 19 MiB t=2, 12 MiB t=3,
    # 9 MiB t=4, 7 MiB t=5) give equal defence and differ in CPU against memory. Each login in flight holds that
    # memory in a web worker, so the worker takes a low-memory one: 9 MiB, 4 passes, 1 lane.
    argon2_time_cost: PositiveInt = 4
    argon2_memory_cost_kib: Annotated[int, msgspec.Meta(ge=8)] = 9_216
    argon2_parallelism: PositiveInt = 1
    # The cores this process may run on (a taskset or cgroup pin counts), not the machine's.
    argon2_max_concurrent: PositiveInt = max(1, len(os.sched_getaffinity(0)))

    # Above this many published posts the feed's total is PostgreSQL's estimate instead of a COUNT.
    posts_count_estimate_threshold: PositiveInt = 100_000

    # Who may scrape /metrics (Prometheus `authorization: {credentials: ...}` or `basic_auth`, `user:password`).
    # Either is accepted; with neither, /metrics is open in development and test and closed in production.
    metrics_bearer_token: str | None = None
    metrics_basic_auth: str | None = None

    cors_origins: tuple[str, ...] = ()
    redis_url: str | None = None
    # How a rediss:// server's certificate is checked. Heroku Redis presents a self-signed one: it needs "none".
    redis_ssl_cert_reqs: Literal["required", "optional", "none"] = "required"
    # Redis redelivers a task no worker acknowledged within this time (unset: derived from the retry and time limits,
    # see workers/config.py). Shorter means a killed worker's task is retried sooner, but a retry waiting longer than
    # this for its countdown is delivered twice (harmless: tasks are idempotent).
    broker_visibility_timeout_seconds: PositiveInt | None = None
    # On Redis, beat holds a lock that expires this long after its last tick (see workers/config.py): a second beat
    # waits for it, and takes over at most this long plus a fifth of it after the first one dies without releasing it.
    beat_lock_timeout_seconds: PositiveInt = 25
    # On SIGTERM a worker lets running tasks finish for this long, then requeues the rest (see workers/config.py).
    # Heroku kills a process 30 s after SIGTERM, so stay well below that.
    worker_soft_shutdown_seconds: Annotated[float, msgspec.Meta(ge=0, lt=30)] = 20.0
    # Behind Heroku's router (or any proxies that append to X-Forwarded-For) set this to their number.
    trusted_proxy_hops: Annotated[int, msgspec.Meta(ge=0)] = 0

    rate_limits_enabled: bool = True
    rate_limit_login_ip: str = "20/minute"
    rate_limit_register_ip: str = "20/hour"
    rate_limit_refresh_ip: str = "60/minute"
    rate_limit_forgot_password_ip: str = "5/hour"  # noqa: S105  (a rate, not a password)
    rate_limit_verify_resend_ip: str = "5/hour"
    # Task counts shared through Redis for /metrics (see app/core/task_metrics.py); off only to measure their cost.
    task_metrics_enabled: bool = True
    # The API gives up publishing a task after this long, so a dead broker never stalls a request.
    broker_publish_timeout_seconds: PositiveFloat = 0.5

    frontend_url: str = "http://localhost:3000"
    email_from: str = "Inkwell <no-reply@inkwell.invalid>"
    smtp_url: str | None = None
    smtp_timeout_seconds: PositiveFloat = 10.0
    email_file_dir: str = str(DATA_DIR / "mail")
    email_max_attempts: PositiveInt = 8
    email_retry_backoff_seconds: PositiveFloat = 30.0
    email_retry_backoff_max_seconds: PositiveFloat = 600.0
    email_outbox_retention_days: PositiveInt = 7
    outbox_relay_interval_seconds: PositiveFloat = 30.0
    outbox_relay_after_seconds: PositiveFloat = 60.0
    outbox_relay_batch_size: PositiveInt = 500

    verify_email_token_expire_hours: PositiveInt = 48
    reset_password_token_expire_minutes: PositiveInt = 60
    forgot_password_min_seconds: Annotated[float, msgspec.Meta(ge=0)] = 0.3

    # Per-account lockout (app/auth/lockout.py): after this many failed sign-ins in a row each attempt waits, from
    # the delay up, doubling; at the lockout count the address is locked for the lockout period.
    sign_in_delay_after_failures: PositiveInt = 3
    sign_in_delay_seconds: PositiveFloat = 1.0
    sign_in_lockout_failures: PositiveInt = 10
    sign_in_lockout_seconds: PositiveInt = 900

    # Idempotency-Key (app/idempotency): how long a key replays its first answer, and how long a repeat that arrives
    # while the first request still runs waits for its answer before it is told to retry (409).
    idempotency_key_ttl_hours: PositiveInt = 24
    idempotency_wait_seconds: PositiveFloat = 10.0

    token_cleanup_interval_seconds: PositiveFloat = 3600.0
    token_cleanup_grace_hours: PositiveInt = 24
    security_event_retention_days: PositiveInt = 365
    token_cleanup_batch_size: PositiveInt = 1000

    # Traces (OpenTelemetry, OTLP over HTTP) are sent only when this is set: the collector's base URL, as the SDK's
    # own variable of that name. The SDK reads the other OTEL_* variables (headers, sampler, resource) itself.
    otel_exporter_otlp_endpoint: str | None = None
    # The traces' service.name; unset, each process names its role ("inkwell-web", "inkwell-worker").
    otel_service_name: str | None = None
    # Unhandled errors of the web and the workers go to Sentry only when this is set.
    sentry_dsn: str | None = None
    # Sentry's environment tag; unset, APP_ENV.
    sentry_environment: str | None = None
    # Sentry is for errors: traces are OpenTelemetry's job, so none go to Sentry unless this is raised.
    sentry_traces_sample_rate: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.0

    first_superuser_email: str | None = None
    first_superuser_password: str | None = None

    @property
    def is_production(self) -> bool:
        return self.app_env is AppEnv.PRODUCTION

    @property
    def rate_limits(self) -> dict[str, str]:
        """Every ``RATE_LIMIT_<NAME>`` setting by name, e.g. ``{"login_ip": "20/minute"}``."""
        return {
            field.removeprefix("rate_limit_"): getattr(self, field)
            for field in self.__struct_fields__
            if field.startswith("rate_limit_")
        }

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def behind_transaction_pooler(self) -> bool:
        return self.database_pooler == "transaction"

    @property
    def broker_url(self) -> str:
        """Celery's broker: Redis when configured, else the embedded development broker."""
        return self.redis_url or EMBEDDED_BROKER_URL


def normalise_database_url(url: str) -> str:
    """Map the forms platforms hand out (``postgres://``, ``postgresql://``) onto the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def _split_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _raw_values(environ: dict[str, str], env_file: Path | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if env_file is not None and env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(environ)
    fields = {field.encode_name for field in msgspec.structs.fields(Settings)}
    raw = {key: value for key, value in values.items() if key in fields and value != ""}
    if "CORS_ORIGINS" in raw:
        raw["CORS_ORIGINS"] = _split_list(raw["CORS_ORIGINS"])
    for lowered in ("APP_ENV", "REDIS_SSL_CERT_REQS", "DATABASE_POOLER"):
        if lowered in raw:
            raw[lowered] = raw[lowered].lower()
    return raw


def _dev_secret_key() -> str:
    """A random key kept in the git-ignored data folder, so every worker process and restart shares it."""
    key_file = DATA_DIR / "dev-secret-key"
    if key_file.is_file():
        return key_file.read_text().strip()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    key_file.touch(mode=0o600)
    key_file.write_text(key)
    logger.warning("SECRET_KEY is not set: using a generated development key stored in %s", key_file)
    return key


def load_settings(environ: dict[str, str] | None = None, env_file: Path | None = Path(".env")) -> Settings:
    """Build and validate the settings; raise :class:`SettingsError` with one line naming the bad variable."""
    raw = _raw_values(dict(os.environ if environ is None else environ), env_file)
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        message = str(exc)
        if "at `$." in message:
            reason, _, path = message.rpartition(" - at `$.")
            raise SettingsError(f"invalid setting {path.rstrip('`').split('[')[0]}: {reason}") from None
        raise SettingsError(f"invalid settings: {message}") from None
    settings = msgspec.structs.replace(settings, database_url=normalise_database_url(settings.database_url))
    _check_database_pooler(settings)
    _check_rate_limits(settings)
    _check_smtp_url(settings.smtp_url)
    _check_redis_url(settings.redis_url)
    _check_metrics_credentials(settings)
    _check_two_factor_key(settings.two_factor_key)
    return _checked_secret_key(settings)


def _check_database_pooler(settings: Settings) -> None:
    if settings.behind_transaction_pooler and settings.is_sqlite:
        raise SettingsError("invalid setting DATABASE_POOLER: a pooler needs a PostgreSQL DATABASE_URL, not SQLite")


def _check_rate_limits(settings: Settings) -> None:
    for name, value in settings.rate_limits.items():
        try:
            parse(value)
        except ValueError:
            raise SettingsError(
                f"invalid setting RATE_LIMIT_{name.upper()}: {value!r} is not a rate such as '10/minute'"
            ) from None


def _check_smtp_url(url: str | None) -> None:
    if url is None:
        return
    parts = urlsplit(url)
    if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
        raise SettingsError(
            "invalid setting SMTP_URL: expected smtp://user:pass@host:587?starttls=true or smtps://host"
        )


def _check_redis_url(url: str | None) -> None:
    if url is None:
        return
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss"} or not parts.hostname:
        raise SettingsError("invalid setting REDIS_URL: expected redis://[:password@]host:port/db or rediss://...")


def _check_metrics_secret_length(variable: str, secret: str, *, production: bool) -> None:
    size = len(secret.encode())
    if production and size < MIN_METRICS_SECRET_BYTES:
        raise SettingsError(f"{variable} is {size} bytes; production needs at least {MIN_METRICS_SECRET_BYTES}")


def _check_metrics_credentials(settings: Settings) -> None:
    token, basic_auth = settings.metrics_bearer_token, settings.metrics_basic_auth
    if token is not None:
        if not _TOKEN68.fullmatch(token):
            raise SettingsError(
                "invalid setting METRICS_BEARER_TOKEN: use letters, digits and -._~+/ only, "
                "e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        _check_metrics_secret_length("METRICS_BEARER_TOKEN", token, production=settings.is_production)
    if basic_auth is not None:
        user, colon, password = basic_auth.partition(":")
        if not (user and colon and password):
            raise SettingsError("invalid setting METRICS_BASIC_AUTH: expected user:password")
        _check_metrics_secret_length("METRICS_BASIC_AUTH's password", password, production=settings.is_production)


def _check_two_factor_key(key: str | None) -> None:
    if key is not None and len(key.encode()) < MIN_SECRET_KEY_BYTES:
        raise SettingsError(
            f"invalid setting TWO_FACTOR_KEY: use at least {MIN_SECRET_KEY_BYTES} bytes or leave it unset"
        )


def _checked_secret_key(settings: Settings) -> Settings:
    key_bytes = len(settings.secret_key.encode())
    if key_bytes >= MIN_SECRET_KEY_BYTES:
        return settings
    if settings.is_production:
        problem = "is missing" if key_bytes == 0 else f"is {key_bytes} bytes"
        raise SettingsError(f"SECRET_KEY {problem}; production needs at least {MIN_SECRET_KEY_BYTES} bytes")
    if key_bytes:
        raise SettingsError(f"SECRET_KEY is {key_bytes} bytes; use at least {MIN_SECRET_KEY_BYTES} or leave it unset")
    return msgspec.structs.replace(settings, secret_key=_dev_secret_key())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built once on first use."""
    return load_settings()
