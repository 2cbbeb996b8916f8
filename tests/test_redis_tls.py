"""rediss:// and REDIS_SSL_CERT_REQS reach every Redis client: broker, publisher, readiness, rate limits, ops."""

from __future__ import annotations

import ssl

import pytest
from redbeat.schedulers import get_redis
from redis.connection import SSLConnection

from app.core.rate_limit import RateLimiter
from app.core.redis import broker_ssl_options, redis_client, redis_ssl_options
from app.core.settings import SettingsError
from app.core.task_queue import build_api_celery
from app.ops.broker import BrokerProbe
from tests.conftest import make_settings
from workers.celery_app import create_celery_app
from workers.config import build_config

MANAGED = "rediss://:secret@redis.example.com:6380/0"


@pytest.mark.parametrize(
    ("cert_reqs", "expected"),
    [
        ("required", ssl.CERT_REQUIRED),
        ("optional", ssl.CERT_OPTIONAL),
        ("none", ssl.CERT_NONE),
        ("NONE", ssl.CERT_NONE),
    ],
)
def test_rediss_urls_get_the_configured_certificate_check(cert_reqs: str, expected: ssl.VerifyMode) -> None:
    settings = make_settings("sqlite://", REDIS_URL=MANAGED, REDIS_SSL_CERT_REQS=cert_reqs)
    assert redis_ssl_options(settings) == {"ssl_cert_reqs": expected}
    assert broker_ssl_options(settings) == {"ssl_cert_reqs": expected}
    assert build_config(settings)["broker_use_ssl"] == {"ssl_cert_reqs": expected}
    assert build_api_celery(settings, 0.5).conf.broker_use_ssl == {"ssl_cert_reqs": expected}

    pool = redis_client(settings, timeout=1).connection_pool  # readiness and the ops probe
    assert pool.connection_class is SSLConnection
    assert pool.connection_kwargs["ssl_cert_reqs"] == expected


def test_certificates_are_checked_unless_told_otherwise() -> None:
    settings = make_settings("sqlite://", REDIS_URL=MANAGED)
    assert settings.redis_ssl_cert_reqs == "required"
    assert redis_ssl_options(settings) == {"ssl_cert_reqs": ssl.CERT_REQUIRED}


def test_plain_redis_urls_get_no_tls_options() -> None:
    settings = make_settings("sqlite://", REDIS_URL="redis://127.0.0.1:6379/0", REDIS_SSL_CERT_REQS="none")
    assert redis_ssl_options(settings) == {}
    assert build_config(settings)["broker_use_ssl"] is None
    assert redis_client(settings, timeout=1).connection_pool.connection_class is not SSLConnection


def test_the_rate_limiter_and_the_ops_probe_open_tls_connections() -> None:
    settings = make_settings("sqlite://", REDIS_URL=MANAGED, REDIS_SSL_CERT_REQS="none", RATE_LIMITS_ENABLED="true")
    limiter = RateLimiter(settings)
    assert limiter._shared is not None
    storage_pool = limiter._shared.storage.storage.connection_pool  # type: ignore[attr-defined]
    assert storage_pool.connection_class is SSLConnection
    assert storage_pool.connection_kwargs["ssl_cert_reqs"] == ssl.CERT_NONE
    probe_pool = BrokerProbe(settings)._redis.connection_pool  # type: ignore[union-attr]
    assert probe_pool.connection_kwargs["ssl_cert_reqs"] == ssl.CERT_NONE


def test_beat_opens_its_lock_and_schedule_connection_with_the_brokers_tls_options() -> None:
    settings = make_settings("sqlite://", REDIS_URL=MANAGED, REDIS_SSL_CERT_REQS="none")
    beat_app = create_celery_app(settings)
    assert beat_app.conf.redbeat_redis_use_ssl == beat_app.conf.broker_use_ssl == {"ssl_cert_reqs": ssl.CERT_NONE}
    pool = get_redis(beat_app).connection_pool  # RedBeat's own client, built as `celery beat` builds it
    assert pool.connection_class is SSLConnection
    assert pool.connection_kwargs["ssl_cert_reqs"] == ssl.CERT_NONE


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"REDIS_SSL_CERT_REQS": "sometimes"}, "invalid setting REDIS_SSL_CERT_REQS"),
        ({"REDIS_URL": "http://redis.example.com"}, "invalid setting REDIS_URL"),
    ],
)
def test_bad_redis_settings_name_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        make_settings("sqlite://", **environ)
