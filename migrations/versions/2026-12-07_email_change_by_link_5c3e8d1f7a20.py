"""email change by confirmation link: one_time_token.new_email, and the audit log's email events renamed

Revision ID: 5c3e8d1f7a20
Revises: 2610728e6f85
Create Date: 2026-12-07 21:00:00.000000+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ("downgrade", "upgrade")

revision = '5c3e8d1f7a20'
down_revision = '2610728e6f85'
branch_labels = None
depends_on = None

_events = sa.table("security_event", sa.column("kind", sa.String))


def _rename_event(old: str, new: str) -> None:
    op.execute(_events.update().where(_events.c.kind == old).values(kind=new))


def upgrade() -> None:
    # Nullable, no default: adding it rewrites no row and holds its lock for a moment only.
    with op.batch_alter_table('one_time_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('new_email', sa.String(length=320), nullable=True))
    # An address used to change at once; such a change is what a confirmed change is now.
    _rename_event('email_changed', 'email_change_confirmed')


def downgrade() -> None:
    _rename_event('email_change_confirmed', 'email_changed')
    # Pending email changes cannot be kept without the address they would confirm.
    op.execute(sa.text("DELETE FROM one_time_token WHERE purpose = 'change_email'"))
    with op.batch_alter_table('one_time_token', schema=None) as batch_op:
        batch_op.drop_column('new_email')
