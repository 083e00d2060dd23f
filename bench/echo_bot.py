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
from aiogram.methods import SendMessage, TelegramMethod
from aiogram.types import CallbackQuery, Message, Update
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError


def build(token: str, api_url: str, secret: str, *, in_answer: bool = False) -> tuple[FastAPI, Bot]:
    """The echo bot; `in_answer` puts the echo in the webhook's answer (aiogram's `return
    message.answer(...)` idiom) instead of calling sendMessage, as ETP Express does."""
    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(api_url)))
    router = Router()

    @router.message()
    async def echo(message: Message) -> SendMessage | None:
        if in_answer:
            return message.answer(message.text or "")
        await message.answer(message.text or "")
        return None

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
        result = await dispatcher.feed_update(bot, update)
        if isinstance(result, TelegramMethod):
            body = {"method": result.__api_method__}
            for key, value in result.model_dump(warnings=False).items():
                prepared = bot.session.prepare_value(value, bot=bot, files={})
                if prepared is not None:
                    body[key] = prepared
            return JSONResponse(body)
        return JSONResponse({"ok": True})

    return api, bot


async def main(port: int, in_answer: bool) -> None:
    api, bot = build(
        os.environ["TELEGRAM_BOT_TOKEN"],
        os.environ["TELEGRAM_API_URL"],
        os.environ["TELEGRAM_WEBHOOK_SECRET"],
        in_answer=in_answer,
    )
    server = uvicorn.Server(
        uvicorn.Config(  # the HTTP parser `etp serve` uses
            api,
            host="127.0.0.1",
            port=port,
            http="httptools",
            log_level="warning",
            access_log=False,
        )
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
    parser.add_argument("--in-answer", action="store_true", help="echo in the webhook's answer")
    args = parser.parse_args()
    asyncio.run(main(args.port, args.in_answer))
