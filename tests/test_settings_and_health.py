"""Settings from the environment, and the health routes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from api.app import create_api
from etp.settings import AccessSettings, LlmSettings, TelegramSettings, load_settings
from tests.helpers import make_app

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


async def test_ready_names_each_dependency(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "redis": "disabled"}


async def test_ready_is_503_when_the_database_is_unreachable(unused_tcp_port: int) -> None:
    app = await make_app(f"postgresql+asyncpg://postgres@127.0.0.1:{unused_tcp_port}/x")
    transport = httpx.ASGITransport(app=create_api(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://etp") as client:
        response = await client.get("/health/ready")
    await app.close()
    assert response.status_code == 503
    assert response.json()["database"] == "error"
