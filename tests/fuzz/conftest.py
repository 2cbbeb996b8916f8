"""A real Inkwell under granian on PostgreSQL, a normal user and a superuser, for property-based fuzzing."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import make_settings, process_environment
from tests.servers import granian

FUZZ_STATS: Counter[str] = Counter()
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "15"))
PASSWORD = "fuzzing-password"


class FuzzActors:
    """The fuzzing accounts. A fuzzed request may delete or change its own account (email, flags), so a role whose
    token stopped working gets a fresh account: users register, superusers are created by a root superuser that
    fuzzed requests never act as."""

    def __init__(self, base_url: str, root_email: str) -> None:
        self.base_url = base_url
        self.root_email = root_email
        self.tokens: dict[str, str] = {}
        self.accounts_made = 0

    def headers(self, role: str) -> dict[str, str]:
        if role not in self.tokens:
            self.tokens[role] = self._new_account(role)
        return _bearer(self.tokens[role])

    def is_signed_in(self, role: str) -> bool:
        me = httpx.get(f"{self.base_url}/api/v1/users/me", headers=self.headers(role))
        if me.status_code == 200:
            return True
        del self.tokens[role]
        return False

    def _new_account(self, role: str) -> str:
        self.accounts_made += 1
        email = f"fuzz-{role}-{os.getpid()}-{self.accounts_made}@example.com"
        body = {"email": email, "password": PASSWORD}
        if role == "superuser":
            root = _bearer(self._login(self.root_email))
            created = httpx.post(f"{self.base_url}/api/v1/users", json={**body, "is_superuser": True}, headers=root)
        else:
            created = httpx.post(f"{self.base_url}/api/v1/auth/register", json=body)
        created.raise_for_status()
        return self._login(email)

    def _login(self, email: str) -> str:
        response = httpx.post(f"{self.base_url}/api/v1/auth/login", data={"username": email, "password": PASSWORD})
        response.raise_for_status()
        return str(response.json()["access_token"])


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session")
def fuzz_server(postgres_url: str) -> Iterator[FuzzActors]:
    settings = make_settings(postgres_url)
    root_email = f"fuzz-root-{os.getpid()}@example.com"
    env = process_environment(settings, FIRST_SUPERUSER_EMAIL=root_email, FIRST_SUPERUSER_PASSWORD=PASSWORD)
    with granian("app.main:app", "asgi", env) as base_url:
        yield FuzzActors(base_url, root_email)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FUZZ_STATS:
        terminalreporter.write_line(
            f"fuzzing: {len([k for k in FUZZ_STATS if k.startswith('op:')])} operation x role pairs, "
            f"{FUZZ_STATS['cases']} cases sent, {FUZZ_STATS['failures']} failing"
        )
