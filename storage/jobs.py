"""The draft job queue on Redis (arq): any `etp worker` (or `etp serve`'s embedded one) runs it."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
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


def _dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


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

    async def submit(self, request: DraftRequest) -> None:
        try:
            # the queue name keeps job ids of deployments sharing one Redis apart
            await self.pool.enqueue_job(
                JOB_NAME,
                request_to_json(request),
                _job_id=f"{self.queue_name}:{request.job_id}",
                _queue_name=self.queue_name,
            )
        except (RedisError, OSError):
            log.warning("draft queue unavailable; running %s in-process", request.job_id)
            await self.fallback.submit(request)

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
    try:
        await ctx["run_draft"](request_from_json(payload))
    except StoreUnavailable as exc:
        # the database blinked: run the job again later; the user's answers are already stored
        log.warning("draft job deferred: %s", exc)
        raise Retry(defer=ctx["job_try"] * 2) from exc


def build_worker(
    redis_url: str,
    run_draft: Any,
    *,
    queue_name: str = QUEUE_NAME,
    burst: bool = False,
    max_jobs: int = 10,
) -> Worker:
    """An arq worker that runs draft jobs with `run_draft` (EtpService.run_draft)."""
    return Worker(
        functions=[func(_draft_section, name=JOB_NAME, max_tries=5, timeout=JOB_TIMEOUT)],
        queue_name=queue_name,
        redis_settings=RedisSettings.from_dsn(redis_url),
        ctx={"run_draft": run_draft},
        burst=burst,
        handle_signals=False,
        max_jobs=max_jobs,
        poll_delay=0.2,
        keep_result=0,  # a finished job id may be submitted again (a new database reuses ids)
        job_serializer=_dumps,
        job_deserializer=_loads,
    )
