"""The soak's books, read after the drain: emails against the outbox, refresh-token families, what the clients saw
inside and outside the fault windows, and memory over the run."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psycopg

if TYPE_CHECKING:
    from email.message import EmailMessage

    from tests.benchmark.soak_chaos import Fault
    from tests.benchmark.soak_clients import Answer

__all__ = (
    "RECOVERY_MARGIN_SECONDS",
    "Check",
    "answer_checks",
    "email_checks",
    "family_checks",
    "in_window",
    "rss_check",
)

# A fault's window runs from its start until this long after its end (the process back, Redis answering, the
# connections terminated): the pool's connections are replaced and the clients' connections reopened within it.
RECOVERY_MARGIN_SECONDS = 10.0
# RSS of a dyno (all its processes), median of the last minute against the first: more than this is growth. Only
# judged on runs of at least RSS_MIN_RUN_SECONDS, where the two minutes do not overlap the warm-up.
RSS_GROWTH_LIMIT = 0.25
RSS_MIN_RUN_SECONDS = 300.0
REGISTRATION_KINDS = ("welcome", "verify_email")


@dataclass(frozen=True)
class Check:
    name: str
    measured: str
    ok: bool | None  # None: reported, not judged


def email_checks(database_url: str, messages: list[EmailMessage], stuck_after_seconds: float) -> list[Check]:
    """Every delivered message against the outbox rows (a message's Message-ID is its row's id)."""
    delivered = Counter(str(message["Message-ID"]).strip("<>").split("@")[0] for message in messages)
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT id::text, kind, recipient, status FROM email_outbox").fetchall()
        stuck = conn.execute(
            "SELECT count(*) FROM email_outbox WHERE status = 'pending' "
            "AND created_at < now() - make_interval(secs => %s)",
            (stuck_after_seconds,),
        ).fetchone()
        users = [email for (email,) in conn.execute("SELECT email FROM user_account").fetchall()]
    sent = {row_id for row_id, _, _, status in rows if status == "sent"}
    statuses = Counter(status for _, _, _, status in rows)
    duplicates = {row_id: count for row_id, count in delivered.items() if count > 1}
    kind_of = {row_id: (recipient, kind) for row_id, kind, recipient, _ in rows}
    per_user = Counter(kind_of[row_id] for row_id in delivered.elements() if row_id in kind_of)
    wrong = [
        f"{email} {kind} x{per_user[(email, kind)]}"
        for email in users
        for kind in REGISTRATION_KINDS
        if per_user[(email, kind)] != 1
    ]
    unknown = set(delivered) - set(kind_of)
    return [
        Check(
            "every registration: one welcome and one verification email delivered",
            f"{len(users)} accounts; off: {', '.join(wrong[:5]) or 'none'}{' …' if len(wrong) > 5 else ''}",
            not wrong,
        ),
        Check(
            "messages delivered = outbox rows sent",
            f"{sum(delivered.values())} delivered, {len(sent)} sent rows, duplicates {duplicates or 'none'}, "
            f"delivered but not marked sent {len(set(delivered) - sent)}, sent but not delivered "
            f"{len(sent - set(delivered))}, unknown {len(unknown)}",
            sum(delivered.values()) == len(sent) and set(delivered) == sent,
        ),
        Check(
            f"no row pending longer than {stuck_after_seconds:g} s (relay interval + grace)",
            f"{stuck[0] if stuck else 0} stuck; rows by status {dict(statuses)}",
            not (stuck and stuck[0]) and not statuses.get("failed"),
        ),
    ]


def family_checks(database_url: str) -> list[Check]:
    """A session's refresh tokens are one family: a live session has exactly one live token (neither spent nor
    revoked) and an ended one none. Anything else is a rotation done by halves: a spent token without its
    successor, a successor beside a token still live, or a live token in an ended session."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            """
            SELECT s.ended_at IS NULL AND s.expires_at > now() AS live,
                   count(t.id) FILTER (WHERE t.spent_at IS NULL AND t.revoked_at IS NULL AND t.expires_at > now()),
                   count(t.id) FILTER (WHERE t.spent_at IS NOT NULL)
            FROM login_session AS s LEFT JOIN refresh_token AS t ON t.session_id = s.id
            GROUP BY s.id, s.ended_at, s.expires_at
            """
        ).fetchall()
    broken = Counter(
        ("live" if live else "ended", live_tokens) for live, live_tokens, _ in rows if live_tokens != (1 if live else 0)
    )
    rotations = sum(spent for _, _, spent in rows)
    ended = sum(1 for live, _, _ in rows if not live)
    return [
        Check(
            "no refresh-token family half-rotated",
            f"{len(rows)} sessions ({ended} ended), {rotations} rotations; broken: "
            + (", ".join(f"{n} {state} with {k} live tokens" for (state, k), n in broken.items()) or "none"),
            not broken,
        )
    ]


def idempotency_checks(database_url: str) -> list[Check]:
    """Every key's request answered: a key whose answer was never stored tells each repeat 409 until it expires."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE status_code IS NULL) FROM idempotency_key"
        ).fetchone()
    keys, waiting = row if row else (0, 0)
    return [Check("no Idempotency-Key left without its answer", f"{keys} keys, {waiting} waiting", not waiting)]


def in_window(at: float, faults: list[Fault]) -> Fault | None:
    for fault in faults:
        if (
            fault.start is not None
            and fault.end is not None
            and fault.start <= at <= fault.end + RECOVERY_MARGIN_SECONDS
        ):
            return fault
    return None


def answer_checks(answers: list[Answer], faults: list[Fault]) -> list[Check]:
    errors = [a for a in answers if a.status is not None and a.status >= 500 and a.status != 503]
    outside = [a for a in answers if a.status == 503 and in_window(a.at, faults) is None]
    transport_outside = [a for a in answers if a.status is None and in_window(a.at, faults) is None]
    return [
        Check(
            "no 500 (nor other 5xx but 503)",
            f"{len(errors)}" + (f": {Counter((a.route, a.status) for a in errors)}" if errors else ""),
            not errors,
        ),
        Check(
            "503 only inside a fault window",
            f"{len(outside)} outside" + (f": at {', '.join(f'{a.at:.0f} s' for a in outside[:10])}" if outside else ""),
            not outside,
        ),
        Check(
            "transport errors outside fault windows (reported)",
            f"{len(transport_outside)}"
            + (f": {Counter((a.route, a.error) for a in transport_outside)}" if transport_outside else ""),
            None,
        ),
    ]


def rss_check(name: str, samples: list[tuple[float, float]], duration: float) -> Check:
    """Median RSS of the dyno in the first minute of load against the last."""
    first = [mib for at, mib in samples if at <= 60]
    last = [mib for at, mib in samples if at >= duration - 60]
    if not first or not last:
        return Check(f"{name} RSS flat", "not measured", None)
    before, after = statistics.median(first), statistics.median(last)
    growth = (after - before) / before
    judged = duration >= RSS_MIN_RUN_SECONDS
    return Check(
        f"{name} RSS, first vs last minute (≤ {RSS_GROWTH_LIMIT:+.0%})",
        f"{before:.0f} → {after:.0f} MiB ({growth:+.1%})" + ("" if judged else ", run too short to judge"),
        growth <= RSS_GROWTH_LIMIT if judged else None,
    )
