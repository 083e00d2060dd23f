"""Which workspaces may use the bot (ETP_ALLOWED_SLACK_TEAMS), and the OAuth installation pages."""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt import BoltResponse
from slack_bolt.async_app import AsyncBoltContext, AsyncBoltRequest
from slack_bolt.error import BoltError
from slack_bolt.oauth.async_callback_options import (
    AsyncCallbackOptions,
    AsyncFailureArgs,
    AsyncSuccessArgs,
)
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store import Installation

from conversations.catalogue import messages as m

log = logging.getLogger(__name__)

Middleware = Callable[..., Awaitable[BoltResponse | None]]


class TeamNotAllowed(BoltError):
    """A workspace outside ETP_ALLOWED_SLACK_TEAMS tried to install the app."""


def only_allowed_teams(allowed: frozenset[str]) -> Middleware:
    """Bolt middleware, before authorization: other workspaces get a polite refusal, nothing else."""

    async def check_team(
        context: AsyncBoltContext, body: dict[str, Any], next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        team = context.team_id
        if not allowed or team is None or team in allowed:
            await next()
            return None
        log.warning("Slack workspace %s is not in ETP_ALLOWED_SLACK_TEAMS; refused", team)
        if body.get("command"):
            return BoltResponse(
                status=200, body={"response_type": "ephemeral", "text": m.SLACK_TEAM_NOT_ALLOWED}
            )
        return BoltResponse(status=200, body="")

    return check_team


class EtpOAuthFlow(AsyncOAuthFlow):
    """Bolt's OAuth flow that stores an installation only for an allowed workspace."""

    def __init__(self, *, allowed: frozenset[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.allowed = allowed

    async def store_installation(
        self, request: AsyncBoltRequest, installation: Installation
    ) -> None:
        if self.allowed and installation.team_id not in self.allowed:
            if installation.bot_token:
                try:  # the token Slack just granted must not stay alive unused
                    await self.client.auth_revoke(token=installation.bot_token)
                except SlackApiError as error:
                    log.warning("auth.revoke failed: %s", error.response.get("error"))
            raise TeamNotAllowed(f"team {installation.team_id} is not allowed")
        await super().store_installation(request, installation)


def _page(status: int, title: str, text: str, cookie: str) -> BoltResponse:
    body = (
        '<!DOCTYPE html><html lang="pt-BR"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>"
    )
    return BoltResponse(
        status=status,
        body=body,
        headers={"Content-Type": "text/html; charset=utf-8", "Set-Cookie": cookie},
    )


async def _installed(args: AsyncSuccessArgs) -> BoltResponse:
    team = args.installation.team_name or args.installation.team_id or ""
    return _page(
        200,
        m.SLACK_INSTALL_OK_TITLE,
        m.SLACK_INSTALL_OK.format(team=team),
        args.settings.state_utils.build_set_cookie_for_deletion(),
    )


async def _not_installed(args: AsyncFailureArgs) -> BoltResponse:
    cookie = args.settings.state_utils.build_set_cookie_for_deletion()
    if isinstance(args.error, TeamNotAllowed):
        return _page(403, m.SLACK_INSTALL_REFUSED_TITLE, m.SLACK_TEAM_NOT_ALLOWED, cookie)
    return _page(
        args.suggested_status_code,
        m.SLACK_INSTALL_FAILED_TITLE,
        m.SLACK_INSTALL_FAILED.format(reason=args.reason),
        cookie,
    )


INSTALL_PAGES = AsyncCallbackOptions(success=_installed, failure=_not_installed)
