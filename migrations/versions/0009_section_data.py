"""section data: section IV's quantity and section VI's price research as JSON

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 09:00:00.000000

Section VI's price research (IN SEGES/ME nº 65/2021) is a table with its decisions, and section
IV's total quantity is the number the estimate multiplies; both are data now, kept beside the
section's texts. Rows stored before have no data: their texts stand, and the research is asked
for when section VI is next drafted.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('section_entries') as batch:
        batch.add_column(sa.Column('data', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('section_entries') as batch:
        batch.drop_column('data')
