"""The ASGI entry point served by granian: ``granian --interface asgi app.main:app``."""

from __future__ import annotations

from app.application import create_app
from app.core.startup import build_or_exit, freeze_startup_heap

__all__ = ("app",)

app = build_or_exit(create_app)
# Last of the start-up hooks, in each worker process (and in the WSGI entry, which serves this app), once the app has
# built all it keeps.
app.on_startup.append(freeze_startup_heap)
