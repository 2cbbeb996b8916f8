"""security_event: the audit log of sign-ins, sessions and account changes

Revision ID: bd57f2a5d05e
Revises: 09934040a717
Create Date: 2026-12-07 18:00:00.000000+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from advanced_alchemy.types import GUID, ORA_JSONB, DateTimeUTC, EncryptedString, EncryptedText, StoredObject
from sqlalchemy.dialects import postgresql

__all__ = ("downgrade", "upgrade")

sa.GUID = GUID  # type: ignore[attr-defined]
sa.DateTimeUTC = DateTimeUTC  # type: ignore[attr-defined]
sa.ORA_JSONB = ORA_JSONB  # type: ignore[attr-defined]
sa.EncryptedString = EncryptedString  # type: ignore[attr-defined]
sa.EncryptedText = EncryptedText  # type: ignore[attr-defined]
sa.StoredObject = StoredObject  # type: ignore[attr-defined]

revision = 'bd57f2a5d05e'
down_revision = '09934040a717'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('security_event',
    sa.Column('id', sa.GUID(length=16), nullable=False),
    sa.Column('occurred_at', sa.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('subject_id', sa.GUID(length=16), nullable=True),
    sa.Column('actor_id', sa.GUID(length=16), nullable=True),
    sa.Column('session_id', sa.GUID(length=16), nullable=True),
    sa.Column('ip_address', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.String(length=512), nullable=True),
    sa.Column('request_id', sa.String(length=128), nullable=True),
    sa.Column('detail', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'cockroachdb').with_variant(sa.ORA_JSONB(), 'oracle').with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_security_event'))
    )
    with op.batch_alter_table('security_event', schema=None) as batch_op:
        batch_op.create_index('ix_security_event_occurred_at', ['occurred_at'], unique=False)
        batch_op.create_index('ix_security_event_subject_occurred', ['subject_id', 'occurred_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('security_event', schema=None) as batch_op:
        batch_op.drop_index('ix_security_event_subject_occurred')
        batch_op.drop_index('ix_security_event_occurred_at')

    op.drop_table('security_event')
