"""Drafting with an LLM through the real openai client, against a local OpenAI-compatible server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from etp.container import build_drafter
from etp.settings import LlmSettings
from tests.fake_openai import FakeOpenAI
from tests.helpers import GOOD_ANSWERS, make_app, make_chat, settings_for


@pytest.fixture
async def llm() -> AsyncIterator[FakeOpenAI]:
    server = await FakeOpenAI().start()
    yield server
    await server.stop()


def drafter_for(server: FakeOpenAI, sqlite_url: str) -> object:
    settings = settings_for(sqlite_url)
    settings.__dict__["llm"] = LlmSettings(
        llm_provider="auto", openai_api_key=SecretStr("sk-test-key"), openai_base_url=server.url
    )
    return build_drafter(settings)


async def test_openai_drafter_writes_the_draft_from_the_answers(
    llm: FakeOpenAI, sqlite_url: str
) -> None:
    drafter = drafter_for(llm, sqlite_url)
    assert drafter.name == "openai"  # type: ignore[attr-defined]
    app = await make_app(sqlite_url, drafter=drafter)  # type: ignore[arg-type]
    try:
        chat = make_chat(app)
        await chat.identify()
        await chat.answer_section(1, accept=False)
        assert "Texto redigido pelo modelo." in chat.last_text()
        assert len(llm.requests) == 1
        assert llm.requests[0]["auth"] == "Bearer sk-test-key"
        prompt = llm.prompt_text()
        for answer in GOOD_ANSWERS[1]:
            assert answer in prompt
        assert "nunca invente números" in prompt
        await chat.say("/aceitar")
        await chat.answer_section(4, accept=False)
        # section IV depends on I: its answers, and its accepted text within the budget
        prompt = llm.prompt_text()
        assert '<item secao=\\"I\\"' in prompt and "Texto redigido pelo modelo." in prompt
        assert GOOD_ANSWERS[1][0] in prompt
    finally:
        await app.close()


async def test_a_dead_llm_is_retried_then_the_offline_drafter_takes_over(
    llm: FakeOpenAI, sqlite_url: str
) -> None:
    llm.fail_with = 503
    app = await make_app(sqlite_url, drafter=drafter_for(llm, sqlite_url))  # type: ignore[arg-type]
    app.service.retry_wait = 0.01
    try:
        chat = make_chat(app)
        await chat.identify()
        await chat.answer_section(1, accept=False)
        draft = chat.last_text()
        assert "redação automática está indisponível" in draft
        assert "Minuta:" in draft and GOOD_ANSWERS[1][0] in draft  # nothing the user typed is lost
        assert len(llm.requests) >= 3  # retried before giving up
        await chat.say("/aceitar")
        assert chat.last_text().startswith("Seção 2 de 13")
    finally:
        await app.close()
