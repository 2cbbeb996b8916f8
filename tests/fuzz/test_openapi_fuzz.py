"""Property-based fuzzing of every operation in the app's own OpenAPI document, as a user and as a superuser.

Checks: no 5xx, every status is documented for its operation, and every body matches its documented schema.
``FUZZ_MAX_EXAMPLES`` (default 15 per operation and role) sets the depth; the README has a long-run command.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.application import create_app
from tests.conftest import make_settings
from tests.fuzz.conftest import FUZZ_STATS, MAX_EXAMPLES, FuzzActors

# The document the server serves, built in-process so that collection needs no running server.
schema = schemathesis.openapi.from_dict(create_app(make_settings("sqlite://")).openapi_schema.to_schema())
schema.config.generation.update(max_examples=MAX_EXAMPLES)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _check(case: schemathesis.Case[Any], role: str, actors: FuzzActors) -> None:
    FUZZ_STATS[f"op:{case.operation.label}:{role}"] += 1
    FUZZ_STATS["cases"] += 1
    try:
        response = case.call(base_url=actors.base_url, headers=actors.headers(role))
        if response.status_code == 401 and not actors.is_signed_in(role):
            # An earlier case deleted or changed this account: replay the case with a fresh one.
            response = case.call(base_url=actors.base_url, headers=actors.headers(role))
        case.validate_response(response, checks=CHECKS)
    except Exception:
        FUZZ_STATS["failures"] += 1
        raise


@schema.parametrize()
def test_every_operation_as_a_user(case: schemathesis.Case[Any], fuzz_server: FuzzActors) -> None:
    _check(case, "user", fuzz_server)


@schema.parametrize()
def test_every_operation_as_a_superuser(case: schemathesis.Case[Any], fuzz_server: FuzzActors) -> None:
    _check(case, "superuser", fuzz_server)
