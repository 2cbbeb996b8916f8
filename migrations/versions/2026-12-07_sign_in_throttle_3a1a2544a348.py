"""sign_in_throttle: consecutive failed sign-ins per address, for the per-account lockout

Revision ID: 3a1a2544a348
Revises: bd57f2a5d05e
Create Date: 2026-12-07 19:00:00.000000+00:00
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

revision = '3a1a2544a348'
down_revision = 'bd57f2a5d05e'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sign_in_throttle',
    sa.Column('id', sa.GUID(length=16), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', sa.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_throttle')),
    sa.UniqueConstraint('key', name=op.f('uq_sign_in_throttle_key'))
    )
    with op.batch_alter_table('sign_in_throttle', schema=None) as batch_op:
        batch_op.create_index('ix_sign_in_throttle_last_failure_at', ['last_failure_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sign_in_throttle', schema=None) as batch_op:
        batch_op.drop_index('ix_sign_in_throttle_last_failure_at')

    op.drop_table('sign_in_throttle')
