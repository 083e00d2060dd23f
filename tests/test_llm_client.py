"""The OpenAI drafter through the real client against a local OpenAI-compatible server: each
failure mode, the retry layer, the deadline, a cut-off answer, the cache and streaming."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from conversations.ports import DraftContext, DraftFailed
from etp.llm import OpenAiDrafter
from etp.settings import LlmSettings
from tests.fake_openai import FakeOpenAI

CONTEXT = DraftContext(
    section=4,
    attempt=1,
    objeto="Aquisição de papel A4",
    processo="23000.012345/2026-11",
    orgao="Ministério da Gestão e da Inovação",
    answers=(("Quanto, em que unidade?", "1200 resmas de papel A4."),),
    earlier=(),
    gaps=(),
    date="04/12/2026",
)


@pytest.fixture
async def llm() -> AsyncIterator[FakeOpenAI]:
    server = await FakeOpenAI().start()
    yield server
    await server.stop()


def drafter(server: FakeOpenAI, **overrides: Any) -> OpenAiDrafter:
    values: dict[str, Any] = {
        "llm_provider": "openai",
        "openai_api_key": SecretStr("sk-test-key"),
        "openai_base_url": server.url,
        "llm_request_timeout": 5.0,
        "llm_draft_deadline": 20.0,
        "llm_prompt_cost_per_1k": 0.15,
        "llm_completion_cost_per_1k": 0.6,
        **overrides,
    }
    return OpenAiDrafter(LlmSettings(**values), backoff=0.01)


async def test_a_draft_reports_its_tokens_model_and_cost(llm: FakeOpenAI) -> None:
    draft = await drafter(llm, llm_max_tokens=700).write(CONTEXT)
    assert draft.text == "Texto redigido pelo modelo."
    assert (draft.usage.prompt_tokens, draft.usage.completion_tokens) == (120, 30)
    assert draft.usage.model == "gpt-4o-mini"
    assert draft.usage.cost_usd == pytest.approx((120 * 0.15 + 30 * 0.6) / 1000)
    body = llm.requests[0]["body"]
    assert (body.get("max_completion_tokens") or body.get("max_tokens")) == 700
    assert body["temperature"] == 0.2
    assert "<dados>" in llm.prompt_text() and "1200 resmas" in llm.prompt_text()


async def test_429_waits_what_retry_after_asks_then_succeeds(llm: FakeOpenAI) -> None:
    llm.script = [429]
    llm.retry_after = "1"
    draft = await drafter(llm).write(CONTEXT)
    assert draft.text == "Texto redigido pelo modelo."
    assert len(llm.requests) == 2
    assert llm.received_at[1] - llm.received_at[0] >= 0.95


async def test_a_retry_after_beyond_the_deadline_ends_the_draft_at_once(llm: FakeOpenAI) -> None:
    llm.default = 429
    llm.retry_after = "600"
    started = time.monotonic()
    with pytest.raises(DraftFailed) as failed:
        await drafter(llm).write(CONTEXT)
    assert failed.value.cause == "quota"
    assert len(llm.requests) == 1
    assert time.monotonic() - started < 5


async def test_500s_are_retried_up_to_the_attempts_then_fail_as_unavailable(
    llm: FakeOpenAI,
) -> None:
    llm.script = [500, 502]
    assert (await drafter(llm).write(CONTEXT)).text == "Texto redigido pelo modelo."
    assert len(llm.requests) == 3
    llm.requests.clear()
    llm.default = 503
    with pytest.raises(DraftFailed) as failed:
        await drafter(llm, llm_attempts=3).write(CONTEXT)
    assert failed.value.cause == "unavailable"
    assert len(llm.requests) == 3  # one retry layer: no SDK retries inside ours


@pytest.mark.parametrize("status", [401, 400])
async def test_a_refused_request_is_sent_exactly_once(llm: FakeOpenAI, status: int) -> None:
    llm.default = status
    with pytest.raises(DraftFailed) as failed:
        await drafter(llm).write(CONTEXT)
    assert failed.value.cause == "refused"
    assert len(llm.requests) == 1


async def test_a_server_that_hangs_ends_in_time_as_a_timeout(llm: FakeOpenAI) -> None:
    llm.default = "hang"
    started = time.monotonic()
    with pytest.raises(DraftFailed) as failed:
        await drafter(llm, llm_request_timeout=0.5, llm_draft_deadline=3.0).write(CONTEXT)
    assert failed.value.cause == "timeout"
    assert time.monotonic() - started < 3.5
    assert 1 <= len(llm.requests) <= 3


@pytest.mark.parametrize("behaviour", ["malformed", "empty"])
async def test_an_invalid_answer_is_not_retried_and_says_so(
    llm: FakeOpenAI, behaviour: str
) -> None:
    llm.default = behaviour
    with pytest.raises(DraftFailed) as failed:
        await drafter(llm).write(CONTEXT)
    assert failed.value.cause == "invalid"
    assert len(llm.requests) == 1


async def test_a_cut_off_answer_is_continued_once(llm: FakeOpenAI) -> None:
    llm.reply = "Primeira parte do texto que o limite cortou ao meio."
    llm.script = ["length", "ok"]
    draft = await drafter(llm).write(CONTEXT)
    assert len(llm.requests) == 2
    continuation = llm.prompt_text(1)
    assert "Continue o texto exatamente de onde parou" in continuation
    assert draft.text.startswith("Primeira parte do texto")
    assert draft.usage.prompt_tokens == 240  # both requests counted


async def test_an_answer_cut_off_twice_is_invalid(llm: FakeOpenAI) -> None:
    llm.default = "length"
    with pytest.raises(DraftFailed) as failed:
        await drafter(llm).write(CONTEXT)
    assert failed.value.cause == "invalid"
    assert len(llm.requests) == 2


async def test_a_repeated_request_is_answered_from_the_cache(llm: FakeOpenAI) -> None:
    writer = drafter(llm)
    first = await writer.write(CONTEXT)
    again = await writer.write(CONTEXT)
    assert len(llm.requests) == 1
    assert again.text == first.text
    assert again.usage.cached and again.usage.tokens == 0 and again.usage.cost_usd == 0
    redo = DraftContext(**{**{f: getattr(CONTEXT, f) for f in CONTEXT.__slots__}, "attempt": 2})
    await writer.write(redo)
    assert len(llm.requests) == 2  # another attempt is another request


async def test_streaming_shows_the_text_as_it_grows(llm: FakeOpenAI) -> None:
    llm.reply = "Um texto de várias palavras chega aos poucos ao usuário."
    seen: list[str] = []

    async def progress(text: str) -> None:
        seen.append(text)

    draft = await drafter(llm).stream(CONTEXT, progress)
    assert llm.requests[0]["body"]["stream"] is True
    assert draft.text == llm.reply
    assert len(seen) > 3 and seen[-1] == llm.reply
    assert all(seen[i + 1].startswith(seen[i]) for i in range(len(seen) - 1))
    assert draft.usage.prompt_tokens == 120
