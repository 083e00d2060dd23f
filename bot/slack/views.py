"""Modals: the text a command takes (the edited draft, a skip's justification), submitted."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.blocks import FORM_CALLBACK, form_metadata, form_text
from bot.slack.channel import SlackChannel
from conversations.catalogue import messages as m


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
            meta = form_metadata(view)
            user = body["user"]
            team = context.team_id or user.get("team_id", "")
            # the metadata says where the text goes: taken only as signed when the form was
            # opened, and only from the person it was opened for
            place = channel.form_place(meta, team=team, user=f"{team}:{user['id']}")
            if place is None or not meta.get("command") or not meta.get("channel"):
                await ack(response_action="errors", errors={"part_0": m.SLACK_FORM_REFUSED})
                return
            await ack()
            author = await channel.author(client, team, user["id"], user.get("name", ""))
            await channel.handle(
                client,
                place,
                author,
                f"{meta['command']} {form_text(view)}",
                event_id=f"view:{view['id']}",
                kind="action",
            )
