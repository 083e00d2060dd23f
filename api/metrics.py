"""GET /metrics: Prometheus text format from the App's own registry."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from api.deps import EtpApp

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


@router.get("/metrics", response_class=Response)
async def metrics(app: EtpApp) -> Response:
    """Counters and histograms of this process; ETPs by status are counted now."""
    try:
        async with asyncio.timeout(3):
            app.metrics.set_etp_counts(await app.admin.count_by_status())
    except Exception:  # a scrape still answers; the gauge keeps its last values
        log.warning("could not count ETPs for /metrics", exc_info=True)
    return Response(app.metrics.render(), media_type=CONTENT_TYPE_LATEST)
