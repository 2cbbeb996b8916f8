"""Building an app at process start: a bad setting is one line naming it, not a traceback."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TypeVar

from app.core.settings import SettingsError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ("build_or_exit",)

T = TypeVar("T")


def build_or_exit(factory: Callable[[], T]) -> T:
    """Return what ``factory`` builds; on a bad setting, end the process with status 2 and the setting's message."""
    try:
        return factory()
    except SettingsError as exc:
        sys.stderr.write(f"inkwell: {exc}\n")
        raise SystemExit(2) from None
