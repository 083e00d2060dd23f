"""Redis as accelerator: readiness, and surviving a Redis outage."""

from __future__ import annotations

import httpx

from api.app import create_api
from etp.container import build_app
from tests.conftest import REDIS_TEST_URL, need_service
from tests.helpers import GOOD_ANSWERS, make_chat, override, settings_for


def _need_redis() -> None:
    from urllib.parse import urlparse

    parsed = urlparse(REDIS_TEST_URL)
    need_service("Redis", parsed.hostname or "127.0.0.1", parsed.port or 6379)


async def test_app_with_redis_is_ready_and_works(sqlite_url: str) -> None:
    _need_redis()
    settings = settings_for(sqlite_url)
    from etp.settings import RedisSettings

    override(settings, redis=RedisSettings(redis_url=REDIS_TEST_URL))
    app = await build_app(settings, migrate=False, in_process_drafts=True)
    try:
        transport = httpx.ASGITransport(app=create_api(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://etp") as client:
            ready = (await client.get("/health/ready")).json()
            assert ready == {"database": "ok", "schema": "ok", "redis": "ok"}
        chat = make_chat(app)
        await chat.identify()
        await chat.answer_section(1)
        assert chat.last_text().startswith("Seção 2 de 13")
    finally:
        await app.close()


async def test_redis_down_degrades_to_database_locks(sqlite_url: str, unused_tcp_port: int) -> None:
    settings = settings_for(sqlite_url)
    from etp.settings import RedisSettings

    override(settings, redis=RedisSettings(redis_url=f"redis://127.0.0.1:{unused_tcp_port}/0"))
    app = await build_app(settings, migrate=False, in_process_drafts=True)
    try:
        transport = httpx.ASGITransport(app=create_api(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://etp") as client:
            response = await client.get("/health/ready")
        assert response.status_code == 503 and response.json()["redis"] == "error"
        chat = make_chat(app)
        await chat.identify()
        await chat.say(GOOD_ANSWERS[1][0])
        assert "Pergunta 2 de 3" in chat.last_text()  # nothing lost while Redis is away
    finally:
        await app.close()
