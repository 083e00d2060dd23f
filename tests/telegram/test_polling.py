"""Telegram by long polling."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.telegram import build_telegram
from etp.container import App
from tests.helpers import IDENTIFICATION, count, make_app
from tests.telegram.helpers import configure
from tests.telegram_api import FakeBotApi, Updates


@asynccontextmanager
async def polling_bot(db_url: str, bot_api: FakeBotApi) -> AsyncIterator[tuple[App, Updates]]:
    """A bot polling the Bot API double for the block; then stopped, and its App closed (which
    waits for the replies still leaving before it closes the Bot API session)."""
    app = await make_app(db_url)
    configure(app, bot_api)
    telegram = build_telegram(app)
    polling = asyncio.create_task(telegram.run_polling(handle_signals=False))
    try:
        yield app, Updates()
    finally:
        await telegram.stop_polling()
        await polling
        await app.close()


async def test_polling_delivers_a_document_still_on_its_way_when_it_stops(
    db_url: str, bot_api: FakeBotApi
) -> None:
    async with polling_bot(db_url, bot_api) as (app, updates):
        await bot_api.push_update(updates.message("/novo Papel A4"))
        await bot_api.wait_for(lambda api: len(api.texts()) >= 1)
        bot_api.delays["sendDocument"] = 0.5  # a slow upload
        await bot_api.push_update(updates.message("/exportar md"))
        async with asyncio.timeout(30):  # until the export is committed
            while await count(app, "processed_events") < 2:  # noqa: ASYNC110 (a database row)
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # its handler has returned; the upload is on its way
    # stopped: the upload was waited for before the Bot API session closed
    assert [c.files["document"][0] for c in bot_api.sent("sendDocument")] == ["ETP-1.md"]


async def test_polling_reaches_a_document(db_url: str, bot_api: FakeBotApi) -> None:
    async with polling_bot(db_url, bot_api) as (_, updates):
        await bot_api.push_update(updates.message("/start"))
        await bot_api.push_update(updates.message("/novo Papel A4"))
        await bot_api.push_update(updates.message(IDENTIFICATION[0]))
        await bot_api.wait_for(lambda api: len(api.texts()) >= 3)
        # a press with a text reply: aiogram sends the message the handler returns, and the
        # acknowledgement leaves on its own
        await bot_api.push_update(updates.press("/status"))
        await bot_api.wait_for(
            lambda api: len(api.texts()) >= 4 and len(api.sent("answerCallbackQuery")) == 1
        )
        assert "ETP nº 1" in bot_api.texts()[3]
        await bot_api.push_update(updates.press("/exportar md"))
        await bot_api.wait_for(
            lambda api: bool(api.sent("sendDocument") and len(api.sent("answerCallbackQuery")) == 2)
        )
    texts = bot_api.texts()
    assert texts[0].startswith("Olá, Maria Silva!")
    # the confirmation and the first question arrive as one message (coalesced)
    assert texts[1].startswith(
        "ETP nº 1 criado: Papel A4. Primeiro, a identificação.\n\nIdentificação · Órgão/entidade"
    )
    assert texts[2].startswith("Identificação · Unidade requisitante")
    body = bot_api.sent("sendDocument")[0].files["document"][1].decode()
    assert "Ministério da Gestão e da Inovação" in body and "MINUTA — incompleta" in body
    commands = bot_api.sent("setMyCommands")[0].params["commands"]
    assert [c["command"] for c in commands][:3] == ["novo", "listar", "retomar"]
    assert bot_api.sent("deleteWebhook")
