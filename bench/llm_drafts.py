"""LLM drafting: tokens per section and per complete ETP of a fixed scenario (with and without
the cache), and the time from the last answer to the draft under each failure mode.

Runs the real service (SQLite, in-process drafts) and the real OpenAI client against the local
OpenAI-compatible server of the tests (tests/fake_openai.py), which answers a ~1,000-character
section text built from the answers it received and reports tokens estimated at 4 characters a
token (no tokenizer is available offline). Figures go to bench/README.md.

    .venv/bin/python bench/llm_drafts.py
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import SecretStr

from conversations.grounding import check
from conversations.privacy import Masker
from etp.container import App, build_app
from etp.settings import LlmSettings
from storage.migrate import upgrade
from tests.fake_openai import FakeOpenAI
from tests.helpers import GOOD_ANSWERS, finish_etp, make_chat, override, settings_for

GOAL_PROMPT, GOAL_COMPLETION = 30_000, 8_000


def realistic(body: dict[str, Any]) -> str:
    """A formal section text of ~1,000 characters from the answers in the prompt."""
    human = body["messages"][-1]["content"]
    answers = re.findall(r"<item secao=\"[IVX]+\" pergunta=\"[^\"]*\">(.*?)</item>", human)
    own = human.split("<respostas>", 1)[-1].split("</respostas>", 1)[0]
    mine = re.findall(r">(.*?)</item>", own) or answers[:3]
    text = "Em atendimento ao art. 18 da Lei nº 14.133/2021, registra-se o que segue. "
    text += " ".join(f"Conforme apurado pela equipe, {a.strip().rstrip('.')}." for a in mine)
    filler = (
        " A equipe de planejamento considerou as informações prestadas e os elementos do "
        "processo, de modo a assegurar a adequação da solução à necessidade da Administração."
    )
    while len(text) < 1000:
        text += filler
    return text


async def app_for(server: FakeOpenAI, folder: Path, name: str, **values: Any) -> App:
    url = f"sqlite+aiosqlite:///{folder / name}.db"
    upgrade(url)
    settings = settings_for(url)
    override(
        settings,
        llm=LlmSettings(
            llm_provider="openai",
            openai_api_key=SecretStr("sk-bench"),
            openai_base_url=server.url,
            llm_max_tokens_per_etp=0,
            llm_drafts_per_person="1000/hour",
            **values,
        ),
    )
    return await build_app(settings, migrate=False)


async def tokens_per_etp(folder: Path) -> None:
    server = await FakeOpenAI(answer=realistic, estimate_usage=True).start()
    try:
        app = await app_for(server, folder, "tokens")
        try:
            chat = make_chat(app, chat_id="first")
            await finish_etp(chat)
            per_section: dict[int, list[tuple[int, int]]] = {}
            for request in server.requests:
                human = request["body"]["messages"][-1]["content"]
                number = re.match(r"Redija a seção ([IVX]+) ", human)
                roman = number.group(1) if number else "?"
                chars = sum(len(m["content"]) for m in request["body"]["messages"])
                per_section.setdefault(_arabic(roman), []).append((chars, 0))
            etp = await _etp(app, 1)
            print("complete ETP, no cache:")
            print(f"  requests {len(server.requests)}")
            print(
                f"  prompt tokens {etp.llm_prompt_tokens:,} (goal < {GOAL_PROMPT:,}), "
                f"completion tokens {etp.llm_completion_tokens:,} (goal < {GOAL_COMPLETION:,})"
            )
            print("  prompt characters per section (system prompt included):")
            for number in sorted(per_section):
                sizes = ", ".join(f"{c:,}" for c, _ in per_section[number])
                print(f"    {number:>2}: {sizes} (~{per_section[number][0][0] // 4:,} tokens)")
            before = len(server.requests)
            again = make_chat(app, chat_id="second")
            await finish_etp(again)
            etp2 = await _etp(app, 2)
            print("the same ETP again (cache):")
            print(
                f"  requests {len(server.requests) - before}, tokens "
                f"{etp2.llm_prompt_tokens + etp2.llm_completion_tokens}"
            )
        finally:
            await app.close()
    finally:
        await server.stop()


def _arabic(roman: str) -> int:
    from conversations.catalogue.sections import ROMAN

    return ROMAN.index(roman) + 1 if roman in ROMAN else 0


async def _etp(app: App, etp_id: int) -> Any:
    async with app.service.store.transaction() as tx:
        return await tx.load_etp(etp_id)


MODES: list[tuple[str, list[Any], str | None, dict[str, Any]]] = [
    ("(warm-up, not counted)", [], None, {}),
    ("ok", [], None, {}),
    ("429, Retry-After: 1, then ok", [429], "1", {}),
    ("500 once, then ok", [500], None, {}),
    ("503 always", ["503*"], None, {}),
    ("429 always, Retry-After: 600", ["429*"], "600", {}),
    (
        "hangs (request timeout 2 s, deadline 6 s)",
        ["hang*"],
        None,
        {"llm_request_timeout": 2.0, "llm_draft_deadline": 6.0},
    ),
    ("malformed JSON", ["malformed"], None, {}),
    ("empty content", ["empty"], None, {}),
    ("finish_reason length once, continued", ["length"], None, {}),
    ("401", ["401*"], None, {}),
]


async def failure_modes(folder: Path) -> None:
    print("time from the last answer to the draft (section I), by failure mode:")
    base = None
    for i, (label, script, retry_after, values) in enumerate(MODES):
        server = await FakeOpenAI(answer=realistic).start()
        for step in script:
            if isinstance(step, str) and step.endswith("*"):
                raw = step[:-1]
                server.default = int(raw) if raw.isdigit() else raw
            else:
                server.script.append(step)
        server.retry_after = retry_after
        app = await app_for(server, folder, f"mode{i}", **values)
        try:
            chat = make_chat(app)
            await chat.identify()
            for answer in GOOD_ANSWERS[1][:-1]:
                await chat.say(answer)
            started = time.perf_counter()
            await chat.say(GOOD_ANSWERS[1][-1])
            seconds = time.perf_counter() - started
            if i == 0:
                continue
            base = base or seconds
            first = chat.last_text().split("\n")[0][:60]
            print(
                f"  {label:<45} {seconds:6.2f} s  ×{seconds / base:6.1f}  "
                f"requests {len(server.requests)}  «{first}»"
            )
        finally:
            await app.close()
            await server.stop()


def checks_cost() -> None:
    material = "\n".join(a for answers in GOOD_ANSWERS.values() for a in answers)
    draft = realistic(
        {
            "messages": [
                {
                    "content": "<respostas>"
                    + "".join(f'<item secao="VI" pergunta="q">{a}</item>' for a in GOOD_ANSWERS[6])
                    + "</respostas>"
                }
            ]
        }
    )
    rounds = 200
    started = time.perf_counter()
    for _ in range(rounds):
        check(draft, material, today="04/12/2026")
    grounding = (time.perf_counter() - started) / rounds * 1000
    started = time.perf_counter()
    for _ in range(rounds):
        Masker(["Maria Silva"], ["1234567"]).mask(material)
    masking = (time.perf_counter() - started) / rounds * 1000
    print(f"grounding check of one draft {grounding:.2f} ms; masking all answers {masking:.2f} ms")


async def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        await tokens_per_etp(folder)
        await failure_modes(folder)
    checks_cost()


if __name__ == "__main__":
    asyncio.run(main())
