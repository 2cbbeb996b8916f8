"""user_account: ix_user_account_created, the index of the superusers' listing (newest first, by keyset)

Revision ID: 4b7e2c9d1a06
Revises: 8d41b6c2e9f3
Create Date: 2026-12-08 10:00:00.000000+00:00
"""

from __future__ import annotations

from alembic import op

__all__ = ("downgrade", "upgrade")

revision = '4b7e2c9d1a06'
down_revision = '8d41b6c2e9f3'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.create_index('ix_user_account_created', ['created_at', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_index('ix_user_account_created')
