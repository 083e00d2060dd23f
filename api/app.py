"""The FastAPI application factory. Each feature is an APIRouter wired here, in one place."""

from __future__ import annotations

import time

from fastapi import FastAPI

from api import health, telegram
from bot.telegram import build_telegram
from etp import __version__
from etp.container import App


def create_api(app: App) -> FastAPI:
    """Build the HTTP app around an already built ETP Express App (no work at import)."""
    api = FastAPI(title="ETP Express", version=__version__)
    api.state.etp = app
    api.state.started = time.monotonic()
    api.include_router(health.router)
    api.state.telegram = build_telegram(app) if app.settings.telegram.telegram_bot_token else None
    api.include_router(telegram.router)
    slack = app.settings.slack
    if slack.enabled and slack.slack_signing_secret is not None:  # HTTP mode needs the secret
        from api.slack import build_router
        from bot.slack.app import build_slack

        api.state.slack = build_slack(app)
        api.include_router(build_router(api.state.slack))
    return api
