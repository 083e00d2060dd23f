"""Running the long-lived commands: the embedded draft worker and the channels' notifiers."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from conversations.ports import StoreUnavailable
from etp.container import App
from etp.rendering import ProcessRenderer
from storage.coordination import take_turn
from storage.jobs import ArqDraftQueue, stop_worker

log = logging.getLogger(__name__)

# Python's defaults (700, 10, 10) collect after every 700 new container objects: under load the
# collector ran often, and each pause (a full one walks the conversations and ETPs kept in
# memory, and the prepared statements) was added to every request in flight. Almost everything
# a request allocates is freed by reference counting, not by the collector, so collecting less
# often costs little memory (figures in bench/README.md).
GC_THRESHOLDS = (5_000, 20, 50)


# Event ids claimed longer ago than this are forgotten (EtpService.forget_events), hourly.
EVENT_CLAIMS_KEPT = timedelta(days=2)
PRUNE_EVERY = 3600.0


async def forget_old_events(app: App, *, every: float = PRUNE_EVERY) -> None:
    """Prune old event claims now and every `every` seconds, until cancelled; a database that
    is down is tried again next time."""
    while True:
        try:
            pruned = await app.service.forget_events(EVENT_CLAIMS_KEPT)
        except StoreUnavailable as exc:
            log.warning("old event ids not pruned (database unavailable): %s", exc)
        else:
            if pruned:
                log.info("forgot %d event ids claimed over %s ago", pruned, EVENT_CLAIMS_KEPT)
        await asyncio.sleep(every)


async def resume_stalled_drafts(app: App, *, every: float | None = None) -> None:
    """Now (at start-up) and every `every` seconds (ETP_DRAFT_SWEEP_INTERVAL), until cancelled:
    submit again the drafts whose job was lost (EtpService.resume_stalled). With Redis, one
    process of all sweeps each period; without it, the database gives each stalled draft to
    one sweeper only. A failure is logged and tried again next time."""
    every = every if every is not None else app.settings.recovery.etp_draft_sweep_interval
    queue = app.queue.queue_name if isinstance(app.queue, ArqDraftQueue) else "local"
    while True:
        try:
            if app.redis is None or await take_turn(
                app.redis, f"etp:drafts:sweep:{queue}", every * 0.9
            ):
                resumed = await app.service.resume_stalled()
                if resumed:
                    log.warning("submitted %d stalled draft(s) again", resumed)
        except StoreUnavailable as exc:
            log.warning("stalled drafts not looked for (database unavailable): %s", exc)
        except Exception:
            log.exception("looking for stalled drafts failed")
        await asyncio.sleep(every)


def register_notifiers(app: App) -> None:
    """Let a process that only runs draft jobs deliver them through every configured channel."""
    if app.settings.telegram.telegram_bot_token is not None:
        from bot.telegram import build_telegram

        build_telegram(app)
    if app.settings.slack.enabled:
        from bot.slack.app import build_slack

        build_slack(app)


async def run_with_jobs(
    app: App,
    main: Coroutine[Any, Any, None],
    *,
    worker: bool,
    stop: Callable[[], None] | None = None,
    prune_every: float = PRUNE_EVERY,
) -> None:
    """Run `main`; with REDIS_URL and `worker`, also run draft jobs here until `main` ends.

    Start-up objects are frozen first: full collections then skip the ~200k objects aiogram and
    pydantic create at import, whose walk otherwise lands in the tail latency (bench/README.md).
    Then the collector runs less often (GC_THRESHOLDS). The document workers start now, in the
    background, rather than on the first export (a worker takes about a second to start).

    SIGTERM (how systemd, Docker and Kubernetes stop a service) ends `main` gracefully: `stop()`
    when given (uvicorn: finish the requests in progress), else `main` is cancelled; then this
    returns, and the caller's `finally` closes the App (replies still leaving, the document
    workers, the pools), which a process killed by the signal would never reach. aiogram's
    polling installs its own handler, which stops polling the same way.

    Meanwhile, event ids claimed over EVENT_CLAIMS_KEPT ago are forgotten, hourly, and drafts
    whose job was lost are submitted again (at start-up, then every ETP_DRAFT_SWEEP_INTERVAL).
    The embedded draft worker stops as `etp worker` does (storage.jobs.stop_worker).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    if isinstance(app.service.renderer, ProcessRenderer):
        app.service.renderer.start()
    url = app.settings.redis.redis_url
    jobs = None
    # no queue when Redis was down at start (build_app): the drafts run in-process then
    if worker and url and isinstance(app.queue, ArqDraftQueue):
        from storage.jobs import build_worker

        try:
            jobs = build_worker(
                url, app.service.run_draft, lease=app.settings.recovery.etp_draft_stale_after
            )
        except BaseException:
            main.close()  # never started
            raise
    running = asyncio.ensure_future(main)
    stopping = False

    def terminate() -> None:
        nonlocal stopping
        stopping = True
        (stop or running.cancel)()  # a second SIGTERM finds it stopping: nothing more

    # a loop handler runs between callbacks, never inside one; it stays for App.close
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, terminate)
    jobs_task = None if jobs is None else asyncio.create_task(jobs.async_run(), name="draft-worker")
    pruning = asyncio.create_task(forget_old_events(app, every=prune_every), name="prune-events")
    sweeping = asyncio.create_task(resume_stalled_drafts(app), name="resume-drafts")
    try:
        await running
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if not stopping or (current is not None and current.cancelling()):
            raise  # cancelled from outside, not stopped by SIGTERM
    finally:
        for task in (pruning, sweeping):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if jobs_task is not None and jobs is not None:
            await stop_worker(jobs, app.settings.recovery.etp_worker_stop_grace)
            jobs_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await jobs_task
