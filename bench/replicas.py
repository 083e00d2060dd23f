"""Benchmark: 2 `etp serve` replicas and 1 `etp worker` against 1 replica and 1 worker.

    .venv/bin/python bench/replicas.py [--chats 40] [--redeliver 0.1]

Every process on one PostgreSQL database and one Redis, with the offline drafter, Telegram's
pacing raised (as in bench/telegram_webhook.py, whose script, load generator pieces and Bot
API double it uses). The load balancer is round robin per update: a chat's consecutive
updates reach different replicas, as behind nginx or a cloud balancer. `--redeliver`: the
share of updates Telegram delivers twice (a timeout on its side), the second copy to the other
replica at the same moment. Exactly once: every chat receives what a reference chat received
alone, no more, and each update is claimed once in processed_events.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telegram_webhook import (
    BIN,
    ROOT,
    SECRET,
    Inbox,
    bench_database,
    count_processed,
    free_port,
    pct,
    script,
    wait_ready,
)

from tests.telegram_api import FakeBotApi, Updates


async def chat(
    session: aiohttp.ClientSession,
    urls: list[str],
    turn: list[int],
    chat_id: int,
    updates: Updates,
    inbox: Inbox,
    api: FakeBotApi,
    latencies: list[float],
    statuses: Counter[int],
    redeliver: float,
    rng: random.Random,
) -> int:
    """One chat through the script, each update to the next replica; returns the updates sent."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    who = {"chat_id": chat_id, "user_id": chat_id}
    drafted = sent = 0
    for step in script():
        body = updates.press(step.text, **who) if step.press else updates.message(step.text, **who)
        first = turn[0] % len(urls)
        turn[0] += 1
        targets = [urls[first]]
        if len(urls) > 1 and rng.random() < redeliver:
            targets.append(urls[(first + 1) % len(urls)])  # the same update, twice at once

        async def post(url: str, body: dict[str, object] = body) -> None:
            started = time.perf_counter()
            async with session.post(url, json=body, headers=headers) as response:
                answer = await response.read()
                statuses[response.status] += 1
            latencies.append(time.perf_counter() - started)
            if response.status == 200:
                await api.webhook_answer(json.loads(answer))

        await asyncio.gather(*(post(f"{u}/telegram/webhook") for u in targets))
        sent += 1
        if step.then_wait_draft:
            drafted += 1
            await inbox.draft_number(str(chat_id), drafted)
    return sent


async def run(replicas: int, chats: int, redeliver: float) -> str:
    api = FakeBotApi()
    await api.start()
    try:
        async with bench_database(api) as (env, database):
            processes: list[asyncio.subprocess.Process] = []
            try:
                urls = []
                for _ in range(replicas):
                    port = free_port()
                    serve = await asyncio.create_subprocess_exec(
                        str(BIN / "etp"),
                        "serve",
                        "--no-worker",
                        "--port",
                        str(port),
                        env=env,
                        cwd=ROOT,
                    )
                    processes.append(serve)
                    urls.append(f"http://127.0.0.1:{port}")
                processes.append(
                    await asyncio.create_subprocess_exec(
                        str(BIN / "etp"), "worker", env=env, cwd=ROOT
                    )
                )
                for url, process in zip(urls, processes, strict=False):
                    await wait_ready(f"{url}/health", process)

                inbox = Inbox()
                api.on_call = inbox.on_call
                updates = Updates(start=random.randint(10**6, 10**8))
                rng = random.Random(7)
                turn = [0]
                base = random.randint(10**9, 2 * 10**9)
                async with aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=2 * chats + 10)
                ) as session:
                    warm: list[float] = []
                    warm_status: Counter[int] = Counter()
                    ref = base - 1  # alone first: what every chat must receive
                    await chat(
                        session, urls, turn, ref, updates, inbox, api, warm, warm_status, 0.0, rng
                    )
                    warm_ids = [
                        base + 10_000 + i for i in range(chats)
                    ]  # then warm every replica up
                    await asyncio.gather(
                        *(
                            chat(
                                session,
                                urls,
                                turn,
                                c,
                                updates,
                                inbox,
                                api,
                                warm,
                                warm_status,
                                0.0,
                                rng,
                            )
                            for c in warm_ids
                        )
                    )
                    await asyncio.sleep(0.5)
                    before = await count_processed(database)
                    latencies: list[float] = []
                    statuses: Counter[int] = Counter()
                    ids = [base + i for i in range(chats)]
                    started = time.perf_counter()
                    sent = await asyncio.gather(
                        *(
                            chat(
                                session,
                                urls,
                                turn,
                                c,
                                updates,
                                inbox,
                                api,
                                latencies,
                                statuses,
                                redeliver,
                                rng,
                            )
                            for c in ids
                        )
                    )
                    seconds = time.perf_counter() - started
                await asyncio.sleep(1.0)
                claimed = await count_processed(database) - before
                updates_sent = sum(sent)
                once = (
                    all(
                        inbox.messages[str(c)] == inbox.messages[str(ref)]
                        and inbox.documents[str(c)] == inbox.documents[str(ref)]
                        for c in ids
                    )
                    and claimed == updates_sent
                    and set(statuses) == {200}
                )
                posts = len(latencies)
                return (
                    f"{replicas} replica{'s' if replicas > 1 else ''} + 1 worker: "
                    f"{updates_sent / seconds:6.0f} updates/s  p50 {pct(latencies, 50):6.1f} ms  "
                    f"p99 {pct(latencies, 99):6.1f} ms  ({updates_sent} updates, {posts - updates_sent} "
                    f"redelivered, in {seconds:.2f} s; claimed {claimed}; exactly once: "
                    f"{'yes' if once else 'NO'})"
                )
            finally:
                for process in processes:
                    process.terminate()
                for process in processes:
                    await process.wait()
    finally:
        await api.stop()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chats", type=int, default=40)
    parser.add_argument("--redeliver", type=float, default=0.1)
    args = parser.parse_args()
    print(await run(1, args.chats, 0.0), flush=True)
    print(await run(2, args.chats, args.redeliver), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
