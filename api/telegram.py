"""POST /telegram/webhook: Telegram updates, committed before the answer (non-2xx = redeliver)."""

from __future__ import annotations

import json
import logging
import secrets
from typing import Annotated

from aiogram.types import Update
from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from bot.telegram import TelegramBot
from conversations.ports import StoreUnavailable
from etp.container import App

log = logging.getLogger(__name__)

router = APIRouter(tags=["telegram"])


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message}, status_code=status)


def _known_type(update: Update) -> bool:
    try:
        update.event_type  # noqa: B018  (raises for update kinds this aiogram does not know)
    except Exception:
        return False
    return True


_ERROR = {"content": {"application/json": {"example": {"ok": False, "error": "…"}}}}


@router.post(
    "/telegram/webhook",
    responses={
        400: {"description": "the body is not a Telegram update", **_ERROR},
        401: {"description": "wrong X-Telegram-Bot-Api-Secret-Token", **_ERROR},
        413: {"description": "the body is too large", **_ERROR},
        503: {"description": "database unavailable: Telegram delivers the update again", **_ERROR},
    },
)
async def telegram_webhook(
    request: Request,
    secret_token: Annotated[str | None, Header(alias="X-Telegram-Bot-Api-Secret-Token")] = None,
) -> JSONResponse:
    """One Telegram update. 200 once it took effect (or was a duplicate), its body possibly a
    Bot API call for Telegram to make (the reply's last message, a button press's
    acknowledgement); 503 asks Telegram to deliver it again (the database was down, nothing
    was committed)."""
    # state read directly: a sync dependency would cost a thread hop on every update
    app: App = request.app.state.etp
    # mounted only with a bot (and a secret, or the development opt-out): api.app
    telegram: TelegramBot = request.app.state.telegram
    expected = app.settings.telegram.telegram_webhook_secret
    if expected is not None and not secrets.compare_digest(
        (secret_token or "").encode(), expected.get_secret_value().encode()
    ):
        return _error(401, "invalid secret token")
    try:
        data = json.loads(await request.body())
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        return _error(400, "the body is not JSON")
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        return _error(400, "the body is not a Telegram update")
    try:
        update = telegram.parse(data)
    except ValidationError as exc:
        return _error(400, f"the body is not a valid Telegram update: {exc.error_count()} errors")
    if not _known_type(update):
        return JSONResponse({"ok": True, "ignored": True})
    try:
        reply = await telegram.process(update)
    except StoreUnavailable:
        log.warning(
            "update %s not committed (database unavailable); asking for redelivery",
            update.update_id,
        )
        return JSONResponse(
            {"ok": False, "error": "database unavailable, deliver again"},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    # a Bot API call in the answer is made by Telegram (https://core.telegram.org/bots/api#making-requests-when-getting-updates)
    return JSONResponse(reply if reply is not None else {"ok": True})
