"""The OpenAPI document is exact: ``schemathesis run --checks all``, as a superuser, against a real Inkwell on each
database, finds nothing.

Every check schemathesis has runs (server errors, undocumented statuses and headers, response schemas, schema-valid
requests refused, schema-violating requests accepted, authentication ignored, unsupported methods...) in its
examples, coverage and fuzzing phases; ``CONTRACT_MAX_EXAMPLES`` (default 10 per operation) sets the depth, and the
README has the long run. ``tests/fuzz/schemathesis.toml`` names the operations whose valid requests a rule no schema
can express refuses: a secret the generator cannot know (400: a mailed token, a cursor the API did not issue), an
``If-Match`` that is not the current ``ETag`` (412). ``tests/fuzz/contract_hooks.py`` sends a fresh
``Idempotency-Key`` with each request, as a client does. ``DELETE /users/me``, ``DELETE /auth/sessions/{id}`` and
``DELETE /users/{id}/sessions/{session_id}`` are left out: they end the run's own account or session (schemathesis
finds the ids in the listings), after which every operation would answer 401; the fuzzing in ``test_openapi_fuzz``
covers them with accounts it replaces.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import DATABASE_PREFIX, _postgres_database, migrate, process_environment
from tests.servers import granian

CONFIG = Path(__file__).with_name("schemathesis.toml")
HOOKS = Path(__file__).with_name("contract_hooks.py")
MAX_EXAMPLES = os.environ.get("CONTRACT_MAX_EXAMPLES", "10")
ROOT_EMAIL = "contract-root@example.com"
ROOT_PASSWORD = "contract-root-password"


@pytest.fixture(params=["sqlite", "postgresql"])
def contract_database(request: pytest.FixtureRequest, tmp_path: Path, worker_id_suffix: str) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'contract.sqlite3'}"
    return _postgres_database(f"{DATABASE_PREFIX}_contract{worker_id_suffix}")


@pytest.fixture
def served(contract_database: str) -> Iterator[str]:
    """A real Inkwell (granian) on a fresh, migrated database, with a superuser."""
    settings = migrate(contract_database)
    env = process_environment(settings, FIRST_SUPERUSER_EMAIL=ROOT_EMAIL, FIRST_SUPERUSER_PASSWORD=ROOT_PASSWORD)
    with granian("app.main:app", "asgi", env) as base_url:
        yield base_url


def test_schemathesis_finds_nothing(served: str, tmp_path: Path) -> None:
    login = httpx.post(f"{served}/api/v1/auth/login", data={"username": ROOT_EMAIL, "password": ROOT_PASSWORD})
    login.raise_for_status()
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(CONFIG),
        "run",
        f"{served}/schema/openapi.json",
        "--checks",
        "all",
        # Not the stateful phase: schemathesis 4.32 crashes in it on some bodies ("Invalid IPv6 URL").
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        MAX_EXAMPLES,
        "--header",
        f"Authorization: Bearer {login.json()['access_token']}",
        "--exclude-operation-id",
        "deleteMe",
        "--exclude-operation-id",
        "endMySession",
        "--exclude-operation-id",
        "endUserSession",
        "--no-color",
    ]
    # Bounded for the README's long run (300 examples per operation) too.
    # In a folder of its own: schemathesis keeps a cache in the working directory.
    environment = {**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)}
    run = subprocess.run(
        command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=3600, check=False
    )
    assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-5_000:]
    cases = re.search(r"(\d+) generated, (\d+) passed", run.stdout)
    assert cases is not None, run.stdout[-5_000:]
    generated, passed = map(int, cases.groups())
    assert generated == passed > 0
    print(run.stdout[run.stdout.rfind("API Operations:") :])  # noqa: T201  (the run's figures, shown with -s)
