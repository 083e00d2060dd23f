"""The FastAPI application factory. Each feature is an APIRouter wired here, in one place."""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.types import ASGIApp, Receive, Scope, Send

from api import admin, health, metrics, telegram
from api.ratelimit import TokenRateLimiter
from bot.telegram import build_telegram
from conversations.catalogue import messages as m
from conversations.ports import StoreUnavailable
from etp import __version__
from etp.container import App

log = logging.getLogger(__name__)

DESCRIPTION = """
API de administração do ETP Express: lista, consulta e download dos Estudos Técnicos
Preliminares. Autenticação: `Authorization: Bearer <token>` (tokens criados com
`etp token create`). Escopo `read`: listagem, consulta e exportação. Escopo `admin`: também o
histórico de revisões (textos e autores).
"""


class BodyLimit:
    """Refuses API request bodies over the limit with 413, before anything reads them."""

    def __init__(self, app: ASGIApp, *, limit: int, prefix: str = "/api/") -> None:
        self.app = app
        self.limit = limit
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            length = dict(scope["headers"]).get(b"content-length", b"0")
            if not length.isdigit() or int(length) > self.limit:
                detail = m.API_TOO_LARGE.format(limit=self.limit)
                await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _store_down(_: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", exc.__class__.__name__)
    return JSONResponse({"detail": m.API_UNAVAILABLE}, status_code=503)


def create_api(app: App) -> FastAPI:
    """Build the HTTP app around an already built ETP Express App (no work at import)."""
    api = FastAPI(title="ETP Express", version=__version__, description=DESCRIPTION)
    api.state.etp = app
    api.state.started = time.monotonic()
    api.state.rate_limiter = TokenRateLimiter(
        app.settings.api.etp_api_rate_limit, app.settings.redis.redis_url
    )
    handlers: dict[Any, Any] = {
        StoreUnavailable: _store_down,
        OperationalError: _store_down,
        InterfaceError: _store_down,
        ConnectionError: _store_down,
    }
    for exc_class, handler in handlers.items():
        api.add_exception_handler(exc_class, handler)
    api.add_middleware(BodyLimit, limit=app.settings.api.etp_api_max_body_bytes)
    api.include_router(health.router)
    api.state.telegram = build_telegram(app) if app.settings.telegram.telegram_bot_token else None
    api.include_router(telegram.router)
    slack = app.settings.slack
    if slack.enabled and slack.slack_signing_secret is not None:  # HTTP mode needs the secret
        from api.slack import build_router
        from bot.slack.app import build_slack

        api.state.slack = build_slack(app)
        api.include_router(build_router(api.state.slack))
    api.include_router(metrics.router)
    api.include_router(admin.router)
    return api
