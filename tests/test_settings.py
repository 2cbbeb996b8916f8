"""Settings: typed, validated at start-up, one clear line per bad value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.settings import AppEnv, SettingsError, load_settings, normalise_database_url

LONG_KEY = "k" * 32


def test_defaults_need_no_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings({}, env_file=None)
    assert settings.app_env is AppEnv.DEVELOPMENT
    assert settings.api_v1_str == "/api/v1"
    assert settings.database_url.startswith("sqlite:///")
    assert (settings.access_token_expire_minutes, settings.refresh_token_expire_days) == (30, 7)
    assert len(settings.secret_key) >= 32
    # The generated development key is kept, so every worker and restart shares it.
    assert load_settings({}, env_file=None).secret_key == settings.secret_key


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
        ("postgresql://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
        ("sqlite:///var/x.db", "sqlite:///var/x.db"),
    ],
)
def test_database_url_is_normalised(url: str, expected: str) -> None:
    assert normalise_database_url(url) == expected
    assert load_settings({"DATABASE_URL": url, "SECRET_KEY": LONG_KEY}, env_file=None).database_url == expected


def test_env_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        f"PROJECT_NAME=FromFile\nSECRET_KEY={LONG_KEY}\nCORS_ORIGINS=https://a.example, https://b.example\n"
    )
    settings = load_settings({"PROJECT_NAME": "FromEnv"}, env_file=env_file)
    assert settings.project_name == "FromEnv"
    assert settings.secret_key == LONG_KEY
    assert settings.cors_origins == ("https://a.example", "https://b.example")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"ACCESS_TOKEN_EXPIRE_MINUTES": "soon"}, "invalid setting ACCESS_TOKEN_EXPIRE_MINUTES"),
        ({"ACCESS_TOKEN_EXPIRE_MINUTES": "0"}, "invalid setting ACCESS_TOKEN_EXPIRE_MINUTES"),
        ({"APP_ENV": "staging"}, "invalid setting APP_ENV"),
        ({"DEBUG": "perhaps"}, "invalid setting DEBUG"),
        ({"DATABASE_POOLER": "pgbouncer"}, "invalid setting DATABASE_POOLER"),
        ({"DATABASE_POOLER": "transaction"}, "invalid setting DATABASE_POOLER: a pooler needs a PostgreSQL"),
        ({"APP_ENV": "production"}, "SECRET_KEY is missing"),
        ({"APP_ENV": "production", "SECRET_KEY": "short"}, "SECRET_KEY is 5 bytes"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY is 5 bytes"),
        ({"TWO_FACTOR_KEY": "short"}, "invalid setting TWO_FACTOR_KEY: use at least 32 bytes"),
        ({"TWO_FACTOR_CHALLENGE_SECONDS": "0"}, "invalid setting TWO_FACTOR_CHALLENGE_SECONDS"),
        ({"METRICS_BASIC_AUTH": "prometheus"}, "invalid setting METRICS_BASIC_AUTH: expected user:password"),
        ({"METRICS_BASIC_AUTH": ":password"}, "invalid setting METRICS_BASIC_AUTH: expected user:password"),
        ({"METRICS_BASIC_AUTH": "prometheus:"}, "invalid setting METRICS_BASIC_AUTH: expected user:password"),
        ({"METRICS_BEARER_TOKEN": "two words"}, "invalid setting METRICS_BEARER_TOKEN: use letters, digits"),
        ({"METRICS_BEARER_TOKEN": "Bearer\tx"}, "invalid setting METRICS_BEARER_TOKEN"),
        (
            {"APP_ENV": "production", "SECRET_KEY": LONG_KEY, "METRICS_BEARER_TOKEN": "short"},
            "METRICS_BEARER_TOKEN is 5 bytes; production needs at least 16",
        ),
        (
            {"APP_ENV": "production", "SECRET_KEY": LONG_KEY, "METRICS_BASIC_AUTH": "prometheus:secret"},
            "METRICS_BASIC_AUTH's password is 6 bytes; production needs at least 16",
        ),
    ],
)
def test_bad_values_raise_one_line_naming_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ, env_file=None)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_transaction_pooler_is_named_in_any_case() -> None:
    environ = {"DATABASE_URL": "postgres://app@pooler:6432/inkwell", "DATABASE_POOLER": "Transaction"}
    assert load_settings({**environ, "SECRET_KEY": LONG_KEY}, env_file=None).behind_transaction_pooler
    assert not load_settings({"SECRET_KEY": LONG_KEY}, env_file=None).behind_transaction_pooler


def test_production_accepts_a_long_key() -> None:
    settings = load_settings({"APP_ENV": "PRODUCTION", "SECRET_KEY": LONG_KEY}, env_file=None)
    assert settings.is_production


def test_metrics_credentials_are_read() -> None:
    development = load_settings(
        {"SECRET_KEY": LONG_KEY, "METRICS_BEARER_TOKEN": "short", "METRICS_BASIC_AUTH": "ops:pass:word"}, env_file=None
    )
    assert (development.metrics_bearer_token, development.metrics_basic_auth) == ("short", "ops:pass:word")
    production = load_settings(
        {"APP_ENV": "production", "SECRET_KEY": LONG_KEY, "METRICS_BEARER_TOKEN": "a" * 16}, env_file=None
    )
    assert (production.metrics_bearer_token, production.metrics_basic_auth) == ("a" * 16, None)
    # An empty variable counts as unset.
    assert load_settings({"SECRET_KEY": LONG_KEY, "METRICS_BASIC_AUTH": ""}, env_file=None).metrics_basic_auth is None


def test_the_server_entry_point_exits_with_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "APP_ENV": "production", "SECRET_KEY": ""}
    result = subprocess.run(
        [sys.executable, "-c", "import app.main"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["inkwell: SECRET_KEY is missing; production needs at least 32 bytes"]
