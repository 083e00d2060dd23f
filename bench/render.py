"""Time to render a complete 13-section ETP in each format (median of 20 runs).

Goal: DOCX under 100 ms, PDF under 500 ms. Run: .venv/bin/python bench/render.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conversations.export import FORMATS
from conversations.export.document import build_document
from conversations.model import Etp
from tests.helpers import finish_etp, load_etp, make_chat, scratch_app

RUNS = 20
GOALS_MS = {"docx": 100.0, "pdf": 500.0}


async def complete_etp() -> Etp:
    """A realistic finished ETP, written through the real service with the offline drafter."""
    app = await scratch_app()
    try:
        await finish_etp(make_chat(app))
        return await load_etp(app, 1)
    finally:
        await app.close()


def main() -> None:
    etp = asyncio.run(complete_etp())
    now = datetime.now(UTC)
    print(f"render a complete 13-section ETP, median of {RUNS} runs")
    print(f"{'format':<8}{'order':<7}{'median ms':>10}{'max ms':>9}{'bytes':>9}  goal")
    for order in ("law", "in58"):
        doc = build_document(etp, order=order, now=now)
        for name, spec in FORMATS.items():
            spec.render(doc)  # warm-up: imports and caches
            times = []
            for _ in range(RUNS):
                started = time.perf_counter()
                content = spec.render(doc)
                times.append((time.perf_counter() - started) * 1000)
            median = statistics.median(times)
            goal = GOALS_MS.get(name)
            verdict = (
                "" if goal is None else f"< {goal:.0f} ms {'ok' if median < goal else 'MISSED'}"
            )
            print(
                f"{name:<8}{order:<7}{median:>10.1f}{max(times):>9.1f}{len(content):>9}  {verdict}"
            )


if __name__ == "__main__":
    main()
