"""GET /health and GET /health/ready."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import EtpApp
from etp import __version__

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(request: Request) -> dict[str, object]:
    """Liveness: the process answers."""
    uptime = time.monotonic() - request.app.state.started
    return {"status": "ok", "version": __version__, "uptime_s": round(uptime, 3)}


@router.get("/health/ready")
async def ready(app: EtpApp) -> JSONResponse:
    """Readiness: every configured dependency answers; 503 names the one that does not."""
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(3):
            async with app.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:
        checks["database"] = "error"
    if app.redis is None:
        checks["redis"] = "disabled"
    else:
        try:
            async with asyncio.timeout(3):
                await app.redis.ping()
            checks["redis"] = "ok"
        except Exception:
            checks["redis"] = "error"
    healthy = all(v in ("ok", "disabled") for v in checks.values())
    return JSONResponse(checks, status_code=200 if healthy else 503)
