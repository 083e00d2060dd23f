"""Telegram's side of the tests: the bot configured against the local Bot API double
(tests/telegram_api.py), and a webhook that posts updates as Telegram does."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from api.app import create_api
from bot.telegram import TelegramBot
from etp.container import App
from etp.settings import AccessSettings, TelegramSettings
from tests.helpers import IDENTIFICATION, override
from tests.telegram_api import TOKEN, FakeBotApi, Updates

SECRET = "hook-secret-4f1c2a"


def configure(app: App, bot_api: FakeBotApi, *, allowed: frozenset[int] = frozenset()) -> None:
    override(
        app.settings,
        telegram=TelegramSettings(
            telegram_bot_token=TOKEN,
            telegram_api_url=bot_api.url,
            telegram_webhook_secret=SECRET,
            telegram_chat_rate=1000.0,  # pacing is not what these tests are about
            telegram_bot_rate=1000.0,
        ),
        access=AccessSettings(etp_allowed_telegram_ids=allowed),
    )


@dataclass
class Webhook:
    """Telegram's side of the webhook: posts updates to POST /telegram/webhook."""

    app: App
    client: httpx.AsyncClient
    api: FakeBotApi
    updates: Updates
    telegram: TelegramBot

    async def post(
        self, update: Any, *, secret: str | None = SECRET, slow_telegram: bool = False
    ) -> httpx.Response:
        """Post an update; `slow_telegram`: the answer's call is made only after background
        drafts finished (Telegram acts on an answer a network round trip later)."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        body = update if isinstance(update, (bytes, str)) else json.dumps(update)
        response = await self.client.post("/telegram/webhook", content=body, headers=headers)
        if slow_telegram:
            await self.app.queue.drain()
        if response.status_code == 200:
            await self.api.webhook_answer(response.json())  # as Telegram would
        await self.telegram.channel.drain()  # a press's acknowledgement, when not in the answer
        await self.app.queue.drain()  # finished drafts reach the chat through the Notifier
        return response

    async def say(self, words: str, **who: Any) -> httpx.Response:
        response = await self.post(self.updates.message(words, **who))
        assert response.status_code == 200, response.text
        return response

    async def new_etp(self, title: str, **who: Any) -> None:
        """`/novo title`, then its identification answered whole (the team closed)."""
        await self.say(f"/novo {title}", **who)
        for line in IDENTIFICATION:
            await self.say(line, **who)

    async def press(self, label: str, *, chat_id: int = 5001, **who: Any) -> httpx.Response:
        """Press the button called `label` on the latest keyboard in that chat."""
        buttons = dict(self.api.last_with_buttons(chat_id).buttons)
        assert label in buttons, (label, buttons)
        response = await self.post(self.updates.press(buttons[label], chat_id=chat_id, **who))
        assert response.status_code == 200, response.text
        return response


async def open_webhook(app: App, bot_api: FakeBotApi) -> tuple[Webhook, httpx.AsyncClient]:
    api = create_api(app)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://etp")
    return Webhook(app, client, bot_api, Updates(), api.state.telegram), client
