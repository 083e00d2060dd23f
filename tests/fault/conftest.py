"""Fixtures of the fault-injection suite (`pytest -m fault`): real `etp` processes against a
private PostgreSQL and a private Redis that the tests stop, kill and flush, the local Bot API
and OpenAI-compatible doubles, and a user who talks to them through the Telegram webhook.

Recovery is made quick with short settings (a draft is taken for lost after 2 s without a sign
of life, swept every second); the tests wait with generous bounds and never assert a duration:
the recovery times in docs/reliability.md were measured apart.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from conversations.drafting import OfflineDrafter
from conversations.model import Etp
from etp.container import build_app
from storage.migrate import upgrade
from tests.conftest import _truncate
from tests.fake_openai import FakeOpenAI
from tests.fault.procs import (
    EtpProcess,
    PrivatePostgres,
    PrivateRedis,
    environment,
    free_port,
    until,
    wait_http,
)
from tests.helpers import load_etp, make_chat, settings_for
from tests.telegram_api import TOKEN, FakeBotApi, Updates

# Set to a file, each scenario appends the recovery time it saw (docs/reliability.md's figures);
# ETP_FAULT_DEFAULT_RECOVERY=1 keeps the default recovery settings instead of the short ones.
TIMINGS = os.environ.get("ETP_FAULT_TIMINGS")
DEFAULT_RECOVERY = os.environ.get("ETP_FAULT_DEFAULT_RECOVERY") == "1"
SHORT_RECOVERY = {
    "ETP_DRAFT_STALE_AFTER": "2",
    "ETP_DRAFT_SWEEP_INTERVAL": "1",
    "ETP_WORKER_STOP_GRACE": "1",
}

SECRET = "fault-hook-secret-7d2e"
USER = 5001  # the Telegram user (and private chat) of every scenario
DRAFTED = "Texto redigido pelo modelo."  # what the LLM double writes

FAULT_DIR = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here is marked `fault` (run alone with `pytest -m fault`)."""
    for item in items:
        if FAULT_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.fault)


@pytest.fixture(scope="session")
def private_pg() -> Iterator[PrivatePostgres]:
    """One private cluster for the suite (initdb costs seconds), migrated once."""
    # not under pytest's root-only temporary directory: the postgres account must reach it
    root = Path(tempfile.mkdtemp(prefix="etp-fault-pg-"))
    os.chmod(root, 0o755)
    server = PrivatePostgres(root / "cluster").init()
    try:
        upgrade(server.url)
        yield server
    finally:
        server.destroy()
        import shutil

        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def pg(private_pg: PrivatePostgres) -> PrivatePostgres:
    """The private cluster, running (a test may have left it stopped), with empty tables."""
    if not private_pg.running():
        private_pg.start()
    await _truncate(private_pg.url)
    return private_pg


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    server = PrivateRedis().start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
async def llm() -> AsyncIterator[FakeOpenAI]:
    server = await FakeOpenAI(reply=DRAFTED).start()
    yield server
    await server.stop()


@pytest.fixture
async def bot_api() -> AsyncIterator[FakeBotApi]:
    server = FakeBotApi()
    await server.start()
    yield server
    await server.stop()


@dataclass
class Deployment:
    """ETP Express as deployed: processes started from the test's environment, a Telegram
    user talking to `etp serve`'s webhook, and what that user saw."""

    tmp_path: Path
    pg: PrivatePostgres
    llm: FakeOpenAI
    bot_api: FakeBotApi
    redis: PrivateRedis | None = None
    settings: dict[str, str] = field(default_factory=dict)
    processes: list[EtpProcess] = field(default_factory=list)
    updates: Updates = field(default_factory=Updates)
    answers: list[httpx.Response] = field(default_factory=list)
    port: int = 0

    def env(self, **extra: str) -> dict[str, str]:
        values = {
            "DATABASE_URL": self.pg.url,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": self.bot_api.url,
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "ETP_ALLOWED_TELEGRAM_IDS": str(USER),
            "LLM_PROVIDER": "openai",
            "OPENAI_API_KEY": "sk-fault-test",
            "OPENAI_BASE_URL": self.llm.url,
            "LLM_REQUEST_TIMEOUT": "60",
            "LLM_ATTEMPTS": "1",
            "ETP_RENDER_PROCESSES": "0",
            "ETP_LOG_LEVEL": "INFO",
            **({} if DEFAULT_RECOVERY else SHORT_RECOVERY),
            **self.settings,
            **extra,
        }
        if self.redis is not None:
            values["REDIS_URL"] = self.redis.url
        return environment(**values)

    async def start(self, *args: str, name: str = "etp", **extra: str) -> EtpProcess:
        process = await EtpProcess(args, self.env(**extra), self.tmp_path, name).start()
        self.processes.append(process)
        return process

    async def serve(self, *, worker: bool = True, **extra: str) -> EtpProcess:
        """`etp serve` on this deployment's port (kept across restarts), ready to answer."""
        self.port = self.port or free_port()
        args = ["serve", "--port", str(self.port)]
        if not worker:
            args.append("--no-worker")
        process = await self.start(*args, name="serve", **extra)
        await wait_http(f"{self.base}/health", process)
        return process

    async def worker(self, **extra: str) -> EtpProcess:
        process = await self.start("worker", name="worker", **extra)
        await until(lambda: "Starting worker" in process.log(), what="worker started")
        return process

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def post(self, update: dict[str, Any]) -> httpx.Response:
        """Telegram's delivery of one update; the call in the answer is made, as Telegram does."""
        async with httpx.AsyncClient(base_url=self.base, timeout=120) as client:
            response = await client.post(
                "/telegram/webhook",
                content=json.dumps(update),
                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
            )
        self.answers.append(response)
        if response.status_code == 200:
            await self.bot_api.webhook_answer(response.json())
        return response

    async def say(self, text: str) -> httpx.Response:
        return await self.post(self.updates.message(text, chat_id=USER, user_id=USER))

    def seen(self) -> list[str]:
        """Every text the user was shown: messages, edits, answers, in order."""
        return [
            c.text
            for c in self.bot_api.calls
            if c.status == 200 and c.method in ("sendMessage", "editMessageText") and c.text
        ]

    def drafts_seen(self) -> int:
        """How many times the user was shown the finished draft (once, in a message or the
        edit of its "Redigindo…" message)."""
        return sum(1 for text in self.seen() if DRAFTED in text and "Minuta:" in text)

    async def etp(self) -> Etp:
        app = await build_app(settings_for(self.pg.url), drafter=OfflineDrafter(), migrate=False)
        try:
            return await load_etp(app, 1)
        finally:
            await app.close()

    async def stop_all(self) -> None:
        for process in self.processes:
            await process.kill()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.log()}" for p in self.processes)


def record(scenario: str, seconds: float) -> None:
    """Note how long a recovery took (never asserted: timings are noisy)."""
    if TIMINGS:
        line = {"scenario": scenario, "seconds": round(seconds, 2), "defaults": DEFAULT_RECOVERY}
        with open(TIMINGS, "a") as out:
            out.write(json.dumps(line) + "\n")


@pytest.fixture
async def deployment(
    tmp_path: Path, pg: PrivatePostgres, llm: FakeOpenAI, bot_api: FakeBotApi
) -> AsyncIterator[Deployment]:
    deployed = Deployment(tmp_path, pg, llm, bot_api)
    try:
        yield deployed
    finally:
        await deployed.stop_all()


async def prepare_review(pg: PrivatePostgres) -> None:
    """The user's ETP nº 1, identified and with section 1 answered and drafted (offline, in
    this process): the next /refazer asks the deployment's LLM for a new draft."""
    app = await build_app(settings_for(pg.url), drafter=OfflineDrafter(), migrate=False)
    try:
        chat = make_chat(
            app, channel="telegram", chat_id=str(USER), user_id=str(USER), name="Maria Silva"
        )
        await chat.identify()
        await chat.answer_section(1, accept=False)
        assert "Minuta:" in chat.last_text()
    finally:
        await app.close()
