"""No draft stays "Redigindo…": whatever dies or blinks while a section is being drafted, the
draft reaches the user once, the database holds it, and the LLM is asked again at most once
(issue #19, items 1, 2 and 7)."""

from __future__ import annotations

import asyncio
import time

from conversations.model import SectionStatus
from tests.fault.conftest import DRAFTED, Deployment, prepare_review, record
from tests.fault.procs import PrivateRedis, until

RESUMED = "havia sido interrompida e foi retomada"  # conversations.catalogue: DRAFT_RESUMED


async def drafted(deployment: Deployment, scenario: str, since: float, seconds: float = 90) -> None:
    """Until the user was shown the finished draft (with the processes' logs if not); the time
    since the fault (`since`, monotonic) is recorded."""
    try:
        await until(lambda: deployment.drafts_seen() > 0, seconds=seconds, every=0.05)
    except TimeoutError:
        raise AssertionError(f"no draft reached the user:\n{deployment.logs()}") from None
    record(scenario, time.monotonic() - since)


async def assert_drafted_once(deployment: Deployment) -> None:
    """What the user saw and what the database holds: one draft, nothing left drafting."""
    await asyncio.sleep(1.5)  # a doubled draft would arrive now
    assert deployment.drafts_seen() == 1, deployment.seen()
    etp = await deployment.etp()
    section = etp.section(1)
    assert section.status == SectionStatus.DRAFTED
    assert section.draft == DRAFTED
    assert section.draft_attempt == 2
    assert not [n for n, s in etp.sections.items() if s.status == SectionStatus.DRAFTING]


async def test_kill_9_during_a_draft_without_redis_resumes_it(deployment: Deployment) -> None:
    await prepare_review(deployment.pg)
    deployment.llm.script = ["hang"]  # the first draft never comes back: the process dies
    serve = await deployment.serve()
    assert (await deployment.say("/refazer")).status_code == 200
    await deployment.llm.wait_for_calls(1)
    killed = time.monotonic()
    await serve.kill()
    await deployment.serve()  # restarted: it finds the section stalled and drafts it again
    await drafted(deployment, "kill -9 during a draft, no Redis", killed)
    await assert_drafted_once(deployment)
    assert deployment.llm.calls == 2  # the lost call, and one more
    assert any(RESUMED in text for text in deployment.seen())  # the user is told


async def test_redis_flushed_with_the_job_queued_drafts_on_the_users_next_message(
    deployment: Deployment, redis_server: PrivateRedis
) -> None:
    deployment.redis = redis_server
    # only the user's message finds the stalled draft here (the sweep is tested above)
    deployment.settings["ETP_DRAFT_SWEEP_INTERVAL"] = "3600"
    await prepare_review(deployment.pg)
    await deployment.serve(worker=False)
    assert (await deployment.say("/refazer")).status_code == 200
    await redis_server.flushall()  # the queued job is gone
    await asyncio.sleep(2.5)  # past ETP_DRAFT_STALE_AFTER: nothing shows the job alive
    asked = time.monotonic()
    assert (await deployment.say("/status")).status_code == 200
    assert any(RESUMED in text for text in deployment.seen())  # told at once
    assert deployment.llm.calls == 0
    await deployment.worker()  # (its own sweep at start-up finds the draft claimed: no double)
    await drafted(deployment, "Redis flushed with the job queued (from /status)", asked)
    await assert_drafted_once(deployment)
    assert deployment.llm.calls == 1
    assert any(RESUMED in text for text in deployment.seen())


async def test_worker_kill_9_with_redis_drafts_on_another_worker_with_one_more_call(
    deployment: Deployment, redis_server: PrivateRedis
) -> None:
    deployment.redis = redis_server
    await prepare_review(deployment.pg)
    deployment.llm.script = ["hang"]
    await deployment.serve(worker=False)
    first = await deployment.worker()
    assert (await deployment.say("/refazer")).status_code == 200
    await deployment.llm.wait_for_calls(1)
    killed = time.monotonic()
    await first.kill()
    await deployment.worker()
    # the goal: within 2 minutes of the worker's death
    await drafted(deployment, "worker kill -9 with Redis", killed, seconds=120)
    await assert_drafted_once(deployment)
    assert deployment.llm.calls == 2  # at most one extra LLM call


async def test_worker_sigterm_exits_cleanly_and_hands_its_job_back(
    deployment: Deployment, redis_server: PrivateRedis
) -> None:
    deployment.redis = redis_server
    await prepare_review(deployment.pg)
    deployment.llm.script = ["hang"]
    await deployment.serve(worker=False)
    first = await deployment.worker()
    assert (await deployment.say("/refazer")).status_code == 200
    await deployment.llm.wait_for_calls(1)
    stopped = time.monotonic()
    code = await first.terminate()
    record("worker SIGTERM: exit", time.monotonic() - stopped)
    assert code == 0, first.log()  # a clean exit, within ETP_WORKER_STOP_GRACE
    assert "Traceback" not in first.log()
    assert "handing 1 running draft job(s) back to the queue" in first.log()
    await deployment.worker()
    await drafted(deployment, "worker SIGTERM: draft", stopped)
    await assert_drafted_once(deployment)
    assert deployment.llm.calls == 2


async def test_database_down_10s_during_a_draft_without_redis(deployment: Deployment) -> None:
    await prepare_review(deployment.pg)
    deployment.llm.delay = 1.0
    await deployment.serve()
    assert (await deployment.say("/refazer")).status_code == 200
    await deployment.llm.wait_for_calls(1)
    deployment.pg.stop()  # the draft comes back while the database is down
    await asyncio.sleep(10)
    deployment.pg.start()
    await drafted(deployment, "database down 10 s, no Redis (from its return)", time.monotonic())
    await assert_drafted_once(deployment)
    assert deployment.llm.calls == 1  # the draft was kept, not asked for again


async def test_database_down_30s_during_a_draft_with_redis(
    deployment: Deployment, redis_server: PrivateRedis
) -> None:
    deployment.redis = redis_server
    await prepare_review(deployment.pg)
    deployment.llm.delay = 1.0
    await deployment.serve(worker=False)
    await deployment.worker()
    assert (await deployment.say("/refazer")).status_code == 200
    await deployment.llm.wait_for_calls(1)
    deployment.pg.stop()
    await asyncio.sleep(30)
    deployment.pg.start()
    await drafted(deployment, "database down 30 s, Redis (from its return)", time.monotonic())
    await assert_drafted_once(deployment)
    assert deployment.llm.calls == 1
