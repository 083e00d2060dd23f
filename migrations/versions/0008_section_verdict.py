"""section XIII's verdict as data; ETPs concluded without it are concluded with pendências

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 06:10:00.000000

The conclusion (viável / não viável / viável com ressalvas) was read out of section XIII's
words; it is now the team's explicit choice, stored in `section_entries.verdict`. No stored
text is parsed to fill it (that was the fault): an ETP concluded before keeps every text, and
its status says that the choice is still to be made, as its document and /status do.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('section_entries') as batch:
        batch.add_column(sa.Column('verdict', sa.String(length=32), nullable=True))
    op.execute(
        "UPDATE etps SET status = 'concluido_com_pendencias' WHERE status = 'concluido'"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE etps SET status = 'concluido' WHERE status = 'concluido_com_pendencias'"
    )
    with op.batch_alter_table('section_entries') as batch:
        batch.drop_column('verdict')
