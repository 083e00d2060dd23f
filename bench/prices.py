"""Cost of the price research in the chat: one event that pastes a full table, and one that adds
a price to a full table (the table and its figures shown back), against /status of the same
ETP, through the real service on SQLite with the offline drafter (median of 30 runs).

Run: .venv/bin/python bench/prices.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conversations.pricing import MAX_PRICES
from tests.helpers import Chat, dated, finish_etp, make_chat, scratch_app

RUNS = 30


def line(i: int) -> str:
    return dated(
        f"fornecedor; Fornecedor {i} Ltda, CNPJ 12.345.678/0001-{i:02d}; {{d20}}; {25 + i % 7},{i:02d}"
    )


async def timed(chat: Chat, texts: list[str]) -> list[float]:
    out = []
    for text in texts:
        started = time.perf_counter()
        await chat.say(text)
        out.append((time.perf_counter() - started) * 1000)
    return out


async def main() -> None:
    app = await scratch_app()
    try:
        chat = make_chat(app)
        await finish_etp(chat, upto=5)
        # baseline: /status of the same ETP (reads it whole, writes the conversation)
        answers = await timed(chat, ["/status"] * RUNS)
        await chat.say("/secao 6")
        pastes = []
        for _ in range(RUNS):
            table = "\n".join(line(i) for i in range(MAX_PRICES))
            pastes += await timed(chat, [table])
            for _ in range(MAX_PRICES):
                await chat.say("/precos remover 1")
        await chat.say("\n".join(line(i) for i in range(MAX_PRICES - 1)))
        adds = []
        for _ in range(RUNS):
            adds += await timed(chat, [line(99)])
            await chat.say(f"/precos remover {MAX_PRICES}")
    finally:
        await app.close()
    base = statistics.median(answers)
    print(f"median of {RUNS} events, SQLite, offline drafter")
    print(f"{'event':<44}{'median ms':>10}{'ratio':>8}")
    print(f"{'/status of the same ETP (baseline)':<44}{base:>10.2f}{1:>8.2f}")
    for name, times in (
        (f"paste a table of {MAX_PRICES} prices", pastes),
        (f"add the {MAX_PRICES}th price (table shown back)", adds),
    ):
        median = statistics.median(times)
        print(f"{name:<44}{median:>10.2f}{median / base:>8.2f}")


if __name__ == "__main__":
    asyncio.run(main())
