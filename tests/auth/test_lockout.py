"""Per-account lockout: failed sign-ins slow an address down, then lock it, across processes, whether or not an
account has the address."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.application import create_app
from app.audit.models import EventKind, SecurityEvent
from app.core.settings import Settings
from tests.conftest import make_settings
from tests.factories import API, DEFAULT_PASSWORD, Accounts
from tests.problems import retry_later

LOGIN = f"{API}/auth/login"
THROTTLED = "Too many failed sign-ins for this account; retry later"
# Slowed after two failures in a row (0.3 s, then 0.6 s), locked at the fourth for 2 s.
POLICY = {
    "SIGN_IN_DELAY_AFTER_FAILURES": "2",
    "SIGN_IN_DELAY_SECONDS": "0.3",
    "SIGN_IN_LOCKOUT_FAILURES": "4",
    "SIGN_IN_LOCKOUT_SECONDS": "2",
}


@pytest.fixture
def processes(settings: Settings, client: TestClient[Litestar]) -> Iterator[tuple[TestClient[Litestar], ...]]:
    """Two apps on the test database with a fast lockout policy: two web processes (``client`` empties it)."""
    with ExitStack() as stack:
        apps = [create_app(make_settings(settings.database_url, **POLICY)) for _ in range(2)]
        yield tuple(stack.enter_context(TestClient(app=app)) for app in apps)


def _attempt(client: TestClient[Litestar], email: str, password: str) -> tuple[int, int | None]:
    """The status of a sign-in, and its ``Retry-After`` when it is throttled."""
    response = client.post(LOGIN, data={"username": email, "password": password})
    if response.status_code != 429:
        return response.status_code, None
    return 429, retry_later(response, THROTTLED)


def _walk(processes: tuple[TestClient[Litestar], ...], email: str) -> list[tuple[int, int | None]]:
    """Fail, fail, try too early, wait, fail, try too early, wait, fail (locks), try while locked, wait out the lock,
    sign in; alternating between the two processes. The right password is used only where it must not matter."""
    first, second = processes
    wrong = "not the password"
    seen = [_attempt(first, email, wrong), _attempt(second, email, wrong), _attempt(first, email, DEFAULT_PASSWORD)]
    time.sleep(0.35)
    seen += [_attempt(second, email, wrong), _attempt(first, email, wrong)]
    time.sleep(0.65)
    seen += [_attempt(second, email, wrong), _attempt(first, email, DEFAULT_PASSWORD)]
    time.sleep(2.1)
    seen.append(_attempt(second, email, DEFAULT_PASSWORD))
    return seen


def test_failures_slow_then_lock_an_account_across_processes(
    processes: tuple[TestClient[Litestar], ...], accounts: Accounts
) -> None:
    email = accounts.register()["email"]
    bystander = accounts.register()["email"]
    seen = _walk(processes, email)
    assert seen == [(401, None), (401, None), (429, 1), (401, None), (429, 1), (401, None), (429, 2), (200, None)]
    # The success cleared the count: two more failures are answered at once.
    assert [_attempt(processes[0], email, "nope")[0] for _ in range(2)] == [401, 401]
    # Only that address was throttled.
    assert _attempt(processes[1], bystander, DEFAULT_PASSWORD) == (200, None)


def test_an_address_without_an_account_gets_the_same_answers(processes: tuple[TestClient[Litestar], ...]) -> None:
    seen = _walk(processes, "nobody-here@example.com")
    # The same walk as an account's, but the last sign-in cannot succeed.
    assert seen == [(401, None), (401, None), (429, 1), (401, None), (429, 1), (401, None), (429, 2), (401, None)]


def test_lockout_is_recorded(processes: tuple[TestClient[Litestar], ...], accounts: Accounts, migrated: Engine) -> None:
    actor = accounts.user()
    _walk(processes, actor.email)
    with Session(migrated) as session:
        events = session.scalars(
            select(SecurityEvent).where(SecurityEvent.subject_id == actor.id).order_by(SecurityEvent.id)
        ).all()
    walked = [(event.kind, event.detail) for event in events][1:]  # after its first sign-in
    assert walked == [
        (EventKind.SIGN_IN_FAILED, {"reason": "wrong_password", "locked": False}),
        (EventKind.SIGN_IN_FAILED, {"reason": "wrong_password", "locked": False}),
        (EventKind.SIGN_IN_LOCKED, {"retry_after": 1}),
        (EventKind.SIGN_IN_FAILED, {"reason": "wrong_password", "locked": False}),
        (EventKind.SIGN_IN_LOCKED, {"retry_after": 1}),
        (EventKind.SIGN_IN_FAILED, {"reason": "wrong_password", "locked": True}),
        (EventKind.SIGN_IN_LOCKED, {"retry_after": 2}),
        (EventKind.SIGN_IN_SUCCEEDED, {}),
    ]
