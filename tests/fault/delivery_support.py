"""What the delivery fault scenarios need: real `etp` processes against the local Bot API and
Slack doubles, killed or stopped on cue, and the database read afterwards."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from tests.telegram.helpers import SECRET
from tests.telegram_api import TOKEN, FakeBotApi

ETP_BIN = Path(sys.executable).with_name("etp")
PATIENCE = 60.0  # a safety bound on every wait (never a timed assert)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def etp_env(db_url: str, **settings: str | None) -> dict[str, str]:
    """The environment of an `etp` command on `db_url`, offline drafter, no Redis unless
    `REDIS_URL` is given; `settings`: more variables (None removes one)."""
    env = {**os.environ, "DATABASE_URL": db_url, "LLM_PROVIDER": "offline"}
    env.pop("REDIS_URL", None)
    for name, value in settings.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def telegram_env(db_url: str, bot_api: FakeBotApi, **settings: str | None) -> dict[str, str]:
    return etp_env(
        db_url,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=bot_api.url,
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        TELEGRAM_CHAT_RATE="1000",  # pacing is not what these scenarios are about
        TELEGRAM_BOT_RATE="1000",
        **settings,
    )


async def wait_until(check: Callable[[], Awaitable[bool]], every: float = 0.02) -> None:
    """Until `check()` holds (bounded by PATIENCE, not timed)."""
    async with asyncio.timeout(PATIENCE):
        while not await check():  # noqa: ASYNC110 (a database row, another process)
            await asyncio.sleep(every)


class EtpProcess:
    """One `etp` command in its own process; its output goes to a log file for a failure's
    report."""

    def __init__(self, args: list[str], env: dict[str, str], workdir: Path, name: str) -> None:
        self.args = args
        self.env = env
        self.workdir = workdir
        self.log = workdir / f"{name}.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> EtpProcess:
        out = self.log.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            str(ETP_BIN), *self.args, cwd=self.workdir, env=self.env, stdout=out, stderr=out
        )
        out.close()
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def kill(self) -> None:
        """kill -9: nothing of the process runs after it."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def terminate(self) -> int:
        """SIGTERM, as systemd or Docker stop a service; its exit status."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(PATIENCE):
            return await self.process.wait()

    async def stop(self) -> None:
        """At a test's end, whatever state the process is in."""
        if self.process is None or self.process.returncode is not None:
            return
        try:
            await self.terminate()
        except TimeoutError:
            await self.kill()


async def etp_serve(
    env: dict[str, str], workdir: Path, name: str = "serve"
) -> tuple[EtpProcess, str]:
    """`etp serve` on a free port, once it answers /health; the process and its URL."""
    port = free_port()
    process = await EtpProcess(
        ["serve", "--host", "127.0.0.1", "--port", str(port)], env, workdir, name
    ).start()
    url = f"http://127.0.0.1:{port}"

    async def live() -> bool:
        if process.process is not None and process.process.returncode is not None:
            raise AssertionError(f"etp serve exited:\n{process.output()}")
        try:
            async with httpx.AsyncClient() as client:
                return (await client.get(f"{url}/health")).status_code == 200
        except httpx.HTTPError:
            return False

    await wait_until(live, every=0.1)
    return process, url


class Database:
    """Reads of the scenario's PostgreSQL database (asyncpg, outside the processes under test)."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.connect_args = {
            "host": parsed.host,
            "port": parsed.port or 5432,
            "user": parsed.username,
            "password": parsed.password,
            "database": parsed.database,
        }

    async def rows(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(**self.connect_args)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def value(self, sql: str, *args: Any) -> Any:
        rows = await self.rows(sql, *args)
        return rows[0][0] if rows else None

    async def identifications(self) -> dict[str, dict[str, Any]]:
        """Each ETP's identification by its title."""
        rows = await self.rows("SELECT title, identification, orgao FROM etps ORDER BY id")
        out = {}
        for row in rows:
            ident = row["identification"]
            ident = json.loads(ident) if isinstance(ident, str) else dict(ident or {})
            out[row["title"]] = {**ident, "orgao": row["orgao"]}
        return out


class Stopwatch:
    """A recovery time: from the fault to the moment the user has what they should."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def seconds(self) -> float:
        return time.monotonic() - self.started


def record(scenario: str, seconds: float) -> None:
    """Note how long a recovery took, to ETP_FAULT_TIMINGS when set (docs/reliability.md's
    figures come from such runs; never asserted: timings are noisy)."""
    path = os.environ.get("ETP_FAULT_TIMINGS")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps({"scenario": scenario, "seconds": round(seconds, 2)}) + "\n")
