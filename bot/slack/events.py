"""Events API: mentions of the bot and messages in DMs and in ETP threads."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.channel import Place, SlackChannel, mention_line

# message subtypes that are someone writing (the rest are edits, joins, bots …)
WRITTEN = {None, "thread_broadcast"}


def register(app: AsyncApp, channel: SlackChannel) -> None:
    @app.event("app_mention")
    async def mentioned(
        event: dict[str, Any],
        body: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        """In an ETP thread: a command or an answer. In a channel: starts an ETP in a thread."""
        if event.get("bot_id") or not event.get("user"):
            return
        async with channel.working():
            team = context.team_id or body["team_id"]
            place = Place.at(team, event["channel"], event.get("thread_ts", ""))
            line, is_command = mention_line(event.get("text", ""), context.bot_user_id)
            if place.outside_thread and not is_command:
                line = f"/novo {line}"
            author = await channel.author(client, team, event["user"])
            await channel.command(
                client,
                place,
                event["user"],
                author,
                line,
                event_id=body["event_id"],
                key=body["event_id"],
            )

    @app.event("message")
    async def message(
        event: dict[str, Any],
        body: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        """A DM, or a reply in a thread the bot opened; anything else is not for us."""
        if event.get("subtype") not in WRITTEN or event.get("bot_id") or not event.get("user"):
            return
        team = context.team_id or body["team_id"]
        text = event.get("text", "")
        thread = event.get("thread_ts", "")
        place = Place.at(team, event["channel"], thread)
        if place.shared:
            in_our_thread = (
                thread
                and thread != event.get("ts")
                and event.get("parent_user_id") == context.bot_user_id
            )
            mentions_us = context.bot_user_id is not None and f"<@{context.bot_user_id}>" in text
            if not in_our_thread or mentions_us:  # app_mention carries the mentions
                return
        async with channel.working():
            author = await channel.author(client, team, event["user"])
            await channel.handle(client, place, author, text, event_id=body["event_id"])
