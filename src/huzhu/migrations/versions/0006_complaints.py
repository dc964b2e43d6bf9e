"""complaints: a member writes, staff answer, the member closes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import huzhu.db

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'complaints',
        sa.Column('id', BIG_ID, nullable=False),
        sa.Column('complaint_no', sa.String(length=24), nullable=False),
        sa.Column('account_id', BIG_ID, nullable=False),
        sa.Column('topic', sa.String(length=12), nullable=False),
        sa.Column('subject', sa.String(length=200), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('filed_at', huzhu.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column('answer', sa.Text(), nullable=True),
        sa.Column('answered_by_account_id', BIG_ID, nullable=True),
        sa.Column('answered_at', huzhu.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column('closed_at', huzhu.db.UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('open', 'answered', 'closed')", name=op.f('ck_complaints_status_known')),
        sa.CheckConstraint("topic IN ('claim', 'money', 'objection', 'privacy', 'service', 'other')",
                           name=op.f('ck_complaints_topic_known')),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_complaints_account_id_accounts')),
        sa.ForeignKeyConstraint(['answered_by_account_id'], ['accounts.id'],
                                name=op.f('fk_complaints_answered_by_account_id_accounts')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_complaints')),
        sa.UniqueConstraint('complaint_no', name=op.f('uq_complaints_complaint_no')),
    )
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaints_account_id'), ['account_id'], unique=False)
        batch_op.create_index('ix_complaints_status_filed', ['status', 'filed_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index('ix_complaints_status_filed')
        batch_op.drop_index(batch_op.f('ix_complaints_account_id'))
    op.drop_table('complaints')
