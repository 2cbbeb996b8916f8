"""End to end with a real worker on Redis and a real SMTP server: the emails arrive and their links work."""

from __future__ import annotations

import pyotp
from celery import Celery
from litestar import Litestar
from litestar.testing import TestClient

from tests.factories import API, DEFAULT_PASSWORD, Accounts, unique_email
from tests.mail import SMTPServer, text_of, token_in

LOGIN = f"{API}/auth/login"


def test_register_mails_a_verification_link_that_verifies_the_account(
    client: TestClient[Litestar], accounts: Accounts, smtp_server: SMTPServer, worker: Celery
) -> None:
    actor = accounts.user(first_name="Ada")
    welcome = smtp_server.wait_for_email(actor.email, "welcome")
    verification = smtp_server.wait_for_email(actor.email, "verify")
    assert "Hello Ada" in text_of(welcome)
    assert "http://localhost:3000/verify-email?token=" in text_of(verification)
    assert verification.get_body(preferencelist=("html",)) is not None

    response = client.post(f"{API}/auth/verify-email", json={"token": token_in(verification)})
    assert response.status_code == 200, response.text
    assert response.json()["is_verified"] is True
    assert response.json()["id"] == actor.id
    assert client.get(f"{API}/users/me", headers=actor.headers).json()["is_verified"] is True
    assert client.post(f"{API}/auth/verify-email", json={"token": token_in(verification)}).status_code == 400


def test_forgot_and_reset_password_by_email(
    client: TestClient[Litestar], accounts: Accounts, smtp_server: SMTPServer, worker: Celery
) -> None:
    actor = accounts.user()
    forgot = client.post(f"{API}/auth/forgot-password", json={"email": actor.email.upper()})
    assert forgot.status_code == 202
    reset_email = smtp_server.wait_for_email(actor.email, "reset")
    assert "http://localhost:3000/reset-password?token=" in text_of(reset_email)

    reset = client.post(f"{API}/auth/reset-password", json={"token": token_in(reset_email), "password": "a new secret"})
    assert reset.status_code == 204, reset.text
    assert client.post(LOGIN, data={"username": actor.email, "password": DEFAULT_PASSWORD}).status_code == 401
    assert client.post(LOGIN, data={"username": actor.email, "password": "a new secret"}).status_code == 200
    assert client.post(f"{API}/auth/refresh", json={"refresh_token": actor.refresh_token}).status_code == 401
    smtp_server.wait_for_email(actor.email, "password was changed")


def test_forgot_password_for_an_unknown_email_answers_the_same_and_sends_nothing(
    client: TestClient[Litestar], accounts: Accounts, smtp_server: SMTPServer, worker: Celery
) -> None:
    actor = accounts.user()
    smtp_server.wait_for_email(actor.email, "verify")
    stranger = unique_email("stranger")
    unknown = client.post(f"{API}/auth/forgot-password", json={"email": stranger})
    known = client.post(f"{API}/auth/forgot-password", json={"email": actor.email})
    assert (unknown.status_code, unknown.json()) == (known.status_code, known.json())
    assert unknown.status_code == 202
    # One solo worker takes the queue in order: once the known account's reset email is in, anything the unknown
    # request had queued before it would be in too.
    smtp_server.wait_for_email(actor.email, "reset")
    assert smtp_server.mailbox.to(stranger) == []
    assert len(smtp_server.mailbox.messages) == 3  # welcome, verification, reset


def test_email_change_mails_a_link_to_the_new_address_and_notices_to_the_old_one(
    client: TestClient[Litestar], accounts: Accounts, smtp_server: SMTPServer, worker: Celery
) -> None:
    actor = accounts.user()
    first_link = smtp_server.wait_for_email(actor.email, "verify")
    new_email = unique_email("moved")
    response = client.patch(
        f"{API}/users/me",
        headers=actor.headers,
        json={"email": new_email, "password": "another secret", "current_password": actor.password},
    )
    assert response.status_code == 200, response.text
    assert response.json()["email"] == actor.email
    smtp_server.wait_for_email(actor.email, "password was changed")
    notice = smtp_server.wait_for_email(actor.email, "email address was requested")
    assert "m***@example.com" in text_of(notice)
    confirmation = smtp_server.wait_for_email(new_email, "confirm your new email")
    assert "http://localhost:3000/confirm-email-change?token=" in text_of(confirmation)

    # The password change signed every session out; the owner signs in with the old address and the new password.
    signed_in = accounts.login(actor.email, "another secret")
    headers = {"Authorization": f"Bearer {signed_in['access_token']}"}
    confirmed = client.post(f"{API}/auth/confirm-email-change", headers=headers, json={"token": token_in(confirmation)})
    assert confirmed.status_code == 200, confirmed.text
    assert (confirmed.json()["email"], confirmed.json()["is_verified"]) == (new_email, True)
    # The link mailed to the old address no longer verifies anything.
    assert client.post(f"{API}/auth/verify-email", json={"token": token_in(first_link)}).status_code == 400


def test_resend_verification_mails_a_fresh_link(
    client: TestClient[Litestar], accounts: Accounts, smtp_server: SMTPServer, worker: Celery
) -> None:
    actor = accounts.user()
    smtp_server.wait_for_email(actor.email, "verify")
    assert client.post(f"{API}/auth/verify-email/resend", headers=actor.headers).status_code == 202
    smtp_server.mailbox.wait_for(lambda _: len(smtp_server.mailbox.to(actor.email, "verify")) == 2)
    first, second = smtp_server.mailbox.to(actor.email, "verify")
    assert token_in(first) != token_in(second)
    assert client.post(f"{API}/auth/verify-email", json={"token": token_in(second)}).status_code == 200
    assert client.post(f"{API}/auth/verify-email/resend", headers=actor.headers).status_code == 409


def test_a_sign_in_from_an_unfamiliar_device_is_mailed(
    client: TestClient[Litestar], accounts: Accounts, smtp_server: SMTPServer, worker: Celery
) -> None:
    actor = accounts.user(first_name="Ada")
    phone = {"User-Agent": "InkwellPhone/2.1"}
    assert (
        client.post(LOGIN, data={"username": actor.email, "password": actor.password}, headers=phone).status_code == 200
    )
    notice = smtp_server.wait_for_email(actor.email, "new sign-in")
    assert "Hello Ada" in text_of(notice)
    assert "InkwellPhone/2.1" in text_of(notice)


def test_two_factor_sign_in_mails_its_notices(
    client: TestClient[Litestar], accounts: Accounts, smtp_server: SMTPServer, worker: Celery
) -> None:
    actor = accounts.user()
    two_factor = f"{API}/auth/two-factor"
    enrolment = client.post(two_factor, headers=actor.headers, json={"password": actor.password}).json()
    code = pyotp.TOTP(enrolment["secret"]).now()
    assert client.post(f"{two_factor}/confirm", headers=actor.headers, json={"code": code}).status_code == 200
    smtp_server.wait_for_email(actor.email, "two-factor sign-in is on")

    challenge = client.post(LOGIN, json={"username": actor.email, "password": actor.password}).json()["challenge"]
    second_step = {"challenge": challenge, "code": enrolment["recovery_codes"][0]}
    assert client.post(f"{API}/auth/login/two-factor", json=second_step).status_code == 200
    notice = smtp_server.wait_for_email(actor.email, "recovery code was used")
    assert "9 of your recovery codes are left" in text_of(notice)


def test_sign_in_notices_reach_the_owner(
    client: TestClient[Litestar], accounts: Accounts, smtp_server: SMTPServer, worker: Celery
) -> None:
    admin, actor = accounts.superuser(), accounts.user()
    phone = {"User-Agent": "InkwellPhone/2.1"}
    signed_in = client.post(LOGIN, data={"username": actor.email, "password": actor.password}, headers=phone)
    assert signed_in.status_code == 200
    new_sign_in = smtp_server.wait_for_email(actor.email, "new sign-in")
    assert "InkwellPhone/2.1" in text_of(new_sign_in)

    sessions = client.get(f"{API}/users/{actor.id}/sessions", headers=admin.headers).json()["items"]
    (phone_session,) = [session for session in sessions if session["user_agent"] == "InkwellPhone/2.1"]
    path = f"{API}/users/{actor.id}/sessions/{phone_session['id']}"
    assert client.delete(path, headers=admin.headers).status_code == 204
    ended = smtp_server.wait_for_email(actor.email, "session of your")
    assert "InkwellPhone/2.1" in text_of(ended)
