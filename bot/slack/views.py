"""Modals: the text a command takes (the edited draft, a skip's justification), submitted."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.blocks import FORM_CALLBACK, form_metadata, form_text
from bot.slack.channel import Place, SlackChannel


def register(app: AsyncApp, channel: SlackChannel) -> None:
    @app.view(FORM_CALLBACK)
    async def submitted(
        ack: AsyncAck,
        body: dict[str, Any],
        view: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        """'/editar <texto>' or '/pular <justificativa>' in the conversation the form came from."""
        async with channel.working():
            await ack()
            meta = form_metadata(view)
            if not meta.get("command") or not meta.get("channel"):
                return
            team = context.team_id or meta.get("team", "")
            place = Place.at(team, meta["channel"], meta.get("thread", ""))
            user = body["user"]
            author = await channel.author(client, team, user["id"], user.get("name", ""))
            await channel.handle(
                client,
                place,
                author,
                f"{meta['command']} {form_text(view)}",
                event_id=f"view:{view['id']}",
                kind="action",
            )
