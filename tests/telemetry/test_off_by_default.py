"""Traces and error reports cost nothing unless configured: the web app and the workers' app, built with the
default settings, load no tracing SDK, exporter, instrumentation or Sentry (checked in a fresh interpreter, whose
modules are its own).

Parts of OpenTelemetry's API are imported all the same once it is installed, by others: Litestar's constructor
tries to import its OpenTelemetry plugin, and redis-py its metrics. Nothing of them runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

TRACING = (
    "app.core.tracing",
    "opentelemetry.sdk.trace",
    "opentelemetry.exporter",
    "opentelemetry.instrumentation.celery",
)
ERROR_REPORTS = ("app.core.error_reports", "sentry_sdk")
# Builds both apps from the environment, then prints which of the modules above got imported.
PROBE = f"""
import json, sys
from app.application import create_app
from app.core.settings import load_settings
from workers.celery_app import create_celery_app
settings = load_settings(env_file=None)
create_app(settings)
create_celery_app(settings)
print(json.dumps(sorted(set(sys.modules) & {set(TRACING + ERROR_REPORTS)!r})))
"""
BASE_ENVIRONMENT = {
    "APP_ENV": "test",
    "DATABASE_URL": "sqlite://",
    "SECRET_KEY": "test-secret-key-that-is-at-least-32-bytes-long",
}


def _imported(**environment: str) -> set[str]:
    inherited = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "SENTRY_"))}
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**inherited, **BASE_ENVIRONMENT, **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_nothing_of_either_is_imported_by_default() -> None:
    assert _imported() == set()


@pytest.mark.parametrize(
    ("variable", "value", "modules"),
    [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9", TRACING),
        ("SENTRY_DSN", "https://public@127.0.0.1:9/1", ERROR_REPORTS),
    ],
)
def test_each_is_imported_once_configured(variable: str, value: str, modules: tuple[str, ...]) -> None:
    assert _imported(**{variable: value}) == set(modules)
