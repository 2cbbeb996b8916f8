"""How sending an outbox row can fail; the outbox service decides from the kind whether to try again.

Kept apart from rendering (Jinja) and the transports (smtplib), so the API, which only writes rows, imports neither.
"""

from __future__ import annotations

__all__ = ("EmailRenderError", "PermanentEmailError", "TransientEmailError")


class EmailRenderError(Exception):
    """A template or payload bug: the message cannot be built, and no retry will change that."""


class TransientEmailError(Exception):
    """Delivery failed in a way that may pass: connection refused, timeout, SMTP 4xx. Try again later."""


class PermanentEmailError(Exception):
    """Delivery can never succeed as it is: SMTP 5xx (unknown recipient, refused sender). Do not retry."""
