"""The draft job queue on Redis (arq): any `etp worker` (or `etp serve`'s embedded one) runs it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.constants import in_progress_key_prefix
from arq.worker import Retry, Worker, func
from redis.exceptions import RedisError

from conversations.events import Address
from conversations.ports import DraftRequest, StoreUnavailable
from conversations.service import InProcessDraftQueue

log = logging.getLogger(__name__)

QUEUE_NAME = "etp:drafts"
# Seconds a draft job may run before arq cancels it; LLM_DRAFT_DEADLINE (at most 240) keeps a
# draft, its fallback included, well inside it.
JOB_TIMEOUT = 300
JOB_NAME = "draft_section"
# Tries of one job: a worker that died mid-job costs one, a database down past
# ETP_STORE_RETRY_FOR another (the sweep submits a job given up on again, later)
MAX_TRIES = 8


async def stop_worker(worker: Worker, grace: float) -> None:
    """Stop `worker` as SIGTERM should: it takes no new job, the running ones have `grace`
    seconds to finish, and those still running are cancelled, which hands them back to the
    queue (arq deletes their in-progress key and keeps the job) for the next worker."""
    worker.allow_pick_jobs = False
    running = [t for t in worker.tasks.values() if not t.done()]
    if running and grace > 0:
        await asyncio.wait(running, timeout=grace)
    left = sum(not t.done() for t in worker.tasks.values())
    if left:
        log.warning("handing %d running draft job(s) back to the queue", left)
    await worker.close()  # cancels what is left and waits for arq to hand it back


def _dumps(value: Any) -> bytes:
    # arq stores a failed job's exception in its result (JobExecutionFailed when a job is
    # given up): JSON has no such value, so it is kept as its text
    return json.dumps(value, default=_as_text).encode()


def _as_text(value: Any) -> str:
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _loads(raw: bytes) -> Any:
    return json.loads(raw)


def request_to_json(request: DraftRequest) -> dict[str, Any]:
    a = request.address
    return {
        "etp_id": request.etp_id,
        "section": request.section,
        "attempt": request.attempt,
        "requested_by": request.requested_by,
        "instruction": request.instruction,
        "requester": request.requester,
        "address": {
            "channel": a.channel,
            "chat_id": a.chat_id,
            "thread_id": a.thread_id,
            "shared": a.shared,
        },
    }


def request_from_json(data: dict[str, Any]) -> DraftRequest:
    return DraftRequest(
        etp_id=int(data["etp_id"]),
        section=int(data["section"]),
        attempt=int(data["attempt"]),
        address=Address(**data["address"]),
        requested_by=str(data.get("requested_by", "")),
        instruction=str(data.get("instruction", "")),
        requester=str(data.get("requester", "")),
    )


class ArqDraftQueue:
    """DraftQueue port on arq; the job id makes a resubmitted request a no-op.

    If Redis cannot take the job, it runs in this process instead (Redis only accelerates).
    """

    def __init__(self, pool: ArqRedis, *, queue_name: str = QUEUE_NAME) -> None:
        self.pool = pool
        self.queue_name = queue_name
        self.fallback = InProcessDraftQueue()

    def bind(self, runner: Callable[[DraftRequest], Coroutine[Any, Any, None]]) -> None:
        self.fallback.bind(runner)

    @classmethod
    async def connect(cls, redis_url: str, *, queue_name: str = QUEUE_NAME) -> ArqDraftQueue:
        pool = await create_pool(
            RedisSettings.from_dsn(redis_url),
            job_serializer=_dumps,
            job_deserializer=_loads,
            default_queue_name=queue_name,
        )
        return cls(pool, queue_name=queue_name)

    async def submit(self, request: DraftRequest) -> bool:
        try:
            # the queue name keeps job ids of deployments sharing one Redis apart; arq refuses
            # (None) a job id it still holds, queued or running
            job = await self.pool.enqueue_job(
                JOB_NAME,
                request_to_json(request),
                _job_id=f"{self.queue_name}:{request.job_id}",
                _queue_name=self.queue_name,
            )
        except (RedisError, OSError):
            log.warning("draft queue unavailable; running %s in-process", request.job_id)
            return await self.fallback.submit(request)
        return job is not None

    async def backlog(self) -> tuple[int, float]:
        """Jobs on the queue (waiting, or running in a worker) and the seconds since the oldest
        was due; with the fallback's jobs running here."""
        depth, age = self.fallback.backlog()
        oldest = await self.pool.zrange(self.queue_name, 0, 0, withscores=True)
        if oldest:
            due = float(oldest[0][1]) / 1000  # arq scores a job by when it may run, in ms
            age = max(age, time.time() - due)
        return depth + int(await self.pool.zcard(self.queue_name)), max(age, 0.0)

    async def drain(self) -> None:
        """Jobs run in workers; only the in-process fallback jobs are waited for."""
        await self.fallback.drain()

    async def close(self) -> None:
        try:
            await self.pool.aclose()
        except (RedisError, OSError):
            log.warning("draft queue connection did not close cleanly")


async def _draft_section(ctx: dict[str, Any], payload: dict[str, Any]) -> None:
    holding = asyncio.create_task(_hold(ctx["redis"], ctx["job_id"], ctx["lease"]))
    try:
        await ctx["run_draft"](request_from_json(payload))
    except StoreUnavailable as exc:
        # run_draft retries the database itself; should it still fail, run the job later
        log.warning("draft job deferred: %s", exc)
        raise Retry(defer=min(ctx["job_try"] * 5, 60)) from exc
    finally:
        holding.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await holding


async def _hold(redis: ArqRedis, job_id: str, lease: float) -> None:
    """Keep arq's in-progress key of a running job alive `lease` seconds at a time.

    arq sets that key for the job's whole timeout plus 10 s (310 s here): a worker killed
    outright kept its job from every other worker for five minutes. Renewed every third of
    `lease` instead, the key outlives a dead worker by `lease` at most; then the job, still on
    the queue, is run by the next worker that polls (its second try). The key is only renewed
    while it exists: arq deletes it when the job ends.
    """
    key = in_progress_key_prefix + job_id
    while True:
        try:
            if not await redis.pexpire(key, int(lease * 1000)):
                return
        except (RedisError, OSError):
            log.warning("could not renew the lease of draft job %s", job_id)
        await asyncio.sleep(lease / 3)


def build_worker(
    redis_url: str,
    run_draft: Any,
    *,
    queue_name: str = QUEUE_NAME,
    burst: bool = False,
    max_jobs: int = 10,
    lease: float = 30.0,
) -> Worker:
    """An arq worker that runs draft jobs with `run_draft` (EtpService.run_draft); a job whose
    worker died is run by another one `lease` seconds later at most (ETP_DRAFT_STALE_AFTER)."""
    return Worker(
        functions=[func(_draft_section, name=JOB_NAME, max_tries=MAX_TRIES, timeout=JOB_TIMEOUT)],
        queue_name=queue_name,
        redis_settings=RedisSettings.from_dsn(redis_url),
        ctx={"run_draft": run_draft, "lease": lease},
        burst=burst,
        handle_signals=False,
        max_jobs=max_jobs,
        poll_delay=0.2,
        keep_result=0,  # a finished job id may be submitted again (a new database reuses ids)
        job_serializer=_dumps,
        job_deserializer=_loads,
    )
