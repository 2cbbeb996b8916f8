"""A real SMTP server for the tests: aiosmtpd on a free local port, recording what it accepts."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote

from aiosmtpd.controller import Controller

TOKEN_IN_LINK = re.compile(r"[?&]token=([A-Za-z0-9_\-%]+)")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def token_in(message: EmailMessage) -> str:
    """The one-time token in the link of a verification or reset email."""
    match = TOKEN_IN_LINK.search(text_of(message))
    assert match, text_of(message)
    return unquote(match.group(1))


class Mailbox:
    """aiosmtpd handler: keeps every accepted message; ``refusals`` are replies given instead, one per message;
    ``delay`` (seconds) slows every reply down; ``data_received`` counts messages whose reply has begun (a send is
    in progress from then until its reply, ``delay`` later). A client that hangs up before the reply has no message
    kept (aiosmtpd cancels the handler), so a sender killed mid-send leaves nothing in ``messages``.
    """

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refusals: list[str] = []
        self.delay = 0.0
        self.data_received = 0
        self._changed = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802  (aiosmtpd's hook name)
        with self._changed:
            self.data_received += 1
            self._changed.notify_all()
        await asyncio.sleep(self.delay)
        with self._changed:
            if self.refusals:
                return self.refusals.pop(0)
            message = message_from_bytes(envelope.content, policy=policy.default)
            assert isinstance(message, EmailMessage)
            self.messages.append(message)
            self._changed.notify_all()
        return "250 OK"

    def wait_for_data(self, count: int = 1, timeout: float = 30) -> None:
        """Wait until ``count`` messages have been received (their reply may still be pending)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.data_received < count:
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"only {self.data_received} messages received within {timeout}s"
                self._changed.wait(remaining)

    def wait_for(self, predicate: Callable[[EmailMessage], bool], timeout: float = 15) -> EmailMessage:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [message for message in self.messages if predicate(message)]
                if found:
                    return found[0]
                remaining = deadline - time.monotonic()
                assert remaining > 0, (
                    f"no matching email within {timeout}s; got {[m['Subject'] for m in self.messages]}"
                )
                self._changed.wait(remaining)

    def to(self, address: str, subject_contains: str = "") -> list[EmailMessage]:
        with self._changed:
            return [
                message
                for message in self.messages
                if message["To"] == address and subject_contains.lower() in message["Subject"].lower()
            ]


class SMTPServer:
    """An SMTP server that can be stopped and started again on the same port (the mail server going down)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.mailbox = Mailbox()
        self.host = host
        self.port = free_port(host)
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def start(self) -> None:
        self._controller = Controller(self.mailbox, hostname=self.host, port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for_email(self, to: str, subject_contains: str, timeout: float = 15) -> EmailMessage:
        def matches(message: EmailMessage) -> bool:
            return message["To"] == to and subject_contains.lower() in message["Subject"].lower()

        return self.mailbox.wait_for(matches, timeout)
