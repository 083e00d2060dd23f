"""Running the long-lived commands: the embedded draft worker and the channels' notifiers."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Awaitable

from etp.container import App

log = logging.getLogger(__name__)


def register_notifiers(app: App) -> None:
    """Let a process that only runs draft jobs deliver them through every configured channel."""
    if app.settings.telegram.telegram_bot_token is not None:
        from bot.telegram import build_telegram

        build_telegram(app)
    if app.settings.slack.enabled:
        from bot.slack.app import build_slack

        build_slack(app)


async def run_with_jobs(app: App, main: Awaitable[None], *, worker: bool) -> None:
    """Run `main`; with REDIS_URL and `worker`, also run draft jobs here until `main` ends.

    Start-up objects are frozen first: full collections then skip the ~200k objects aiogram and
    pydantic create at import (PERFORMANCE.md: the bare bot's p99 from 150 to under 40 ms).
    """
    gc.collect()
    gc.freeze()
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
