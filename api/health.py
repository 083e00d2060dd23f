"""GET /health and GET /health/ready."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import EtpApp
from etp import __version__
from etp.observability import release
from storage.migrate import schema_state

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


@router.get("/health")
async def health(request: Request, app: EtpApp) -> dict[str, object]:
    """Liveness: the process answers; which release it is, and since when."""
    uptime = time.monotonic() - request.app.state.started
    return {
        "status": "ok",
        "version": __version__,
        "release": release(app.settings.observability),
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "uptime_s": round(uptime, 3),
    }


@router.get("/health/ready")
async def ready(request: Request, app: EtpApp) -> JSONResponse:
    """Readiness: every configured dependency answers and the schema is at the migration head;
    503 names what is not, and `problems` says why (also logged, once per change)."""
    checks: dict[str, str] = {}
    problems: list[str] = []
    try:
        async with asyncio.timeout(3), app.engine.connect() as conn:
            state = await schema_state(conn)
        checks["database"] = "ok"
        checks["schema"] = state.status
        if state.status == "behind":
            if app.settings.deployment.etp_allow_schema_behind:
                checks["schema"] = "behind (allowed)"
            else:
                problems.append(f"database: {state.describe()}")
    except Exception as exc:
        checks["database"] = "error"
        problems.append(f"database: {_cause(exc)}")
    if app.redis is None:
        checks["redis"] = "disabled"
    else:
        try:
            async with asyncio.timeout(3):
                await app.redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = "error"
            problems.append(f"redis: {_cause(exc)}")
    _log_change(request, problems)
    body: dict[str, object] = dict(checks)
    if problems:
        body["problems"] = problems
    return JSONResponse(body, status_code=503 if problems else 200)


def _cause(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer within 3 s"
    # the exception's own text names the cause ("Connection refused", "password authentication
    # failed"); SQLAlchemy's wrapper adds a link and the statement, which say nothing here
    original = getattr(exc, "orig", None) or exc
    text = str(original).split("\n", 1)[0].strip()
    return f"{type(original).__name__}: {text}" if text else type(original).__name__


def _log_change(request: Request, problems: list[str]) -> None:
    """A probe comes every few seconds: log when readiness changes, not at every probe."""
    before: list[str] | None = getattr(request.app.state, "not_ready", None)
    if problems == (before or []):
        return
    request.app.state.not_ready = problems or None
    if problems:
        log.warning("not ready: %s", "; ".join(problems))
    elif before:
        log.info("ready again")
