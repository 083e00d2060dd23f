"""A local Slack for tests: the Web API over real HTTP, and a workspace that signs its requests.

`FakeSlackApi` answers as Slack's Web API does (the real slack-sdk client talks to it through
SLACK_API_URL) and keeps what the bot posted. `Workspace` sends events, slash commands, button
presses and modal submissions to `POST /slack/events`, signed as Slack signs them.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from aiohttp import WSMsgType, web
from slack_sdk.signature import SignatureVerifier

SIGNING_SECRET = "test-signing-secret-0123456789"
BOT_USER = "UBOT"
BOT_ID = "BBOT"
FORM = "application/x-www-form-urlencoded"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str


@dataclass
class Posted:
    """A message the bot posted (kept up to date by chat.update)."""

    channel: str
    ts: str
    thread_ts: str
    text: str
    blocks: list[dict[str, Any]]
    private_to: str = ""

    def buttons(self) -> list[dict[str, Any]]:
        return [
            element
            for block in self.blocks
            if block.get("type") == "actions"
            for element in block.get("elements", [])
        ]

    def labels(self) -> list[str]:
        return [b["text"]["text"] for b in self.buttons()]

    @property
    def body(self) -> str:
        """The text of all its section blocks, as a user reads it."""
        parts = [
            b["text"]["text"] for b in self.blocks if b.get("type") == "section" and "text" in b
        ]
        return "\n".join(parts) if parts else self.text


@dataclass
class FakeSlackApi:
    users: dict[str, str] = field(
        default_factory=lambda: {"U1": "Maria Silva", "U2": "João Souza", "U3": "Ana Lima"}
    )
    tokens: dict[str, str] = field(default_factory=lambda: {"xoxb-T1": "T1"})
    oauth_codes: dict[str, str] = field(default_factory=dict)  # code -> team id
    calls: list[Call] = field(default_factory=list)
    messages: list[Posted] = field(default_factory=list)
    uploads: dict[str, bytes] = field(default_factory=dict)
    url: str = ""
    _runner: web.AppRunner | None = None
    _socket: web.WebSocketResponse | None = None
    _socket_acks: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    _socket_open: asyncio.Event = field(default_factory=asyncio.Event)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/link", self._link)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base = f"http://127.0.0.1:{port}"
        self.url = f"{self.base}/api/"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- what the bot did ----------------------------------------------------------------

    def called(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def roots(self, channel: str) -> list[Posted]:
        return [p for p in self.messages if p.channel == channel and not p.thread_ts]

    def thread(self, channel: str, thread_ts: str = "") -> list[Posted]:
        return [p for p in self.messages if p.channel == channel and p.thread_ts == thread_ts]

    def bodies(self, channel: str, thread_ts: str = "") -> list[str]:
        return [p.body for p in self.thread(channel, thread_ts)]

    def with_button(self, channel: str, thread_ts: str, label: str) -> Posted:
        for posted in reversed(self.thread(channel, thread_ts)):
            if label in posted.labels():
                return posted
        raise AssertionError(f"no message with a {label!r} button in {channel}/{thread_ts}")

    # --- the Web API ---------------------------------------------------------------------

    def _next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            args.update(await request.json())
        elif request.can_read_body:
            args.update(dict(await request.post()))
        return args

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() or str(args.get("token", ""))
        self.calls.append(Call(method, args, token))
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        app_level = method == "apps.connections.open" and token.startswith("xapp-")
        if method != "oauth.v2.access" and not app_level and token not in self.tokens:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        body: dict[str, Any] = handler(args, token)
        return web.json_response(body)

    def _auth_test(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        team = self.tokens[token]
        return {
            "ok": True,
            "url": f"https://{team.lower()}.slack.test/",
            "team": f"Equipe {team}",
            "user": "etp",
            "team_id": team,
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _auth_revoke(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        self.tokens.pop(token, None)
        return {"ok": True, "revoked": True}

    def _users_info(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        user = str(args["user"])
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        name = self.users[user]
        return {
            "ok": True,
            "user": {
                "id": user,
                "team_id": self.tokens[token],
                "name": name.split()[0].lower(),
                "real_name": name,
                "profile": {"real_name": name, "display_name": name.split()[0]},
            },
        }

    def _blocks(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        blocks = args.get("blocks") or []
        return json.loads(blocks) if isinstance(blocks, str) else list(blocks)

    def _chat_postMessage(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        ts = self._next_ts()
        posted = Posted(
            str(args["channel"]),
            ts,
            str(args.get("thread_ts") or ""),
            str(args.get("text", "")),
            self._blocks(args),
        )
        self.messages.append(posted)
        return {"ok": True, "channel": posted.channel, "ts": ts, "message": {"ts": ts}}

    def _chat_postEphemeral(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        ts = self._next_ts()
        posted = Posted(
            str(args["channel"]),
            ts,
            str(args.get("thread_ts") or ""),
            str(args.get("text", "")),
            self._blocks(args),
            private_to=str(args["user"]),
        )
        self.messages.append(posted)
        return {"ok": True, "message_ts": ts}

    def _chat_update(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        for posted in self.messages:
            if posted.channel == args["channel"] and posted.ts == args["ts"]:
                posted.text = str(args.get("text", ""))
                posted.blocks = self._blocks(args)
                return {"ok": True, "channel": posted.channel, "ts": posted.ts}
        return {"ok": False, "error": "message_not_found"}

    def _views_open(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        view = args["view"]
        view = json.loads(view) if isinstance(view, str) else view
        return {"ok": True, "view": {**view, "id": f"V{next(self._ts)}", "hash": "h1"}}

    def _files_getUploadURLExternal(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        file_id = f"F{next(self._ts)}"
        return {"ok": True, "upload_url": f"{self.base}/upload/{file_id}", "file_id": file_id}

    def _files_completeUploadExternal(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        files = json.loads(args["files"]) if isinstance(args["files"], str) else args["files"]
        return {"ok": True, "files": [{"id": f["id"], "title": f.get("title", "")} for f in files]}

    def _oauth_v2_access(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        team = self.oauth_codes.get(str(args.get("code")))
        if team is None:
            return {"ok": False, "error": "invalid_code"}
        bot_token = f"xoxb-{team}"
        self.tokens[bot_token] = team
        return {
            "ok": True,
            "app_id": "A1",
            "authed_user": {"id": "U1"},
            "scope": "chat:write,commands",
            "token_type": "bot",
            "access_token": bot_token,
            "bot_user_id": BOT_USER,
            "team": {"id": team, "name": f"Equipe {team}"},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        return {"ok": True, "url": self.base.replace("http://", "ws://") + "/link"}

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        """Socket Mode: envelopes go out on this WebSocket, the app's acks come back."""
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._socket = socket
        self._socket_open.set()
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                await self._socket_acks.put(json.loads(message.data))
        return socket

    async def deliver(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """Send one Socket Mode envelope and return the app's acknowledgement of it."""
        async with asyncio.timeout(10):
            await self._socket_open.wait()
            assert self._socket is not None
            await self._socket.send_str(json.dumps(envelope))
            while True:
                ack = await self._socket_acks.get()
                if ack.get("envelope_id") == envelope["envelope_id"]:
                    return ack

    async def _upload(self, request: web.Request) -> web.Response:
        self.uploads[request.match_info["file_id"]] = await request.read()
        return web.Response(text="OK - 200")


class Workspace:
    """One Slack workspace's people, sending signed requests to the app's /slack/events."""

    def __init__(self, http: httpx.AsyncClient, api: FakeSlackApi, team: str = "T1") -> None:
        self.http = http
        self.api = api
        self.team = team
        self.verifier = SignatureVerifier(SIGNING_SECRET)
        self._n = itertools.count(1)

    def headers(self, body: str, content_type: str, *, age: float = 0) -> dict[str, str]:
        timestamp = str(int(time.time() - age))
        signature = self.verifier.generate_signature(timestamp=timestamp, body=body) or ""
        return {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature,
        }

    async def post(self, body: str, content_type: str, **extra: str) -> httpx.Response:
        headers = {**self.headers(body, content_type), **extra}
        return await self.http.post("/slack/events", content=body, headers=headers)

    async def send_event(
        self, event: dict[str, Any], *, event_id: str | None = None, retry: int | None = None
    ) -> httpx.Response:
        event_id = event_id or f"Ev{self.team}{next(self._n)}"
        body = json.dumps(
            {
                "token": "legacy",
                "team_id": self.team,
                "api_app_id": "A1",
                "event": event,
                "type": "event_callback",
                "event_id": event_id,
                "event_time": int(time.time()),
                "authorizations": [{"team_id": self.team, "user_id": BOT_USER, "is_bot": True}],
            }
        )
        extra = {}
        if retry is not None:
            extra = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        return await self.post(body, "application/json", **extra)

    def message_event(
        self, user: str, channel: str, text: str, thread_ts: str = "", **more: Any
    ) -> dict[str, Any]:
        ts = f"1800000000.{next(self._n):06d}"
        event: dict[str, Any] = {
            "type": "message",
            "channel": channel,
            "user": user,
            "text": text,
            "ts": ts,
            "event_ts": ts,
            "channel_type": "im" if channel.startswith("D") else "channel",
        }
        if thread_ts:
            event.update(thread_ts=thread_ts, parent_user_id=BOT_USER)
        event.update(more)
        return event

    async def say(self, user: str, channel: str, text: str, thread_ts: str = "") -> httpx.Response:
        return await self.send_event(self.message_event(user, channel, text, thread_ts))

    async def mention(
        self, user: str, channel: str, text: str, thread_ts: str = ""
    ) -> httpx.Response:
        event = self.message_event(user, channel, f"<@{BOT_USER}> {text}", thread_ts)
        event["type"] = "app_mention"
        return await self.send_event(event)

    async def slash(self, user: str, channel: str, text: str) -> httpx.Response:
        return await self.post(self.slash_body(user, channel, text), FORM)

    def slash_body(self, user: str, channel: str, text: str) -> str:
        return urlencode(
            {
                "token": "legacy",
                "team_id": self.team,
                "team_domain": self.team.lower(),
                "channel_id": channel,
                "channel_name": "directmessage" if channel.startswith("D") else "compras",
                "user_id": user,
                "user_name": self.api.users.get(user, user).split()[0].lower(),
                "command": "/etp",
                "text": text,
                "api_app_id": "A1",
                "response_url": f"{self.api.base}/response/{next(self._n)}",
                "trigger_id": f"trigger-{self.team}-{next(self._n)}",
            }
        )

    async def interact(self, payload: dict[str, Any]) -> httpx.Response:
        body = urlencode({"payload": json.dumps(payload)})
        return await self.post(body, FORM)

    async def press(self, user: str, message: Posted, label: str) -> httpx.Response:
        button = next(b for b in message.buttons() if b["text"]["text"] == label)
        n = next(self._n)
        container: dict[str, Any] = {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": message.channel,
            "is_ephemeral": bool(message.private_to),
        }
        if message.thread_ts:
            container["thread_ts"] = message.thread_ts
        return await self.interact(
            {
                "type": "block_actions",
                "team": {"id": self.team, "domain": self.team.lower()},
                "user": {
                    "id": user,
                    "username": user.lower(),
                    "name": user.lower(),
                    "team_id": self.team,
                },
                "api_app_id": "A1",
                "token": "legacy",
                "container": container,
                "trigger_id": f"trigger-{self.team}-{n}",
                "channel": {"id": message.channel, "name": "compras"},
                "message": {"ts": message.ts, "thread_ts": message.thread_ts, "text": message.text},
                "response_url": f"{self.api.base}/response/{n}",
                "actions": [
                    {
                        "action_id": button["action_id"],
                        "block_id": "b1",
                        "text": button["text"],
                        "value": button["value"],
                        "type": "button",
                        "action_ts": f"1800000000.{n:06d}",
                    }
                ],
            }
        )

    def last_view(self) -> dict[str, Any]:
        opened = self.api.called("views.open")
        assert opened, "no modal was opened"
        view = opened[-1].args["view"]
        return json.loads(view) if isinstance(view, str) else dict(view)

    async def submit(self, user: str, view: dict[str, Any], *texts: str) -> httpx.Response:
        inputs = [b["block_id"] for b in view["blocks"] if b.get("type") == "input"]
        values = {
            block_id: {"text": {"type": "plain_text_input", "value": text}}
            for block_id, text in zip(inputs, texts, strict=False)
        }
        return await self.interact(
            {
                "type": "view_submission",
                "team": {"id": self.team, "domain": self.team.lower()},
                "user": {
                    "id": user,
                    "username": user.lower(),
                    "name": user.lower(),
                    "team_id": self.team,
                },
                "api_app_id": "A1",
                "token": "legacy",
                "trigger_id": f"trigger-{self.team}-{next(self._n)}",
                "view": {
                    "id": f"V{next(self._n)}",
                    "team_id": self.team,
                    "type": "modal",
                    "callback_id": view["callback_id"],
                    "private_metadata": view.get("private_metadata", ""),
                    "blocks": view["blocks"],
                    "state": {"values": values},
                    "hash": "h1",
                },
            }
        )
