"""The project's route decorators: Litestar's ``get``, ``post``, ``put``, ``patch`` and ``delete``, whose sync ``def``
handlers run in a worker thread unless they pass ``sync_to_thread=False``.

Nearly every handler does blocking database I/O, which must not run on the event loop, and Litestar 2 has no
controller- or router-level ``sync_to_thread``, so the default lives here. A handler that only reads what
authentication already loaded passes ``sync_to_thread=False``, and says why. Async handlers keep Litestar's own
decorators: ``sync_to_thread`` on an async handler is a warning.

Their operations are :class:`~app.core.openapi.DocumentedOperation`, which drops the ``400`` Litestar documents by
itself (``operation_class``, too, exists only per handler).

Each is a :func:`functools.partial` of Litestar's decorator, so mypy checks its arguments against Litestar's signature
and a decorated handler keeps its type.
"""

from __future__ import annotations

from functools import partial

import litestar

from app.core.openapi import DocumentedOperation

__all__ = ("delete", "get", "patch", "post", "put")

delete = partial(litestar.delete, sync_to_thread=True, operation_class=DocumentedOperation)
get = partial(litestar.get, sync_to_thread=True, operation_class=DocumentedOperation)
patch = partial(litestar.patch, sync_to_thread=True, operation_class=DocumentedOperation)
post = partial(litestar.post, sync_to_thread=True, operation_class=DocumentedOperation)
put = partial(litestar.put, sync_to_thread=True, operation_class=DocumentedOperation)
