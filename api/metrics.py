"""GET /metrics: Prometheus text format from the App's own registry."""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from cachetools import TTLCache
from fastapi import APIRouter, HTTPException, Request, Response, status
from prometheus_client import CONTENT_TYPE_LATEST

from api.deps import EtpApp
from conversations.catalogue import messages as m
from etp.container import App
from storage.jobs import ArqDraftQueue

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


# ETPs are counted at most this often: a COUNT over every ETP on each scrape (several
# Prometheus servers, or anyone else who can reach /metrics) was load for nothing
COUNT_SECONDS = 30.0


def count_cache() -> TTLCache[str, bool]:
    return TTLCache(maxsize=1, ttl=COUNT_SECONDS)


@router.get("/metrics", response_class=Response)
async def metrics(request: Request, app: EtpApp) -> Response:
    """Counters and histograms of this process; ETPs by status, counted at most every 30 s;
    the connection pools and the draft queue, read now. With ETP_METRICS_TOKEN set, only for `Authorization: Bearer <that token>`."""
    # read here, not through HTTPBearer: the schema would then claim that /metrics always
    # needs a token
    expected = app.settings.security.etp_metrics_token
    if expected is not None:
        given = request.headers.get("authorization", "")
        wanted = f"Bearer {expected.get_secret_value()}"
        if not secrets.compare_digest(given.encode(), wanted.encode()):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                m.API_UNAUTHORIZED,
                headers={"WWW-Authenticate": "Bearer"},
            )
    counted: TTLCache[str, bool] = request.app.state.etps_counted
    if "etps" not in counted:
        counted["etps"] = True  # a failed count is not retried at once either
        try:
            async with asyncio.timeout(3):
                app.metrics.set_etp_counts(await app.admin.count_by_status())
        except Exception:  # a scrape still answers; the gauge keeps its last values
            log.warning("could not count ETPs for /metrics", exc_info=True)
    _pools(app)
    queue = app.queue
    try:  # cheap: no database query, two Redis commands
        if isinstance(queue, ArqDraftQueue):
            async with asyncio.timeout(3):
                depth, oldest = await queue.backlog()
            app.metrics.set_queue("redis", depth, oldest)
        else:
            app.metrics.set_queue("in-process", *queue.backlog())
    except Exception:
        log.warning("could not read the draft queue for /metrics", exc_info=True)
    return Response(app.metrics.render(), media_type=CONTENT_TYPE_LATEST)


def _pools(app: App) -> None:
    pool: Any = app.engine.pool
    if hasattr(pool, "checkedout"):
        # checked in + out: the connections open now (QueuePool; SQLite's may be a NullPool)
        size = pool.checkedin() + pool.checkedout() if hasattr(pool, "checkedin") else 0
        app.metrics.set_pool("sqlalchemy", pool.checkedout(), size)
    # the PostgreSQL conversation store's asyncpg pool (storage/pgstore.FairPool)
    raw = getattr(getattr(app.service.store, "pool", None), "pool", None)
    if raw is not None and hasattr(raw, "get_idle_size"):
        app.metrics.set_pool("store", raw.get_size() - raw.get_idle_size(), raw.get_size())
