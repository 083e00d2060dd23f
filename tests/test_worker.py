"""Draft jobs through the real Redis queue (arq): any worker runs them, a resubmission is a no-op."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import uuid
from pathlib import Path

import pytest

from conversations.drafting import OfflineDrafter
from conversations.events import Inbound
from conversations.service import InProcessDraftQueue
from etp.container import build_app
from etp.settings import RedisSettings
from storage.jobs import ArqDraftQueue, build_worker
from tests.conftest import REDIS_TEST_URL
from tests.helpers import GOOD_ANSWERS, make_app, make_chat, override, settings_for
from tests.test_redis import _need_redis

JOB = OfflineDrafter(inline=False)


async def test_a_separate_worker_drafts_and_notifies(sqlite_url: str) -> None:
    _need_redis()
    settings = settings_for(sqlite_url)
    override(settings, redis=RedisSettings(redis_url=REDIS_TEST_URL))
    queue_name = f"etp:test:{uuid.uuid4().hex}"
    # an offline drafter that runs as a job, as an LLM drafter does
    web = await build_app(settings, drafter=JOB, migrate=False, queue_name=queue_name)
    worker_app = await build_app(settings, drafter=JOB, migrate=False, queue_name=queue_name)
    try:
        assert isinstance(web.queue, ArqDraftQueue)
        chat = make_chat(web)
        await chat.identify()
        for answer in GOOD_ANSWERS[1]:
            await chat.say(answer)
        assert "Redigindo a minuta da seção 1 — " in chat.last_text()
        await chat.say("/aceitar")
        assert "ainda está sendo redigida" in chat.last_text()  # no worker has run yet
        # coming back (/start) resubmits the same job id: the queue keeps one job
        await chat.send(Inbound(chat.address, chat.author, "start"))
        assert "Redigindo a minuta da seção 1 — " in chat.last_text()

        delivered = make_chat(worker_app)  # the worker process delivers through its notifiers
        done = await build_worker(
            REDIS_TEST_URL, worker_app.service.run_draft, queue_name=queue_name, burst=True
        ).run_check()
        assert done == 1
        draft = delivered.last_text()
        assert "Minuta:" in draft and GOOD_ANSWERS[1][0][1:] in draft  # lower case after its label
        await chat.say("/aceitar")
        assert chat.last_text().startswith("Seção 2 de 13")
    finally:
        await web.close()
        await worker_app.close()


async def test_console_keeps_drafts_in_process_even_with_redis(sqlite_url: str) -> None:
    settings = settings_for(sqlite_url)
    override(settings, redis=RedisSettings(redis_url=REDIS_TEST_URL))
    _need_redis()
    app = await build_app(settings, migrate=False, in_process_drafts=True)
    try:
        assert isinstance(app.queue, InProcessDraftQueue)
    finally:
        await app.close()


async def test_redis_down_at_submit_runs_the_draft_in_process(
    sqlite_url: str, unused_tcp_port: int
) -> None:
    from arq.connections import ArqRedis

    app = await make_app(sqlite_url, drafter=JOB)
    dead = ArqDraftQueue(ArqRedis.from_url(f"redis://127.0.0.1:{unused_tcp_port}/0"))
    dead.bind(app.service.run_draft)
    app.service.queue = dead
    app.queue = dead
    try:
        chat = make_chat(app)
        await chat.identify()
        await chat.answer_section(1, accept=False)
        assert "Minuta:" in chat.last_text()  # the draft arrived although Redis was down
    finally:
        await app.close()


async def test_a_finished_job_id_can_run_again_for_a_new_database(
    sqlite_template: object, tmp_path: object
) -> None:
    # a recreated database reuses ETP ids, hence job ids: a finished job must not block them
    import shutil
    from pathlib import Path

    _need_redis()
    queue_name = f"etp:test:{uuid.uuid4().hex}"
    for round_ in range(2):
        path = Path(str(tmp_path)) / f"round{round_}.db"
        shutil.copy(str(sqlite_template), path)
        settings = settings_for(f"sqlite+aiosqlite:///{path}")
        override(settings, redis=RedisSettings(redis_url=REDIS_TEST_URL))
        app = await build_app(settings, drafter=JOB, migrate=False, queue_name=queue_name)
        try:
            chat = make_chat(app)
            await chat.identify()
            await chat.answer_section(1, accept=False)
            done = await build_worker(
                REDIS_TEST_URL, app.service.run_draft, queue_name=queue_name, burst=True
            ).run_check()
            assert done == 1, f"round {round_}"
            assert "Minuta:" in chat.last_text()
        finally:
            await app.close()


async def test_a_job_given_up_by_arq_is_recorded_without_a_serialisation_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # arq stores why it gave a job up (JobExecutionFailed) with our JSON serializer: that
    # failed ("error serializing result"), noise in every such case
    from arq.connections import ArqRedis
    from arq.constants import retry_key_prefix

    from storage.jobs import JOB_NAME, MAX_TRIES

    _need_redis()
    queue_name = f"etp:test:{uuid.uuid4().hex}"
    queue = await ArqDraftQueue.connect(REDIS_TEST_URL, queue_name=queue_name)
    pool: ArqRedis = queue.pool
    try:
        job_id = f"{queue_name}:draft-1-1-1"
        await pool.enqueue_job(JOB_NAME, {}, _job_id=job_id, _queue_name=queue_name)
        await pool.set(retry_key_prefix + job_id, MAX_TRIES)  # every try already used

        async def never(_: object) -> None:
            raise AssertionError("a job past its tries must not run")

        with caplog.at_level(logging.WARNING, logger="arq"):
            await build_worker(REDIS_TEST_URL, never, queue_name=queue_name, burst=True).main()
        assert "retries" in caplog.text and "exceeded" in caplog.text
        assert "error serializing result" not in caplog.text
    finally:
        await queue.close()


# --- stopping a long-running command ------------------------------------------------------

_STOPPED_BY_SIGTERM = """
import asyncio, os, signal
from etp.container import build_app
from etp.runtime import run_with_jobs
from etp.settings import load_settings

async def main() -> None:
    app = await build_app(load_settings())
    delivered = []

    async def reply() -> None:  # a reply still on its way when SIGTERM arrives
        await asyncio.sleep(0.3)
        delivered.append("reply")

    leaving = asyncio.create_task(reply())

    async def drain() -> None:  # as a channel's closer waits for its replies
        await leaving

    app.closers.append(drain)

    async def serving() -> None:  # a channel with no stop of its own (etp slack's)
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.Event().wait()

    try:
        await run_with_jobs(app, serving(), worker=False)
    finally:
        await app.close()
    print(*delivered, "closed")

asyncio.run(main())
"""


async def test_sigterm_stops_a_command_through_its_closers(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'etp.db'}"}
    env.pop("REDIS_URL", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _STOPPED_BY_SIGTERM,
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    assert out.decode().split() == ["reply", "closed"]
