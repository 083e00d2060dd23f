"""Real processes for the tests: `etp` commands, a private PostgreSQL cluster and a private
redis-server that a test may stop, kill or flush without touching the shared services.

`environment()` builds an `etp` command's environment (the one place that does: tests/test_check
uses it too): the developer's own settings are dropped, the test's are set. The private servers
run as subprocesses on free ports, in the test's temporary directory, and stop with the fixture.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ETP_BIN = Path(sys.executable).with_name("etp")
ROOT = Path(__file__).resolve().parents[2]

# every variable an `etp` command reads that a test may set; the rest of the environment stays
# (and no .env: the commands run in a temporary directory)
VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "LLM_PROVIDER",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_MODEL",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_API_URL",
    "TELEGRAM_WEBHOOK_SECRET",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "SLACK_CLIENT_ID",
    "SLACK_CLIENT_SECRET",
    "ETP_ALLOWED_TELEGRAM_IDS",
    "ETP_ALLOWED_SLACK_TEAMS",
    "ETP_OPEN_ACCESS",
    "ETP_ENV",
    "ETP_LOG_LEVEL",
    "ETP_ALLOW_SCHEMA_BEHIND",
    "ETP_API_DOCS",
    "ETP_METRICS_TOKEN",
    "ETP_ENCRYPTION_KEYS",
    "ETP_INSECURE_TELEGRAM_WEBHOOK",
    "SENTRY_DSN",
    "ETP_DRAFT_STALE_AFTER",
    "ETP_DRAFT_SWEEP_INTERVAL",
    "ETP_STORE_RETRY_FOR",
    "ETP_WORKER_STOP_GRACE",
)


def environment(**values: str) -> dict[str, str]:
    """The environment of an `etp` command: this one without the variables above, plus `values`."""
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    return {**env, "PYTHONPATH": str(ROOT), **values}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def until(
    condition: Callable[[], Any], *, seconds: float = 60, every: float = 0.1, what: str = ""
) -> None:
    """Wait until `condition()` (sync or async) is true; a safety bound, not a timed assert."""
    async with asyncio.timeout(seconds):
        while True:
            result = condition()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            await asyncio.sleep(every)


@dataclass
class EtpProcess:
    """One `etp …` command in the background; its output goes to a log file (never a pipe that
    nobody reads, which would stall it)."""

    args: tuple[str, ...]
    env: dict[str, str]
    cwd: Path
    name: str = "etp"
    process: asyncio.subprocess.Process | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.cwd / f"{self.name}-{time.monotonic_ns()}.log"

    async def start(self) -> EtpProcess:
        with self.log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                str(ETP_BIN),
                *self.args,
                cwd=self.cwd,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: a kill reaches its render workers too
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def kill(self) -> None:
        """kill -9, the process and its children."""
        if self.alive():
            with _no_such_process():
                os.killpg(self.pid, signal.SIGKILL)
            assert self.process is not None
            await self.process.wait()

    async def terminate(self, seconds: float = 60) -> int:
        """SIGTERM to the process alone (as systemd's KillMode=mixed does first); its exit code."""
        assert self.process is not None
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), seconds)
        finally:
            await self.kill()

    async def stop(self) -> None:
        if self.alive():
            await self.terminate(30)


class _no_such_process:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, *_: object) -> bool:
        return kind is ProcessLookupError


async def wait_http(url: str, process: EtpProcess, seconds: float = 60) -> None:
    """Until `url` answers (the server started), or fail with the process's log if it died."""
    async with httpx.AsyncClient(timeout=2) as client:

        async def up() -> bool:
            if not process.alive():
                raise AssertionError(f"{process.name} exited:\n{process.log()}")
            try:
                await client.get(url)
            except httpx.HTTPError:
                return False
            return True

        await until(up, seconds=seconds, every=0.2)


# --- a private PostgreSQL cluster ------------------------------------------------------------


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise FileNotFoundError("initdb (PostgreSQL's server binaries) is not installed")
    return Path(initdb).parent


def _as_postgres(args: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its binaries as the postgres account then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


class PrivatePostgres:
    """A throwaway cluster (initdb, trust auth) on a free port: stopped and started at will."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.bin = _pg_bin()
        self.database = "etp"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *args: str) -> None:
        subprocess.run(
            _as_postgres([str(self.bin / args[0]), *args[1:]]),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd="/",
        )

    def init(self) -> PrivatePostgres:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        self._run(
            "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", self.database
        )
        return self

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w",
            "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """fast: sessions are ended (their statements fail), as on a service stop."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def destroy(self) -> None:
        if self.running():
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


# --- a private redis-server ------------------------------------------------------------------


class PrivateRedis:
    """redis-server on a free port, no persistence: flushed or killed at will."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        options = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), *options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    async def flushall(self) -> None:
        from redis.asyncio import Redis

        client = Redis.from_url(self.url)
        try:
            await client.flushall()
        finally:
            await client.aclose()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
