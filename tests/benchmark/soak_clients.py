"""The soak's clients: threads that register, sign in, rotate refresh tokens, read and write posts as careful
clients do, and record every answer (or transport error) with its time and route."""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx

__all__ = ("Answer", "Client", "Shared")

API = "/api/v1"
PASSWORD = "soak-password-18"
# A new account every few seconds per client: each costs two emails, and the mail server answers slowly on purpose.
REGISTER_EVERY_SECONDS = 3.0
THINK_SECONDS = 0.02
REQUEST_TIMEOUT_SECONDS = 10.0
# A careful client sends a write again (same Idempotency-Key) after a transport error, a 503 or a 409 (the first
# attempt still running), waiting a little longer each time.
WRITE_ATTEMPTS = 4
RETRY_PAUSE_SECONDS = 0.5
# What a client does between registrations, and how often (weights).
ACTIONS = {"login": 1, "refresh": 2, "me": 4, "feed": 3, "post": 3, "write": 2}


@dataclass(frozen=True)
class Answer:
    """One HTTP attempt: seconds since the load began, the route, the status (None: a transport error)."""

    at: float
    route: str
    status: int | None
    error: str | None = None


@dataclass
class Account:
    email: str
    access: str | None = None
    refresh: str | None = None


@dataclass
class Shared:
    """What the clients share: the answers, and the ids of posts written (for single-post reads)."""

    started: float
    deadline: float
    answers: list[Answer] = field(default_factory=list)
    post_ids: list[str] = field(default_factory=list)


class Client(threading.Thread):
    def __init__(self, index: int, base_url: str, shared: Shared, seed: int) -> None:
        super().__init__(name=f"soak-client-{index}", daemon=True)
        self.index = index
        self.shared = shared
        self.rng = random.Random(seed * 1000 + index)
        self.http = httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_SECONDS)
        self.accounts: list[Account] = []
        self.registered = 0
        self._last_registration = 0.0

    def run(self) -> None:
        try:
            while time.monotonic() < self.shared.deadline:
                if time.monotonic() - self._last_registration >= REGISTER_EVERY_SECONDS:
                    self._register()
                else:
                    self._act(self.rng.choices(list(ACTIONS), weights=list(ACTIONS.values()))[0])
                time.sleep(THINK_SECONDS)
        finally:
            self.http.close()

    def _send(self, route: str, method: str, path: str, **kwargs: object) -> httpx.Response | None:
        try:
            response = self.http.request(method, path, **kwargs)  # type: ignore[arg-type]
        except httpx.TransportError as exc:
            self.shared.answers.append(Answer(time.monotonic() - self.shared.started, route, None, type(exc).__name__))
            return None
        self.shared.answers.append(Answer(time.monotonic() - self.shared.started, route, response.status_code))
        return response

    def _register(self) -> None:
        self._last_registration = time.monotonic()
        email = f"soak-{self.index}-{uuid.uuid4().hex[:12]}@example.com"
        body = {"email": email, "password": PASSWORD}
        for attempt in range(WRITE_ATTEMPTS):
            response = self._send("POST /auth/register", "POST", f"{API}/auth/register", json=body)
            # After a lost answer, 409 (the address is taken) says the first attempt went through.
            if response is not None and (response.status_code == 201 or (attempt and response.status_code == 409)):
                self.accounts.append(Account(email))
                self.registered += 1
                return
            if response is not None and response.status_code != 503:
                return
            time.sleep(RETRY_PAUSE_SECONDS * (attempt + 1))

    def _signed_in(self) -> Account | None:
        signed_in = [account for account in self.accounts if account.access]
        return self.rng.choice(signed_in) if signed_in else None

    def _act(self, action: str) -> None:
        account = self._signed_in()
        if account is None or action == "login":
            if self.accounts:
                self._login(self.rng.choice(self.accounts))
            return
        if action == "refresh":
            self._rotate(account)
        elif action == "me":
            self._read_me(account)
        elif action == "feed":
            self._send("GET /posts", "GET", f"{API}/posts?size=20")
        elif action == "post":
            if self.shared.post_ids:
                self._send("GET /posts/{id}", "GET", f"{API}/posts/{self.rng.choice(self.shared.post_ids)}")
        else:
            self._write(account)

    def _login(self, account: Account) -> None:
        form = {"username": account.email, "password": PASSWORD}
        response = self._send("POST /auth/login", "POST", f"{API}/auth/login", data=form)
        if response is not None and response.status_code == 200:
            tokens = response.json()
            account.access, account.refresh = tokens["access_token"], tokens["refresh_token"]

    def _rotate(self, account: Account) -> None:
        """Spend the refresh token; after a lost answer, present it once more: a 401 then means the first rotation
        went through and the replay ended the session, so the client signs in again later."""
        body = {"refresh_token": account.refresh}
        for _ in range(2):
            response = self._send("POST /auth/refresh", "POST", f"{API}/auth/refresh", json=body)
            if response is None:
                continue
            if response.status_code == 200:
                tokens = response.json()
                account.access, account.refresh = tokens["access_token"], tokens["refresh_token"]
            elif response.status_code == 401:
                account.access = account.refresh = None
            return

    def _read_me(self, account: Account) -> None:
        headers = {"Authorization": f"Bearer {account.access}"}
        response = self._send("GET /users/me", "GET", f"{API}/users/me", headers=headers)
        if response is not None and response.status_code == 401:
            account.access = account.refresh = None

    def _write(self, account: Account) -> None:
        headers = {"Authorization": f"Bearer {account.access}", "Idempotency-Key": str(uuid.uuid4())}
        body = {"title": "Written in the soak", "content": "Faults come and go. " * 10, "is_published": True}
        for attempt in range(WRITE_ATTEMPTS):
            response = self._send("POST /posts", "POST", f"{API}/posts", json=body, headers=headers)
            if response is not None and response.status_code == 201:
                self.shared.post_ids.append(response.json()["id"])
                return
            if response is not None and response.status_code not in {409, 503}:
                return
            time.sleep(RETRY_PAUSE_SECONDS * (attempt + 1))
