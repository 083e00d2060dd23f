"""Secrets at rest: Slack's tokens encrypted with Fernet (cryptography), several keys accepted.

ETP_ENCRYPTION_KEYS lists Fernet keys, newest first: the first encrypts, every one decrypts, so
a key is rotated by putting a new one first, running `etp db rotate-key`, then dropping the old.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Connection, Table, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

# A Fernet token is base64 of version byte 0x80 and a 64-bit timestamp whose high bytes stay
# zero for centuries; a Slack token starts with "xox". Sealing and opening are thus idempotent.
_SEALED_PREFIX = "gAAAAA"


class KeyMissing(RuntimeError):
    """A stored secret cannot be read (no key configured, or none of the keys opens it)."""


def is_sealed(value: str) -> bool:
    return value.startswith(_SEALED_PREFIX)


class SecretCipher:
    """Encrypts with the first key, decrypts with any (cryptography's MultiFernet)."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    @classmethod
    def parse(cls, value: str) -> SecretCipher:
        """Comma-separated Fernet keys (`Fernet.generate_key()`), the first used to write."""
        return cls([key.strip() for key in value.split(",") if key.strip()])

    def seal(self, value: str | None) -> str | None:
        if value is None or is_sealed(value):
            return value
        return self._fernet.encrypt(value.encode()).decode()

    def open(self, value: str | None) -> str | None:
        # a row written before encryption (`etp db upgrade` seals those) is read as it is
        if value is None or not is_sealed(value):
            return value
        try:
            return self._fernet.decrypt(value.encode()).decode()
        except InvalidToken as exc:
            raise KeyMissing(
                "a stored Slack token opens with none of ETP_ENCRYPTION_KEYS (was a key dropped "
                "before `etp db rotate-key`?)"
            ) from exc

    def rotate(self, value: str | None) -> str | None:
        """The value sealed under the first key (plain text is sealed too)."""
        if value is None:
            return None
        if not is_sealed(value):
            return self.seal(value)
        try:
            return self._fernet.rotate(value.encode()).decode()
        except InvalidToken as exc:
            raise KeyMissing("a stored Slack token opens with none of ETP_ENCRYPTION_KEYS") from exc


def token_columns(table: Table) -> list[str]:
    """slack-sdk's token columns (bot_token, bot_refresh_token, user_token, user_refresh_token)."""
    return [c.name for c in table.c if c.name.endswith("token")]


def plain_tokens(conn: Connection, tables: Sequence[Table]) -> int:
    """How many stored token values are not encrypted."""
    found = 0
    for table in tables:
        for name in token_columns(table):
            column = table.c[name]
            for (value,) in conn.execute(select(column).where(column.is_not(None))):
                found += not is_sealed(value)
    return found


def reseal_tokens(conn: Connection, tables: Sequence[Table], cipher: SecretCipher) -> int:
    """Every stored token sealed under the cipher's first key; returns the rows rewritten."""
    rewritten = 0
    for table in tables:
        names = token_columns(table)
        for row in conn.execute(select(table.c.id, *(table.c[n] for n in names))).mappings():
            values = {n: cipher.rotate(row[n]) for n in names}
            if any(values[n] != row[n] for n in names):
                conn.execute(update(table).where(table.c.id == row["id"]).values(**values))
                rewritten += 1
    return rewritten


async def reseal_stored_tokens(engine: AsyncEngine, cipher: SecretCipher) -> int:
    """`etp db rotate-key`: every Slack token in the database under the first key."""
    from storage.models import slack_bots, slack_installations

    async with engine.begin() as conn:
        return await conn.run_sync(
            lambda sync: reseal_tokens(sync, [slack_installations, slack_bots], cipher)
        )
