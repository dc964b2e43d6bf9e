"""every fen provable: a secret per member (keyed pseudonyms and salts of the sum trees, backfilled
set-based for every existing member), the leftover-fen rule version of each shared case (1 for every
case shared before this migration), and the published Merkle-sum trees (per case and per day)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import huzhu.db

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

# 32 random bytes per member, in one statement. PostgreSQL: two v4 UUIDs (pg_strong_random, 244
# random bits) and the row id hashed together; SQLite: randomblob (its CSPRNG).
POSTGRES_NEW_SECRET = "sha256(convert_to(gen_random_uuid()::text || id::text || gen_random_uuid()::text, 'UTF8'))"
SQLITE_NEW_SECRET = "randomblob(32)"


def upgrade() -> None:
    with op.batch_alter_table('members') as batch:
        batch.add_column(sa.Column('verify_secret', sa.LargeBinary(length=32), nullable=True))
    with op.batch_alter_table('run_cases') as batch:
        batch.add_column(sa.Column('rule_version', sa.Integer(), server_default='1', nullable=False))
    bind = op.get_bind()
    expression = SQLITE_NEW_SECRET if bind.dialect.name == 'sqlite' else POSTGRES_NEW_SECRET
    op.execute(f"UPDATE members SET verify_secret = {expression} WHERE verify_secret IS NULL")
    op.create_table('sum_trees',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('tree_id', sa.String(length=64), nullable=False),
    sa.Column('run_case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('business_date', sa.Date(), nullable=True),
    sa.Column('root_hash', sa.String(length=64), nullable=False),
    sa.Column('leaf_count', sa.BigInteger(), nullable=False),
    sa.Column('total_fen', sa.BigInteger(), nullable=False),
    sa.Column('inputs_sha256', sa.String(length=64), nullable=True),
    sa.Column('members_count', sa.BigInteger(), nullable=False),
    sa.Column('pools_count', sa.BigInteger(), nullable=False),
    sa.Column('created_at', huzhu.db.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('share', 'liabilities')", name=op.f('ck_sum_trees_kind_known')),
    sa.CheckConstraint('total_fen >= 0 AND leaf_count >= 0', name=op.f('ck_sum_trees_not_negative')),
    sa.ForeignKeyConstraint(['run_case_id'], ['run_cases.id'], name=op.f('fk_sum_trees_run_case_id_run_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sum_trees')),
    sa.UniqueConstraint('kind', 'tree_id', name=op.f('uq_sum_trees_kind_tree_id')),
    )


def downgrade() -> None:
    op.drop_table('sum_trees')
    with op.batch_alter_table('run_cases') as batch:
        batch.drop_column('rule_version')
    with op.batch_alter_table('members') as batch:
        batch.drop_column('verify_secret')
