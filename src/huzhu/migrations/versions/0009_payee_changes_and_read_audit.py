"""duty separation on money and personal data: changes of payee under four eyes (proposed by one
staff member, decided by another; the database refuses one deciding their own), and a row for
every staff read of evidence or personal data

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import huzhu.db

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('personal_data_reads',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.String(length=24), nullable=False),
    sa.Column('subject_ids', sa.JSON(), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('path', sa.String(length=300), nullable=False),
    sa.Column('read_at', huzhu.db.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("channel IN ('api', 'web')", name=op.f('ck_personal_data_reads_channel_known')),
    sa.CheckConstraint("role IN ('member', 'investigator', 'reviewer', 'admin', 'auditor')", name=op.f('ck_personal_data_reads_role_known')),
    sa.CheckConstraint("subject IN ('claim', 'evidence', 'investigation_report', 'member', 'member_ledger', 'objection', 'payee_change')", name=op.f('ck_personal_data_reads_subject_known')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_personal_data_reads_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_personal_data_reads'))
    )
    op.create_index('ix_personal_data_reads_account_id', 'personal_data_reads', ['account_id', 'id'], unique=False)
    op.create_table('payee_changes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('claim_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('beneficiary_name', sa.String(length=100), nullable=False),
    sa.Column('beneficiary_account', sa.String(length=40), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('proposed_by_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('proposed_at', huzhu.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('decided_by_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('decided_at', huzhu.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.Column('previous_name', sa.String(length=100), nullable=True),
    sa.Column('previous_account', sa.String(length=40), nullable=True),
    sa.CheckConstraint("status = 'proposed' OR (decided_by_account_id IS NOT NULL AND decided_at IS NOT NULL)", name=op.f('ck_payee_changes_decided_when_closed')),
    sa.CheckConstraint("status IN ('proposed', 'approved', 'rejected')", name=op.f('ck_payee_changes_status_known')),
    sa.CheckConstraint('decided_by_account_id IS NULL OR decided_by_account_id <> proposed_by_account_id', name=op.f('ck_payee_changes_four_eyes')),
    sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], name=op.f('fk_payee_changes_claim_id_claims')),
    sa.ForeignKeyConstraint(['decided_by_account_id'], ['accounts.id'], name=op.f('fk_payee_changes_decided_by_account_id_accounts')),
    sa.ForeignKeyConstraint(['proposed_by_account_id'], ['accounts.id'], name=op.f('fk_payee_changes_proposed_by_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payee_changes'))
    )
    op.create_index(op.f('ix_payee_changes_claim_id'), 'payee_changes', ['claim_id'], unique=False)


def downgrade() -> None:
    # The older schema has neither: approved changes stay applied to their claims, the records of
    # them and of the reads are dropped.
    op.drop_index(op.f('ix_payee_changes_claim_id'), table_name='payee_changes')
    op.drop_table('payee_changes')
    op.drop_index('ix_personal_data_reads_account_id', table_name='personal_data_reads')
    op.drop_table('personal_data_reads')
