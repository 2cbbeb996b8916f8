"""``litestar users create``: create accounts (superusers included) from the command line."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
import msgspec
from litestar.plugins import CLIPluginProtocol

from app.users.schemas import UserAdminCreate
from app.users.service import UserService, normalise_email

if TYPE_CHECKING:
    from collections.abc import Callable

    from advanced_alchemy.config import SQLAlchemySyncConfig
    from sqlalchemy.orm import Session

__all__ = ("UsersCLIPlugin",)


class UsersCLIPlugin(CLIPluginProtocol):
    """Adds the ``users`` command group to the Litestar CLI."""

    __slots__ = ("build_users_service", "db_config")

    def __init__(self, db_config: SQLAlchemySyncConfig, build_users_service: Callable[[Session], UserService]) -> None:
        self.db_config = db_config
        self.build_users_service = build_users_service

    def on_cli_init(self, cli: click.Group) -> None:
        @cli.group(name="users")
        def users_group() -> None:
            """Manage Inkwell accounts."""

        @users_group.command(name="create")
        @click.option("--email", prompt=True, help="the account's email")
        @click.password_option("--password", help="8 to 128 characters")
        @click.option("--first-name", default=None)
        @click.option("--last-name", default=None)
        @click.option("--superuser", is_flag=True, default=False, help="grant superuser rights")
        def create_user(
            email: str, password: str, first_name: str | None, last_name: str | None, *, superuser: bool
        ) -> None:
            """Create an active, verified account."""
            try:
                data = msgspec.convert(
                    {
                        "email": email,
                        "password": password,
                        "first_name": first_name,
                        "last_name": last_name,
                        "is_superuser": superuser,
                        "is_verified": True,
                    },
                    UserAdminCreate,
                )
            except msgspec.ValidationError as exc:
                raise click.BadParameter(str(exc)) from exc
            with self.db_config.get_session() as session:
                service = self.build_users_service(session)
                if service.exists(email=normalise_email(email)):
                    raise click.ClickException(f"a user with email {email} already exists")
                user = service.create_by_admin(data)
            role = "superuser" if superuser else "user"
            click.echo(f"created {role} {user.email} ({user.id})")
