"""login_session: a refresh-token family becomes a session that access tokens name

Revision ID: 09934040a717
Revises: a088390cc3f6
Create Date: 2026-12-07 17:00:00.000000+00:00
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

revision = '09934040a717'
down_revision = 'a088390cc3f6'
branch_labels = None
depends_on = None

# Every family of refresh tokens becomes the session it always stood for: opened with its first token, last used
# with its newest, ended when its tokens were revoked (a family is revoked whole). The login's address and user
# agent were never recorded. It runs once the family's column has its new name.
_FAMILIES_BECOME_SESSIONS = """
INSERT INTO login_session (id, user_id, created_at, last_used_at, expires_at, ended_at)
SELECT session_id, user_id, MIN(created_at), MAX(created_at), MAX(expires_at), MAX(revoked_at)
FROM refresh_token
GROUP BY session_id, user_id
"""
_SESSION_FOREIGN_KEY = 'fk_refresh_token_session_id_login_session'


def _on_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table('login_session',
    sa.Column('id', sa.GUID(length=16), nullable=False),
    sa.Column('user_id', sa.GUID(length=16), nullable=False),
    sa.Column('created_at', sa.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('user_agent', sa.String(length=512), nullable=True),
    sa.Column('ip_address', sa.String(length=64), nullable=True),
    sa.Column('ended_at', sa.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_login_session_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_session'))
    )
    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.create_index('ix_login_session_expires_at', ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_session_user_id'), ['user_id'], unique=False)

    if not _on_postgresql():
        # SQLite rebuilds refresh_token; a second batch, as its rebuild cannot index a column renamed in the same one.
        with op.batch_alter_table('refresh_token', schema=None) as batch_op:
            batch_op.drop_index(batch_op.f('ix_refresh_token_family_id'))
            batch_op.alter_column('family_id', new_column_name='session_id')
        op.execute(_FAMILIES_BECOME_SESSIONS)
        with op.batch_alter_table('refresh_token', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_refresh_token_session_id'), ['session_id'], unique=False)
            batch_op.create_foreign_key(batch_op.f(_SESSION_FOREIGN_KEY), 'login_session', ['session_id'], ['id'], ondelete='CASCADE')
        return

    # PostgreSQL renames the column and its index in place (no rebuild), and commits at once: the locks these take on
    # refresh_token and user_account (the new table's key) end before any row is read.
    op.alter_column('refresh_token', 'family_id', new_column_name='session_id')
    op.execute('ALTER INDEX ix_refresh_token_family_id RENAME TO ix_refresh_token_session_id')
    with op.get_context().autocommit_block():
        op.execute(_FAMILIES_BECOME_SESSIONS)
        # Added unchecked (a moment's lock), then checked in a transaction of its own, which blocks no reads or writes.
        op.create_foreign_key(op.f(_SESSION_FOREIGN_KEY), 'refresh_token', 'login_session', ['session_id'], ['id'], ondelete='CASCADE', postgresql_not_valid=True)
        op.execute(f'ALTER TABLE refresh_token VALIDATE CONSTRAINT {_SESSION_FOREIGN_KEY}')


def downgrade() -> None:
    # Sessions go back to being the family ids their tokens carry; what only a session knew (its client) is lost.
    if _on_postgresql():
        op.drop_constraint(op.f(_SESSION_FOREIGN_KEY), 'refresh_token', type_='foreignkey')
        op.alter_column('refresh_token', 'session_id', new_column_name='family_id')
        op.execute('ALTER INDEX ix_refresh_token_session_id RENAME TO ix_refresh_token_family_id')
    else:
        with op.batch_alter_table('refresh_token', schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(_SESSION_FOREIGN_KEY), type_='foreignkey')
            batch_op.drop_index(batch_op.f('ix_refresh_token_session_id'))
            batch_op.alter_column('session_id', new_column_name='family_id')
        with op.batch_alter_table('refresh_token', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_refresh_token_family_id'), ['family_id'], unique=False)

    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_session_user_id'))
        batch_op.drop_index('ix_login_session_expires_at')

    op.drop_table('login_session')
