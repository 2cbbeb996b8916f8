"""Transports against a real SMTP server and a real folder; rendering of every template."""

from __future__ import annotations

import logging
import uuid
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from app.core.settings import Settings, SettingsError, load_settings
from app.emails.errors import EmailRenderError
from app.emails.models import EmailKind, EmailOutbox
from app.emails.rendering import EmailComposer
from app.emails.transports import (
    FileTransport,
    PermanentEmailError,
    SMTPTransport,
    TransientEmailError,
    build_transport,
)
from tests.conftest import make_settings
from tests.mail import SMTPServer, free_port, text_of

PAYLOADS = {
    EmailKind.WELCOME: {"name": "Ada <Lovelace>"},
    EmailKind.VERIFY_EMAIL: {"name": "Ada <Lovelace>", "token": "tok/en+1", "expires_in": "48 hours"},
    EmailKind.RESET_PASSWORD: {"name": "Ada <Lovelace>", "token": "tok/en+1", "expires_in": "1 hour"},
    EmailKind.PASSWORD_CHANGED: {"name": "Ada <Lovelace>"},
    EmailKind.NEW_SIGN_IN: {"name": "Ada <Lovelace>", "ip_address": "198.18.0.7", "user_agent": "Phone <1.0>"},
    EmailKind.SESSION_ENDED: {"name": "Ada <Lovelace>", "ip_address": None, "user_agent": "Phone <1.0>"},
    EmailKind.CONFIRM_EMAIL_CHANGE: {"name": "Ada <Lovelace>", "token": "tok/en+1", "expires_in": "48 hours"},
    EmailKind.EMAIL_CHANGE_REQUESTED: {"name": "Ada <Lovelace>", "new_email": "a***@<new>.example"},
    EmailKind.TWO_FACTOR_ENABLED: {"name": "Ada <Lovelace>"},
    EmailKind.TWO_FACTOR_DISABLED: {"name": "Ada <Lovelace>", "by_administrator": True},
    EmailKind.RECOVERY_CODE_USED: {"name": "Ada <Lovelace>", "codes_left": 9},
}
LINK_PATHS = {
    EmailKind.VERIFY_EMAIL: "verify-email",
    EmailKind.RESET_PASSWORD: "reset-password",
    EmailKind.CONFIRM_EMAIL_CHANGE: "confirm-email-change",
}


def _row(kind: EmailKind) -> EmailOutbox:
    return EmailOutbox(id=uuid.uuid4(), kind=kind, recipient="ada@example.com", payload=PAYLOADS[kind])


@pytest.fixture
def composer() -> EmailComposer:
    return EmailComposer(
        make_settings("sqlite://", FRONTEND_URL="https://app.example/", EMAIL_FROM="Ink <i@ink.example>")
    )


@pytest.mark.parametrize("kind", list(EmailKind))
def test_every_kind_renders_a_text_and_an_escaped_html_part(composer: EmailComposer, kind: EmailKind) -> None:
    row = _row(kind)
    message = composer.compose(row)
    assert message["To"] == "ada@example.com"
    assert message["From"] == "Ink <i@ink.example>"
    assert message["Message-ID"] == f"<{row.id}@ink.example>"
    assert "Ada <Lovelace>" in text_of(message)
    html = message.get_body(preferencelist=("html",))
    assert html is not None
    assert "Ada &lt;Lovelace&gt;" in html.get_content()
    if "token" in row.payload:
        assert f"https://app.example/{LINK_PATHS[kind]}?token=tok/en%2B1" in text_of(message)


def test_a_payload_missing_a_variable_is_a_render_error_not_an_empty_string(composer: EmailComposer) -> None:
    row = EmailOutbox(id=uuid.uuid4(), kind=EmailKind.RESET_PASSWORD, recipient="ada@example.com", payload={})
    with pytest.raises(EmailRenderError, match="is undefined"):
        composer.compose(row)


def test_smtp_transport_delivers_and_classifies_refusals(composer: EmailComposer, smtp_server: SMTPServer) -> None:
    transport = SMTPTransport(smtp_server.url, timeout=5)
    transport.send(composer.compose(_row(EmailKind.WELCOME)))
    assert len(smtp_server.mailbox.messages) == 1
    smtp_server.mailbox.refusals.append("451 4.7.1 Greylisted")
    with pytest.raises(TransientEmailError, match="451"):
        transport.send(composer.compose(_row(EmailKind.WELCOME)))
    smtp_server.mailbox.refusals.append("554 5.7.1 Rejected")
    with pytest.raises(PermanentEmailError, match="554"):
        transport.send(composer.compose(_row(EmailKind.WELCOME)))
    with pytest.raises(TransientEmailError, match="ConnectionRefusedError"):
        SMTPTransport(f"smtp://127.0.0.1:{free_port()}", timeout=5).send(composer.compose(_row(EmailKind.WELCOME)))


def test_smtp_url_forms() -> None:
    plain = SMTPTransport("smtp://mail.example", timeout=3)
    assert (plain.host, plain.port, plain.starttls, plain.use_ssl, plain.username) == (
        "mail.example",
        25,
        False,
        False,
        None,
    )
    submission = SMTPTransport("smtp://us%40er:p%3Ass@mail.example:587?starttls=true", timeout=3)
    assert (submission.port, submission.starttls, submission.username, submission.password) == (
        587,
        True,
        "us@er",
        "p:ss",
    )
    implicit_tls = SMTPTransport("smtps://mail.example", timeout=3)
    assert (implicit_tls.port, implicit_tls.use_ssl) == (465, True)


@pytest.mark.parametrize("url", ["http://mail.example", "smtp://", "mail.example:25"])
def test_a_bad_smtp_url_is_one_line_naming_it(url: str) -> None:
    with pytest.raises(SettingsError, match="invalid setting SMTP_URL"):
        load_settings({"SMTP_URL": url, "SECRET_KEY": "k" * 32}, env_file=None)


def test_without_smtp_url_emails_are_files(
    composer: EmailComposer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings: Settings = make_settings("sqlite://", EMAIL_FILE_DIR=str(tmp_path / "mail"))
    transport = build_transport(settings)
    assert isinstance(transport, FileTransport)
    row = _row(EmailKind.VERIFY_EMAIL)
    with caplog.at_level(logging.INFO, logger="app.emails.transports"):
        transport.send(composer.compose(row))
    written = tmp_path / "mail" / f"{row.id}.eml"
    assert str(written) in caplog.text
    parsed = message_from_bytes(written.read_bytes(), policy=policy.default)
    assert parsed["Subject"] == "Verify your email address for Inkwell"
    assert isinstance(build_transport(make_settings("sqlite://", SMTP_URL="smtp://mail.example")), SMTPTransport)
