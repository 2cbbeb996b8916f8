"""The WSGI entry point: ``granian --interface wsgi --blocking-threads "$WEB_THREADS" app.wsgi:application``.

The ASGI entry's app (``app.main``, start-up hooks included) served through ``app.core.wsgi_bridge``: sync handlers
run on the WSGI server's own threads, so its thread count is the concurrency; give it ``WEB_THREADS``, which sizes
the database pools. ASGI remains the faster entry; this one exists for platforms that only speak WSGI.
"""

from __future__ import annotations

import atexit

from litestar.concurrency import set_asyncio_executor

from app.core.wsgi_bridge import InlineExecutor, LifespanThread, WSGIApplication
from app.main import app

__all__ = ("application",)

set_asyncio_executor(InlineExecutor())
_lifespan = LifespanThread(app)
atexit.register(_lifespan.close)
application = WSGIApplication(app)
