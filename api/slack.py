"""POST /slack/events (events, slash commands, interactivity) and the OAuth install routes."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_sdk.signature import SignatureVerifier

from bot.slack.app import EVENTS_PATH, INSTALL_PATH, REDIRECT_PATH
from bot.slack.channel import SlackChannel


def build_router(channel: SlackChannel, signing_secret: str) -> APIRouter:
    """Hand Slack's requests to Bolt, which verifies the signature (5-minute window)."""
    handler = AsyncSlackRequestHandler(channel.bolt)
    verifier = SignatureVerifier(signing_secret)
    router = APIRouter(tags=["slack"])

    @router.post(EVENTS_PATH)
    async def slack_events(request: Request) -> Response:
        """Slack events, slash commands and interactivity (signature verified)."""
        # Bolt parses the body before it checks the signature: an anonymous malformed or
        # absurdly nested body made a 500. The signature is checked first here, then the JSON.
        body = await request.body()
        if body.startswith(b"ssl_check=1"):  # Slack's unsigned certificate check: Bolt's
            return await handler.handle(request)
        if not verifier.is_valid_request(body, dict(request.headers)):
            return JSONResponse({"error": "invalid request signature"}, status_code=401)
        if not _parses(body, request.headers.get("content-type", "")):
            return JSONResponse({"error": "the body is not a Slack request"}, status_code=400)
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


def _parses(body: bytes, content_type: str) -> bool:
    """Whether the JSON Bolt will read (the body, or a form's `payload`) parses."""
    try:
        if content_type.startswith("application/json"):
            json.loads(body)
        else:
            payload = parse_qs(body.decode("utf-8")).get("payload")
            if payload:
                json.loads(payload[0])
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        return False
    return True
