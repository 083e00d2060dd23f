"""Security hardening (issue 17): secrets at rest, the database file, ... Each test fails on the
code before its fix."""

from __future__ import annotations

import json
import logging
import os
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from fastapi import FastAPI
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from pydantic import SecretStr
from typer.testing import CliRunner

from api.app import create_api
from conversations.catalogue import messages as m
from conversations.catalogue.sections import CHECK_SLICE, SECTIONS, check_text, failed_checks
from conversations.flow import MAX_ANSWERS, MAX_TEAM, MAX_TEXT
from etp.cli import cli
from etp.container import App
from etp.privacy import scrub_text
from etp.settings import ApiSettings, SecuritySettings, load_settings
from storage.admin import parse_tenant
from storage.db import create_engine
from storage.migrate import upgrade
from storage.secrets import SecretCipher, reseal_stored_tokens
from tests.helpers import (
    GOOD_ANSWERS,
    IDENTIFICATION,
    finish_etp,
    load_etp,
    make_app,
    make_chat,
    override,
)
from tests.slack_bot import ENCRYPTION_KEY, RunningBot, running_bot
from tests.slack_fake import FORM, FakeSlackApi
from tests.telegram.helpers import configure, open_webhook
from tests.telegram_api import FakeBotApi
from tests.test_observability import samples, value
from tests.test_slack import answer, identify, install, press, start_etp

CHANNEL = "C1"


@pytest.fixture
async def slack_api() -> AsyncIterator[FakeSlackApi]:
    api = FakeSlackApi()
    await api.start()
    yield api
    await api.stop()


TOKEN_COLUMNS = {
    "slack_installations": ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token"),
    "slack_bots": ("bot_token", "bot_refresh_token"),
}


async def _stored_tokens(engine: sa.ext.asyncio.AsyncEngine) -> list[str]:
    values: list[str] = []
    async with engine.connect() as conn:
        for table, columns in TOKEN_COLUMNS.items():
            for column in columns:
                rows = await conn.execute(sa.text(f"SELECT {column} FROM {table}"))
                values += [v for (v,) in rows if v is not None]
    return values


async def _install(bot: RunningBot, team: str) -> None:
    page = await install(bot, team)
    assert page.status_code == 200, page.text


# --- Slack tokens encrypted at rest --------------------------------------------------------


async def test_slack_tokens_are_stored_encrypted_and_still_work(
    db_url: str, slack_api: FakeSlackApi
) -> None:
    async with running_bot(db_url, slack_api, oauth=True) as bot:
        await _install(bot, "T2")
        stored = await _stored_tokens(bot.app.engine)
        assert stored, "the installation stored its tokens"
        assert not any("xoxb" in value for value in stored)
        assert all(
            Fernet(ENCRYPTION_KEY.encode()).decrypt(v.encode()) == b"xoxb-T2" for v in stored
        )
        await bot.team("T2").slash("U1", CHANNEL, "novo Papel")
        await bot.settle()
        posts = bot.api.called("chat.postMessage")
        assert posts and all(c.token == "xoxb-T2" for c in posts)


async def test_a_new_key_first_then_rotate_key_lets_the_old_key_go(
    db_url: str, slack_api: FakeSlackApi
) -> None:
    new_key = Fernet.generate_key().decode()
    async with running_bot(db_url, slack_api, oauth=True) as bot:
        await _install(bot, "T2")
        rewritten = await reseal_stored_tokens(
            bot.app.engine, SecretCipher.parse(f"{new_key},{ENCRYPTION_KEY}")
        )
        assert rewritten == 2  # the installation and its bot
    async with running_bot(db_url, slack_api, oauth=True, encryption_keys=new_key) as bot:
        await bot.team("T2").slash("U1", CHANNEL, "novo Papel")
        await bot.settle()
        posts = bot.api.called("chat.postMessage")
        assert posts and all(c.token == "xoxb-T2" for c in posts)
        stored = await _stored_tokens(bot.app.engine)
        assert all(Fernet(new_key.encode()).decrypt(v.encode()) == b"xoxb-T2" for v in stored)


def _plain_installation(url: str) -> None:
    """A database at revision 0004 holding a workspace's tokens in plain text."""
    upgrade(url, "0004")
    engine = sa.create_engine(url.replace("+aiosqlite", ""))
    now = "2026-11-01 10:00:00"
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO slack_installations (client_id, app_id, team_id, bot_token, "
                "bot_id, bot_user_id, user_id, user_token, is_enterprise_install, installed_at) "
                "VALUES ('111.222', 'A1', 'T2', 'xoxb-T2', 'B1', 'UB', 'U1', 'xoxp-U1', 0, :now)"
            ),
            {"now": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO slack_bots (client_id, app_id, team_id, bot_token, bot_id, "
                "bot_user_id, is_enterprise_install, installed_at) VALUES "
                "('111.222', 'A1', 'T2', 'xoxb-T2', 'B1', 'UB', 0, :now)"
            ),
            {"now": now},
        )
    engine.dispose()


async def test_the_upgrade_encrypts_tokens_stored_in_plain_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'etp.db'}"
    _plain_installation(url)
    monkeypatch.delenv("ETP_ENCRYPTION_KEYS", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    with pytest.raises(RuntimeError, match="set ETP_ENCRYPTION_KEYS"):
        upgrade(url)
    monkeypatch.setenv("ETP_ENCRYPTION_KEYS", ENCRYPTION_KEY)
    upgrade(url)
    engine = create_engine(url)
    try:
        stored = await _stored_tokens(engine)
    finally:
        await engine.dispose()
    fernet = Fernet(ENCRYPTION_KEY.encode())
    assert sorted(fernet.decrypt(v.encode()).decode() for v in stored) == [
        "xoxb-T2",
        "xoxb-T2",
        "xoxp-U1",
    ]


def test_slack_oauth_without_an_encryption_key_fails_at_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SLACK_CLIENT_ID", "111.222")
    monkeypatch.setenv("SLACK_CLIENT_SECRET", "client-secret-abc")
    monkeypatch.delenv("ETP_ENCRYPTION_KEYS", raising=False)
    with pytest.raises(ValueError, match="set ETP_ENCRYPTION_KEYS"):
        load_settings()
    monkeypatch.setenv("ETP_ENCRYPTION_KEYS", "not-a-key")
    with pytest.raises(ValueError, match="not a Fernet key"):
        load_settings()
    monkeypatch.setenv("ETP_ENCRYPTION_KEYS", ENCRYPTION_KEY)
    assert load_settings().security.etp_encryption_keys == SecretStr(ENCRYPTION_KEY)


async def test_the_sqlite_database_the_project_creates_is_readable_by_its_owner_only(
    tmp_path: Path,
) -> None:
    previous = os.umask(0o022)  # a usual umask, which would leave it world-readable
    path = tmp_path / "data" / "etp.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
            await conn.execute(sa.text("INSERT INTO t VALUES (1)"))
        for created in (path, path.with_name("etp.db-wal")):
            assert stat.S_IMODE(created.stat().st_mode) == 0o600, created
    finally:
        await engine.dispose()
        os.umask(previous)


# --- personal data in exceptions and logs ----------------------------------------------------


async def test_a_failed_statement_does_not_quote_its_parameters(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        with pytest.raises(sa.exc.DBAPIError) as failed:
            async with engine.begin() as conn:
                await conn.execute(
                    sa.text("INSERT INTO no_such_table (nome) VALUES (:nome)"),
                    {"nome": "Maria Silva, CPF 123.456.789-09"},
                )
        assert "Maria Silva" not in str(failed.value)
    finally:
        await engine.dispose()


async def test_log_lines_and_their_exceptions_carry_no_cpf_cnpj_email_or_phone(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = await make_app(sqlite_url)  # installs the scrubbing, as every command does
    try:
        log = logging.getLogger("etp.test")
        with caplog.at_level(logging.INFO):
            log.warning("answer from %s (%s)", "maria@orgao.gov.br", "+55 61 998765432")
            try:
                raise RuntimeError("CPF 123.456.789-09 e CNPJ 12345678000190 recusados")
            except RuntimeError:
                log.exception("store failed")
            log.info("chat %s refuses the bot", -1001234567890)
        for value in ("maria@orgao", "998765432", "123.456.789-09", "12345678000190"):
            assert value not in caplog.text, value
        assert "[dado pessoal]" in caplog.text
        assert "-1001234567890" in caplog.text  # a chat id stays readable for operators
    finally:
        await app.close()


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("processo 23000.001234/2026-11", True),
        ("update 987654321 of chat 5001", True),
        ("CPF 12345678909", False),
        ("fone 61 3333-4444", False),
        ("ligue (61)99876-5432", False),
        ("contato: joao.silva+etp@gestao.gov.br", False),
    ],
)
def test_what_counts_as_personal_data(text: str, kept: bool) -> None:
    assert (scrub_text(text) == text) is kept


# --- malformed input gets a 4xx, never a 500 --------------------------------------------------


async def test_malformed_or_deeply_nested_slack_bodies_get_4xx_signed_or_not(
    sqlite_url: str, slack_api: FakeSlackApi
) -> None:
    async with running_bot(sqlite_url, slack_api) as bot:
        bodies = [
            ('{"type": "event_callback", "event":', "application/json"),
            ("[" * 100_000 + "]" * 100_000, "application/json"),
            ("payload=" + "%5B" * 50_000, FORM),
            ("payload=%7Bnot+json", FORM),
        ]
        for body, content_type in bodies:
            anonymous = await bot.http.post(
                "/slack/events", content=body, headers={"Content-Type": content_type}
            )
            assert anonymous.status_code == 401, body[:40]
            signed = await bot.workspace.post(body, content_type)
            assert signed.status_code == 400, body[:40]
            assert signed.json() == {"error": "the body is not a Slack request"}
        await start_etp(bot)  # still serving


async def test_a_date_that_does_not_exist_in_utc_is_a_422_not_a_500(sqlite_url: str) -> None:
    app = await make_app(sqlite_url)
    try:
        _, token = await app.admin.create_token("t", "read")
        transport = httpx.ASGITransport(app=create_api(app), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://etp") as client:
            response = await client.get(
                "/api/etps",
                params={"updated_since": "0001-01-01T00:00:00+14:00"},
                headers={"Authorization": f"Bearer {token}"},
            )
        assert response.status_code == 422
        assert m.API_DATE_OUT_OF_RANGE in response.text
    finally:
        await app.close()


# --- anonymous load ---------------------------------------------------------------------------


def _client(api: FastAPI, address: str = "10.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=api, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://etp")


async def test_failed_authentications_are_limited_per_client_address(sqlite_url: str) -> None:
    app = await make_app(sqlite_url)
    override(app.settings, api=ApiSettings(etp_api_auth_failure_limit="3/minute"))
    try:
        _, token = await app.admin.create_token("t", "read")
        api = create_api(app)
        wrong = {"Authorization": "Bearer etp_" + "x" * 43}
        right = {"Authorization": f"Bearer {token}"}
        async with _client(api) as attacker, _client(api, "10.0.0.2") as other:
            codes = [(await attacker.get("/api/etps", headers=wrong)).status_code for _ in range(4)]
            assert codes == [401, 401, 401, 429]
            blocked = await attacker.get("/api/etps", headers=right)
            assert blocked.status_code == 429  # not even looked up
            assert 1 <= int(blocked.headers["retry-after"]) <= 60
            assert (await other.get("/api/etps", headers=right)).status_code == 200
    finally:
        await app.close()


async def test_expired_oauth_states_are_pruned_and_states_are_indexed(
    db_url: str, slack_api: FakeSlackApi
) -> None:
    async with running_bot(db_url, slack_api, oauth=True) as bot:
        async with bot.app.engine.begin() as conn:
            for n in range(50):  # fifty visits to /slack/install, long ago
                await conn.execute(
                    sa.text(
                        "INSERT INTO slack_oauth_states (state, expire_at) "
                        "VALUES (:s, '2026-01-01 00:00:00')"
                    ),
                    {"s": f"old-{n}"},
                )
        assert (await bot.http.get("/slack/install")).status_code == 302
        async with bot.app.engine.connect() as conn:
            left = await conn.execute(sa.text("SELECT count(*) FROM slack_oauth_states"))
            assert left.scalar_one() == 1
            indexes = await conn.run_sync(lambda c: sa.inspect(c).get_indexes("slack_oauth_states"))
        assert ["state"] in [i["column_names"] for i in indexes]


async def test_the_etp_gauge_is_counted_at_most_every_30_seconds(sqlite_url: str) -> None:
    app = await make_app(sqlite_url)
    try:
        async with _client(create_api(app)) as client:
            first = samples((await client.get("/metrics")).text)
            assert value(first, "etp_etps", status="em_elaboracao") == 0
            await make_chat(app).say("/novo Papel A4")
            again = samples((await client.get("/metrics")).text)
            assert value(again, "etp_etps", status="em_elaboracao") == 0  # not counted again
    finally:
        await app.close()


# --- exposure: docs, metrics, headers ---------------------------------------------------------


async def test_production_serves_no_docs_and_no_open_metrics(sqlite_url: str) -> None:
    app = await make_app(sqlite_url)
    override(app.settings, security=SecuritySettings(etp_env="production"))
    try:
        async with _client(create_api(app)) as client:
            for path in ("/docs", "/redoc", "/openapi.json", "/metrics"):
                assert (await client.get(path)).status_code == 404, path
            assert (await client.get("/health")).status_code == 200
        override(
            app.settings,
            security=SecuritySettings(
                etp_env="production", etp_api_docs=True, etp_metrics_token=SecretStr("m-4f1c2a9b")
            ),
        )
        async with _client(create_api(app)) as client:
            assert (await client.get("/docs")).status_code == 200
            assert (await client.get("/metrics")).status_code == 401
            bad = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
            assert bad.status_code == 401
            good = await client.get("/metrics", headers={"Authorization": "Bearer m-4f1c2a9b"})
            assert good.status_code == 200 and "etp_updates" in good.text
    finally:
        await app.close()


async def test_development_keeps_docs_and_metrics_open(sqlite_url: str) -> None:
    app = await make_app(sqlite_url)
    try:
        async with _client(create_api(app)) as client:
            for path in ("/docs", "/openapi.json", "/metrics"):
                assert (await client.get(path)).status_code == 200, path
    finally:
        await app.close()


async def test_answers_carry_security_headers(sqlite_url: str) -> None:
    app = await make_app(sqlite_url)
    try:
        _, token = await app.admin.create_token("t", "read")
        async with _client(create_api(app)) as client:
            health = await client.get("/health")
            listing = await client.get("/api/etps", headers={"Authorization": f"Bearer {token}"})
            missing = await client.get("/api/etps")
        for response in (health, listing, missing):
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["x-frame-options"] == "DENY"
            assert "default-src 'none'" in response.headers["content-security-policy"]
            assert response.headers["referrer-policy"] == "no-referrer"
        assert listing.headers["cache-control"] == "no-store"
    finally:
        await app.close()


# --- Markdown export -------------------------------------------------------------------------


async def test_user_html_in_the_markdown_export_is_shown_not_run(sqlite_url: str) -> None:
    app = await make_app(sqlite_url)
    try:
        chat = make_chat(app)
        await chat.identify('Papel <img src=x onerror="alert(1)">')
        for answer in GOOD_ANSWERS[1]:
            await chat.say(answer)
        await chat.say(
            "/editar Faltam resmas. <script>alert('x')</script> "
            "[veja](javascript:alert(2)) ![](https://rastreio.example/p.png)"
        )
        await chat.say("/exportar md")
        (document,) = chat.documents()
        text = document.content.decode("utf-8")
        rendered = MarkdownIt("commonmark").render(text)  # html allowed, as many renderers do
        for active in ("<script", "<img", 'href="javascript:', 'rastreio.example/p.png"'):
            assert active not in rendered, active
        assert "&lt;script&gt;alert('x')&lt;/script&gt;" in rendered  # shown as typed
    finally:
        await app.close()


# --- Slack modals ---------------------------------------------------------------------------


async def test_a_slack_form_is_taken_only_from_whom_it_was_opened_for_and_where(
    sqlite_url: str, slack_api: FakeSlackApi
) -> None:
    async with running_bot(sqlite_url, slack_api) as bot:
        thread = await start_etp(bot)
        await identify(bot, thread)
        await answer(bot, thread, 1)
        await press(bot, "U2", thread, "Editar")
        view = bot.workspace.last_view()
        before = list(bot.api.bodies(CHANNEL, thread))
        meta = json.loads(view["private_metadata"])
        elsewhere = {**view, "private_metadata": json.dumps({**meta, "channel": "D0VICTIM"})}
        attempts = [
            ("U3", view),  # someone else submits the form João opened
            ("U2", elsewhere),  # João points his text at another conversation
            (
                "U2",
                {**view, "private_metadata": json.dumps({"command": "/editar"} | meta_of(meta))},
            ),
        ]
        for user, submitted in attempts:
            response = await bot.workspace.submit(user, submitted, "Texto de outra pessoa.")
            assert response.status_code == 200
            assert response.json() == {
                "response_action": "errors",
                "errors": {"part_0": m.SLACK_FORM_REFUSED},
            }
        await bot.settle()
        assert bot.api.bodies(CHANNEL, thread) == before  # nothing happened anywhere
        assert bot.api.called("chat.postMessage")[-1].args.get("channel") != "D0VICTIM"
        response = await bot.workspace.submit("U2", view, "Texto da equipe, revisado.")
        assert response.status_code == 200
        await bot.settle()
        assert any("Seção 1 atualizada" in b for b in bot.api.bodies(CHANNEL, thread))


def meta_of(meta: dict[str, str]) -> dict[str, str]:
    """The metadata as an older form carried it: the place, unsigned."""
    return {k: meta[k] for k in ("team", "channel", "thread")}


# --- token reach ------------------------------------------------------------------------------


async def _two_tenants(app: App) -> None:
    """ETP 1 in Slack workspace T1 (a channel thread), ETP 2 in T2 (a DM), ETP 3 in a
    Telegram group, ETP 4 a Telegram private chat of the group's member."""
    t1 = make_chat(
        app, channel="slack", chat_id="T1:C1", user_id="T1:U1", shared=True, thread_id="100.1"
    )
    await t1.identify("Papel A4")
    t2 = make_chat(app, channel="slack", chat_id="T2:D9", user_id="T2:U9", name="João Souza")
    await t2.say("/novo Limpeza")
    group = make_chat(app, channel="telegram", chat_id="-100777", user_id="55", shared=True)
    await group.say("/novo Vigilância")
    private = make_chat(app, channel="telegram", chat_id="55", user_id="55")
    await private.say("/novo Segredo do servidor")


@pytest.mark.parametrize(
    ("tenant", "visible"),
    [
        ("slack:T1", {1}),
        ("slack:T2", {2}),
        ("telegram:-100777", {3}),
        ("telegram:55", {4}),
        ("orgao:MINISTÉRIO DA GESTÃO E DA INOVAÇÃO", {1}),
        (None, {1, 2, 3, 4}),
    ],
)
async def test_a_token_scoped_to_a_tenant_sees_that_tenant_s_etps_only(
    sqlite_url: str, tenant: str | None, visible: set[int]
) -> None:
    app = await make_app(sqlite_url)
    try:
        await _two_tenants(app)
        _, token = await app.admin.create_token("t", "admin", tenant=tenant)
        auth = {"Authorization": f"Bearer {token}"}
        async with _client(create_api(app)) as client:
            listed = (await client.get("/api/etps", headers=auth)).json()
            assert {i["id"] for i in listed["items"]} == visible
            assert listed["total"] == len(visible)
            for etp_id in (1, 2, 3, 4):
                for path in ("", "/export?format=md", "/revisions"):
                    response = await client.get(f"/api/etps/{etp_id}{path}", headers=auth)
                    assert response.status_code == (200 if etp_id in visible else 404), (
                        etp_id,
                        path,
                    )
    finally:
        await app.close()


def test_a_tenant_is_refused_unless_it_names_one() -> None:
    for wrong in ("T1", "slack:", "slack:t1'--", "telegram:abc", "orgao:", "workspace:T1"):
        with pytest.raises(ValueError, match="tenant must be"):
            parse_tenant(wrong)


async def test_a_read_token_gets_no_names_anywhere_and_an_admin_token_does(
    sqlite_url: str,
) -> None:
    app = await make_app(sqlite_url)
    try:
        await finish_etp(make_chat(app))
        _, read = await app.admin.create_token("r", "read")
        _, admin = await app.admin.create_token("a", "admin")
        async with _client(create_api(app)) as client:

            async def fetch(token: str, path: str) -> httpx.Response:
                return await client.get(path, headers={"Authorization": f"Bearer {token}"})

            for token, named in ((read, False), (admin, True)):
                data = (await fetch(token, "/api/etps/1")).json()
                people = json.dumps(
                    [data["identification"]["equipe"], data["authors"]]
                    + [s["authors"] for s in data["sections"]],
                    ensure_ascii=False,
                )
                for fmt in ("md", "json", "html"):
                    people += (await fetch(token, f"/api/etps/1/export?format={fmt}")).text
                for personal in ("Maria Silva", "1234567"):
                    assert (personal in people) is named, (token == read, personal)
            redacted = (await fetch(read, "/api/etps/1")).json()["identification"]["equipe"]
            assert redacted == [
                {
                    "name": m.DOC_PERSONAL_OMITTED,
                    "cargo": m.DOC_PERSONAL_OMITTED,
                    "matricula": m.DOC_PERSONAL_OMITTED,
                }
            ]
    finally:
        await app.close()


def test_token_create_takes_a_tenant_and_refuses_a_malformed_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/etp.db")
    runner = CliRunner()
    created = runner.invoke(cli, ["token", "create", "--name", "painel", "--tenant", "slack:T1"])
    assert created.exit_code == 0, created.output
    assert "token 1 (painel, scope read, tenant slack:T1)" in created.output
    assert runner.invoke(cli, ["token", "list"]).output.rstrip().endswith("\ttenant slack:T1")
    bad = runner.invoke(cli, ["token", "create", "--name", "x", "--tenant", "T1"])
    assert bad.exit_code != 0 and "tenant must be" in bad.output


# --- load from one person -----------------------------------------------------------------------


@pytest.fixture
async def bot_api() -> AsyncIterator[FakeBotApi]:
    server = FakeBotApi()
    await server.start()
    yield server
    await server.stop()


async def test_a_stranger_is_refused_once_not_at_every_message(
    sqlite_url: str, bot_api: FakeBotApi
) -> None:
    app = await make_app(sqlite_url)
    configure(app, bot_api, allowed=frozenset({777}))
    webhook, client = await open_webhook(app, bot_api)
    try:
        for n in range(5):
            await webhook.say(f"/novo Papel {n}", chat_id=5001, user_id=5001)
        assert webhook.api.texts(5001) == [m.ACCESS_DENIED]  # one refusal, not five
        await webhook.say("/novo Papel", chat_id=5002, user_id=5002)
        assert webhook.api.texts(5002) == [m.ACCESS_DENIED]  # another stranger is told too
    finally:
        await client.aclose()
        await app.close()


# --- group and DM boundaries ---------------------------------------------------------------------


async def test_a_group_etp_is_resumed_in_its_group_only_and_a_private_one_nowhere_else(
    sqlite_url: str,
) -> None:
    app = await make_app(sqlite_url)
    try:
        group = make_chat(app, channel="telegram", chat_id="-100777", user_id="11", shared=True)
        await group.say("/novo Vigilância do campus")  # ETP 1, the group's
        private = make_chat(app, channel="telegram", chat_id="11", user_id="11")
        await private.say("/novo Meu rascunho sigiloso")  # ETP 2, Ana's own
        other = make_chat(app, channel="telegram", chat_id="-100888", user_id="11", shared=True)
        # Ana left the group: from her private chat or another group, its ETP is out of reach
        assert (await private.say("/retomar 1"))[-1].text == m.RESUME_NOT_FOUND.format(id=1)
        assert (await other.say("/retomar 1"))[-1].text == m.RESUME_NOT_FOUND.format(id=1)
        # and her private ETP is not carried into a group, where everyone would read it
        assert (await group.say("/retomar 2"))[-1].text == m.RESUME_NOT_FOUND.format(id=2)
        bruno = group.as_user("22", "Bruno")
        assert m.RESUMING.format(id=1, title="Vigilância do campus") in bruno.texts(
            await bruno.say("/retomar 1")
        )
        assert m.RESUMING.format(id=2, title="Meu rascunho sigiloso") in private.texts(
            await private.say("/retomar 2")
        )
    finally:
        await app.close()


async def test_listar_in_a_group_shows_the_group_s_etps_and_never_a_member_s_private_ones(
    sqlite_url: str,
) -> None:
    app = await make_app(sqlite_url)
    try:
        private = make_chat(app, channel="telegram", chat_id="11", user_id="11")
        await private.say("/novo Meu rascunho sigiloso")
        group = make_chat(app, channel="telegram", chat_id="-100777", user_id="11", shared=True)
        await group.say("/novo Vigilância do campus")
        in_group = (await group.say("/listar"))[-1].text
        assert "Vigilância do campus" in in_group and "sigiloso" not in in_group
        in_private = (await private.say("/listar"))[-1].text
        assert "sigiloso" in in_private and "Vigilância" not in in_private
    finally:
        await app.close()


async def test_a_slack_channel_etp_is_resumed_in_another_thread_of_its_channel(
    sqlite_url: str,
) -> None:
    app = await make_app(sqlite_url)
    try:
        first = make_chat(
            app, channel="slack", chat_id="T1:C1", user_id="T1:U1", shared=True, thread_id="1.1"
        )
        await first.say("/novo Papel A4")
        later = make_chat(
            app, channel="slack", chat_id="T1:C1", user_id="T1:U2", shared=True, thread_id="2.2"
        )
        assert m.RESUMING.format(id=1, title="Papel A4") in later.texts(
            await later.say("/retomar 1")
        )
        elsewhere = make_chat(
            app, channel="slack", chat_id="T1:C2", user_id="T1:U1", shared=True, thread_id="3.3"
        )
        assert (await elsewhere.say("/retomar 1"))[-1].text == m.RESUME_NOT_FOUND.format(id=1)
    finally:
        await app.close()


# --- bounded time on the longest input ---------------------------------------------------------

# Text as an attacker would shape it for a backtracking pattern: long runs of digits, spaces,
# line breaks, separators and the words the checks look for.
_FRAGMENTS = st.sampled_from(
    ["1", "1.", "1,", " ", "\n", "\n ", "\t", "- ", "R$", "x", "não ", "a", ";", "|", "—", "é"]
)


def _long_texts() -> st.SearchStrategy[str]:
    runs = st.tuples(_FRAGMENTS, st.integers(min_value=1, max_value=MAX_TEXT))
    return st.lists(runs, min_size=1, max_size=6).map(
        lambda parts: "".join(fragment * count for fragment, count in parts)[:MAX_TEXT]
    )


# the identification's answers before the planning team's
_TEAM_STEP = next(i for i, line in enumerate(IDENTIFICATION) if line.count(";") == 2)


def _check_everything(text: str) -> float:
    started = time.perf_counter()
    for spec in SECTIONS:
        for check in spec.checks:
            check.test(text)
    return time.perf_counter() - started


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=_long_texts())
@example(text="1" * MAX_TEXT)  # 6.9 s in one check before the patterns were made linear
@example(text="\n" * MAX_TEXT)  # 2.4 s
@example(text="1." * (MAX_TEXT // 2))  # 1.7 s
def test_every_section_check_takes_bounded_time_on_any_input_up_to_the_maximum(
    text: str,
) -> None:
    # linear checks take about 20 ms together on 12,000 characters; a generous bound, far
    # above that and far below what one quadratic pattern took
    assert _check_everything(text) < 1.0


def test_checks_read_a_bounded_window_of_many_stored_answers() -> None:
    # fifteen answers of the maximum length: the checks read the latest CHECK_SLICE characters
    stored = "\n".join(["1" * MAX_TEXT] * 15)
    assert _check_everything(stored) < 1.0
    spec = SECTIONS[0]
    assert spec.checks[0].test("palavra " * 20 + "x" * (3 * CHECK_SLICE)) is False


def test_the_reply_to_a_follow_up_is_read_after_long_answers() -> None:
    # the reply to what a check asked comes last: a bound that kept the first characters of
    # long answers never read it, and the follow-up was asked in vain
    answers = ["Papel para as unidades administrativas. " * 60] * 6 + ["1200 resmas de papel A4."]
    quantity = next(s for s in SECTIONS if s.quantity)
    failing = {c.id for c in failed_checks(quantity, check_text(answers))}
    assert "quantity" not in failing


async def test_a_team_line_shaped_against_the_parser_is_read_in_bounded_time(
    sqlite_url: str,
) -> None:
    app = await make_app(sqlite_url)
    try:
        chat = make_chat(app)
        await chat.say("/novo Papel")
        for line in IDENTIFICATION[:_TEAM_STEP]:
            await chat.say(line)
        for hostile in ("a" + " " * (MAX_TEXT - 2) + "b", "a" + " ," * (MAX_TEXT // 2 - 1)):
            started = time.perf_counter()
            replies = await chat.say(hostile)
            assert time.perf_counter() - started < 2.0  # 1.1-1.4 s in the parser alone before
            # refused whole: a line longer than any member's
            assert chat.texts(replies)[-1].startswith(m.IDENT_TEAM_LINE_TOO_LONG.split("{")[0])
    finally:
        await app.close()


async def test_a_section_takes_at_most_its_cap_of_answers_and_then_changes_nothing(
    sqlite_url: str,
) -> None:
    app = await make_app(sqlite_url)
    try:
        chat = make_chat(app)
        await chat.identify()
        for n in range(MAX_ANSWERS):
            await chat.say(f"Complemento número {n} sobre a falta de papel nas unidades.")
        etp_before = await load_etp(app, 1)
        refused = await chat.say("Mais um complemento.")
        assert chat.texts(refused) == [m.SECTION_ANSWERS_FULL.format(limit=MAX_ANSWERS)]
        assert len((await load_etp(app, 1)).section(1).answers) == MAX_ANSWERS
        assert (await load_etp(app, 1)).section(1).answers == etp_before.section(1).answers
        await chat.say("/aceitar")  # the draft can still be accepted
        assert (await load_etp(app, 1)).section(1).accepted_text
    finally:
        await app.close()


async def test_a_team_over_the_cap_is_refused_whole(sqlite_url: str) -> None:
    app = await make_app(sqlite_url)
    try:
        chat = make_chat(app)
        await chat.say("/novo Papel")
        for line in IDENTIFICATION[:_TEAM_STEP]:
            await chat.say(line)
        team = "\n".join(f"Pessoa {n}; Analista; {1000 + n}" for n in range(MAX_TEAM + 1))
        assert chat.texts(await chat.say(team)) == [m.IDENT_TEAM_TOO_LARGE.format(limit=MAX_TEAM)]
        assert (await load_etp(app, 1)).identification.equipe == []
        fits = "\n".join(f"Pessoa {n}; Analista; {1000 + n}" for n in range(MAX_TEAM))
        await chat.say(fits)
        assert len((await load_etp(app, 1)).identification.equipe) == MAX_TEAM
    finally:
        await app.close()
