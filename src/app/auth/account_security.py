"""The auth domain's side of an account's changes: the sessions it ends and the links it mails.

:class:`TokenSecurity` is the :class:`app.users.service.AccountSecurity` every ``UserService`` is built with, so the
users domain changes an account without knowing tokens exist.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import TYPE_CHECKING

from app.auth.models import TokenPurpose
from app.auth.one_time_tokens import OneTimeTokenService
from app.auth.sessions import SessionService
from app.emails.models import EmailKind
from app.users.service import UserService

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, scoped_session

    from app.core.origin import RequestOrigin
    from app.core.security import PasswordHashing
    from app.core.settings import Settings
    from app.core.task_queue import TaskQueue
    from app.emails.service import OutboxService
    from app.users.models import User

__all__ = ("TokenSecurity", "build_users_service")


def _humanise(lifetime: timedelta) -> str:
    minutes = int(lifetime.total_seconds()) // 60
    value, unit = (minutes // 60, "hour") if minutes % 60 == 0 else (minutes, "minute")
    return f"{value} {unit}{'' if value == 1 else 's'}"


def _masked(address: str) -> str:
    """``address`` with its local part hidden but for its first character: the notice goes to the account's current
    address, which may be one its owner mistyped and someone else reads."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"


class TokenSecurity:
    """Ends sessions and issues the one-time tokens of mailed links, in the transaction of
    the session it is given; the emails go to the same outbox, so they are sent once that transaction commits.

    Every ``UserService`` (and every ``AuthService``) of a request builds one, and most requests use one of its two
    services or neither: each is built on first use.
    """

    def __init__(self, session: Session | scoped_session[Session], outbox: OutboxService, settings: Settings) -> None:
        self.session = session
        self.outbox = outbox
        self.settings = settings

    @functools.cached_property
    def one_time_tokens(self) -> OneTimeTokenService:
        return OneTimeTokenService(session=self.session)

    @functools.cached_property
    def sessions(self) -> SessionService:
        return SessionService(session=self.session)

    def _send_link(
        self, user: User, purpose: TokenPurpose, kind: EmailKind, lifetime: timedelta, *, to: str | None = None
    ) -> None:
        """Mail ``user`` (at ``to``, or their address) a link carrying a new one-time token of ``purpose``; for an
        email change, ``to`` is the address the token moves the account to."""
        new_email = to if purpose is TokenPurpose.CHANGE_EMAIL else None
        token = self.one_time_tokens.issue(user.id, purpose, lifetime, new_email=new_email)
        payload = {"name": user.full_name, "token": token, "expires_in": _humanise(lifetime)}
        self.outbox.add(kind, to or user.email, user_id=user.id, payload=payload)

    def send_verification(self, user: User) -> None:
        lifetime = timedelta(hours=self.settings.verify_email_token_expire_hours)
        self._send_link(user, TokenPurpose.VERIFY_EMAIL, EmailKind.VERIFY_EMAIL, lifetime)

    def send_password_reset(self, user: User) -> None:
        """A reset link; older reset links stop working."""
        lifetime = timedelta(minutes=self.settings.reset_password_token_expire_minutes)
        self.one_time_tokens.revoke(user.id, TokenPurpose.RESET_PASSWORD)
        self._send_link(user, TokenPurpose.RESET_PASSWORD, EmailKind.RESET_PASSWORD, lifetime)

    def password_changed(self, user: User, notify_address: str) -> None:
        self.sessions.end_all(user.id)
        self.outbox.add(EmailKind.PASSWORD_CHANGED, notify_address, user_id=user.id, payload={"name": user.full_name})

    def request_email_change(self, user: User, new_email: str) -> None:
        lifetime = timedelta(hours=self.settings.verify_email_token_expire_hours)
        self.one_time_tokens.revoke(user.id, TokenPurpose.CHANGE_EMAIL)
        self._send_link(user, TokenPurpose.CHANGE_EMAIL, EmailKind.CONFIRM_EMAIL_CHANGE, lifetime, to=new_email)
        notice = {"name": user.full_name, "new_email": _masked(new_email)}
        self.outbox.add(EmailKind.EMAIL_CHANGE_REQUESTED, user.email, user_id=user.id, payload=notice)

    def account_deactivated(self, user: User) -> None:
        self.sessions.end_all(user.id)


def build_users_service(
    session: Session,
    passwords: PasswordHashing,
    settings: Settings,
    task_queue: TaskQueue | None = None,
    origin: RequestOrigin | None = None,
) -> UserService:
    """The ``UserService`` of ``session`` whose credential changes this domain carries out; its security events carry
    ``origin``."""
    security = functools.partial(TokenSecurity, settings=settings)
    return UserService(session, passwords, settings, security, task_queue=task_queue, origin=origin)
