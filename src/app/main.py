"""The ASGI entry point served by granian: ``granian --interface asgi app.main:app``."""

from __future__ import annotations

import gc

from app.application import create_app
from app.core.startup import build_or_exit

__all__ = ("app",)


# Cyclic garbage is collected after this many new container objects rather than Python's 700: a request allocates
# hundreds, and each young collection costs CPU on the request path.
YOUNG_GENERATION_THRESHOLD = 10_000


def freeze_startup_heap() -> None:
    """Move everything start-up built (modules, routes, schemas, the engine) out of the collector's sight.

    A full collection otherwise walks those ~170,000 objects on every run, about 90 ms here, stalling every
    request in flight: it was the whole tail of the latency distribution (p99 ~100 ms against a p50 of ~20 ms).
    """
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, oldest)


app = build_or_exit(create_app)
# Last of the start-up hooks, in each worker process, once the app has built all it keeps.
app.on_startup.append(freeze_startup_heap)
