"""Benchmark: Telegram updates through POST /telegram/webhook, against a bare aiogram echo bot.

    .venv/bin/python bench/telegram_webhook.py [--chats 50] [--rounds 1] [--rate UPDATES_PER_S]

One uvicorn worker per server (`etp serve` itself for ETP Express, with PostgreSQL, Redis and the
offline drafter; bench/echo_bot.py for the baseline). The same load generator drives both:
`--chats` concurrent chats, each posting the same 40 updates one after the other (typed text,
commands and button presses of a real ETP session); replies go to a local Bot API server in
this process (tests/telegram_api.py), which counts what every chat received. ETP Express's
pacing is raised for the run (TELEGRAM_CHAT_RATE, TELEGRAM_BOT_RATE), or it alone would set the
pace.
Everything stays on 127.0.0.1; the load is a fixed number of updates.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import random
import socket
import statistics
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import GOOD_ANSWERS, IDENTIFICATION  # noqa: E402
from tests.telegram_api import TOKEN, Call, FakeBotApi, Updates  # noqa: E402

BIN = Path(sys.executable).parent
SECRET = "bench-secret-7d2e"
PG_ADMIN = os.environ.get("ETP_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ETP_BENCH_REDIS", "redis://127.0.0.1:6379/0")

# --- the script every chat follows ------------------------------------------------------


@dataclass(frozen=True)
class Step:
    text: str
    press: bool = False  # a button press (callback_query) instead of a typed message
    then_wait_draft: bool = False  # the next step needs the draft this one started


def script() -> list[Step]:
    """/start, a new ETP, its identification, sections 1-8 (the tests' answers: section VI's
    price research since issue 15, so 45 updates where there were 40), /status, /exportar."""
    steps = [Step("/start"), Step("/novo Aquisição de papel A4")]
    steps += [Step(line, press=line == "/aceitar") for line in IDENTIFICATION]
    for number in range(1, 9):
        answers = GOOD_ANSWERS[number]
        steps += [Step(a, then_wait_draft=i == len(answers) - 1) for i, a in enumerate(answers)]
        steps.append(Step("/aceitar", press=True))
    steps += [Step("/status"), Step("/exportar md")]
    return steps


# --- the Bot API side: counts per chat --------------------------------------------------


@dataclass
class Inbox:
    messages: Counter[str] = field(default_factory=Counter)
    documents: Counter[str] = field(default_factory=Counter)
    drafts: Counter[str] = field(default_factory=Counter)
    waiters: dict[str, list[tuple[int, asyncio.Future[None]]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def on_call(self, call: Call) -> None:
        if call.status != 200:
            return
        if call.method == "sendMessage":
            self.messages[call.chat_id] += 1
            if "Minuta:" in call.text:
                self.drafts[call.chat_id] += 1
                pending = self.waiters[call.chat_id]
                for wanted, future in list(pending):
                    if self.drafts[call.chat_id] >= wanted and not future.done():
                        future.set_result(None)
                        pending.remove((wanted, future))
        elif call.method == "sendDocument":
            self.documents[call.chat_id] += 1

    async def draft_number(self, chat_id: str, wanted: int) -> None:
        if self.drafts[chat_id] >= wanted:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters[chat_id].append((wanted, future))
        async with asyncio.timeout(60):
            await future


# --- servers ----------------------------------------------------------------------------


def postgres_cpu_seconds() -> float:
    """CPU time of every PostgreSQL process on this machine so far (the server is local)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    total += cpu_seconds(int(entry.name))
            except OSError:  # the process ended meanwhile
                pass
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_ready(url: str, process: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            if process.returncode is not None:
                raise RuntimeError(f"server exited with {process.returncode}")
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} never answered")


def server_env(api_url: str, extra: dict[str, str]) -> dict[str, str]:
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": api_url,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "ETP_LOG_LEVEL": "WARNING",
        **extra,
    }
    return env


async def admin_sql(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def count_processed(database: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN.rsplit("/", 1)[0] + f"/{database}")
    try:
        return int(await conn.fetchval("SELECT count(*) FROM processed_events"))
    finally:
        await conn.close()


# --- load -------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    """The `p`th percentile of latencies in seconds, in milliseconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


@dataclass
class Result:
    name: str
    updates: int
    seconds: float
    latencies: list[float]
    statuses: Counter[int]
    inbox: Inbox
    expected_messages: int
    expected_documents: int
    chat_ids: list[str]
    server_cpu: float = 0.0  # CPU seconds the server spent during the measured load
    db_cpu: float = 0.0  # and PostgreSQL
    by_step: dict[str, list[float]] = field(default_factory=dict)  # latencies per script step
    processed: int | None = None

    @property
    def rate(self) -> float:
        return self.updates / self.seconds

    def pct(self, p: float) -> float:
        return pct(self.latencies, p)

    @property
    def exactly_once(self) -> bool:
        return all(
            self.inbox.messages[c] == self.expected_messages
            and self.inbox.documents[c] == self.expected_documents
            for c in self.chat_ids
        ) and self.statuses == Counter({200: self.updates})


async def drive(
    session: aiohttp.ClientSession,
    url: str,
    chat_id: int,
    updates: Updates,
    steps: list[Step],
    inbox: Inbox,
    api: FakeBotApi,
    *,
    drafts: bool,
    latencies: list[float],
    statuses: Counter[int],
    interval: float = 0.0,
    by_step: dict[str, list[float]] | None = None,
) -> None:
    """One chat: post its updates one after the other, as one person typing; with `interval`,
    one update every `interval` seconds at most (a paced load, from a random phase)."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    who = {"chat_id": chat_id, "user_id": chat_id}
    drafted = 0
    next_at = time.perf_counter() + random.uniform(0, interval)
    for step in steps:
        if interval:
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            next_at += interval
        body = updates.press(step.text, **who) if step.press else updates.message(step.text, **who)
        started = time.perf_counter()
        async with session.post(url, json=body, headers=headers) as response:
            answer = await response.read()
            statuses[response.status] += 1
        latencies.append(time.perf_counter() - started)
        if by_step is not None:
            by_step.setdefault(step.text, []).append(latencies[-1])
        if response.status == 200:  # a Bot API call in the answer is made by "Telegram"
            await api.webhook_answer(json.loads(answer))
        if drafts and step.then_wait_draft:
            drafted += 1
            await inbox.draft_number(str(chat_id), drafted)


async def run_load(
    name: str,
    base: str,
    api: FakeBotApi,
    *,
    chats: int,
    drafts: bool,
    pid: int,
    after: Callable[[], Awaitable[int | None]] | None = None,
    rate: float = 0.0,
) -> Result:
    inbox = Inbox()
    api.on_call = inbox.on_call
    steps = script()
    updates = Updates(start=random.randint(10**6, 10**8))
    url = f"{base}/telegram/webhook"
    base_id = random.randint(10**9, 2 * 10**9)
    connector = aiohttp.TCPConnector(limit=chats + 10)
    async with aiohttp.ClientSession(connector=connector) as session:
        # a reference chat, alone: warms the server up and says what every chat must receive
        warm: list[float] = []
        warm_status: Counter[int] = Counter()
        ref = base_id - 1
        await drive(
            session,
            url,
            ref,
            updates,
            steps,
            inbox,
            api,
            drafts=drafts,
            latencies=warm,
            statuses=warm_status,
        )

        # then the same load from other chats (not measured): the server opens its
        # connections (database pool, Bot API) at full concurrency, and each pooled database
        # connection prepares the statements of a whole session, as in a server that has
        # been running for a while; measured cold, a first run paid that on every connection
        async def all_chats(chat_ids: list[int], **counters: Any) -> None:
            """Every chat of `chat_ids` through the script at once."""
            await asyncio.gather(
                *(
                    drive(session, url, c, updates, steps, inbox, api, drafts=drafts, **counters)
                    for c in chat_ids
                )
            )

        warm_ids = [base_id + 10_000 + i for i in range(chats)]
        await all_chats(warm_ids, latencies=warm, statuses=warm_status)
        await asyncio.sleep(0.5)
        expected_messages = inbox.messages[str(ref)]
        expected_documents = inbox.documents[str(ref)]
        latencies: list[float] = []
        statuses: Counter[int] = Counter()
        by_step: dict[str, list[float]] = {}
        ids = [base_id + i for i in range(chats)]
        # the load generator's own full collections (it keeps every call it recorded) would
        # pause it for up to ~100 ms and count against whichever server happened to be measured
        gc.collect()
        gc.disable()
        cpu_before, db_before = cpu_seconds(pid), postgres_cpu_seconds()
        started = time.perf_counter()
        await all_chats(
            ids,
            latencies=latencies,
            statuses=statuses,
            interval=chats / rate if rate else 0.0,
            by_step=by_step,
        )
        seconds = time.perf_counter() - started
        gc.enable()
    await asyncio.sleep(1.0)  # late replies (drafts) still in flight
    server_cpu = cpu_seconds(pid) - cpu_before
    db_cpu = postgres_cpu_seconds() - db_before
    result = Result(
        name,
        len(latencies),
        seconds,
        latencies,
        statuses,
        inbox,
        expected_messages,
        expected_documents,
        [str(c) for c in ids],
        server_cpu,
        db_cpu,
        by_step,
    )
    if after is not None:
        result.processed = await after()
    return result


async def bench_echo(
    api: FakeBotApi, chats: int, rate: float = 0.0, *, in_answer: bool = False
) -> Result:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "bench" / "echo_bot.py"),
        "--port",
        str(port),
        *(["--in-answer"] if in_answer else []),
        env=server_env(api.url, {}),
        cwd=ROOT,
    )
    try:
        await wait_ready(f"http://127.0.0.1:{port}/health", process)
        return await run_load(
            "echo, in answer" if in_answer else "bare aiogram echo",
            f"http://127.0.0.1:{port}",
            api,
            chats=chats,
            drafts=False,
            pid=process.pid,
            rate=rate,
        )
    finally:
        process.terminate()
        await process.wait()


@asynccontextmanager
async def bench_database(
    api: FakeBotApi, extra: dict[str, str] | None = None
) -> AsyncIterator[tuple[dict[str, str], str]]:
    """A fresh PostgreSQL database, created and migrated (`etp db upgrade`), dropped at the
    end, and the environment of `etp` processes on it: Redis, the offline drafter, the pacing
    raised (see the module doc). Yields the environment and the database's name."""
    database = f"etp_bench_{uuid.uuid4().hex[:10]}"
    await admin_sql(f'CREATE DATABASE "{database}"')
    db_url = PG_ADMIN.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0]
    env = server_env(
        api.url,
        {
            "DATABASE_URL": f"{db_url}/{database}",
            "REDIS_URL": REDIS_URL,
            "LLM_PROVIDER": "offline",
            "TELEGRAM_CHAT_RATE": "100000",
            "TELEGRAM_BOT_RATE": "100000",
            **(extra or {}),
        },
    )
    try:
        upgrade = await asyncio.create_subprocess_exec(
            str(BIN / "etp"), "db", "upgrade", env=env, cwd=ROOT
        )
        if await upgrade.wait() != 0:
            raise RuntimeError("etp db upgrade failed")
        yield env, database
    finally:
        await admin_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@asynccontextmanager
async def etp_serve(
    api: FakeBotApi, extra: dict[str, str] | None = None
) -> AsyncIterator[tuple[str, asyncio.subprocess.Process, str]]:
    """`etp serve` on a fresh database (bench_database); its base URL, its process and the
    database's name."""
    async with bench_database(api, extra) as (env, database):
        port = free_port()
        process = await asyncio.create_subprocess_exec(
            str(BIN / "etp"), "serve", "--port", str(port), env=env, cwd=ROOT
        )
        try:
            await wait_ready(f"http://127.0.0.1:{port}/health", process)
            yield f"http://127.0.0.1:{port}", process, database
        finally:
            process.terminate()
            await process.wait()


async def bench_etp(api: FakeBotApi, chats: int, rate: float = 0.0) -> Result:
    async with etp_serve(api) as (base, process, database):

        async def processed() -> int:
            return await count_processed(database)

        return await run_load(
            "ETP Express",
            base,
            api,
            chats=chats,
            drafts=True,
            pid=process.pid,
            after=processed,
            rate=rate,
        )


def slowest_steps(result: Result, count: int = 3) -> str:
    """The steps whose p99 is highest: where a server's tail comes from."""

    worst = sorted(result.by_step.items(), key=lambda item: -pct(item[1], 99))[:count]
    return "; ".join(
        f"{text[:24]!r} p50/p99 {pct(values, 50):.0f}/{pct(values, 99):.0f} ms"
        for text, values in worst
    )


def report(result: Result) -> str:
    once = "yes" if result.exactly_once else "NO"
    extra = f", processed_events {result.processed}" if result.processed is not None else ""
    return (
        f"{result.name:<18} {result.rate:8.0f} updates/s  p50 {result.pct(50):6.1f} ms  "
        f"p99 {result.pct(99):6.1f} ms  "
        f"server CPU {result.server_cpu / result.updates * 1000:5.2f} ms/update  "
        f"PostgreSQL CPU {result.db_cpu / result.updates * 1000:4.2f} ms/update  "
        f"({result.updates} updates in {result.seconds:.2f} s; "
        f"per chat {result.expected_messages} messages + {result.expected_documents} documents; "
        f"exactly once: {once}{extra})"
    )


async def main(chats: int, rounds: int, rate: float, echo_in_answer: bool) -> None:
    api = FakeBotApi()
    await api.start()
    print(
        f"# {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores, {chats} chats"
        + (f", paced at {rate:g} updates/s in all" if rate else ", as fast as answered")
    )
    ratios: list[tuple[float, float, float]] = []  # throughput, p99, CPU per update
    try:
        for round_no in range(1, rounds + 1):
            echo = await bench_echo(api, chats, rate)
            etp = await bench_etp(api, chats, rate)
            ratios.append(
                (etp.rate / echo.rate, etp.pct(99) / echo.pct(99), etp.server_cpu / echo.server_cpu)
            )
            print(f"round {round_no}")
            print(report(echo))
            print(report(etp))
            print(f"  slowest steps: echo {slowest_steps(echo)}")
            print(f"                 ETP  {slowest_steps(etp)}")
            print(
                f"ratio: throughput {etp.rate / echo.rate:.2f}x, "
                f"p99 {etp.pct(99) / echo.pct(99):.2f}x, "
                f"server CPU per update {etp.server_cpu / echo.server_cpu:.2f}x of the baseline's"
            )
            if echo_in_answer:  # a second reference: the echo bot with ETP Express's shortcut
                other = await bench_echo(api, chats, rate, in_answer=True)
                print(report(other))
                print(
                    f"ratio to it: throughput {etp.rate / other.rate:.2f}x, "
                    f"p99 {etp.pct(99) / other.pct(99):.2f}x, "
                    f"server CPU per update {etp.server_cpu / other.server_cpu:.2f}x"
                )
            wrong = [c for c in etp.chat_ids if etp.inbox.messages[c] != etp.expected_messages]
            if wrong or not echo.exactly_once or not etp.exactly_once:
                print(f"!! delivery check failed: statuses {etp.statuses}, chats off {wrong[:5]}")
            expected = (2 * chats + 1) * len(script())  # the reference chat, the warm-up, the load
            if etp.processed is not None and etp.processed != expected:
                print(f"!! processed_events {etp.processed} != {expected}")
            api.calls.clear()
        if len(ratios) > 1:  # the machine's speed drifts between rounds: the median pair
            throughput, p99, cpu = (
                statistics.median(column) for column in zip(*ratios, strict=True)
            )
            print(
                f"median of {len(ratios)} rounds: throughput {throughput:.2f}x, p99 {p99:.2f}x, "
                f"server CPU per update {cpu:.2f}x of the baseline's"
            )
    finally:
        await api.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="pace the load to this many updates/s in all (default: each chat as fast as answered)",
    )
    parser.add_argument(
        "--echo-in-answer",
        action="store_true",
        help="also measure an echo bot that answers in the webhook's answer, as ETP Express does",
    )
    args = parser.parse_args()
    asyncio.run(main(args.chats, args.rounds, args.rate, args.echo_in_answer))
