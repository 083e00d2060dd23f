"""Metrics move when things happen; Sentry reports errors without user text."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import os
import threading
import uuid
import zlib
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import httpx
import pytest
import sentry_sdk
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from api.app import create_api
from conversations.drafting import OfflineDrafter
from conversations.events import Inbound
from conversations.ports import Draft, DraftContext, Usage
from etp.container import App, build_app
from etp.settings import LlmSettings, ObservabilitySettings, RedisSettings, SecuritySettings
from storage.jobs import ArqDraftQueue
from tests.conftest import need_service
from tests.helpers import GOOD_ANSWERS, SlowDrafter, make_app, make_chat, override, settings_for

REDIS_URL = os.environ.get("ETP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def samples(body: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(
    metrics: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return metrics.get((name, frozenset(labels.items())), 0.0)


class TokenDrafter:
    """A fake LLM at the port: writes what the offline drafter writes and reports tokens."""

    name = "openai"
    inline = False

    async def write(self, context: DraftContext) -> Draft:
        draft = await OfflineDrafter().write(context)
        usage = Usage(prompt_tokens=1200, completion_tokens=300, model="gpt-4o-mini")
        return Draft(draft.text, "openai", tokens=1500, usage=usage)


class BrokenDrafter:
    name = "openai"
    inline = False

    async def write(self, context: DraftContext) -> Draft:
        raise ConnectionError("LLM unreachable")


async def _scrape(app: App) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    transport = httpx.ASGITransport(app=create_api(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://etp") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return samples(response.text)


async def test_metrics_move_when_things_happen(db_url: str) -> None:
    settings = settings_for(db_url)
    override(settings, llm=LlmSettings(llm_cost_per_1k_tokens=0.002))
    app = await build_app(settings, drafter=TokenDrafter(), migrate=False)
    try:
        before = await _scrape(app)
        assert value(before, "etp_etps", status="em_elaboracao") == 0
        chat = make_chat(app, channel="telegram")
        await chat.identify()  # 11 events
        await chat.answer_section(1)  # 3 answers, one draft, accept
        await chat.say("/exportar")
        await chat.say("/exportar pdf")
        await chat.say("/xyz")
        _, token = await app.admin.create_token("x", "read")
        transport = httpx.ASGITransport(app=create_api(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://etp") as client:
            headers = {"Authorization": f"Bearer {token}"}
            assert (await client.get("/api/etps/1/export?format=html", headers=headers)).is_success
        after = await _scrape(app)
    finally:
        await app.close()
    updates = {
        (dict(labels)["kind"], dict(labels)["outcome"]): v
        for (name, labels), v in after.items()
        if name == "etp_updates_total" and dict(labels)["channel"] == "telegram"
    }
    assert sum(updates.values()) == 11 + 4 + 3
    assert updates[("command", "refused")] == 1  # the unknown command
    assert updates[("text", "ok")] == 9 + 3  # identification answers and section answers
    assert value(after, "etp_handler_seconds_count", channel="telegram") == 18
    assert value(after, "etp_drafts_total", provider="openai", outcome="ok") == 1
    assert value(after, "etp_draft_seconds_count", provider="openai") == 1
    assert value(after, "etp_llm_tokens_total", provider="openai") == 1500
    assert value(after, "etp_llm_prompt_tokens_total", model="gpt-4o-mini") == 1200
    model = {"provider": "openai", "model": "gpt-4o-mini"}  # the cost by model too
    assert value(after, "etp_llm_cost_usd_total", **model) == pytest.approx(0.003)
    assert value(after, "etp_exports_total", format="docx") == 1
    assert value(after, "etp_exports_total", format="pdf") == 1
    assert value(after, "etp_exports_total", format="html") == 1
    assert value(after, "etp_etps", status="em_elaboracao") == 1
    assert value(after, "etp_etps", status="concluido") == 0


async def test_a_failing_llm_shows_as_fallback_and_apps_do_not_share_metrics(
    sqlite_url: str,
) -> None:
    app = await make_app(sqlite_url, drafter=BrokenDrafter())
    app.service.retry_wait = 0
    second = await make_app(sqlite_url)
    try:
        chat = make_chat(app)
        await chat.identify()
        for answer in GOOD_ANSWERS[1]:
            await chat.say(answer)
        metrics = await _scrape(app)
        other = await _scrape(second)
    finally:
        await app.close()
        await second.close()
    assert value(metrics, "etp_drafts_total", provider="openai", outcome="fallback") == 1
    assert value(metrics, "etp_llm_tokens_total", provider="openai") == 0
    assert value(other, "etp_drafts_total", provider="openai", outcome="fallback") == 0
    assert value(other, "etp_updates_total", channel="test", kind="text", outcome="ok") == 0


async def test_metrics_show_the_process_the_pools_and_the_draft_queue(db_url: str) -> None:
    app = await build_app(settings_for(db_url), drafter=SlowDrafter(30), migrate=False)
    try:
        chat = make_chat(app)
        await chat.identify()
        for answer in GOOD_ANSWERS[1]:  # the last one starts a draft: 30 s, running here
            await chat.service.handle(Inbound.from_text(chat.address, chat.author, answer, None))
        await asyncio.sleep(0.2)
        metrics = await _scrape(app)
        assert app.queue.backlog()[0] == 1
    finally:
        for task in list(app.queue._tasks):
            task.cancel()
        await app.close()
    assert value(metrics, "process_resident_memory_bytes") > 10_000_000
    assert value(metrics, "process_cpu_seconds_total") > 0
    assert value(metrics, "etp_draft_queue_depth", queue="in-process") == 1
    assert 0.2 <= value(metrics, "etp_draft_queue_oldest_seconds", queue="in-process") < 30
    assert value(metrics, "etp_db_connections_in_use", pool="sqlalchemy") == 0  # none held
    if db_url.startswith("postgresql"):
        # the conversation store's asyncpg pool: open, and none lent out between statements
        assert value(metrics, "etp_db_connections_open", pool="store") >= 1
        assert value(metrics, "etp_db_connections_in_use", pool="store") == 0


async def test_metrics_show_the_redis_queue_depth_and_its_oldest_job(sqlite_url: str) -> None:
    settings = settings_for(sqlite_url)
    override(settings, redis=RedisSettings(redis_url=REDIS_URL))
    queue = f"etp:test-depth:{uuid.uuid4().hex[:8]}"  # no worker reads it
    need_service("Redis", "127.0.0.1", int(REDIS_URL.split(":")[2].split("/")[0]))
    app = await build_app(settings, drafter=SlowDrafter(1), migrate=False, queue_name=queue)
    try:
        assert isinstance(app.queue, ArqDraftQueue)
        chat = make_chat(app)
        await chat.identify()
        for answer in GOOD_ANSWERS[1]:
            await chat.service.handle(Inbound.from_text(chat.address, chat.author, answer, None))
        await asyncio.sleep(0.3)
        metrics = await _scrape(app)
    finally:
        await app.queue.pool.delete(queue)
        await app.close()
    assert value(metrics, "etp_draft_queue_depth", queue="redis") == 1
    assert 0.3 <= value(metrics, "etp_draft_queue_oldest_seconds", queue="redis") < 60


# --- Sentry ----------------------------------------------------------------------------

USER_TEXT = "Resposta sigilosa da servidora Maria sobre o pregão 123"


class _Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding == "br":
            import brotli  # type: ignore[import-not-found]

            body = brotli.decompress(body)
        type(self).received.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def sentry_server() -> Iterator[tuple[str, list[bytes]]]:
    _Collector.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://public@127.0.0.1:{server.server_port}/1", _Collector.received
    finally:
        server.shutdown()
        sentry_sdk.get_client().close()
        sentry_sdk.init()  # back to no client for the rest of the session


@pytest.fixture
async def sentry_app(
    sqlite_url: str, sentry_server: tuple[str, list[bytes]]
) -> AsyncIterator[tuple[App, list[bytes]]]:
    dsn, received = sentry_server
    settings = settings_for(sqlite_url)
    override(settings, observability=ObservabilitySettings(sentry_dsn=SecretStr(dsn)))
    app = await build_app(settings, migrate=False)
    try:
        yield app, received
    finally:
        await app.close()


async def test_sentry_gets_the_error_but_no_user_text(
    sentry_app: tuple[App, list[bytes]],
) -> None:
    app, received = sentry_app
    assert sentry_sdk.get_client().is_active()
    api = create_api(app)

    @api.post("/api/boom")
    async def boom(payload: dict[str, str]) -> None:
        raise RuntimeError("falha ao processar a requisição")

    transport = httpx.ASGITransport(app=api, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://etp") as client:
        response = await client.post(
            "/api/boom",
            params={"texto": USER_TEXT},
            json={"resposta": USER_TEXT},
            headers={"Authorization": "Bearer etp_segredo", "Cookie": "sessao=segredo"},
        )
    assert response.status_code == 500
    logging.getLogger("etp.test").error("drafter failed for %s", USER_TEXT)
    sentry_sdk.flush(timeout=5)

    envelopes = b"\n".join(received).decode("utf-8", "replace")
    items = [json.loads(line) for line in envelopes.splitlines() if line.startswith("{")]
    events = [i for i in items if "exception" in i or "logentry" in i]
    types = [v["type"] for e in events for v in e.get("exception", {}).get("values", [])]
    assert "RuntimeError" in types  # the error did reach Sentry, over real HTTP
    assert any(e.get("logentry", {}).get("message") == "drafter failed for %s" for e in events)
    for secret in (USER_TEXT, "etp_segredo", "sessao=segredo", "sigilosa"):
        assert secret not in envelopes, secret


# personal data as a user types it (kept away from the test's lines: Sentry sends a frame's
# source lines around the raise)
PERSONAL = ("123.456.789-09", "maria@orgao.gov.br", "(61) 99876-5432", "12.345.678/0001-90")


async def test_personal_data_in_an_exception_or_a_log_line_does_not_reach_sentry(
    sentry_app: tuple[App, list[bytes]],
) -> None:
    # a scrubbed event still held a CPF and an e-mail quoted by an exception
    _, received = sentry_app
    personal = ", ".join(PERSONAL)
    try:
        raise ValueError(f"resposta inválida: {personal}")
    except ValueError:
        logging.getLogger("etp.test").exception("falhou para %s", personal)
    sentry_sdk.capture_exception(ValueError(personal))
    sentry_sdk.flush(timeout=5)
    envelopes = b"\n".join(received).decode("utf-8", "replace")
    assert "ValueError" in envelopes  # the errors did reach Sentry
    for value in PERSONAL:
        assert value.removeprefix("(61) ") not in envelopes, value


async def test_sentry_events_carry_the_release_and_the_environment(
    sqlite_url: str, sentry_server: tuple[str, list[bytes]]
) -> None:
    dsn, received = sentry_server
    settings = settings_for(sqlite_url)
    override(
        settings,
        observability=ObservabilitySettings(
            sentry_dsn=SecretStr(dsn), etp_release="etp-express@2026.12.04+abc123"
        ),
    )
    override(settings, security=SecuritySettings(etp_env="production"))
    app = await build_app(settings, migrate=False)
    try:
        logging.getLogger("etp.test").error("something failed")
        sentry_sdk.flush(timeout=5)
    finally:
        await app.close()
    envelopes = b"\n".join(received).decode("utf-8", "replace")
    events = [json.loads(line) for line in envelopes.splitlines() if '"logentry"' in line]
    assert events, envelopes
    assert events[0]["release"] == "etp-express@2026.12.04+abc123"
    assert events[0]["environment"] == "production"
