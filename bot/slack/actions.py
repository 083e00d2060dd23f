"""Buttons: each carries the command line it stands for (aceitar, refazer, editar, pular …)."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.blocks import ACTION_PREFIX
from bot.slack.channel import Place, SlackChannel
from conversations.replies import from_button_value


def register(app: AsyncApp, channel: SlackChannel) -> None:
    @app.action(re.compile(f"^{ACTION_PREFIX}\\d+$"))
    async def pressed(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        """The button's command, said by whoever pressed it, where the button is."""
        async with channel.working():
            await ack()
            user = body["user"]
            team = context.team_id or user.get("team_id", "")
            container = body.get("container") or {}
            channel_id = container.get("channel_id") or (body.get("channel") or {}).get("id", "")
            thread = container.get("thread_ts") or (body.get("message") or {}).get("thread_ts", "")
            author = await channel.author(
                client, team, user["id"], user.get("name") or user.get("username", "")
            )
            trigger = body["trigger_id"]
            command, button = from_button_value(action.get("value", ""))
            await channel.command(
                client,
                Place.at(team, channel_id, thread),
                user["id"],
                author,
                command,
                event_id=f"act:{trigger}",
                key=trigger,
                kind="action",
                trigger_id=trigger,
                context=button,
            )
