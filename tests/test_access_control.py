"""Access control, walked over every operation of the OpenAPI document.

Each operation must be classified below; a new endpoint that is not fails here until someone decides who may
call it. Each one is then called with no token, with a deactivated user's token, and as an ordinary user aiming
at another user's resources, and the answers are checked against the classification.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from app.emails.models import EmailOutbox
from app.users.models import User
from tests.factories import Accounts, Actor, Posts


@dataclass(frozen=True)
class Rule:
    """Who may call an operation, and what an ordinary user aiming at someone else's resource gets."""

    bearer: bool
    stranger: frozenset[int] = frozenset()
    body: dict[str, Any] = field(default_factory=dict)


ANYONE = Rule(bearer=False)
ONESELF = Rule(bearer=True)

RULES: dict[str, Rule] = {
    "health": ANYONE,
    "readiness": ANYONE,
    "register": ANYONE,
    "login": ANYONE,
    "refresh": ANYONE,
    "logout": ANYONE,
    "verifyEmail": ANYONE,
    "forgotPassword": ANYONE,
    "resetPassword": ANYONE,
    "completeTwoFactorSignIn": ANYONE,
    "listPosts": ANYONE,
    "listUserPosts": ANYONE,
    "getPost": Rule(bearer=False, stranger=frozenset({404})),
    "resendVerificationEmail": ONESELF,
    "confirmEmailChange": Rule(bearer=True, body={"token": "not one of the caller's links"}),
    "getTwoFactor": ONESELF,
    "enrolTwoFactor": Rule(bearer=True, body={"password": "not the caller's"}),
    "confirmTwoFactor": Rule(bearer=True, body={"code": "123456"}),
    "disableTwoFactor": Rule(bearer=True, body={"password": "not the caller's", "code": "123456"}),
    "replaceRecoveryCodes": Rule(bearer=True, body={"password": "not the caller's", "code": "123456"}),
    "resetUserTwoFactor": Rule(bearer=True, stranger=frozenset({403})),
    "getMe": ONESELF,
    "updateMe": ONESELF,
    "deleteMe": ONESELF,
    "getMyProfile": ONESELF,
    "replaceMyProfile": ONESELF,
    "listMyPosts": ONESELF,
    "listMySessions": ONESELF,
    "listMyEvents": ONESELF,
    "listUserEvents": Rule(bearer=True, stranger=frozenset({403})),
    "endMyOtherSessions": ONESELF,
    "endMySession": Rule(bearer=True, stranger=frozenset({404})),
    "listUserSessions": Rule(bearer=True, stranger=frozenset({403})),
    "endUserSession": Rule(bearer=True, stranger=frozenset({403})),
    "createPost": ONESELF,
    "listUsers": Rule(bearer=True, stranger=frozenset({403})),
    "getQueues": Rule(bearer=True, stranger=frozenset({403})),
    "listEmails": Rule(bearer=True, stranger=frozenset({403})),
    "retryEmail": Rule(bearer=True, stranger=frozenset({403})),
    "retryFailedEmails": Rule(bearer=True, stranger=frozenset({403}), body={"failed_since": None}),
    "createUser": Rule(
        bearer=True, stranger=frozenset({403}), body={"email": "new@example.com", "password": "long-enough"}
    ),
    "getUser": Rule(bearer=True, stranger=frozenset({403})),
    "updateUser": Rule(bearer=True, stranger=frozenset({403}), body={"first_name": "Mallory"}),
    "deleteUser": Rule(bearer=True, stranger=frozenset({403})),
    "updatePost": Rule(bearer=True, stranger=frozenset({404}), body={"title": "Mine now"}),
    "deletePost": Rule(bearer=True, stranger=frozenset({404})),
}
# Someone else's *published* post: visible, but still not the stranger's to change.
PUBLISHED_POST_RULES = {"getPost": frozenset({200}), "updatePost": frozenset({403}), "deletePost": frozenset({403})}


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str


def _operations(client: TestClient[Litestar]) -> list[Operation]:
    document = client.get("/schema/openapi.json").json()
    return [
        Operation(spec["operationId"], method.upper(), path)
        for path, item in document["paths"].items()
        for method, spec in item.items()
        if isinstance(spec, dict) and "operationId" in spec
    ]


def _fill(path: str, **ids: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda match: ids[match.group(1)], path)


def _email_id(engine: Engine, user_id: str) -> str:
    """One of the emails registration wrote for this user (an outbox row, for the ops routes)."""
    with Session(engine) as session:
        return str(session.scalars(select(EmailOutbox.id).where(EmailOutbox.user_id == uuid.UUID(user_id))).first())


def _ids(owner: Actor, post_id: str, engine: Engine) -> dict[str, str]:
    """The path parameters of every operation, all aiming at ``owner``'s resources."""
    return {
        "user_id": owner.id,
        "post_id": post_id,
        "email_id": _email_id(engine, owner.id),
        "session_id": owner.session_id,
    }


def _call(client: TestClient[Litestar], operation: Operation, path: str, rule: Rule, headers: dict[str, str]) -> int:
    body = rule.body if operation.method in {"POST", "PUT", "PATCH"} else None
    return client.request(operation.method, path, json=body, headers=headers).status_code


def test_every_operation_is_classified(client: TestClient[Litestar]) -> None:
    unclassified = sorted(op.operation_id for op in _operations(client) if op.operation_id not in RULES)
    assert unclassified == [], f"decide who may call these operations and add them to RULES: {unclassified}"


def test_without_a_token(client: TestClient[Litestar], accounts: Accounts, posts: Posts, migrated: Engine) -> None:
    owner = accounts.user()
    ids = _ids(owner, posts.create(owner)["id"], migrated)
    for operation in _operations(client):
        rule = RULES[operation.operation_id]
        status = _call(client, operation, _fill(operation.path, **ids), rule, {})
        if rule.bearer:
            assert status == 401, operation
        else:
            assert status != 401, operation


def test_a_deactivated_users_token_opens_nothing(
    client: TestClient[Litestar], accounts: Accounts, posts: Posts, migrated: Engine
) -> None:
    owner = accounts.user()
    ids = _ids(owner, posts.create(owner)["id"], migrated)
    with Session(migrated) as session:
        session.execute(update(User).where(User.id == uuid.UUID(owner.id)).values(is_active=False))
        session.commit()
    for operation in _operations(client):
        rule = RULES[operation.operation_id]
        status = _call(client, operation, _fill(operation.path, **ids), rule, owner.headers)
        if rule.bearer or operation.operation_id == "getPost":
            assert status == 401, operation


@pytest.mark.parametrize("published", [False, True])
def test_an_ordinary_user_cannot_reach_someone_elses_resources(
    client: TestClient[Litestar], accounts: Accounts, posts: Posts, migrated: Engine, published: bool
) -> None:
    operations = [op for op in _operations(client) if RULES[op.operation_id].stranger]
    assert {op.operation_id for op in operations} >= {"getUser", "updateUser", "deleteUser", "updatePost"}
    for operation in operations:
        victim: Actor = accounts.user()
        stranger: Actor = accounts.user()
        post = posts.create(victim, published=published)
        expected = RULES[operation.operation_id].stranger
        if published and operation.operation_id in PUBLISHED_POST_RULES:
            expected = PUBLISHED_POST_RULES[operation.operation_id]
        path = _fill(operation.path, **_ids(victim, post["id"], migrated))
        status = _call(client, operation, path, RULES[operation.operation_id], stranger.headers)
        assert status in expected, (operation, status)
        assert client.get(f"/api/v1/posts/{post['id']}", headers=victim.headers).status_code == 200
