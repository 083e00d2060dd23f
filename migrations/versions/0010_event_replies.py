"""an event's replies kept with its claim until the channel delivered them

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 09:00:00.000000

A redelivered event was answered with nothing, so a reply that never left (the process died
between the commit and the send, or the reply rode in a webhook's answer that never reached
Telegram) was lost for good. The claim now keeps the replies (`reply`), with the conversation
and its version after the event: a redelivery sends them again while the conversation is still
there, and the channel clears them once delivered. Claims made before keep nothing.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('processed_events') as batch:
        batch.add_column(sa.Column('reply', sa.JSON(), nullable=True))
        batch.add_column(
            sa.Column(
                'conversation_id',
                sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                nullable=True,
            )
        )
        batch.add_column(sa.Column('version', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('processed_events') as batch:
        batch.drop_column('version')
        batch.drop_column('conversation_id')
        batch.drop_column('reply')
