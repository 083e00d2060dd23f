"""POST /slack/events (events, slash commands, interactivity) and the OAuth install routes."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler

from bot.slack.app import EVENTS_PATH, INSTALL_PATH, REDIRECT_PATH
from bot.slack.channel import SlackChannel


def build_router(channel: SlackChannel) -> APIRouter:
    """Hand Slack's requests to Bolt, which verifies the signature (5-minute window)."""
    handler = AsyncSlackRequestHandler(channel.bolt)
    router = APIRouter(tags=["slack"])

    @router.post(EVENTS_PATH)
    async def slack_events(request: Request) -> Response:
        """Slack events, slash commands and interactivity (signature verified)."""
        return await handler.handle(request)

    if channel.bolt.oauth_flow is not None:

        @router.get(INSTALL_PATH)
        async def slack_install(request: Request) -> Response:
            """Start the OAuth installation in a workspace (redirects to Slack)."""
            return await handler.handle(request)

        @router.get(REDIRECT_PATH)
        async def slack_oauth_redirect(request: Request) -> Response:
            """Slack's OAuth redirect: store the workspace's installation."""
            return await handler.handle(request)

    return router
