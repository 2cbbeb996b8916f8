"""The app the Litestar CLI loads for Inkwell's commands: ``litestar --app app.manage:app database|users|posts``.

It serves no routes. It carries advanced-alchemy's Litestar plugin (the ``database`` migration commands) and
Inkwell's ``users`` and ``posts`` groups, which import Alembic, Mako, click and rich: memory that each web worker
(``app.main``) does without (README, Performance).
"""

from __future__ import annotations

from advanced_alchemy.extensions.litestar import SQLAlchemyPlugin, SQLAlchemySyncConfig
from litestar import Litestar

from app.auth.account_security import build_users_service
from app.core.database import build_sqlalchemy_config
from app.core.logging import build_logging_config
from app.core.security import PasswordHashing
from app.core.settings import Settings, get_settings
from app.core.startup import build_or_exit
from app.posts.cli import PostsCLIPlugin
from app.users.cli import UsersCLIPlugin

__all__ = ("app", "create_manage_app")


def create_manage_app(settings: Settings | None = None) -> Litestar:
    """The command-line app for ``settings`` (default: the environment)."""
    settings = settings or get_settings()
    db_config = build_sqlalchemy_config(settings, config_class=SQLAlchemySyncConfig)
    passwords = PasswordHashing(settings)
    return Litestar(
        plugins=[
            SQLAlchemyPlugin(config=db_config),
            UsersCLIPlugin(db_config, lambda session: build_users_service(session, passwords, settings)),
            PostsCLIPlugin(db_config, passwords),
        ],
        logging_config=build_logging_config(debug=settings.debug),
        debug=settings.debug,
    )


app = build_or_exit(create_manage_app)
