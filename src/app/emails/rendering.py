"""Turns an outbox row into a MIME message with a text and an HTML part, from Jinja templates."""

from __future__ import annotations

from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateError, select_autoescape

from app.emails.errors import EmailRenderError
from app.emails.models import EmailKind

if TYPE_CHECKING:
    from app.core.settings import Settings
    from app.emails.models import EmailOutbox

__all__ = ("EmailComposer",)

SUBJECTS = {
    EmailKind.WELCOME: "Welcome to {project}",
    EmailKind.VERIFY_EMAIL: "Verify your email address for {project}",
    EmailKind.RESET_PASSWORD: "Reset your {project} password",
    EmailKind.PASSWORD_CHANGED: "Your {project} password was changed",
    EmailKind.NEW_SIGN_IN: "New sign-in to your {project} account",
    EmailKind.SESSION_ENDED: "A session of your {project} account was ended",
    EmailKind.CONFIRM_EMAIL_CHANGE: "Confirm your new email address for {project}",
    EmailKind.EMAIL_CHANGE_REQUESTED: "A change of your {project} account's email address was requested",
    EmailKind.TWO_FACTOR_ENABLED: "Two-factor sign-in is on for your {project} account",
    EmailKind.TWO_FACTOR_DISABLED: "Two-factor sign-in is off for your {project} account",
    EmailKind.RECOVERY_CODE_USED: "A recovery code was used to sign in to your {project} account",
}
# The page of the frontend each email links to; the token travels in the query string.
LINK_PATHS = {
    EmailKind.VERIFY_EMAIL: "/verify-email",
    EmailKind.RESET_PASSWORD: "/reset-password",
    EmailKind.CONFIRM_EMAIL_CHANGE: "/confirm-email-change",
}


class EmailComposer:
    """Renders ``<kind>.txt`` and ``<kind>.html``; a missing variable is an error, never an empty string."""

    __slots__ = ("_environment", "email_from", "frontend_url", "message_id_domain", "project_name")

    def __init__(self, settings: Settings) -> None:
        self._environment = Environment(
            loader=PackageLoader("app.emails", "templates"),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )
        self.project_name = settings.project_name
        self.frontend_url = settings.frontend_url.rstrip("/")
        self.email_from = settings.email_from
        self.message_id_domain = parseaddr(settings.email_from)[1].rpartition("@")[2] or "inkwell.invalid"

    def link(self, kind: EmailKind, token: str) -> str:
        return f"{self.frontend_url}{LINK_PATHS[kind]}?token={quote(token)}"

    def _context(self, row: EmailOutbox) -> dict[str, Any]:
        context: dict[str, Any] = {
            "project_name": self.project_name,
            "frontend_url": self.frontend_url,
            "recipient": row.recipient,
            **row.payload,
        }
        if "token" in row.payload:
            context["link"] = self.link(EmailKind(row.kind), row.payload["token"])
        return context

    def compose(self, row: EmailOutbox) -> EmailMessage:
        """The message for ``row``; its Message-ID is derived from the row id, the same on every attempt.

        Raises:
            EmailRenderError: an unknown kind, a payload missing a variable, or a broken template.
        """
        try:
            return self._compose(row)
        except (TemplateError, KeyError, ValueError) as exc:
            raise EmailRenderError(repr(exc)) from exc

    def _compose(self, row: EmailOutbox) -> EmailMessage:
        kind = EmailKind(row.kind)
        context = self._context(row)
        message = EmailMessage()
        message["Subject"] = SUBJECTS[kind].format(project=self.project_name)
        message["From"] = self.email_from
        message["To"] = Address(addr_spec=row.recipient)
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = f"<{row.id}@{self.message_id_domain}>"
        message.set_content(self._environment.get_template(f"{kind}.txt").render(context))
        message.add_alternative(self._environment.get_template(f"{kind}.html").render(context), subtype="html")
        return message
