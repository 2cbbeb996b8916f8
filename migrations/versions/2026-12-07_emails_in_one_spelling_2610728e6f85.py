"""user_account.email in one spelling: NFKC, lower-cased, the domain in IDNA's ASCII form

Revision ID: 2610728e6f85
Revises: 3a1a2544a348
Create Date: 2026-12-07 20:00:00.000000+00:00
"""

from __future__ import annotations

import logging
import unicodedata

import idna
import sqlalchemy as sa
from alembic import op

__all__ = ("downgrade", "upgrade")

revision = '2610728e6f85'
down_revision = '3a1a2544a348'
branch_labels = None
depends_on = None

logger = logging.getLogger("alembic.runtime.migration")

_users = sa.table("user_account", sa.column("id"), sa.column("email", sa.String))


def _one_spelling(email: str) -> str:
    # The rule as it stood when this ran (app.users.service.normalise_email): a migration does not follow later edits.
    local, at, domain = unicodedata.normalize("NFKC", email).strip().lower().rpartition("@")
    try:
        return f"{local}{at}{idna.encode(domain, uts46=True).decode('ascii')}" if at else domain
    except idna.IDNAError:
        return f"{local}{at}{domain}"


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(_users.c.id, _users.c.email)).all()
    taken = {email for _, email in rows}
    for user_id, email in rows:
        spelled = _one_spelling(email)
        if spelled == email:
            continue
        if spelled in taken:
            # Two accounts that are one address now: neither is changed, an operator decides which to keep.
            logger.warning("user_account %s keeps %r: %r belongs to another account", user_id, email, spelled)
            continue
        connection.execute(sa.update(_users).where(_users.c.id == user_id).values(email=spelled))
        taken.add(spelled)


def downgrade() -> None:
    # The former spellings are not kept; every normalised address was already a valid one.
    pass
