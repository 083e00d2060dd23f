"""The slash command: `/etp <sub-command>` (novo, listar, retomar, status, exportar, ajuda …)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.channel import Place, SlackChannel, command_line

SLASH_COMMAND = "/etp"


def register(app: AsyncApp, channel: SlackChannel) -> None:
    @app.command(SLASH_COMMAND)
    async def etp_command(
        ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        """/etp novo X → the engine's "/novo X", in the thread it opens (or the DM)."""
        async with channel.working():
            await ack()
            team = context.team_id or command["team_id"]
            user = command["user_id"]
            author = await channel.author(client, team, user, command.get("user_name", ""))
            trigger = command["trigger_id"]
            await channel.command(
                client,
                Place.at(team, command["channel_id"]),
                user,
                author,
                command_line(command.get("text", "")),
                event_id=f"cmd:{trigger}",
                key=trigger,
                kind="command",
                trigger_id=trigger,
            )
