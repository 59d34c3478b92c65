"""rate limits, sign-in throttle counts and Slack event ids shared by every worker

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 07:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('limit_counters',
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.Column('until', sa.Float(), nullable=False),
    sa.Column('expires_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_limit_counters'))
    )
    with op.batch_alter_table('limit_counters', schema=None) as batch_op:
        batch_op.create_index('ix_limit_counters_expires_at', ['expires_at'], unique=False)

    op.create_table('slack_events',
    sa.Column('event_id', sa.String(length=120), nullable=False),
    sa.Column('received_at', sa.Float(), nullable=False),
    sa.Column('expires_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_slack_events'))
    )
    with op.batch_alter_table('slack_events', schema=None) as batch_op:
        batch_op.create_index('ix_slack_events_expires_at', ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('slack_events', schema=None) as batch_op:
        batch_op.drop_index('ix_slack_events_expires_at')

    op.drop_table('slack_events')
    with op.batch_alter_table('limit_counters', schema=None) as batch_op:
        batch_op.drop_index('ix_limit_counters_expires_at')

    op.drop_table('limit_counters')
