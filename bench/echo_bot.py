"""The baseline: a bare aiogram echo bot behind the same kind of FastAPI webhook route.

Run by bench/telegram_webhook.py: `python bench/echo_bot.py --port P` with TELEGRAM_BOT_TOKEN,
TELEGRAM_API_URL and TELEGRAM_WEBHOOK_SECRET in the environment. One uvicorn worker, gc.freeze()
after start-up, like `etp serve`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import secrets
from typing import Annotated

import uvicorn
from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, Message, Update
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError


def build(token: str, api_url: str, secret: str) -> tuple[FastAPI, Bot]:
    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(api_url)))
    router = Router()

    @router.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "")

    @router.callback_query()
    async def echo_press(query: CallbackQuery) -> None:
        if query.message is not None:
            await bot.send_message(query.message.chat.id, query.data or "")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    api = FastAPI()

    @api.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @api.post("/telegram/webhook")
    async def webhook(
        request: Request,
        token_header: Annotated[str | None, Header(alias="X-Telegram-Bot-Api-Secret-Token")] = None,
    ) -> JSONResponse:
        if not secrets.compare_digest((token_header or "").encode(), secret.encode()):
            return JSONResponse({"ok": False}, status_code=401)
        try:
            update = Update.model_validate(json.loads(await request.body()), context={"bot": bot})
        except (ValueError, ValidationError):
            return JSONResponse({"ok": False}, status_code=400)
        await dispatcher.feed_update(bot, update)
        return JSONResponse({"ok": True})

    return api, bot


async def main(port: int) -> None:
    api, bot = build(
        os.environ["TELEGRAM_BOT_TOKEN"],
        os.environ["TELEGRAM_API_URL"],
        os.environ["TELEGRAM_WEBHOOK_SECRET"],
    )
    server = uvicorn.Server(
        uvicorn.Config(api, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    gc.collect()
    gc.freeze()
    try:
        await server.serve()
    finally:
        await bot.session.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(main(parser.parse_args().port))
