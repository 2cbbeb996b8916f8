"""Schemathesis hooks of the contract run (loaded through ``SCHEMATHESIS_HOOKS``).

A client sends a new ``Idempotency-Key`` with each new request. Schemathesis draws header values like any other
string, so it sends the same few boundary values (``"0"``, ``"!"``...) with many different bodies, which Inkwell
rightly refuses (422: the key was used for another request); the positive-data check would count those as valid
requests refused. In a request meant to be valid, the key is replaced by a fresh one. Requests meant to be refused
are left alone: changing one makes schemathesis judge it as drawn anew, and a missing header it had left out on
purpose would be put back.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import schemathesis

IDEMPOTENCY_KEY = "Idempotency-Key"
WELL_FORMED_KEY = re.compile(r"[!-~]{1,255}")


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case[Any], kwargs: dict[str, Any]) -> None:
    if case.meta is not None and case.meta.generation.mode.is_negative:
        return
    key: object = case.headers.get(IDEMPOTENCY_KEY) if case.headers else None
    if isinstance(key, str) and WELL_FORMED_KEY.fullmatch(key):
        case.headers[IDEMPOTENCY_KEY] = str(uuid.uuid4())
