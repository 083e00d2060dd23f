"""The FastAPI application factory. Each feature is an APIRouter wired here, in one place."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import admin, health, metrics, telegram
from api.ratelimit import TokenRateLimiter
from bot.telegram import build_telegram
from conversations.catalogue import messages as m
from conversations.ports import StoreUnavailable
from etp import __version__
from etp.container import App
from etp.settings import TelegramSettings

log = logging.getLogger(__name__)

DESCRIPTION = """
API de administração do ETP Express: lista, consulta e download dos Estudos Técnicos
Preliminares. Autenticação: `Authorization: Bearer <token>` (tokens criados com
`etp token create`). Escopo `read`: listagem, consulta e exportação. Escopo `admin`: também o
histórico de revisões (textos e autores).
"""


# Telegram's and Slack's webhook bodies are a few kilobytes; nothing larger is theirs
WEBHOOK_MAX_BODY_BYTES = 1_048_576


class BodyLimit:
    """Refuses request bodies over a limit with 413, before the app reads them.

    `limits`: (path prefix, bytes), the first matching prefix applies; other paths have none.
    A declared Content-Length is checked at once; a body sent without one (chunked) is read
    here up to the limit, then handed to the app as it came.
    """

    def __init__(self, app: ASGIApp, *, limits: Sequence[tuple[str, int]]) -> None:
        self.app = app
        self.limits = tuple(limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self._limit(scope)
        if limit is None:
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > limit:
                await self._refuse(limit, scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(limit, scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    def _limit(self, scope: Scope) -> int | None:
        if scope["type"] != "http":
            return None
        path: str = scope["path"]
        return next((limit for prefix, limit in self.limits if path.startswith(prefix)), None)

    @staticmethod
    async def _refuse(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
        detail = m.API_TOO_LARGE.format(limit=limit)
        await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)


class SecurityHeaders:
    """Headers that keep a browser from misreading or framing an answer (OWASP's list for an
    API); set on every answer, as a plain ASGI wrapper (a BaseHTTPMiddleware would cost the
    webhooks a task per request). /docs and /redoc load Swagger's and ReDoc's scripts from
    their CDN, so they get no Content-Security-Policy."""

    HEADERS = (
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    )
    CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
    # ETPs and their documents hold personal data: no proxy or browser cache keeps them
    NO_STORE = (b"cache-control", b"no-store")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        extra = [*self.HEADERS]
        if not path.startswith(("/docs", "/redoc")):
            extra.append(self.CSP)
        if path.startswith("/api/"):
            extra.append(self.NO_STORE)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *((n, v) for n, v in extra if n not in present),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


async def _store_down(_: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", exc.__class__.__name__)
    return JSONResponse({"detail": m.API_UNAVAILABLE}, status_code=503)


def telegram_webhook_mounted(settings: TelegramSettings) -> bool:
    """POST /telegram/webhook exists only with a secret: without one, anyone who can reach it
    could post updates as any user (an allowed id named in a forged update, a forged group
    migration). ETP_INSECURE_TELEGRAM_WEBHOOK mounts it anyway, for development, loudly."""
    if settings.telegram_bot_token is None:
        return False
    if settings.telegram_webhook_secret is not None:
        return True
    if settings.etp_insecure_telegram_webhook:
        log.critical(
            "ETP_INSECURE_TELEGRAM_WEBHOOK is set: POST /telegram/webhook takes updates from "
            "anyone who can reach it, as any user. Development only; never in production"
        )
        return True
    log.warning(
        "TELEGRAM_WEBHOOK_SECRET is not set: POST /telegram/webhook is not served "
        "(long polling with `etp telegram` needs no webhook)"
    )
    return False


def create_api(app: App) -> FastAPI:
    """Build the HTTP app around an already built ETP Express App (no work at import)."""
    security = app.settings.security
    docs = security.docs
    api = FastAPI(
        title="ETP Express",
        version=__version__,
        description=DESCRIPTION,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    api.state.etp = app
    api.state.started = time.monotonic()
    api.state.rate_limiter = TokenRateLimiter(
        app.settings.api.etp_api_rate_limit, app.settings.redis.redis_url
    )
    api.state.etps_counted = metrics.count_cache()
    api.state.auth_failures = TokenRateLimiter(
        app.settings.api.etp_api_auth_failure_limit,
        app.settings.redis.redis_url,
        namespace="auth-failures",
    )
    handlers: dict[Any, Any] = {
        StoreUnavailable: _store_down,
        OperationalError: _store_down,
        InterfaceError: _store_down,
        ConnectionError: _store_down,
    }
    for exc_class, handler in handlers.items():
        api.add_exception_handler(exc_class, handler)
    api.add_middleware(SecurityHeaders)
    api.add_middleware(
        BodyLimit,
        limits=[
            ("/api/", app.settings.api.etp_api_max_body_bytes),
            ("/telegram/", WEBHOOK_MAX_BODY_BYTES),
            ("/slack/", WEBHOOK_MAX_BODY_BYTES),
        ],
    )
    api.include_router(health.router)
    api.state.telegram = None
    if telegram_webhook_mounted(app.settings.telegram):
        api.state.telegram = build_telegram(app)
        api.include_router(telegram.router)
    slack = app.settings.slack
    if slack.enabled and slack.slack_signing_secret is not None:  # HTTP mode needs the secret
        from api.slack import build_router
        from bot.slack.app import build_slack

        api.state.slack = build_slack(app)
        api.include_router(
            build_router(api.state.slack, slack.slack_signing_secret.get_secret_value())
        )
    if security.metrics_served:
        api.include_router(metrics.router)
    else:
        log.warning("ETP_ENV=production without ETP_METRICS_TOKEN: GET /metrics is not served")
    api.include_router(admin.router)
    return api
