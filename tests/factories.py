"""Factories that make accounts the way clients do: through the HTTP API (superusers through the service)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from app.auth.account_security import build_users_service
from app.auth.models import OneTimeToken, TokenPurpose
from app.core.security import PasswordHashing
from app.core.settings import Settings
from app.users.schemas import UserAdminCreate

API = "/api/v1"
DEFAULT_PASSWORD = "correct horse battery"
_sequence = itertools.count(1)


@dataclass
class Actor:
    """A signed-in account: its id, credentials and current tokens."""

    id: str
    email: str
    password: str
    access_token: str
    refresh_token: str
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    @property
    def session_id(self) -> str:
        """The session of the current access token (its ``sid`` claim)."""
        claims = jwt.decode(self.access_token, options={"verify_signature": False})
        return str(claims["sid"])


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}{next(_sequence)}@example.com"


def expire_one_time_tokens(engine: Engine, purpose: TokenPurpose) -> None:
    """Let every one-time token of ``purpose`` expire, as if its lifetime had passed."""
    with Session(engine) as session:
        expired = datetime.now(UTC) - timedelta(seconds=1)
        session.execute(update(OneTimeToken).where(OneTimeToken.purpose == purpose).values(expires_at=expired))
        session.commit()


class Accounts:
    """Creates and signs in accounts for a test."""

    def __init__(self, client: TestClient[Litestar], settings: Settings, engine: Engine) -> None:
        self.client = client
        self.settings = settings
        self.engine = engine

    def register(self, email: str | None = None, password: str = DEFAULT_PASSWORD, **extra: Any) -> dict[str, Any]:
        response = self.client.post(
            f"{API}/auth/register", json={"email": email or unique_email(), "password": password, **extra}
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def login(self, email: str, password: str = DEFAULT_PASSWORD) -> dict[str, Any]:
        response = self.client.post(f"{API}/auth/login", data={"username": email, "password": password})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def user(self, email: str | None = None, password: str = DEFAULT_PASSWORD, **extra: Any) -> Actor:
        body = self.register(email, password, **extra)
        tokens = self.login(body["email"], password)
        return Actor(body["id"], body["email"], password, tokens["access_token"], tokens["refresh_token"], body)

    def superuser(self, email: str | None = None, password: str = DEFAULT_PASSWORD) -> Actor:
        data = UserAdminCreate(email=email or unique_email("admin"), password=password, is_superuser=True)
        with Session(self.engine) as session:
            service = build_users_service(session, PasswordHashing(self.settings), self.settings)
            user = service.create_by_admin(data)
            user_id, user_email = str(user.id), user.email
        tokens = self.login(user_email, password)
        return Actor(user_id, user_email, password, tokens["access_token"], tokens["refresh_token"])


class Posts:
    """Writes posts through the API as a given author."""

    def __init__(self, client: TestClient[Litestar]) -> None:
        self.client = client

    def create(
        self, author: Actor, *, title: str | None = None, published: bool = True, **extra: Any
    ) -> dict[str, Any]:
        payload = {
            "title": title or f"Post {next(_sequence)}",
            "content": extra.pop("content", "Some words about something. " * 20),
            "is_published": published,
            **extra,
        }
        response = self.client.post(f"{API}/posts", json=payload, headers=author.headers)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body
