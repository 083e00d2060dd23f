"""Cost of the price research in the chat: one event that pastes a full table, and one that adds
a price to a full table (the table and its figures shown back), against an ordinary answer of
the same ETP, through the real service on SQLite with the offline drafter (median of 30 runs).

Run: .venv/bin/python bench/prices.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conversations.pricing import MAX_PRICES
from storage.migrate import upgrade_async
from tests.helpers import SKIP_JUSTIFICATIONS, Chat, dated, make_app, make_chat

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
    folder = tempfile.mkdtemp(prefix="etp-bench-")
    url = f"sqlite+aiosqlite:///{folder}/etp.db"
    await upgrade_async(url)
    app = await make_app(url)
    try:
        chat = make_chat(app)
        await chat.identify()
        for number in range(1, 6):
            if number in SKIP_JUSTIFICATIONS:
                await chat.say(f"/pular {SKIP_JUSTIFICATIONS[number]}")
            else:
                await chat.answer_section(number)
        # baseline: an ordinary answer in section I, edited in place (same ETP, same store)
        await chat.say("/secao 1")
        answers = await timed(chat, ["Faltam resmas de papel nas unidades."] * RUNS)
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
    print(f"{'an ordinary answer (baseline)':<44}{base:>10.2f}{1:>8.2f}")
    for name, times in (
        (f"paste a table of {MAX_PRICES} prices", pastes),
        (f"add the {MAX_PRICES}th price (table shown back)", adds),
    ):
        median = statistics.median(times)
        print(f"{name:<44}{median:>10.2f}{median / base:>8.2f}")


if __name__ == "__main__":
    asyncio.run(main())
