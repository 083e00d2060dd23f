"""processed events by age, for pruning

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 14:50:00.000000
"""
from collections.abc import Sequence

from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_processed_events_created_at', 'processed_events', ['created_at'], unique=False, postgresql_using='brin')


def downgrade() -> None:
    op.drop_index('ix_processed_events_created_at', table_name='processed_events', postgresql_using='brin')
