from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from app.auth.models import RefreshToken
from app.core.settings import Settings
from app.users.models import User
from tests.factories import API, Accounts
from tests.problems import problem

ME = f"{API}/users/me"
REFRESH = f"{API}/auth/refresh"
LOGOUT = f"{API}/auth/logout"


def _claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


def _forge(settings: Settings, user_id: str, session_id: object, **overrides: object) -> str:
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": user_id,
        "sid": session_id,
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "iat": int(now.timestamp()),
        "jti": uuid.uuid4().hex,
        "type": "access",
    }
    claims.update(overrides)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, settings.secret_key, algorithm="HS256")


def test_access_token_claims(accounts: Accounts) -> None:
    actor = accounts.user()
    header = json.loads(base64.urlsafe_b64decode(actor.access_token.split(".")[0] + "=="))
    claims = _claims(actor.access_token)
    assert header["alg"] == "HS256"
    assert claims["sub"] == actor.id
    assert claims["type"] == "access"
    assert {"exp", "iat", "jti", "sid"} <= claims.keys()
    assert int(claims["exp"]) - int(claims["iat"]) == 30 * 60  # type: ignore[call-overload]


def test_refresh_rotates_and_spends_the_presented_token(client: TestClient[Litestar], accounts: Accounts) -> None:
    actor = accounts.user()
    response = client.post(REFRESH, json={"refresh_token": actor.refresh_token})
    assert response.status_code == 200, response.text
    pair = response.json()
    assert pair["refresh_token"] != actor.refresh_token
    assert client.get(ME, headers={"Authorization": f"Bearer {pair['access_token']}"}).status_code == 200
    second = client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    assert second.status_code == 200


def test_reusing_a_spent_refresh_token_revokes_the_whole_family(
    client: TestClient[Litestar], accounts: Accounts
) -> None:
    actor = accounts.user()
    other_login = accounts.login(actor.email)
    rotated = client.post(REFRESH, json={"refresh_token": actor.refresh_token}).json()

    replay = client.post(REFRESH, json={"refresh_token": actor.refresh_token})
    assert replay.status_code == 401
    assert replay.headers["www-authenticate"] == "Bearer"
    assert client.post(REFRESH, json={"refresh_token": rotated["refresh_token"]}).status_code == 401
    # Another login's family is untouched.
    assert client.post(REFRESH, json={"refresh_token": other_login["refresh_token"]}).status_code == 200


def test_refresh_token_is_never_read_from_the_query_string(client: TestClient[Litestar], accounts: Accounts) -> None:
    actor = accounts.user()
    response = client.post(f"{REFRESH}?refresh_token={actor.refresh_token}")
    assert response.status_code in {400, 422}
    assert client.post(REFRESH, json={"refresh_token": actor.refresh_token}).status_code == 200


@pytest.mark.parametrize("token", ["", "x" * 43, "not a token"])
def test_unknown_refresh_tokens_are_401(client: TestClient[Litestar], token: str) -> None:
    response = client.post(REFRESH, json={"refresh_token": token})
    assert response.status_code in ({422} if not token else {401})


def test_expired_refresh_token_is_401(client: TestClient[Litestar], accounts: Accounts, migrated: Engine) -> None:
    actor = accounts.user()
    with Session(migrated) as session:
        session.execute(update(RefreshToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        session.commit()
    assert client.post(REFRESH, json={"refresh_token": actor.refresh_token}).status_code == 401


def test_refresh_for_a_deactivated_user_is_401(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    actor = accounts.user()
    with Session(migrated) as session:
        session.execute(update(User).values(is_active=False))
        session.commit()
    assert client.post(REFRESH, json={"refresh_token": actor.refresh_token}).status_code == 401


def test_logout_revokes_the_token_and_its_family(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    actor = accounts.user()
    rotated = client.post(REFRESH, json={"refresh_token": actor.refresh_token}).json()
    response = client.post(LOGOUT, json={"refresh_token": rotated["refresh_token"]})
    assert response.status_code == 204
    assert client.post(REFRESH, json={"refresh_token": rotated["refresh_token"]}).status_code == 401
    with Session(migrated) as session:
        revoked = session.scalars(select(RefreshToken.revoked_at)).all()
    assert revoked
    assert all(value is not None for value in revoked)
    assert client.post(LOGOUT, json={"refresh_token": rotated["refresh_token"]}).status_code == 204


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_bad_access_tokens_are_401(client: TestClient[Litestar], accounts: Accounts, settings: Settings) -> None:
    actor, other = accounts.user(), accounts.user()
    sid = _claims(actor.access_token)["sid"]
    header, _, signature = actor.access_token.split(".")
    tampered_claims = _claims(actor.access_token) | {"sub": str(uuid.uuid4())}
    tampered = ".".join(
        [header, base64.urlsafe_b64encode(json.dumps(tampered_claims).encode()).rstrip(b"=").decode(), signature]
    )
    unsigned = jwt.encode(_claims(actor.access_token), key=None, algorithm="none")
    candidates = {
        "tampered": tampered,
        "expired": _forge(settings, actor.id, sid, exp=int((datetime.now(UTC) - timedelta(minutes=1)).timestamp())),
        "alg none": unsigned,
        "hs512": jwt.encode(_claims(actor.access_token), settings.secret_key, algorithm="HS512"),
        "wrong key": jwt.encode(
            _claims(actor.access_token), "another-secret-key-of-32-bytes-or-more!", algorithm="HS256"
        ),
        "refresh type": _forge(settings, actor.id, sid, type="refresh"),
        "no type": _forge(settings, actor.id, sid, type=None),
        "no jti": _forge(settings, actor.id, sid, jti=None),
        "sub not a uuid": _forge(settings, "admin", sid),
        "unknown user": _forge(settings, str(uuid.uuid4()), sid),
        "no session (issued before sessions)": _forge(settings, actor.id, None),
        "session not a uuid": _forge(settings, actor.id, "current"),
        "unknown session": _forge(settings, actor.id, str(uuid.uuid4())),
        "another account's session": _forge(settings, actor.id, _claims(other.access_token)["sid"]),
        "refresh token as bearer": actor.refresh_token,
        "garbage": "abc.def.ghi",
    }
    assert client.get(ME, headers={"Authorization": f"Bearer {_forge(settings, actor.id, sid)}"}).status_code == 200
    for name, token in candidates.items():
        response = client.get(ME, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
        assert response.headers["www-authenticate"] == "Bearer", name
        assert problem(response)["title"] == "Unauthorized", name


def test_deactivated_or_deleted_users_tokens_stop_at_once(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    actor = accounts.user()
    assert client.get(ME, headers=actor.headers).status_code == 200
    with Session(migrated) as session:
        session.execute(update(User).where(User.id == uuid.UUID(actor.id)).values(is_active=False))
        session.commit()
    assert client.get(ME, headers=actor.headers).status_code == 401

    other = accounts.user()
    assert client.delete(ME, headers=other.headers).status_code == 204
    assert client.get(ME, headers=other.headers).status_code == 401
