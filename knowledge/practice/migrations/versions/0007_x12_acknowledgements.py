"""claims an imported 837 held, and its functional group, for 999 acknowledgements

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 17:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('x12_import_claims',
    sa.Column('x12_import_id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], name=op.f('fk_x12_import_claims_claim_id_claims'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['x12_import_id'], ['x12_imports.id'], name=op.f('fk_x12_import_claims_x12_import_id_x12_imports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('x12_import_id', 'claim_id', name=op.f('pk_x12_import_claims'))
    )
    with op.batch_alter_table('x12_import_claims', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_x12_import_claims_claim_id'), ['claim_id'], unique=False)

    with op.batch_alter_table('x12_imports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('group_control_number', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('receiver_id', sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('x12_imports', schema=None) as batch_op:
        batch_op.drop_column('receiver_id')
        batch_op.drop_column('group_control_number')

    with op.batch_alter_table('x12_import_claims', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_x12_import_claims_claim_id'))

    op.drop_table('x12_import_claims')
