"""A local Bot API server for tests and benchmarks: real HTTP on 127.0.0.1, answers as Telegram.

It records every method call (multipart files included), serves queued updates to getUpdates,
and can be told to answer one call with 429 and a retry_after. The real aiogram Bot talks to it
through TELEGRAM_API_URL (aiogram's TelegramAPIServer).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456:TEST-telegram-token"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "ETP Express", "username": "etp_bot"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    status: int = 200
    in_answer: bool = False  # made by "Telegram" from a webhook's answer, not over HTTP
    at: float = field(default_factory=time.monotonic)

    @property
    def chat_id(self) -> str:
        return str(self.params.get("chat_id", ""))

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """(label, callback_data) of the inline keyboard, row by row."""
        markup = self.params.get("reply_markup") or {}
        return [
            (b["text"], b["callback_data"])
            for row in markup.get("inline_keyboard", [])
            for b in row
        ]


# Bot API parameters whose value is an object (JSON-serialized when sent as text)
JSON_PARAMETERS = frozenset(
    {"reply_markup", "entities", "caption_entities", "link_preview_options", "reply_parameters"}
)


def _value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


class FakeBotApi:
    """The Bot API as seen from a bot: `url` goes into TELEGRAM_API_URL."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.updates: list[dict[str, Any]] = []
        self.fetches: list[list[int]] = []  # the update ids each getUpdates returned, in order
        self.failures: dict[str, list[tuple[int, int]]] = {}  # (status, retry_after) to come
        self.delays: dict[str, float] = {}  # seconds a method takes to arrive (a slow network)
        self.migrated: dict[str, int] = {}  # a group's id -> the supergroup it became
        self.webhook = ""  # the URL setWebhook registered (deleteWebhook clears it)
        self.webhook_error = ""  # getWebhookInfo's last_error_message, when a test sets one
        self._message_id = 0
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.on_call: Callable[[Call], None] | None = None  # e.g. a benchmark's counters

    # --- life cycle ---------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- what tests tell it -------------------------------------------------------------

    def fail_next(self, method: str, *, retry_after: int = 1, status: int = 429) -> None:
        """Answer the next call of `method` with 429 Too Many Requests, or another error."""
        self.failures.setdefault(method, []).append((status, retry_after))

    async def push_update(self, update: dict[str, Any]) -> None:
        await self.push_updates([update])

    async def push_updates(self, updates: list[dict[str, Any]]) -> None:
        """Queue updates at once: a getUpdates waiting for them returns them in one batch."""
        async with self._changed:
            self.updates.extend(updates)
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[FakeBotApi], bool]) -> None:
        """Wait until `predicate(self)` holds (bounded by a generous safety limit, not timed)."""
        async with asyncio.timeout(60), self._changed:
            await self._changed.wait_for(lambda: predicate(self))

    # --- what tests read ----------------------------------------------------------------

    def sent(self, method: str = "sendMessage", chat_id: int | str | None = None) -> list[Call]:
        """Successful calls of `method` (to one chat when given)."""
        return [
            c
            for c in self.calls
            if c.method == method
            and c.status == 200
            and (chat_id is None or c.chat_id == str(chat_id))
        ]

    def texts(self, chat_id: int | str | None = None) -> list[str]:
        return [c.text for c in self.sent("sendMessage", chat_id)]

    def last_with_buttons(self, chat_id: int | str) -> Call:
        return [c for c in self.sent("sendMessage", chat_id) if c.buttons][-1]

    async def webhook_answer(self, answer: Any) -> None:
        """What Telegram does with a webhook's answer: a Bot API call in it is made
        (https://core.telegram.org/bots/api#making-requests-when-getting-updates)."""
        if isinstance(answer, dict) and "method" in answer:
            # a JSON body keeps its strings as they are; only parameters that are objects
            # may come as JSON text (aiogram sends them so), read as the object
            params = {
                k: json.loads(v) if k in JSON_PARAMETERS and isinstance(v, str) else v
                for k, v in answer.items()
                if k != "method"
            }
            await self._record(Call(str(answer["method"]), params, {}, in_answer=True))

    # --- the HTTP side ------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TOKEN:
            return _answer(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        method = request.match_info["method"]
        await asyncio.sleep(self.delays.get(method, 0.0))
        if request.transport is None or request.transport.is_closing():
            # the caller died while its call was on the way (a delay is the network's): the
            # call never arrived, so it is not made
            return _answer(500, {"ok": False, "error_code": 500, "description": "gone"})
        params: dict[str, Any] = {}
        files: dict[str, tuple[str, bytes]] = {}
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                files[key] = (value.filename, value.file.read())
            else:
                params[key] = _value(str(value))
        for key, value in list(params.items()):  # aiogram sends files as attach://<field>
            if isinstance(value, str) and value.startswith("attach://"):
                files[key] = files.pop(value.removeprefix("attach://"))
        call = Call(method, params, files)
        failing = self.failures.get(method)
        if failing:
            call.status, after = failing.pop(0)
            await self._record(call)
            error: dict[str, Any] = {"ok": False, "error_code": call.status}
            if call.status == 429:
                error["description"] = f"Too Many Requests: retry after {after}"
                error["parameters"] = {"retry_after": after}
            else:
                error["description"] = _DESCRIPTIONS.get(call.status, "Internal Server Error")
            return _answer(call.status, error)
        if call.chat_id in self.migrated:  # as Telegram answers a call to an upgraded group
            call.status = 400
            await self._record(call)
            return _answer(
                400,
                {
                    "ok": False,
                    "error_code": 400,
                    "description": "Bad Request: group chat was upgraded to a supergroup chat",
                    "parameters": {"migrate_to_chat_id": self.migrated[call.chat_id]},
                },
            )
        if method == "getUpdates":
            return _answer(200, {"ok": True, "result": await self._get_updates(params)})
        await self._record(call)
        return _answer(200, {"ok": True, "result": self._result(call)})

    async def _record(self, call: Call) -> None:
        if self.on_call is not None:
            self.on_call(call)
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        wait = min(float(params.get("timeout") or 0), 1.0)
        async with self._changed:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
            if not self.updates and wait > 0:
                try:
                    async with asyncio.timeout(wait):
                        await self._changed.wait_for(lambda: bool(self.updates))
                except TimeoutError:
                    pass
            batch = list(self.updates[:100])
            if batch:
                self.fetches.append([u["update_id"] for u in batch])
                self._changed.notify_all()
            return batch

    def _result(self, call: Call) -> Any:
        if call.method == "getMe":
            return BOT_USER
        if call.method == "getChat":
            chat_id = int(call.params["chat_id"])
            return {
                "id": chat_id,
                "type": "private" if chat_id > 0 else "supergroup",
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                },
            }
        if call.method == "setWebhook":
            self.webhook = str(call.params["url"])
        if call.method == "deleteWebhook":
            self.webhook = ""
        if call.method == "getWebhookInfo":
            info: dict[str, Any] = {
                "url": self.webhook,
                "has_custom_certificate": False,
                "pending_update_count": len(self.updates),
            }
            if self.webhook_error:
                info["last_error_date"] = int(time.time()) - 60
                info["last_error_message"] = self.webhook_error
            return info
        if call.method in ("sendMessage", "sendDocument", "editMessageText"):
            self._message_id += 1
            chat_id = int(call.params["chat_id"])
            message: dict[str, Any] = {
                "message_id": self._message_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
                "from": BOT_USER,
            }
            if call.method == "sendDocument":
                filename = call.files["document"][0] if "document" in call.files else "file"
                message["document"] = {
                    "file_id": f"file-{self._message_id}",
                    "file_unique_id": f"u-{self._message_id}",
                    "file_name": filename,
                }
                if "caption" in call.params:
                    message["caption"] = call.params["caption"]
            else:
                message["text"] = call.text
            return message
        return True


_DESCRIPTIONS = {
    400: "Bad Request: message text is empty",
    403: "Forbidden: bot was blocked by the user",
    502: "Bad Gateway",
}


def _answer(status: int, body: dict[str, Any]) -> web.Response:
    return web.json_response(body, status=status)


# --- updates as Telegram sends them ------------------------------------------------------


class Updates:
    """Builds updates with increasing update_id, as Telegram does."""

    def __init__(self, start: int = 1000) -> None:
        self.next_id = start

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def message(
        self,
        text: str | None,
        *,
        chat_id: int = 5001,
        user_id: int = 5001,
        first_name: str = "Maria",
        last_name: str | None = "Silva",
        chat_type: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """A message update; `extra`: more of the Message's fields (sender_chat, photo, ...).
        Text None: a message without text (a photo, a sticker)."""
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        kind = chat_type or ("private" if chat_id > 0 else "supergroup")
        chat: dict[str, Any] = {"id": chat_id, "type": kind}
        if kind == "private":
            chat["first_name"] = first_name
        else:
            chat["title"] = "Equipe de planejamento"
        message: dict[str, Any] = {
            "message_id": self.next_id,
            "date": int(time.time()),
            "chat": chat,
            "from": user,
            **extra,
        }
        if text is None:
            return {"update_id": self._id(), "message": message}
        message["text"] = text
        if text.startswith("/"):
            word = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(word)}]
        return {"update_id": self._id(), "message": message}

    def press(
        self,
        data: str,
        *,
        chat_id: int = 5001,
        user_id: int = 5001,
        first_name: str = "Maria",
        last_name: str | None = "Silva",
    ) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        kind = "private" if chat_id > 0 else "supergroup"
        return {
            "update_id": self._id(),
            "callback_query": {
                "id": f"cb-{self.next_id}",
                "from": user,
                "chat_instance": f"ci-{chat_id}",
                "data": data,
                "message": {
                    "message_id": 1,
                    "date": int(time.time()),
                    "chat": {"id": chat_id, "type": kind, "title": "Equipe"},
                    "from": BOT_USER,
                    "text": "…",
                },
            },
        }
