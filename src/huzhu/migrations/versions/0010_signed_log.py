"""the signed public log: tlog-tiles hash tiles of the Merkle tree, signed checkpoints (C2SP
tlog-checkpoint notes) and the witnesses' cosignatures

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import huzhu.db

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('log_checkpoints',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tree_size', sa.BigInteger(), nullable=False),
    sa.Column('root_hash', sa.String(length=64), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('signed_at', huzhu.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_log_checkpoints')),
    sa.UniqueConstraint('tree_size', name=op.f('uq_log_checkpoints_tree_size'))
    )
    op.create_table('log_tiles',
    sa.Column('level', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('tile_index', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hashes', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('level', 'tile_index', name=op.f('pk_log_tiles'))
    )
    op.create_table('log_cosignatures',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tree_size', sa.BigInteger(), nullable=False),
    sa.Column('witness', sa.String(length=200), nullable=False),
    sa.Column('line', sa.Text(), nullable=False),
    sa.Column('received_at', huzhu.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tree_size'], ['log_checkpoints.tree_size'], name=op.f('fk_log_cosignatures_tree_size_log_checkpoints')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_log_cosignatures')),
    sa.UniqueConstraint('tree_size', 'witness', name=op.f('uq_log_cosignatures_tree_size_witness'))
    )
    with op.batch_alter_table('log_cosignatures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_log_cosignatures_tree_size'), ['tree_size'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('log_cosignatures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_log_cosignatures_tree_size'))

    op.drop_table('log_cosignatures')
    op.drop_table('log_tiles')
    op.drop_table('log_checkpoints')
