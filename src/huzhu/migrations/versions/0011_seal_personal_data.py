"""seal personal data at rest: names, phones, payees, claim descriptions, payment XML and evidence files

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29

The columns become TEXT (a sealed value is longer than the clear one) and every existing value is
sealed under the keyring's current key, in batches by id; accounts gain a keyed digest of the
phone (unique, for login) in place of the unique clear phone; the evidence files are sealed in
place. SQLite's freed pages are zeroed (secure_delete); PostgreSQL keeps the old row versions until
a ``VACUUM FULL``, which docs/backup-and-sealing.md asks for after this upgrade.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# (table, column, old type, nullable): fixed here, whatever later code seals.
COLUMNS: tuple[tuple[str, str, sa.types.TypeEngine[Any], bool], ...] = (
    ('accounts', 'phone', sa.String(length=20), True),
    ('accounts', 'display_name', sa.String(length=100), False),
    ('members', 'name', sa.String(length=100), False),
    ('claims', 'description', sa.Text(), False),
    ('claims', 'beneficiary_name', sa.String(length=100), False),
    ('claims', 'beneficiary_account', sa.String(length=40), False),
    ('claim_evidence', 'filename', sa.String(length=200), False),
    ('payee_changes', 'beneficiary_name', sa.String(length=100), False),
    ('payee_changes', 'beneficiary_account', sa.String(length=40), False),
    ('payee_changes', 'previous_name', sa.String(length=100), True),
    ('payee_changes', 'previous_account', sa.String(length=40), True),
    ('custody_instructions', 'creditor_name', sa.String(length=100), False),
    ('custody_instructions', 'creditor_account', sa.String(length=40), False),
    ('custody_instructions', 'message_xml', sa.Text(), False),
    ('api_idempotency_keys', 'response_body', sa.Text(), False),
)
BATCH = 2_000


def _attributes() -> dict[str, Any]:
    config = op.get_context().config
    return config.attributes if config is not None else {}


def _keyring():  # noqa: ANN202
    from huzhu.sealing.keyring import Keyring, attached_keyring, keyring_for_dialect

    # build_platform migrates with its engine, which carries its keyring; huzhu.migrate given only
    # the ID-number key seals under the key derived from it; `alembic upgrade` by hand falls back
    # to the settings' keyring.
    dialect = op.get_bind().dialect
    attributes = _attributes()
    if attached_keyring(dialect) is None and attributes.get('id_number_key'):
        data_dir = attributes.get('data_dir')
        return Keyring(root_secret=attributes['id_number_key'],
                       file=Path(data_dir) / 'keyring.json' if data_dir is not None else None)
    return keyring_for_dialect(dialect)


def _digest_phones(connection: sa.Connection, keyring) -> None:  # noqa: ANN001
    accounts = sa.table('accounts', sa.column('id', sa.BigInteger), sa.column('phone', sa.Text),
                        sa.column('phone_digest', sa.String))
    update = (sa.update(accounts).where(accounts.c.id == sa.bindparam('_id'))
              .values(phone_digest=sa.bindparam('_digest')))
    last = 0
    while rows := connection.execute(sa.select(accounts.c.id, accounts.c.phone)
                                      .where(accounts.c.id > last, accounts.c.phone.is_not(None))
                                      .order_by(accounts.c.id).limit(BATCH)).all():
        connection.execute(update, [{'_id': i, '_digest': keyring.digest('phone', phone)} for i, phone in rows])
        last = rows[-1][0]


def upgrade() -> None:
    from huzhu.sealing.files import is_sealed_file, seal_file
    from huzhu.sealing.reseal import SealedColumn, evidence_files, reseal_column

    connection = op.get_bind()
    if connection.dialect.name == 'sqlite':
        op.execute('PRAGMA secure_delete = ON')
    keyring = _keyring()
    # Per-login failure counters were keyed by the login itself (a phone number); they are keyed by
    # a digest now. The old ones are dropped (a counter only slows guessing for a while anyway).
    op.execute("DELETE FROM login_throttles WHERE key LIKE 'login:%'")
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_digest', sa.String(length=64), nullable=True))
    _digest_phones(connection, keyring)
    tables: dict[str, list[tuple[str, sa.types.TypeEngine[Any], bool]]] = {}
    for table, column, old_type, nullable in COLUMNS:
        tables.setdefault(table, []).append((column, old_type, nullable))
    for table, columns in tables.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table == 'accounts':
                batch_op.drop_constraint(batch_op.f('uq_accounts_phone'), type_='unique')
                batch_op.create_unique_constraint(batch_op.f('uq_accounts_phone_digest'), ['phone_digest'])
            for column, old_type, nullable in columns:
                batch_op.alter_column(column, existing_type=old_type, type_=sa.Text(), existing_nullable=nullable)
    for table, column, _, _ in COLUMNS:
        reseal_column(connection, keyring, SealedColumn(table, column), seal_plaintext=True, batch=BATCH)

    data_dir = _attributes().get('data_dir')
    if data_dir is not None:
        for path in evidence_files(Path(data_dir) / 'evidence'):
            if not is_sealed_file(path):
                with open(path, 'rb') as source:
                    seal_file(source, path, keyring)


def downgrade() -> None:
    """Back to clear columns and files (needs the keys that sealed them)."""
    from huzhu.sealing.files import is_sealed_file, open_chunks
    from huzhu.sealing.keyring import is_sealed

    connection = op.get_bind()
    keyring = _keyring()
    for table, column, _, _ in COLUMNS:
        t = sa.table(table, sa.column('id', sa.BigInteger), sa.column(column, sa.Text))
        update = sa.update(t).where(t.c.id == sa.bindparam('_id')).values({column: sa.bindparam('_v')})
        last = 0
        while rows := connection.execute(sa.select(t.c.id, t.c[column]).where(t.c.id > last, t.c[column].is_not(None))
                                          .order_by(t.c.id).limit(BATCH)).all():
            params = [{'_id': i, '_v': keyring.unseal(v)} for i, v in rows if is_sealed(v)]
            if params:
                connection.execute(update, params)
            last = rows[-1][0]
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_accounts_phone_digest'), type_='unique')
        batch_op.drop_column('phone_digest')
        batch_op.create_unique_constraint(batch_op.f('uq_accounts_phone'), ['phone'])
    for table, column, old_type, nullable in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, existing_type=sa.Text(), type_=old_type, existing_nullable=nullable)
    data_dir = _attributes().get('data_dir')
    if data_dir is not None:
        from huzhu.sealing.reseal import evidence_files

        for path in evidence_files(Path(data_dir) / 'evidence'):
            if is_sealed_file(path):
                clear = b''.join(open_chunks(path, keyring))
                path.write_bytes(clear)
