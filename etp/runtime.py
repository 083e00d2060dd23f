"""Running the long-lived commands: the embedded draft worker and the channels' notifiers."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Awaitable
from types import FrameType

from etp.container import App
from etp.rendering import ProcessRenderer

log = logging.getLogger(__name__)

# Python's defaults (700, 10, 10) collect after every 700 new container objects: under load
# `etp serve` ran a young collection every few milliseconds, a middle one (~4 ms) every ~70 ms
# and a full one (~15 ms: the conversations and ETPs kept in memory, the prepared statements)
# every ~0.7 s, each pause added to every request in flight: 10 % of the server's time.
# Almost everything a request allocates is freed by reference counting, not by the collector,
# so collecting less often costs little memory; with these, the collector took half the time
# and a full collection no longer ran during the benchmark's load (bench/README.md).
GC_THRESHOLDS = (5_000, 20, 50)


def register_notifiers(app: App) -> None:
    """Let a process that only runs draft jobs deliver them through every configured channel."""
    if app.settings.telegram.telegram_bot_token is not None:
        from bot.telegram import build_telegram

        build_telegram(app)
    if app.settings.slack.enabled:
        from bot.slack.app import build_slack

        build_slack(app)


def _terminate(signum: int, frame: FrameType | None) -> None:
    """SIGTERM (how systemd, Docker and Kubernetes stop a service) ends the command through its
    `finally` blocks, so that App.close runs: replies still leaving, the document workers, the
    pools. uvicorn takes SIGTERM while it serves and, once it has stopped, raises it again with
    the handler it found, this one; with the default one the process died there, App.close
    never ran and the document workers were left behind. aiogram's polling installs its own."""
    raise SystemExit(0)


async def run_with_jobs(app: App, main: Awaitable[None], *, worker: bool) -> None:
    """Run `main`; with REDIS_URL and `worker`, also run draft jobs here until `main` ends.

    Start-up objects are frozen first: full collections then skip the ~200k objects aiogram and
    pydantic create at import (PERFORMANCE.md: the bare bot's p99 from 150 to under 40 ms).
    Then the collector runs less often (GC_THRESHOLDS). The document workers start now, in the
    background, rather than on the first export (a worker takes about a second to start).
    """
    signal.signal(signal.SIGTERM, _terminate)
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    if isinstance(app.service.renderer, ProcessRenderer):
        app.service.renderer.start()
    url = app.settings.redis.redis_url
    if not (worker and url):
        await main
        return
    from storage.jobs import build_worker

    jobs = build_worker(url, app.service.run_draft)
    task = asyncio.create_task(jobs.async_run(), name="draft-worker")
    try:
        await main
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await jobs.close()
