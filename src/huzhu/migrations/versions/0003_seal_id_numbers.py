"""seal resident ID numbers: a keyed digest, an AES-GCM seal and the masked form replace the clear number

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

BATCH = 5_000


def _vault():  # noqa: ANN202
    from huzhu.config import get_settings
    from huzhu.identity.sealing import IdNumberVault

    # huzhu.migrate passes the platform's key; `alembic upgrade` run by hand falls back to the settings.
    key = op.get_context().config.attributes.get("id_number_key") or get_settings().id_number_key.get_secret_value()
    return IdNumberVault(key)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # Zero the pages this migration frees (the old table with the clear numbers); PostgreSQL
        # keeps dead rows until a VACUUM FULL, which the README asks for after this upgrade.
        op.execute("PRAGMA secure_delete = ON")
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('id_number_digest', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('id_number_sealed', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('id_number_masked', sa.String(length=18), nullable=True))

    # Existing rows, in batches by id (a one-off pass; new rows are sealed as they are written).
    connection = op.get_bind()
    members = sa.table('members', sa.column('id', sa.BigInteger), sa.column('id_number', sa.String),
                       sa.column('id_number_digest', sa.String), sa.column('id_number_sealed', sa.String),
                       sa.column('id_number_masked', sa.String))
    update = (sa.update(members).where(members.c.id == sa.bindparam('member_id'))
              .values(id_number_digest=sa.bindparam('digest'), id_number_sealed=sa.bindparam('sealed'),
                      id_number_masked=sa.bindparam('masked')))
    vault = None
    last = 0
    while True:
        rows = connection.execute(sa.select(members.c.id, members.c.id_number).where(members.c.id > last)
                                  .order_by(members.c.id).limit(BATCH)).all()
        if not rows:
            break
        vault = vault or _vault()
        params = []
        for member_id, number in rows:
            sealed = vault.columns(number)
            params.append({'member_id': member_id, 'digest': sealed['id_number_digest'],
                           'sealed': sealed['id_number_sealed'], 'masked': sealed['id_number_masked']})
        connection.execute(update, params)
        last = rows[-1][0]

    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.alter_column('id_number_digest', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('id_number_sealed', existing_type=sa.String(length=80), nullable=False)
        batch_op.alter_column('id_number_masked', existing_type=sa.String(length=18), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_members_id_number_digest'), ['id_number_digest'])
        batch_op.drop_constraint(batch_op.f('uq_members_id_number'), type_='unique')
        batch_op.drop_column('id_number')


def downgrade() -> None:
    """Back to the clear column (needs the same key): unseal every number."""
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('id_number', sa.String(length=18), nullable=True))
    connection = op.get_bind()
    members = sa.table('members', sa.column('id', sa.BigInteger), sa.column('id_number', sa.String),
                       sa.column('id_number_sealed', sa.String))
    update = (sa.update(members).where(members.c.id == sa.bindparam('member_id'))
              .values(id_number=sa.bindparam('number')))
    vault = _vault()
    last = 0
    while True:
        rows = connection.execute(sa.select(members.c.id, members.c.id_number_sealed).where(members.c.id > last)
                                  .order_by(members.c.id).limit(BATCH)).all()
        if not rows:
            break
        connection.execute(update, [{'member_id': i, 'number': vault.unseal(sealed)} for i, sealed in rows])
        last = rows[-1][0]
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.alter_column('id_number', existing_type=sa.String(length=18), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_members_id_number'), ['id_number'])
        batch_op.drop_constraint(batch_op.f('uq_members_id_number_digest'), type_='unique')
        batch_op.drop_column('id_number_masked')
        batch_op.drop_column('id_number_sealed')
        batch_op.drop_column('id_number_digest')
