from __future__ import annotations

import threading

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from tests.factories import API, Accounts, unique_email
from tests.problems import about_blank, invalid_fields, problem

REGISTER = f"{API}/auth/register"


def test_register_returns_the_user_with_a_normalised_email(client: TestClient[Litestar]) -> None:
    response = client.post(
        REGISTER, json={"email": "  Ada.Lovelace@Example.COM ", "password": "analytical", "first_name": "Ada"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["email"] == "ada.lovelace@example.com"
    assert body["first_name"] == "Ada"
    assert body["last_name"] is None
    assert body["full_name"] == "Ada"
    assert (body["is_active"], body["is_superuser"], body["is_verified"]) == (True, False, False)
    assert "hashed_password" not in body
    assert "password" not in body
    assert body["created_at"].endswith("Z") or body["created_at"].endswith("+00:00")


def test_full_name_falls_back_to_email(accounts: Accounts) -> None:
    body = accounts.register(first_name="Ada", last_name="Lovelace")
    assert body["full_name"] == "Ada Lovelace"
    assert accounts.register()["full_name"].endswith("@example.com")


def test_register_ignores_privilege_fields(client: TestClient[Litestar], accounts: Accounts) -> None:
    email = unique_email()
    response = client.post(
        REGISTER,
        json={
            "email": email,
            "password": "sneaky-pass",
            "is_superuser": True,
            "is_verified": True,
            "is_active": False,
            "id": "00000000-0000-0000-0000-000000000000",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["is_superuser"], body["is_verified"], body["is_active"]) == (False, False, True)
    assert body["id"] != "00000000-0000-0000-0000-000000000000"
    me = client.get(
        f"{API}/users/me", headers={"Authorization": f"Bearer {accounts.login(email, 'sneaky-pass')['access_token']}"}
    )
    assert me.json()["is_superuser"] is False


def test_duplicate_email_is_409_even_with_other_case(client: TestClient[Litestar], accounts: Accounts) -> None:
    email = unique_email()
    accounts.register(email)
    response = client.post(REGISTER, json={"email": email.upper(), "password": "another-pass"})
    assert response.status_code == 409
    assert problem(response) == about_blank(409, "A user with this email already exists")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-email", "password": "long-enough"}, "email"),
        ({"email": "a@example.com", "password": "short"}, "password"),
        ({"email": "a@example.com", "password": "x" * 129}, "password"),
        ({"password": "long-enough"}, "email"),
        ({"email": "a@example.com"}, "password"),
        ({"email": "a@example.com", "password": "long-enough", "first_name": "x" * 101}, "first_name"),
        ({"email": 42, "password": "long-enough"}, "email"),
    ],
)
def test_invalid_registration_is_422_naming_the_field(
    client: TestClient[Litestar], payload: dict[str, object], field: str
) -> None:
    response = client.post(REGISTER, json=payload)
    assert invalid_fields(response) == [("body", field)]


def test_malformed_json_is_a_json_400(client: TestClient[Litestar]) -> None:
    response = client.post(REGISTER, content=b'{"email": ', headers={"content-type": "application/json"})
    assert problem(response) | {"detail": "-"} == about_blank(400, "-")


def test_concurrent_registrations_of_one_email_give_one_201_and_one_409(client: TestClient[Litestar]) -> None:
    email = unique_email("race")
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def register() -> None:
        barrier.wait()
        statuses.append(client.post(REGISTER, json={"email": email, "password": "racing-pass"}).status_code)

    threads = [threading.Thread(target=register) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 409]
