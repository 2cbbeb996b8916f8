"""What a process does as it starts: build its app, or end with one line naming the bad setting instead of a
traceback; and, in a web process once the app is built, keep the garbage collector off the request path.
"""

from __future__ import annotations

import gc
import sys
from typing import TYPE_CHECKING, TypeVar

from app.core.settings import SettingsError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ("build_or_exit", "freeze_startup_heap")

T = TypeVar("T")

# Above Python's 700: a request allocates many container objects, and each young collection costs CPU on the
# request path.
YOUNG_GENERATION_THRESHOLD = 10_000


def build_or_exit(factory: Callable[[], T]) -> T:
    """Return what ``factory`` builds; on a bad setting, end the process with status 2 and the setting's message."""
    try:
        return factory()
    except SettingsError as exc:
        sys.stderr.write(f"inkwell: {exc}\n")
        raise SystemExit(2) from None


def freeze_startup_heap() -> None:
    """Move everything start-up built (modules, routes, schemas, the engine) out of the collector's sight, and make
    young collections rarer.

    Run it last, once the app has built all it keeps. A full collection otherwise walks that whole heap, which never
    becomes garbage, and stalls every request in flight while it does (README, Performance).
    """
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, oldest)
