"""Redis connections opened by the API (readiness, ops, rate limits) and the Celery broker, with the same TLS options.

Managed Redis (Heroku, Upstash, ...) hands out ``rediss://`` URLs. TLS is then on, and ``REDIS_SSL_CERT_REQS`` says
how the server's certificate is checked; every place that opens Redis takes its options from here, so they agree.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

if TYPE_CHECKING:
    from app.core.settings import Settings

__all__ = ("broker_ssl_options", "redis_client", "redis_options", "redis_ssl_options")

CERT_REQS = {"required": ssl.CERT_REQUIRED, "optional": ssl.CERT_OPTIONAL, "none": ssl.CERT_NONE}


def _uses_tls(url: str | None) -> bool:
    return url is not None and urlsplit(url).scheme == "rediss"


def redis_ssl_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``redis.Redis.from_url`` (and ``limits``' storage): empty unless the URL is rediss://."""
    if not _uses_tls(settings.redis_url):
        return {}
    return {"ssl_cert_reqs": CERT_REQS[settings.redis_ssl_cert_reqs]}


def broker_ssl_options(settings: Settings) -> dict[str, Any] | None:
    """Celery's ``broker_use_ssl``. Left unset, kombu accepts any certificate on rediss:// (with a warning)."""
    return redis_ssl_options(settings) or None


def redis_options(settings: Settings, timeout: float) -> dict[str, Any]:
    """Client options: every connect and command gives up after ``timeout`` seconds, with no retry (redis-py's
    default retries three times with backoff, which turns a dead Redis into seconds of waiting), plus TLS.
    """
    return {
        "socket_connect_timeout": timeout,
        "socket_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
        **redis_ssl_options(settings),
    }


def redis_client(settings: Settings, timeout: float) -> redis.Redis:
    """A client on ``REDIS_URL`` with :func:`redis_options`.

    Raises:
        ValueError: no ``REDIS_URL`` is configured.
    """
    if settings.redis_url is None:
        raise ValueError("REDIS_URL is not set")
    return redis.Redis.from_url(settings.redis_url, **redis_options(settings, timeout))
