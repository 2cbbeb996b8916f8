"""Two-factor sign-in (TOTP) over HTTP: enrolment, the challenge at login, codes accepted once, recovery codes,
lockout, turning it off, a superuser's reset; notices read from the outbox rows (no worker needed)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.application import create_app
from app.auth.models import TokenPurpose, TwoFactor
from app.core.security import SecretSealing, UnsealableSecretError
from app.core.settings import Settings
from app.emails.models import EmailKind
from tests.conftest import make_settings
from tests.emails.outbox import payloads_of
from tests.factories import API, DEFAULT_PASSWORD, Accounts, Actor, expire_one_time_tokens

LOGIN = f"{API}/auth/login"
SECOND_STEP = f"{API}/auth/login/two-factor"
TWO_FACTOR = f"{API}/auth/two-factor"
ME = f"{API}/users/me"


class AuthenticatorApp:
    """An authenticator app holding one secret. Each code it gives is for a later time step than the one before
    (Inkwell accepts a step once), from the current step on; it waits for the clock when it runs ahead."""

    def __init__(self, secret: str) -> None:
        self.totp = pyotp.TOTP(secret)
        self.last_step: int | None = None

    def _now(self) -> int:
        return self.totp.timecode(datetime.now(UTC))

    def code(self) -> str:
        step = self._now() if self.last_step is None else max(self.last_step + 1, self._now())
        while step > self._now() + 1:  # the server accepts one step of drift
            time.sleep(0.5)
        self.last_step = step
        return self.totp.generate_otp(step)

    def wrong_code(self) -> str:
        """Six digits that are no code the server could accept now."""
        now = self._now()
        near = {self.totp.generate_otp(step) for step in range(now - 2, now + 4)}
        return next(candidate for candidate in (f"{n:06d}" for n in range(1000)) if candidate not in near)


def _enrol(client: TestClient[Litestar], actor: Actor) -> tuple[AuthenticatorApp, list[str]]:
    response = client.post(TWO_FACTOR, headers=actor.headers, json={"password": actor.password})
    assert response.status_code == 201, response.text
    body = response.json()
    return AuthenticatorApp(body["secret"]), body["recovery_codes"]


def _turn_on(client: TestClient[Litestar], actor: Actor) -> tuple[AuthenticatorApp, list[str]]:
    app, recovery_codes = _enrol(client, actor)
    confirmed = client.post(f"{TWO_FACTOR}/confirm", headers=actor.headers, json={"code": app.code()})
    assert confirmed.status_code == 200, confirmed.text
    return app, recovery_codes


def _challenge(client: TestClient[Litestar], actor: Actor, password: str | None = None) -> str:
    response = client.post(LOGIN, json={"username": actor.email, "password": password or actor.password})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "access_token" not in body
    assert body["two_factor_required"] is True
    assert body["expires_in"] == 300
    challenge: str = body["challenge"]
    return challenge


def _complete(client: TestClient[Litestar], challenge: str, code: str) -> Any:
    return client.post(SECOND_STEP, json={"challenge": challenge, "code": code})


def _events(client: TestClient[Litestar], headers: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get(f"{API}/auth/events", headers=headers).json()["items"]
    return items


def _bearer(pair: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


def test_enrol_confirm_then_sign_in_with_a_code(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    actor = accounts.user(first_name="Ada")
    off = {"enabled": False, "pending": False, "enabled_at": None, "recovery_codes_left": 0}
    assert client.get(TWO_FACTOR, headers=actor.headers).json() == off
    wrong_password = client.post(TWO_FACTOR, headers=actor.headers, json={"password": "not the password"})
    assert wrong_password.status_code == 400

    response = client.post(TWO_FACTOR, headers=actor.headers, json={"password": actor.password})
    assert response.status_code == 201
    enrolment = response.json()
    uri = urlsplit(enrolment["otpauth_uri"])
    assert (uri.scheme, uri.netloc, unquote(uri.path)) == ("otpauth", "totp", f"/Inkwell:{actor.email}")
    assert parse_qs(uri.query) == {"secret": [enrolment["secret"]], "issuer": ["Inkwell"]}
    assert len(set(enrolment["recovery_codes"])) == 10
    assert client.get(TWO_FACTOR, headers=actor.headers).json()["pending"] is True
    # Until a first code confirms it, sign-in is as before.
    assert "access_token" in accounts.login(actor.email)

    app = AuthenticatorApp(enrolment["secret"])
    refused = client.post(f"{TWO_FACTOR}/confirm", headers=actor.headers, json={"code": app.wrong_code()})
    assert refused.status_code == 400
    confirmed = client.post(f"{TWO_FACTOR}/confirm", headers=actor.headers, json={"code": app.code()})
    assert confirmed.status_code == 200
    status = confirmed.json()
    assert (status["enabled"], status["pending"], status["recovery_codes_left"]) == (True, False, 10)
    assert payloads_of(migrated, actor.email, EmailKind.TWO_FACTOR_ENABLED) == [{"name": "Ada"}]
    again = client.post(TWO_FACTOR, headers=actor.headers, json={"password": actor.password})
    assert again.status_code == 409

    challenge = _challenge(client, actor)
    assert _complete(client, challenge, app.wrong_code()).status_code == 401
    signed_in = _complete(client, challenge, app.code())
    assert signed_in.status_code == 200, signed_in.text
    assert client.get(ME, headers=_bearer(signed_in.json())).json()["id"] == actor.id
    assert _complete(client, challenge, enrolment["recovery_codes"][0]).status_code == 401  # spent once
    kinds = [(event["kind"], event["detail"]) for event in _events(client, _bearer(signed_in.json()))[:3]]
    assert kinds == [
        ("sign_in_succeeded", {"second_factor": "totp"}),
        ("sign_in_failed", {"reason": "wrong_code", "locked": False}),
        ("two_factor_enabled", {}),
    ]


def test_the_oauth2_form_says_what_to_do_and_a_wrong_password_gets_no_challenge(
    client: TestClient[Litestar], accounts: Accounts
) -> None:
    actor = accounts.user()
    _turn_on(client, actor)
    form = client.post(LOGIN, data={"username": actor.email, "password": actor.password})
    assert form.status_code == 403
    assert "/api/v1/auth/login/two-factor" in form.json()["detail"]
    wrong = client.post(LOGIN, json={"username": actor.email, "password": "not the password"})
    assert (wrong.status_code, wrong.json()["detail"]) == (401, "Incorrect email or password")


def test_a_code_is_accepted_once(client: TestClient[Litestar], accounts: Accounts) -> None:
    actor = accounts.user()
    app, _ = _turn_on(client, actor)
    used_code = app.totp.generate_otp(app.last_step or 0)  # the code that confirmed the enrolment
    challenge = _challenge(client, actor)
    assert _complete(client, challenge, used_code).status_code == 401
    code = app.code()
    assert _complete(client, challenge, code).status_code == 200
    assert _complete(client, _challenge(client, actor), code).status_code == 401


def test_a_recovery_code_signs_in_once_and_is_mailed(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    actor = accounts.user(first_name="Ada")
    _, recovery_codes = _turn_on(client, actor)
    typed = f" {recovery_codes[3].upper().replace('-', ' ')} "
    signed_in = _complete(client, _challenge(client, actor), typed)
    assert signed_in.status_code == 200, signed_in.text
    headers = _bearer(signed_in.json())
    assert client.get(TWO_FACTOR, headers=headers).json()["recovery_codes_left"] == 9
    assert payloads_of(migrated, actor.email, EmailKind.RECOVERY_CODE_USED) == [{"name": "Ada", "codes_left": 9}]
    kinds = [(event["kind"], event["detail"]) for event in _events(client, headers)[:2]]
    assert kinds == [("sign_in_succeeded", {"second_factor": "recovery_code"}), ("recovery_code_used", {})]
    assert _complete(client, _challenge(client, actor), recovery_codes[3]).status_code == 401


def test_wrong_codes_count_toward_the_lockout(settings: Settings, accounts: Accounts, migrated: Engine) -> None:
    policy = {"SIGN_IN_DELAY_AFTER_FAILURES": "2", "SIGN_IN_DELAY_SECONDS": "5"}
    with TestClient(app=create_app(make_settings(settings.database_url, **policy))) as client:
        actor = accounts.user()
        app, _ = _turn_on(client, actor)
        challenge = _challenge(client, actor)
        assert [_complete(client, challenge, app.wrong_code()).status_code for _ in range(2)] == [401, 401]
        throttled = _complete(client, challenge, app.code())
        assert throttled.status_code == 429
        assert 1 <= int(throttled.headers["retry-after"]) <= 5
        # The same address signing in with its password waits too.
        password = client.post(LOGIN, json={"username": actor.email, "password": actor.password})
        assert password.status_code == 429


def test_an_expired_challenge_means_signing_in_again(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    actor = accounts.user()
    app, _ = _turn_on(client, actor)
    challenge = _challenge(client, actor)
    expire_one_time_tokens(migrated, TokenPurpose.SIGN_IN_CHALLENGE)
    expired = _complete(client, challenge, app.code())
    assert (expired.status_code, expired.json()["detail"]) == (
        401,
        "The sign-in challenge is unknown, used or expired; sign in again",
    )


def test_turning_it_off_needs_the_password_and_a_code(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    actor = accounts.user(first_name="Ada")
    app, _ = _turn_on(client, actor)
    disable = f"{TWO_FACTOR}/disable"
    wrong_password = {"password": "not the password", "code": app.wrong_code()}
    assert client.post(disable, headers=actor.headers, json=wrong_password).status_code == 400
    wrong_code = {"password": actor.password, "code": app.wrong_code()}
    assert client.post(disable, headers=actor.headers, json=wrong_code).status_code == 400
    assert client.get(TWO_FACTOR, headers=actor.headers).json()["enabled"] is True
    right = {"password": actor.password, "code": app.code()}
    assert client.post(disable, headers=actor.headers, json=right).status_code == 204
    assert client.get(TWO_FACTOR, headers=actor.headers).json()["enabled"] is False
    assert client.post(disable, headers=actor.headers, json=right).status_code == 409
    assert "access_token" in accounts.login(actor.email)
    assert payloads_of(migrated, actor.email, EmailKind.TWO_FACTOR_DISABLED) == [
        {"name": "Ada", "by_administrator": False}
    ]
    assert _events(client, actor.headers)[1]["kind"] == "two_factor_disabled"  # after the sign-in just now


def test_new_recovery_codes_replace_the_old_ones(client: TestClient[Litestar], accounts: Accounts) -> None:
    actor = accounts.user()
    app, old_codes = _turn_on(client, actor)
    proof = {"password": actor.password, "code": old_codes[0]}
    replaced = client.post(f"{TWO_FACTOR}/recovery-codes", headers=actor.headers, json=proof)
    assert replaced.status_code == 200
    new_codes = replaced.json()["recovery_codes"]
    assert len(new_codes) == 10
    assert not set(new_codes) & set(old_codes)
    assert _complete(client, _challenge(client, actor), old_codes[1]).status_code == 401
    assert _complete(client, _challenge(client, actor), new_codes[0]).status_code == 200
    assert _complete(client, _challenge(client, actor), app.code()).status_code == 200


def test_a_superuser_turns_it_off_for_an_owner_who_lost_the_app(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    admin, owner = accounts.superuser(), accounts.user(first_name="Ada")
    _turn_on(client, owner)
    path = f"{API}/users/{owner.id}/two-factor"
    assert client.delete(path, headers=owner.headers).status_code == 403
    assert client.delete(path, headers=admin.headers).status_code == 204
    assert client.delete(path, headers=admin.headers).status_code == 409
    assert client.delete(f"{API}/users/{admin.id[:-4]}ffff/two-factor", headers=admin.headers).status_code == 404
    assert "access_token" in accounts.login(owner.email)
    assert payloads_of(migrated, owner.email, EmailKind.TWO_FACTOR_DISABLED) == [
        {"name": "Ada", "by_administrator": True}
    ]
    reset = client.get(f"{API}/users/{owner.id}/events", headers=admin.headers).json()["items"][1]
    assert (reset["kind"], reset["actor_id"]) == ("two_factor_disabled", admin.id)


def test_the_secret_is_sealed_at_rest(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine, settings: Settings
) -> None:
    actor = accounts.user()
    app, _ = _turn_on(client, actor)
    with Session(migrated) as session:
        sealed = session.scalars(select(TwoFactor.sealed_secret)).one()
    assert app.totp.secret not in sealed
    assert SecretSealing(settings).open(sealed) == app.totp.secret
    other_key = make_settings(settings.database_url, TWO_FACTOR_KEY="another key of at least thirty-two bytes")
    with pytest.raises(UnsealableSecretError):
        SecretSealing(other_key).open(sealed)
    # An app whose key no longer opens the secret refuses the code (and says why in its log), never a 500.
    with TestClient(app=create_app(other_key)) as misconfigured:
        assert _complete(misconfigured, _challenge(misconfigured, actor), app.code()).status_code == 401


def test_a_deleted_account_takes_its_two_factor_rows_along(client: TestClient[Litestar], accounts: Accounts) -> None:
    actor = accounts.user()
    _, recovery_codes = _turn_on(client, actor)
    challenge = _challenge(client, actor)
    assert client.delete(ME, headers=actor.headers).status_code == 204
    assert _complete(client, challenge, recovery_codes[0]).status_code == 401
    assert client.post(LOGIN, json={"username": actor.email, "password": DEFAULT_PASSWORD}).status_code == 401
