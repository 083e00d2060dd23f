"""slack-sdk's SQLAlchemy stores: installations with every token encrypted at rest, OAuth
states pruned once expired."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any, TypeVar

from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.secrets import SecretCipher

TOKENS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")
T = TypeVar("T", Bot, Installation)


class EncryptedInstallationStore(AsyncSQLAlchemyInstallationStore):
    """Tokens are sealed before slack-sdk writes them and opened after it reads them; a row
    written before encryption is read as it is (migration 0005 seals those)."""

    def __init__(self, *, client_id: str, engine: AsyncEngine, cipher: SecretCipher) -> None:
        super().__init__(client_id=client_id, engine=engine)
        self.cipher = cipher

    def _sealed(self, entity: T) -> T:
        sealed = copy.copy(entity)
        for name in TOKENS:
            if hasattr(sealed, name):
                setattr(sealed, name, self.cipher.seal(getattr(sealed, name)))
        return sealed

    def _opened(self, entity: T | None) -> T | None:
        if entity is not None:
            for name in TOKENS:
                if hasattr(entity, name):
                    setattr(entity, name, self.cipher.open(getattr(entity, name)))
        return entity

    async def async_save(self, installation: Installation) -> None:
        # slack-sdk saves the bot through async_save_bot, which seals again: sealing is
        # idempotent (storage/secrets.py)
        await super().async_save(self._sealed(installation))

    async def async_save_bot(self, bot: Bot) -> None:
        await super().async_save_bot(self._sealed(bot))

    async def async_find_bot(self, **kwargs: Any) -> Bot | None:
        return self._opened(await super().async_find_bot(**kwargs))

    async def async_find_installation(self, **kwargs: Any) -> Installation | None:
        return self._opened(await super().async_find_installation(**kwargs))


class PrunedOAuthStateStore(AsyncSQLAlchemyOAuthStateStore):
    """Each visit to /slack/install stores a state; slack-sdk deletes it only when used, so an
    anonymous stream of visits grew the table for ever. Expired ones go at each issue (an
    indexed range, migration 0005)."""

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        # slack-sdk stores naive UTC times
        now = datetime.now(UTC).replace(tzinfo=None)
        async with self.engine.begin() as conn:
            table = self.oauth_states
            await conn.execute(table.delete().where(table.c.expire_at <= now))
        return await super().async_issue(*args, **kwargs)
