"""login protection without locks: an address backs off (``next_attempt_at``), a login's failures
set the difficulty of a step-up challenge (``last_failure_at`` ages them out), and used challenges
are recorded so each works once

The counters are short-lived state, not records: both directions start them afresh.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import huzhu.db

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM login_throttles")
    with op.batch_alter_table('login_throttles', schema=None) as batch_op:
        batch_op.drop_column('window_started_at')
        batch_op.alter_column('locked_until', new_column_name='next_attempt_at', existing_nullable=True)
        batch_op.add_column(sa.Column('last_failure_at', huzhu.db.UtcDateTime(timezone=True), nullable=False))
    op.create_table('login_challenge_uses',
    sa.Column('challenge_id', sa.String(length=32), nullable=False),
    sa.Column('expires_at', huzhu.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('challenge_id', name=op.f('pk_login_challenge_uses'))
    )


def downgrade() -> None:
    op.drop_table('login_challenge_uses')
    op.execute("DELETE FROM login_throttles")
    with op.batch_alter_table('login_throttles', schema=None) as batch_op:
        batch_op.drop_column('last_failure_at')
        batch_op.alter_column('next_attempt_at', new_column_name='locked_until', existing_nullable=True)
        batch_op.add_column(sa.Column('window_started_at', huzhu.db.UtcDateTime(timezone=True), nullable=False))
