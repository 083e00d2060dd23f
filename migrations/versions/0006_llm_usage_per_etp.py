"""LLM usage per ETP: prompt and completion tokens and estimated cost of its drafts

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 06:10:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('etps') as batch:
        batch.add_column(sa.Column('llm_prompt_tokens', sa.BigInteger(), server_default='0', nullable=False))
        batch.add_column(sa.Column('llm_completion_tokens', sa.BigInteger(), server_default='0', nullable=False))
        batch.add_column(sa.Column('llm_cost_usd', sa.Float(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('etps') as batch:
        batch.drop_column('llm_cost_usd')
        batch.drop_column('llm_completion_tokens')
        batch.drop_column('llm_prompt_tokens')
