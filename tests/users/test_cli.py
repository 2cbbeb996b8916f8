"""Bootstrapping superusers: the `litestar users create` command and FIRST_SUPERUSER_* at start-up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.application import create_app
from app.core.settings import Settings
from app.users.models import User
from tests.conftest import make_settings, process_environment
from tests.factories import API


def _users_cli(settings: Settings, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = process_environment(settings, LITESTAR_APP="app.manage:app")
    return subprocess.run(
        [sys.executable, "-m", "litestar", "users", "create", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_creates_a_superuser_who_can_log_in(
    client: TestClient[Litestar], settings: Settings, tmp_path: Path
) -> None:
    args = ("--email", "Root@Example.com", "--password", "root-password", "--superuser")
    result = _users_cli(settings, *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "created superuser root@example.com" in result.stdout
    tokens = client.post(f"{API}/auth/login", data={"username": "root@example.com", "password": "root-password"})
    me = client.get(f"{API}/users/me", headers={"Authorization": f"Bearer {tokens.json()['access_token']}"}).json()
    assert (me["is_superuser"], me["is_verified"]) == (True, True)

    again = _users_cli(settings, *args, cwd=tmp_path)
    assert again.returncode != 0
    assert "already exists" in again.stderr
    bad = _users_cli(settings, "--email", "x@example.com", "--password", "short", cwd=tmp_path)
    assert bad.returncode != 0


def test_first_superuser_is_created_at_start_up_once(
    client: TestClient[Litestar], database_url: str, migrated: Engine
) -> None:
    settings = make_settings(
        database_url, FIRST_SUPERUSER_EMAIL="boss@example.com", FIRST_SUPERUSER_PASSWORD="boss-password"
    )
    for _ in range(2):
        with TestClient(app=create_app(settings)) as boot_client:
            assert boot_client.get("/health").status_code == 200
    with Session(migrated) as session:
        bosses = session.scalars(select(User).where(User.email == "boss@example.com")).all()
    assert [boss.is_superuser for boss in bosses] == [True]
