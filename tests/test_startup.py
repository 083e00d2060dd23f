"""The start of the long-running commands: a schema behind the migration head stops them unless
told otherwise; Redis down at start degrades to in-process drafts instead of exiting."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import httpx

from conversations.service import InProcessDraftQueue
from etp.container import build_app
from etp.settings import RedisSettings
from tests.helpers import CollectingNotifier, SlowDrafter, make_chat, override, settings_for
from tests.test_check import ETP_BIN, environment, etp

REDIS_URL = os.environ.get("ETP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def test_commands_refuse_a_database_behind_the_migration_head(
    tmp_path: Path, empty_pg: str
) -> None:
    code, _, err = await etp(tmp_path, "serve", "--port", "1", DATABASE_URL=empty_pg)
    assert code == 1
    assert "database: schema never migrated" in err and "run `etp db upgrade`" in err
    assert "ETP_ALLOW_SCHEMA_BEHIND" in err and "Traceback" not in err
    # told otherwise, it starts (a worker that stops once the queue is empty)
    code, _, err = await etp(
        tmp_path,
        "worker",
        "--burst",
        DATABASE_URL=empty_pg,
        REDIS_URL=REDIS_URL,
        ETP_ALLOW_SCHEMA_BEHIND="true",
    )
    assert code == 0, err
    assert "starting anyway (ETP_ALLOW_SCHEMA_BEHIND)" in err


def _dead_redis() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"  # nothing listens there any more


async def test_redis_down_at_start_drafts_in_process(sqlite_url: str) -> None:
    settings = settings_for(sqlite_url)
    override(settings, redis=RedisSettings(redis_url=_dead_redis()))
    # before: arq's connection error ended build_app, and with it the command
    app = await build_app(settings, drafter=SlowDrafter(0.01), migrate=False)
    try:
        assert isinstance(app.queue, InProcessDraftQueue)
        chat = make_chat(app)
        app.notifier.register("test", CollectingNotifier([chat]))
        await chat.identify()
        await chat.answer_section(1, accept=False)
        assert "Minuta lenta da seção 1." in "\n".join(chat.texts())
    finally:
        await app.close()


async def test_serve_starts_and_answers_with_redis_down(sqlite_url: str, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        str(ETP_BIN),
        "serve",
        "--port",
        str(port),
        cwd=tmp_path,
        env=environment(DATABASE_URL=sqlite_url, REDIS_URL=_dead_redis(), LLM_PROVIDER="offline"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            async with asyncio.timeout(90):
                while True:
                    assert process.returncode is None, "etp serve exited"
                    try:
                        health = await client.get("/health")
                        break
                    except httpx.TransportError:
                        await asyncio.sleep(0.2)
            ready = await client.get("/health/ready")
        process.terminate()
        _, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert health.status_code == 200
    assert ready.status_code == 503 and ready.json()["redis"] == "error"
    assert ready.json()["problems"][0].startswith("redis: ")
    assert process.returncode == 0
    assert "Redis unreachable at start" in err.decode()


async def test_worker_with_redis_down_says_so_and_exits_1(sqlite_url: str, tmp_path: Path) -> None:
    code, _, err = await etp(tmp_path, "worker", DATABASE_URL=sqlite_url, REDIS_URL=_dead_redis())
    assert code == 1
    assert "etp worker: Redis unreachable at redis://127.0.0.1:" in err
    assert "Traceback" not in err
