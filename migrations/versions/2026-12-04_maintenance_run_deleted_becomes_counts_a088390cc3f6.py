"""maintenance_run.deleted becomes counts (the outbox relay records its runs there too)

Revision ID: a088390cc3f6
Revises: f2c5953efef8
Create Date: 2026-12-04 20:43:27.000000+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from advanced_alchemy.types import GUID, ORA_JSONB, DateTimeUTC, EncryptedString, EncryptedText, StoredObject

__all__ = ("downgrade", "upgrade")

sa.GUID = GUID  # type: ignore[attr-defined]
sa.DateTimeUTC = DateTimeUTC  # type: ignore[attr-defined]
sa.ORA_JSONB = ORA_JSONB  # type: ignore[attr-defined]
sa.EncryptedString = EncryptedString  # type: ignore[attr-defined]
sa.EncryptedText = EncryptedText  # type: ignore[attr-defined]
sa.StoredObject = StoredObject  # type: ignore[attr-defined]

revision = 'a088390cc3f6'
down_revision = 'f2c5953efef8'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A rename keeps the recorded runs (batch mode: SQLite rebuilds the table, PostgreSQL renames in place).
    with op.batch_alter_table('maintenance_run', schema=None) as batch_op:
        batch_op.alter_column('deleted', new_column_name='counts')


def downgrade() -> None:
    with op.batch_alter_table('maintenance_run', schema=None) as batch_op:
        batch_op.alter_column('counts', new_column_name='deleted')
