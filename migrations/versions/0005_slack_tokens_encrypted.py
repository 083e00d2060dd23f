"""slack tokens encrypted at rest, oauth states indexed

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 06:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.secrets import SecretCipher, is_sealed, plain_tokens, reseal_tokens, token_columns


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ('slack_installations', 'slack_bots')


def _tables() -> list[sa.Table]:
    bind = op.get_bind()
    return [sa.Table(name, sa.MetaData(), autoload_with=bind) for name in TABLES]


def _cipher() -> SecretCipher | None:
    from etp.settings import SecuritySettings

    keys = SecuritySettings().etp_encryption_keys
    return SecretCipher.parse(keys.get_secret_value()) if keys is not None else None


def upgrade() -> None:
    for name in TABLES:
        with op.batch_alter_table(name) as batch:
            for column in token_columns(sa.Table(name, sa.MetaData(), autoload_with=op.get_bind())):
                batch.alter_column(column, type_=sa.Text(), existing_type=sa.String(length=200))
    op.create_index('ix_slack_oauth_states_state', 'slack_oauth_states', ['state'], unique=False)
    op.create_index('ix_slack_oauth_states_expire_at', 'slack_oauth_states', ['expire_at'], unique=False)
    tables = _tables()
    cipher = _cipher()
    if cipher is not None:
        reseal_tokens(op.get_bind(), tables, cipher)
    elif plain_tokens(op.get_bind(), tables):
        raise RuntimeError(
            'Slack tokens are stored in plain text: set ETP_ENCRYPTION_KEYS (see .env.template) '
            'and run the upgrade again, which encrypts them'
        )


def downgrade() -> None:
    bind = op.get_bind()
    tables = _tables()
    cipher = _cipher()
    for table in tables:
        names = token_columns(table)
        for row in bind.execute(sa.select(table.c.id, *(table.c[n] for n in names))).mappings():
            if any(row[n] is not None and is_sealed(row[n]) for n in names):
                if cipher is None:
                    raise RuntimeError('Slack tokens are encrypted: set ETP_ENCRYPTION_KEYS to downgrade')
                values = {n: cipher.open(row[n]) for n in names}
                bind.execute(sa.update(table).where(table.c.id == row['id']).values(**values))
    op.drop_index('ix_slack_oauth_states_expire_at', table_name='slack_oauth_states')
    op.drop_index('ix_slack_oauth_states_state', table_name='slack_oauth_states')
    for table in tables:
        with op.batch_alter_table(table.name) as batch:
            for column in token_columns(table):
                batch.alter_column(column, type_=sa.String(length=200), existing_type=sa.Text())
