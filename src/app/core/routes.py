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
from typing import TYPE_CHECKING

import litestar
from litestar.routes import HTTPRoute

from app.core.openapi import DocumentedOperation
from app.core.strict_body import reject_coerced_body

if TYPE_CHECKING:
    from litestar import Litestar

__all__ = ("answer_options_with_every_method", "delete", "get", "patch", "post", "put")

delete = partial(litestar.delete, sync_to_thread=True, operation_class=DocumentedOperation)
get = partial(litestar.get, sync_to_thread=True, operation_class=DocumentedOperation)
# Handlers that may take a body check it strictly first (app.core.strict_body).
patch = partial(
    litestar.patch, sync_to_thread=True, operation_class=DocumentedOperation, before_request=reject_coerced_body
)
post = partial(
    litestar.post, sync_to_thread=True, operation_class=DocumentedOperation, before_request=reject_coerced_body
)
put = partial(
    litestar.put, sync_to_thread=True, operation_class=DocumentedOperation, before_request=reject_coerced_body
)


def answer_options_with_every_method(app: Litestar) -> None:
    """Give every path an automatic ``OPTIONS`` handler whose ``Allow`` lists all of the path's methods.

    Litestar 2 builds a path's route again for each further handler registered on it, and keeps the ``OPTIONS``
    handler made for the first one, which answers with that first route's methods only (litestar#4169, fixed in
    Litestar 3). Its replacement is made by the finished route, the same way, with the same owner (so the same guards).
    """
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or "OPTIONS" not in route.route_handler_map:
            continue
        stale, _ = route.route_handler_map["OPTIONS"]
        if stale.include_in_schema is not False:
            continue  # an OPTIONS handler of the app's own, not Litestar's
        fresh = route.create_options_handler(route.path)
        fresh.owner = stale.owner
        fresh.on_registration(app)
        route.route_handlers = [fresh if handler is stale else handler for handler in route.route_handlers]
        route.route_handler_map["OPTIONS"] = (fresh, fresh.create_kwargs_model(path_parameters=route.path_parameters))
