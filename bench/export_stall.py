"""Benchmark: what one chat's DOCX and PDF exports cost every other chat, rendered in the serving
process or in a worker process (ETP_RENDER_PROCESSES=0 against 1).

    .venv/bin/python bench/export_stall.py [--chats 20] [--rate 100] [--every 0.5] [--rounds 1]

`etp serve` (one uvicorn worker, PostgreSQL, Redis, offline drafter) behind the same webhook,
load generator and Bot API server as bench/telegram_webhook.py. `--chats` chats go through the
same 40-update session, paced at `--rate` updates/s in all, twice: alone, then while one more
chat (its ETP drafted beforehand) exports every `--every` seconds, a PDF and a DOCX in turn.
Reported: the other chats' webhook latency, p50 and p99, alone and with the exports, for each
way of rendering; the exports' own latency too.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import statistics
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from telegram_webhook import (
    SECRET,
    FakeBotApi,
    Inbox,
    Updates,
    drive,
    etp_serve,
    pct,
    script,
)


async def exporting(
    session: aiohttp.ClientSession, url: str, chat_id: int, every: float, stop: asyncio.Event
) -> list[float]:
    """One chat exporting every `every` seconds until `stop`, PDF and DOCX in turn."""
    updates = Updates(start=chat_id)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    who = {"chat_id": chat_id, "user_id": chat_id}
    took: list[float] = []
    formats = ("pdf", "docx")
    while not stop.is_set():
        started = time.perf_counter()
        body = updates.message(f"/exportar {formats[len(took) % 2]}", **who)
        async with session.post(url, json=body, headers=headers) as response:
            await response.read()
            assert response.status == 200, response.status
        took.append(time.perf_counter() - started)
        await asyncio.sleep(max(0.0, every - took[-1]))
    return took


async def measure(
    url: str, api: FakeBotApi, chats: int, rate: float, every: float
) -> tuple[list[float], list[float], list[float]]:
    """The chats' latencies alone, then with one chat exporting; and the exports' latencies."""
    inbox = Inbox()
    api.on_call = inbox.on_call
    steps = script()
    connector = aiohttp.TCPConnector(limit=chats + 10)
    async with aiohttp.ClientSession(connector=connector) as session:
        exporter = 7_000_000 + uuid.uuid4().int % 1_000_000
        warm: list[float] = []
        ignored: Counter[int] = Counter()
        # the exporter's ETP, and a warm-up of the server at the measured load
        await drive(
            session, url, exporter, Updates(), steps, inbox, api,
            drafts=True, latencies=warm, statuses=ignored,
        )  # fmt: skip

        async def everyone(base: int, latencies: list[float]) -> None:
            statuses: Counter[int] = Counter()
            await asyncio.gather(
                *(
                    drive(
                        session,
                        url,
                        base + i,
                        Updates(start=(base + i) * 100),
                        steps,
                        inbox,
                        api,
                        drafts=True,
                        latencies=latencies,
                        statuses=statuses,
                        interval=chats / rate,
                    )
                    for i in range(chats)
                )
            )
            assert statuses == Counter({200: chats * len(steps)}), statuses

        base = 1_000_000 + uuid.uuid4().int % 1_000_000
        await everyone(base, warm)
        gc.collect()
        gc.disable()  # the load generator's own pauses would count against the server
        alone: list[float] = []
        await everyone(base + 10_000, alone)
        stop = asyncio.Event()
        exports = asyncio.create_task(exporting(session, url, exporter, every, stop))
        together: list[float] = []
        await everyone(base + 20_000, together)
        stop.set()
        took = await exports
        gc.enable()
    return alone, together, took


async def main(chats: int, rate: float, every: float, rounds: int) -> None:
    api = FakeBotApi()
    await api.start()
    print(
        f"# {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores, "
        f"{chats} chats paced at {rate:g} updates/s in all, one export every {every:g} s"
    )
    growth: dict[int, list[float]] = {0: [], 1: []}  # p99 with exports / p99 alone
    try:
        for round_no in range(1, rounds + 1):
            print(f"round {round_no}")
            for processes in (0, 1):
                extra = {"ETP_RENDER_PROCESSES": str(processes)}
                try:
                    async with etp_serve(api, extra) as (base, _, _):
                        url = f"{base}/telegram/webhook"
                        alone, together, took = await measure(url, api, chats, rate, every)
                finally:
                    api.calls.clear()
                where = "in the serving process" if processes == 0 else "in a worker process"
                growth[processes].append(pct(together, 99) / pct(alone, 99))
                print(
                    f"  rendered {where:23s} others alone p50/p99 {pct(alone, 50):5.1f} /"
                    f" {pct(alone, 99):6.1f} ms; with exports {pct(together, 50):5.1f} /"
                    f" {pct(together, 99):6.1f} ms; exports ({len(took)}) p50/p99"
                    f" {pct(took, 50):5.1f} / {pct(took, 99):6.1f} ms"
                )
        print(
            "others' p99 with exports / alone, median of rounds: "
            f"in the serving process {statistics.median(growth[0]):.2f}x, "
            f"in a worker process {statistics.median(growth[1]):.2f}x"
        )
    finally:
        await api.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chats", type=int, default=20)
    parser.add_argument("--rate", type=float, default=100.0, help="updates/s of all the chats")
    parser.add_argument("--every", type=float, default=0.5, help="seconds between two exports")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(main(args.chats, args.rate, args.every, args.rounds))
