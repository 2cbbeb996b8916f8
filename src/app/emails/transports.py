"""Email transports: SMTP for real mail, ``.eml`` files for development; both tell transient from permanent failures."""

from __future__ import annotations

import contextlib
import logging
import smtplib
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from app.emails.errors import PermanentEmailError, TransientEmailError

if TYPE_CHECKING:
    from email.message import EmailMessage

    from app.core.settings import Settings

__all__ = (
    "EmailTransport",
    "FileTransport",
    "PermanentEmailError",
    "SMTPTransport",
    "TransientEmailError",
    "build_transport",
)

logger = logging.getLogger(__name__)

SMTP_PORTS = {"smtp": 25, "smtps": 465}  # the settings accept exactly these schemes
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})


class EmailTransport(Protocol):
    """Delivers one message or raises :class:`TransientEmailError` / :class:`PermanentEmailError`."""

    def send(self, message: EmailMessage) -> None: ...


class SMTPTransport:
    """SMTP from a URL: ``smtp://user:pass@host:587?starttls=true`` or ``smtps://host:465`` (implicit TLS)."""

    __slots__ = ("host", "password", "port", "starttls", "timeout", "use_ssl", "username")

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)  # checked by the settings: scheme smtp or smtps, with a host
        query = parse_qs(parts.query)
        self.host = parts.hostname or ""
        self.port = parts.port or SMTP_PORTS[parts.scheme]
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.use_ssl = parts.scheme == "smtps"
        self.starttls = query.get("starttls", ["false"])[0].lower() in TRUE_WORDS
        self.timeout = timeout

    def _connect(self) -> smtplib.SMTP:
        if self.use_ssl:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=ssl.create_default_context())
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)

    def _deliver(self, message: EmailMessage) -> None:
        client = self._connect()
        try:
            if self.starttls:
                client.starttls(context=ssl.create_default_context())
            if self.username is not None:
                client.login(self.username, self.password or "")
            client.send_message(message)
        except BaseException:
            # Hang up without QUIT (which `with smtplib.SMTP()` would send): after a timeout, or an interrupt such as
            # a worker's shutdown, the server's late reply to DATA would be read as the answer to QUIT and raised in
            # place of the real error, turning a stop into "SMTP 250" and the accepted message into a retry.
            client.close()
            raise
        # Accepted: a goodbye that fails changes nothing.
        with contextlib.suppress(smtplib.SMTPException, OSError):
            client.quit()
        client.close()

    def send(self, message: EmailMessage) -> None:
        try:
            self._deliver(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise _by_code(min(codes), f"recipient refused: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            raise _by_code(exc.smtp_code, f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise PermanentEmailError(f"SMTP server does not support this: {exc}") from exc
        except OSError as exc:  # refused, reset, timed out, disconnected (SMTPServerDisconnected is an OSError)
            raise TransientEmailError(f"{type(exc).__name__}: {exc}") from exc


def _by_code(code: int, detail: str) -> TransientEmailError | PermanentEmailError:
    # RFC 5321: 4yz is a transient negative reply, 5yz a permanent one.
    return TransientEmailError(detail) if code < 500 else PermanentEmailError(detail)


class FileTransport:
    """Writes each message to ``<directory>/<Message-ID>.eml`` and logs the path (the development default).

    Message-IDs start with the outbox row's UUIDv7, so the files sort in the order the emails were written.
    """

    __slots__ = ("directory",)

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: EmailMessage) -> None:
        path = self.directory / f"{str(message['Message-ID']).strip('<>').split('@')[0]}.eml"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            path.write_bytes(bytes(message))
        except OSError as exc:
            raise TransientEmailError(f"could not write {path}: {exc}") from exc
        logger.info("email to %s written to %s", message["To"], path)


def build_transport(settings: Settings) -> EmailTransport:
    """SMTP when ``SMTP_URL`` is set, otherwise ``.eml`` files in ``EMAIL_FILE_DIR``."""
    if settings.smtp_url:
        return SMTPTransport(settings.smtp_url, settings.smtp_timeout_seconds)
    return FileTransport(Path(settings.email_file_dir))
