"""The ASGI entry point served by granian: ``granian --interface asgi app.main:app``."""

from __future__ import annotations

import sys

from litestar import Litestar

from app.application import create_app
from app.core.settings import SettingsError

__all__ = ("app",)


def _create_app_or_exit() -> Litestar:
    """Build the app; a bad setting ends the process with one line naming it, not a traceback."""
    try:
        return create_app()
    except SettingsError as exc:
        sys.stderr.write(f"inkwell: {exc}\n")
        raise SystemExit(2) from None


app = _create_app_or_exit()
