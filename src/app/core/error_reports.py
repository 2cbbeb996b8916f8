"""Sentry error reports: the web's unhandled errors (its 500s) and the tasks that raised unexpectedly, each tagged
with the id of the request behind it. Imported only when ``SENTRY_DSN`` is set (see ``app.core.telemetry``).

Nothing secret leaves: Sentry's integrations are off (Inkwell reports the errors itself, and attaches no request:
no headers, cookies, body or query string), frame variables are not collected (a handler's ``data`` holds the
password it was sent), and every event passes :func:`scrub` on its way out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sentry_sdk
from sentry_sdk.integrations.atexit import AtexitIntegration
from sentry_sdk.integrations.dedupe import DedupeIntegration

from app.core.request_context import current_request_id

if TYPE_CHECKING:
    from sentry_sdk.transport import Transport

    from app.core.settings import Settings
    from app.core.telemetry import Role

__all__ = ("FILTERED", "SENSITIVE_KEYS", "SENSITIVE_NAMES", "ErrorReports", "scrub")

FILTERED = "[Filtered]"
# Inkwell's names for secrets, in request bodies, headers and its own code: a key containing one of these (any
# case) is filtered (password, new_password, refresh_token, set-cookie, ...), and so is a key that is one of the short
# names, which are too common inside other words to match as parts.
SENSITIVE_KEYS = ("password", "token", "secret", "authorization", "cookie", "session", "credential", "dsn", "api_key")
SENSITIVE_NAMES = frozenset({"code", "key", "otp", "totp", "jwt", "sid"})
_FLUSH_TIMEOUT_SECONDS = 5.0


def _sensitive(key: object) -> bool:
    if not isinstance(key, str):
        return False
    lowered = key.lower()
    return lowered in SENSITIVE_NAMES or any(name in lowered for name in SENSITIVE_KEYS)


def _scrubbed(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: FILTERED if _sensitive(key) else _scrubbed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrubbed(item) for item in value]
    return value


def scrub(event: Any, _: Any = None) -> Any:
    """``event`` with the value of every sensitive key, at any depth, replaced by ``[Filtered]``."""
    return _scrubbed(event)


class ErrorReports:
    """Sentry's client for this process (Sentry's SDK keeps one per process); ``transport`` replaces the one
    that sends to ``SENTRY_DSN`` (tests keep envelopes in memory)."""

    def __init__(self, settings: Settings, role: Role, transport: Transport | None = None) -> None:
        sentry_sdk.init(
            dsn=settings.sentry_dsn,
            environment=settings.sentry_environment or settings.app_env.value,
            release=settings.version,
            traces_sample_rate=settings.sentry_traces_sample_rate,
            # Only flushing at exit and dropping repeats: Sentry's other integrations would capture (and attach the
            # request to) what Inkwell reports itself, or patch Litestar and Celery underneath it.
            default_integrations=False,
            auto_enabling_integrations=False,
            integrations=[AtexitIntegration(), DedupeIntegration()],
            data_collection={
                "user_info": False,
                "cookies": {"mode": "off"},
                "http_headers": {"request": {"mode": "off"}},
                "http_bodies": [],
                "url_query_params": {"mode": "off"},
                "stack_frame_variables": False,
                "database_query_data": False,
            },
            before_send=scrub,
            before_breadcrumb=scrub,
            transport=transport,
        )
        self._role = role

    def report(self, error: BaseException, tags: dict[str, str]) -> None:
        """Report ``error`` with ``tags`` and the current request id."""
        with sentry_sdk.new_scope() as scope:
            request_id = current_request_id()
            if request_id is not None:
                scope.set_tag("request_id", request_id)
            for name, value in {"role": self._role, **tags}.items():
                scope.set_tag(name, value)
            sentry_sdk.capture_exception(error)

    def flush(self) -> None:
        sentry_sdk.flush(timeout=_FLUSH_TIMEOUT_SECONDS)
