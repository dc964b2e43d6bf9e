"""gapless public numbers: a sequence row per kind of number (runs, cases, claims, public records)
instead of row ids, and each public record's leaf index stored with it

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'number_sequences',
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('last_value', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_number_sequences')),
    )
    with op.batch_alter_table('public_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('leaf_index', sa.BigInteger(), nullable=True))
    bind = op.get_bind()
    # Existing records keep their place in the tree: the leaf index is their rank by id.
    bind.execute(sa.text(
        "UPDATE public_records SET leaf_index = (SELECT COUNT(*) FROM public_records p "
        "WHERE p.id < public_records.id)"))
    with op.batch_alter_table('public_records', schema=None) as batch_op:
        batch_op.alter_column('leaf_index', existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_public_records_leaf_index'), ['leaf_index'])
    # Each sequence continues after the highest number already given out.
    starts = {
        "public_record": "SELECT COUNT(*) FROM public_records",
        "run": "SELECT MAX(CAST(SUBSTR(run_no, 2) AS BIGINT)) FROM apportionment_runs WHERE run_no LIKE 'R%'",
        "case": "SELECT MAX(CAST(SUBSTR(case_no, 3) AS BIGINT)) FROM cases WHERE case_no LIKE 'HZ%'",
        "claim": "SELECT MAX(CAST(SUBSTR(claim_no, 4) AS BIGINT)) FROM claims WHERE claim_no LIKE 'HZC%'",
    }
    for name, query in starts.items():
        last = bind.execute(sa.text(query)).scalar() or 0
        if last:
            bind.execute(sa.text("INSERT INTO number_sequences (name, last_value) VALUES (:n, :v)"),
                         {"n": name, "v": last})


def downgrade() -> None:
    with op.batch_alter_table('public_records', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_public_records_leaf_index'), type_='unique')
        batch_op.drop_column('leaf_index')
    op.drop_table('number_sequences')
