"""the custodian bank as its own service: member references and virtual accounts, the cursor over the
bank's messages, camt.054 entries booked once, the pain.001 outbox, imported camt.053 statements and
their lines, and the exceptions queue resolved with four eyes

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 06:27:12.986151
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import huzhu.db

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('custody_bank_cursors',
    sa.Column('name', sa.String(length=24), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_custody_bank_cursors'))
    )
    op.create_table('custody_statement_lines',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('statement_seq', sa.BigInteger(), nullable=False),
    sa.Column('line_no', sa.BigInteger(), nullable=False),
    sa.Column('bank_reference', sa.String(length=35), nullable=False),
    sa.Column('end_to_end_id', sa.String(length=35), nullable=False),
    sa.Column('direction', sa.String(length=4), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('booking_date', sa.Date(), nullable=False),
    sa.Column('matched', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custody_statement_lines')),
    sa.UniqueConstraint('statement_seq', 'line_no', name='line_once')
    )
    op.create_table('custody_statements',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('statement_id', sa.String(length=35), nullable=False),
    sa.Column('business_date', sa.Date(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('opening_fen', sa.BigInteger(), nullable=False),
    sa.Column('closing_fen', sa.BigInteger(), nullable=False),
    sa.Column('lines', sa.BigInteger(), nullable=False),
    sa.Column('matched_lines', sa.BigInteger(), nullable=False),
    sa.Column('unmatched_lines', sa.BigInteger(), nullable=False),
    sa.Column('ledger_custody_fen', sa.BigInteger(), nullable=False),
    sa.Column('reconciled_at', huzhu.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custody_statements')),
    sa.UniqueConstraint('seq', name=op.f('uq_custody_statements_seq'))
    )
    op.create_table('custody_bank_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('bank_reference', sa.String(length=35), nullable=False),
    sa.Column('notification_seq', sa.BigInteger(), nullable=False),
    sa.Column('direction', sa.String(length=4), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('end_to_end_id', sa.String(length=35), nullable=False),
    sa.Column('reference', sa.String(length=35), nullable=False),
    sa.Column('counterparty_account', sa.Text(), nullable=False),
    sa.Column('value_date', sa.Date(), nullable=False),
    sa.Column('booking_date', sa.Date(), nullable=False),
    sa.Column('booked_at', huzhu.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('transfer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('received_at', huzhu.db.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("direction IN ('CRDT', 'DBIT')", name=op.f('ck_custody_bank_entries_direction_known')),
    sa.ForeignKeyConstraint(['transfer_id'], ['ledger_transfers.id'], name=op.f('fk_custody_bank_entries_transfer_id_ledger_transfers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custody_bank_entries')),
    sa.UniqueConstraint('bank_reference', name=op.f('uq_custody_bank_entries_bank_reference'))
    )
    op.create_table('custody_exceptions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('subject', sa.String(length=80), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('raised_at', huzhu.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('resolution', sa.String(length=20), nullable=True),
    sa.Column('resolution_target', sa.Text(), nullable=True),
    sa.Column('resolution_note', sa.Text(), nullable=True),
    sa.Column('proposed_by_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('proposed_at', huzhu.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('approved_by_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('approved_at', huzhu.db.UtcDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status <> 'resolved' OR approved_by_account_id IS NOT NULL", name=op.f('ck_custody_exceptions_approved_when_resolved')),
    sa.CheckConstraint("status IN ('open', 'proposed', 'resolved')", name=op.f('ck_custody_exceptions_status_known')),
    sa.CheckConstraint('approved_by_account_id IS NULL OR approved_by_account_id <> proposed_by_account_id', name=op.f('ck_custody_exceptions_four_eyes')),
    sa.ForeignKeyConstraint(['approved_by_account_id'], ['accounts.id'], name=op.f('fk_custody_exceptions_approved_by_account_id_accounts')),
    sa.ForeignKeyConstraint(['proposed_by_account_id'], ['accounts.id'], name=op.f('fk_custody_exceptions_proposed_by_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custody_exceptions')),
    sa.UniqueConstraint('kind', 'subject', name='raised_once')
    )
    with op.batch_alter_table('custody_exceptions', schema=None) as batch_op:
        batch_op.create_index('ix_custody_exceptions_status', ['status', 'id'], unique=False)

    op.create_table('custody_outgoing_payments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('end_to_end_id', sa.String(length=35), nullable=False),
    sa.Column('pending_transfer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('pain001', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('reason_code', sa.String(length=8), nullable=False),
    sa.Column('attempts', sa.BigInteger(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('queued_at', huzhu.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', huzhu.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', huzhu.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('reinstructs_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.CheckConstraint("status IN ('queued', 'sent', 'accepted', 'settled', 'rejected', 'returned')", name=op.f('ck_custody_outgoing_payments_status_known')),
    sa.ForeignKeyConstraint(['pending_transfer_id'], ['ledger_transfers.id'], name=op.f('fk_custody_outgoing_payments_pending_transfer_id_ledger_transfers')),
    sa.ForeignKeyConstraint(['reinstructs_id'], ['custody_outgoing_payments.id'], name=op.f('fk_custody_outgoing_payments_reinstructs_id_custody_outgoing_payments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custody_outgoing_payments')),
    sa.UniqueConstraint('end_to_end_id', name=op.f('uq_custody_outgoing_payments_end_to_end_id')),
    sa.UniqueConstraint('pending_transfer_id', name=op.f('uq_custody_outgoing_payments_pending_transfer_id'))
    )
    with op.batch_alter_table('custody_outgoing_payments', schema=None) as batch_op:
        batch_op.create_index('ix_custody_outgoing_payments_status', ['status', 'id'], unique=False)

    op.create_table('custody_member_references',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reference', sa.String(length=35), nullable=False),
    sa.Column('virtual_account', sa.String(length=34), nullable=True),
    sa.Column('opened_at', huzhu.db.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_custody_member_references_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custody_member_references')),
    sa.UniqueConstraint('member_id', name=op.f('uq_custody_member_references_member_id')),
    sa.UniqueConstraint('reference', name=op.f('uq_custody_member_references_reference')),
    sa.UniqueConstraint('virtual_account', name=op.f('uq_custody_member_references_virtual_account'))
    )
    op.create_table('custody_wind_downs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('scope', sa.String(length=40), nullable=False),
    sa.Column('claims_days', sa.BigInteger(), nullable=False),
    sa.Column('announced_at', huzhu.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('claims_close_on', sa.Date(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('refunds_instructed_at', huzhu.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', huzhu.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('final_statement_sha256', sa.String(length=64), nullable=True),
    sa.CheckConstraint("state IN ('claims_open', 'settling', 'refunding', 'closed')", name=op.f('ck_custody_wind_downs_state_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custody_wind_downs')),
    sa.UniqueConstraint('scope', name=op.f('uq_custody_wind_downs_scope'))
    )
    op.create_table('custody_member_notices',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('wind_down_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('step', sa.String(length=24), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', huzhu.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_custody_member_notices_member_id_members')),
    sa.ForeignKeyConstraint(['wind_down_id'], ['custody_wind_downs.id'], name=op.f('fk_custody_member_notices_wind_down_id_custody_wind_downs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custody_member_notices')),
    sa.UniqueConstraint('member_id', 'wind_down_id', 'step', name='told_once')
    )
    with op.batch_alter_table('custody_member_notices', schema=None) as batch_op:
        batch_op.create_index('ix_custody_member_notices_member', ['member_id', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('custody_member_notices', schema=None) as batch_op:
        batch_op.drop_index('ix_custody_member_notices_member')

    op.drop_table('custody_member_notices')
    op.drop_table('custody_wind_downs')
    op.drop_table('custody_member_references')
    with op.batch_alter_table('custody_outgoing_payments', schema=None) as batch_op:
        batch_op.drop_index('ix_custody_outgoing_payments_status')

    op.drop_table('custody_outgoing_payments')
    with op.batch_alter_table('custody_exceptions', schema=None) as batch_op:
        batch_op.drop_index('ix_custody_exceptions_status')

    op.drop_table('custody_exceptions')
    op.drop_table('custody_bank_entries')
    op.drop_table('custody_statements')
    op.drop_table('custody_statement_lines')
    op.drop_table('custody_bank_cursors')
