"""Fixtures of the Telegram tests: the Bot API double, and a webhook on a fresh App."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.helpers import make_app
from tests.telegram.helpers import Webhook, configure, open_webhook
from tests.telegram_api import FakeBotApi


@pytest.fixture(autouse=True)
def no_reply_failed_unnoticed(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """A reply sent after the webhook's answer that fails unexpectedly is only logged: make
    that fail the test instead."""
    yield
    failed = [r for r in caplog.records if r.name == "bot.telegram.channel" and r.levelno >= 40]
    assert not failed, [r.getMessage() for r in failed]


@pytest.fixture
async def bot_api() -> AsyncIterator[FakeBotApi]:
    server = FakeBotApi()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def hook(db_url: str, bot_api: FakeBotApi) -> AsyncIterator[Webhook]:
    app = await make_app(db_url)
    configure(app, bot_api)
    webhook, client = await open_webhook(app, bot_api)
    try:
        yield webhook
    finally:
        await client.aclose()
        await app.close()
