"""An address has one spelling: its compatibility forms, letter case and IDN domains are one account."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from app.users.service import normalise_email
from tests.factories import API, DEFAULT_PASSWORD, Accounts


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        (" Admin@Example.COM ", "admin@example.com"),
        ("\uff41dmin@example.com", "admin@example.com"),  # a full-width letter
        ("ﬁle@example.com", "file@example.com"),  # a ligature
        ("ada@bücher.example", "ada@xn--bcher-kva.example"),
        ("ada@BÜCHER.example", "ada@xn--bcher-kva.example"),
        ("ada@xn--bcher-kva.example", "ada@xn--bcher-kva.example"),
        ("ada@-not-a-domain-.example", "ada@-not-a-domain-.example"),  # IDNA refuses it: kept as typed
    ],
)
def test_one_spelling(typed: str, stored: str) -> None:
    assert normalise_email(typed) == stored


def test_compatibility_forms_of_an_address_are_the_same_account(
    client: TestClient[Litestar], accounts: Accounts
) -> None:
    accounts.register("admin@example.com")
    second = client.post(f"{API}/auth/register", json={"email": "\uff41dmin@example.com", "password": DEFAULT_PASSWORD})
    assert second.status_code == 409
    assert accounts.login("\uff21\uff24\uff2d\uff29\uff2e@example.com")["access_token"]


def test_an_idn_domain_is_stored_in_its_ascii_form_and_signs_in_either_way(
    client: TestClient[Litestar], accounts: Accounts
) -> None:
    assert accounts.register("Ada@Bücher.example")["email"] == "ada@xn--bcher-kva.example"
    assert accounts.login("ada@bücher.example")["access_token"]
    assert accounts.login("ada@xn--bcher-kva.example")["access_token"]
