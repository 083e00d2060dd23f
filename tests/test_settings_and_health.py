"""Settings from the environment, and the health routes."""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from api.app import create_api
from etp.container import App
from etp.settings import (
    AccessSettings,
    DeploymentSettings,
    LlmSettings,
    ObservabilitySettings,
    TelegramSettings,
    load_settings,
)
from storage.migrate import downgrade, head_revision, upgrade_async
from tests.helpers import make_app, override

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_are_the_embedded_ones(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_URL", "REDIS_URL", "LLM_PROVIDER", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.database.database_url == "sqlite+aiosqlite:///./etp.db"
    assert settings.redis.redis_url is None
    assert settings.llm.provider == "offline"


def test_auto_provider_picks_openai_with_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-123")
    assert LlmSettings().provider == "openai"


def test_placeholder_secrets_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "changeme")
    with pytest.raises(ValidationError):
        TelegramSettings()


@pytest.mark.parametrize("secret", ["", "com espaço", "x" * 257])
def test_a_webhook_secret_telegram_would_refuse_fails_at_start_up(
    monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", secret)
    with pytest.raises(ValidationError, match="TELEGRAM_WEBHOOK_SECRET must be 1 to 256"):
        TelegramSettings()


def test_allow_lists_parse_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETP_ALLOWED_TELEGRAM_IDS", "12, 34")
    monkeypatch.setenv("ETP_ALLOWED_SLACK_TEAMS", "T1,T2")
    access = AccessSettings()
    assert access.etp_allowed_telegram_ids == {12, 34}
    assert access.etp_allowed_slack_teams == {"T1", "T2"}


@pytest.mark.parametrize(
    ("name", "value"), [("ETP_STORE_CONNECTIONS", "0"), ("ETP_RENDER_PROCESSES", "-1")]
)
def test_a_count_out_of_range_fails_at_start_up(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.lower()):
        load_settings()


def test_env_template_lists_every_setting() -> None:
    from etp import settings as module

    template = (ROOT / ".env.template").read_text()
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", template, re.M))
    fields = {
        name.upper()
        for cls in (
            module.DatabaseSettings,
            module.RedisSettings,
            module.LlmSettings,
            module.TelegramSettings,
            module.SlackSettings,
            module.AccessSettings,
            module.ApiSettings,
            module.DocumentSettings,
            module.SecuritySettings,
            module.ObservabilitySettings,
            module.DeploymentSettings,
        )
        for name in cls.model_fields
    }
    assert fields <= listed, fields - listed


@pytest.fixture
async def client(sqlite_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = await make_app(sqlite_url)
    transport = httpx.ASGITransport(app=create_api(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://etp") as client:
        yield client
    await app.close()


async def test_health_answers_with_version_and_uptime(client: httpx.AsyncClient) -> None:
    body = (await client.get("/health")).json()
    assert body["status"] == "ok" and body["version"] and body["uptime_s"] >= 0


def _head_commit() -> str:
    done = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


async def test_health_says_when_and_which_release(client: httpx.AsyncClient) -> None:
    body = (await client.get("/health")).json()
    stamp = datetime.fromisoformat(body["timestamp"])
    assert stamp.tzinfo is not None and abs(datetime.now(UTC) - stamp) < timedelta(minutes=1)
    # a git checkout: the version and the commit it runs
    commit = _head_commit()
    assert body["release"] == f"etp-express@{body['version']}+{commit[:12]}"


async def test_health_release_is_etp_release_when_set(sqlite_url: str) -> None:
    app = await make_app(sqlite_url)
    override(app.settings, observability=ObservabilitySettings(etp_release="2026.12.04-abc"))
    transport = httpx.ASGITransport(app=create_api(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://etp") as client:
        body = (await client.get("/health")).json()
    await app.close()
    assert body["release"] == "2026.12.04-abc"


async def _ready(app: App) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_api(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://etp") as client:
        return await client.get("/health/ready")


async def test_ready_is_503_on_a_never_migrated_database_saying_why_once_in_the_log(
    empty_pg: str, caplog: pytest.LogCaptureFixture
) -> None:
    # before: 200, while every scrape of /metrics logged "relation etps does not exist"
    app = await make_app(empty_pg)
    api = create_api(app)
    transport = httpx.ASGITransport(app=api)
    caplog.set_level(logging.INFO, logger="api.health")
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://etp") as client:
            first = await client.get("/health/ready")
            second = await client.get("/health/ready")
    finally:
        await app.close()
    reason = f"database: schema never migrated (head {head_revision()}): run `etp db upgrade`"
    for response in (first, second):
        assert response.status_code == 503
        assert response.json() == {
            "database": "ok",
            "schema": "behind",
            "redis": "disabled",
            "problems": [reason],
        }
    logged = [r.getMessage() for r in caplog.records if r.name == "api.health"]
    assert logged == [f"not ready: {reason}"]  # once, not at every probe


async def test_ready_follows_the_schema_to_the_head(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="api.health")
    downgrade(sqlite_url, "-1")
    app = await make_app(sqlite_url)
    try:
        api = create_api(app)
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://etp") as client:
            behind = await client.get("/health/ready")
            override(app.settings, deployment=DeploymentSettings(etp_allow_schema_behind=True))
            allowed = await client.get("/health/ready")
            override(app.settings, deployment=DeploymentSettings())
            await upgrade_async(sqlite_url)
            at_head = await client.get("/health/ready")
    finally:
        await app.close()
    assert behind.status_code == 503
    assert behind.json()["schema"] == "behind"
    assert "behind head" in behind.json()["problems"][0]
    assert allowed.status_code == 200 and allowed.json()["schema"] == "behind (allowed)"
    assert at_head.status_code == 200 and at_head.json()["schema"] == "ok"
    assert [r.getMessage() for r in caplog.records if r.name == "api.health"][-1] == "ready again"


async def test_ready_accepts_a_schema_a_newer_release_migrated(sqlite_url: str) -> None:
    # expand/contract: during a rolling upgrade the old release runs on the new schema
    from sqlalchemy import text

    from storage.db import create_engine

    engine = create_engine(sqlite_url)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '9999_next_release'"))
    await engine.dispose()
    app = await make_app(sqlite_url)
    try:
        response = await _ready(app)
    finally:
        await app.close()
    assert response.status_code == 200
    assert response.json()["schema"] == "ahead"


async def test_ready_names_each_dependency(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "schema": "ok", "redis": "disabled"}


async def test_ready_is_503_when_the_database_is_unreachable(unused_tcp_port: int) -> None:
    app = await make_app(f"postgresql+asyncpg://postgres@127.0.0.1:{unused_tcp_port}/x")
    transport = httpx.ASGITransport(app=create_api(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://etp") as client:
        response = await client.get("/health/ready")
    await app.close()
    assert response.status_code == 503
    assert response.json()["database"] == "error"
