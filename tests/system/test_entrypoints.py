"""The web entries: WSGI answers like ASGI over real HTTP, and neither loads what only the CLI or workers use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import migrate, process_environment
from tests.problems import problem
from tests.servers import granian

API = "/api/v1"


def _comparable(response: httpx.Response) -> tuple[int, object, str | None]:
    # An error names its own request id, which differs from process to process.
    body = problem(response) if response.is_error else response.json()
    return response.status_code, body, response.headers.get("x-content-type-options")


def test_wsgi_entry_matches_asgi_entry(tmp_path: Path) -> None:
    env = process_environment(migrate(f"sqlite:///{tmp_path / 'entry.sqlite3'}"))
    with (
        granian("app.main:app", "asgi", env) as asgi,
        granian("app.wsgi:application", "wsgi", env, "--blocking-threads", "8") as wsgi,
    ):
        created = httpx.post(f"{wsgi}{API}/auth/register", json={"email": "w@example.com", "password": "wsgi-pass-1"})
        assert created.status_code == 201, created.text
        tokens = httpx.post(f"{asgi}{API}/auth/login", data={"username": "w@example.com", "password": "wsgi-pass-1"})
        headers = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
        post = httpx.post(
            f"{wsgi}{API}/posts", headers=headers, json={"title": "Hi", "content": "x", "is_published": True}
        )
        assert post.status_code == 201
        assert post.headers["location"] == f"{API}/posts/{post.json()['id']}"

        requests = [
            ("GET", "/health", {}),
            ("GET", f"{API}/users/me", {"headers": headers}),
            ("GET", f"{API}/users/me", {}),
            ("GET", f"{API}/posts", {}),
            ("GET", f"{API}/posts/{post.json()['id']}", {}),
            ("GET", f"{API}/posts", {"params": {"size": 101}}),
            ("GET", f"{API}/nowhere", {}),
            ("POST", f"{API}/auth/register", {"json": {"email": "w@example.com", "password": "wsgi-pass-1"}}),
        ]
        for method, path, kwargs in requests:
            from_asgi = httpx.request(method, f"{asgi}{path}", **kwargs)  # type: ignore[arg-type]
            from_wsgi = httpx.request(method, f"{wsgi}{path}", **kwargs)  # type: ignore[arg-type]
            assert _comparable(from_asgi) == _comparable(from_wsgi), (method, path)


# Alembic and the CLIs (app.manage; app.cli and its rich tables), and the workers' email rendering and sending:
# memory every web worker would carry if the web entries imported them.
NOT_FOR_SERVING = (
    "alembic",
    "mako",
    "rich_click",
    "advanced_alchemy.extensions.litestar",
    "app.manage",
    "app.cli",
    "app.ops.cli",
    "rich",
    "app.emails.cli",
    "jinja2",
    "smtplib",
    "app.emails.rendering",
    "app.emails.transports",
    # Two-factor secrets are sealed with PyNaCl: `cryptography` would cost every worker ~9 MiB (PyJWT loads it).
    "cryptography",
)


def test_web_entries_import_neither_the_command_line_nor_email_delivery(tmp_path: Path) -> None:
    env = process_environment(migrate(f"sqlite:///{tmp_path / 'imports.sqlite3'}"))
    listing = subprocess.run(
        [sys.executable, "-c", "import json, sys, app.wsgi; print(json.dumps(sorted(sys.modules)))"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    loaded = set(json.loads(listing.stdout))
    assert {"app.main", "app.wsgi", "litestar", "advanced_alchemy.repository"} <= loaded
    assert loaded.isdisjoint(NOT_FOR_SERVING)
