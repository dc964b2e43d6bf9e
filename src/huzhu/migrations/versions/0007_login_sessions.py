"""login sessions kept on the server (logout, "log out everywhere" and a password change end them)
and the API's single-use refresh tokens

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

(0006 is the public log's tiles, on its own branch; when both are merged this revision follows it.)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import huzhu.db

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_sessions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=True),
    sa.Column('created_at', huzhu.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', huzhu.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', huzhu.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=24), nullable=True),
    sa.CheckConstraint("end_reason IS NULL OR end_reason IN ('logged_out', 'logged_out_everywhere', 'password_changed', 'refresh_reused')", name=op.f('ck_login_sessions_end_reason_known')),
    sa.CheckConstraint("kind IN ('web', 'api')", name=op.f('ck_login_sessions_kind_known')),
    sa.CheckConstraint('(ended_at IS NULL) = (end_reason IS NULL)', name=op.f('ck_login_sessions_ended_with_reason')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_login_sessions_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_sessions'))
    )
    op.create_index(op.f('ix_login_sessions_account_id'), 'login_sessions', ['account_id'], unique=False)
    op.create_table('login_refresh_tokens',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('session_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('issued_at', huzhu.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('used_at', huzhu.db.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['login_sessions.id'], name=op.f('fk_login_refresh_tokens_session_id_login_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_refresh_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_login_refresh_tokens_token_hash'))
    )
    op.create_index('ix_login_refresh_tokens_session_id', 'login_refresh_tokens', ['session_id'], unique=False)


def downgrade() -> None:
    # Everyone is logged out: the tokens of the older schema are signed, not looked up.
    op.drop_index('ix_login_refresh_tokens_session_id', table_name='login_refresh_tokens')
    op.drop_table('login_refresh_tokens')
    op.drop_index(op.f('ix_login_sessions_account_id'), table_name='login_sessions')
    op.drop_table('login_sessions')
