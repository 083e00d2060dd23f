"""Runs the real app (`create_api`, Bolt, slack-sdk) on a local port against the fake Slack."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import uvicorn
from pydantic import SecretStr

from api.app import create_api
from bot.slack.channel import SlackChannel
from conversations.drafting import OfflineDrafter
from conversations.ports import DraftWriter
from etp.container import App, build_app
from etp.settings import AccessSettings, SecuritySettings, SlackSettings
from tests.helpers import override, settings_for
from tests.slack_fake import SIGNING_SECRET, FakeSlackApi, Workspace

CLIENT_ID = "111.222"
ENCRYPTION_KEY = "u3Yx8c7XQmVYd2cP2aW0H5b7mY1dE3nqA6QJtq6c1mE="  # a Fernet key, tests only


@dataclass
class RunningBot:
    app: App
    channel: SlackChannel
    http: httpx.AsyncClient
    api: FakeSlackApi
    workspace: Workspace

    async def settle(self) -> None:
        """Wait until every listener and draft job has finished its replies."""
        async with asyncio.timeout(60):
            for _ in range(3):
                await self.channel.drain()
                await self.app.queue.drain()

    def team(self, team: str) -> Workspace:
        return Workspace(self.http, self.api, team)


@asynccontextmanager
async def running_bot(
    db_url: str,
    api: FakeSlackApi,
    *,
    drafter: DraftWriter | None = None,
    oauth: bool = False,
    allowed: frozenset[str] = frozenset(),
    redis_url: str | None = None,
    encryption_keys: str = ENCRYPTION_KEY,
) -> AsyncIterator[RunningBot]:
    settings = settings_for(db_url)
    override(settings, security=SecuritySettings(etp_encryption_keys=SecretStr(encryption_keys)))
    slack = SlackSettings(
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_api_url=api.url,
        slack_bot_token=None if oauth else SecretStr("xoxb-T1"),
        slack_client_id=CLIENT_ID if oauth else None,
        slack_client_secret=SecretStr("client-secret-abc") if oauth else None,
    )
    override(settings, slack=slack, access=AccessSettings(etp_allowed_slack_teams=allowed))
    if redis_url is not None:
        from etp.settings import RedisSettings

        override(settings, redis=RedisSettings(redis_url=redis_url))
    app = await build_app(settings, drafter=drafter or OfflineDrafter(), migrate=False)
    api_app = create_api(app)
    server = uvicorn.Server(
        uvicorn.Config(api_app, log_level="warning", lifespan="off", access_log=False)
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for it
                await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            bot = RunningBot(app, api_app.state.slack, http, api, Workspace(http, api))
            yield bot
            await bot.settle()
    finally:
        server.should_exit = True
        await serving
        sock.close()
        await app.close()
