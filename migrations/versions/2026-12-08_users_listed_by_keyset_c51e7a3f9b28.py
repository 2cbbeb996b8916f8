"""user_account: ix_user_account_created, the index of the superusers' listing (newest first, by keyset)

Revision ID: c51e7a3f9b28
Revises: 4b7e2c91d0a6
Create Date: 2026-12-08 12:00:00.000000+00:00
"""

from __future__ import annotations

from alembic import op

__all__ = ("downgrade", "upgrade")

revision = 'c51e7a3f9b28'
down_revision = '4b7e2c91d0a6'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.get_context().autocommit_block():  # CONCURRENTLY cannot run inside a transaction
        # A build that failed leaves an invalid index of that name: a retried release replaces it.
        op.drop_index('ix_user_account_created', 'user_account', postgresql_concurrently=True, if_exists=True)
        op.create_index(
            'ix_user_account_created', 'user_account', ['created_at', 'id'], unique=False, postgresql_concurrently=True
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index('ix_user_account_created', 'user_account', postgresql_concurrently=True, if_exists=True)
