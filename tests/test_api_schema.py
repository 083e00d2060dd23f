"""Schemathesis against the OpenAPI schema, in process (ASGI), with a valid admin token."""

from __future__ import annotations

import asyncio
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import negative_data_rejection

from api.app import create_api
from etp.settings import ApiSettings
from tests.helpers import finish_etp, make_app, make_chat, override


def _prepare(url: str) -> tuple[Any, str]:
    async def run() -> tuple[Any, str]:
        app = await make_app(url)
        chat = make_chat(app)
        await finish_etp(chat)
        await chat.say("/novo Segundo ETP, ainda no começo")
        _, token = await app.admin.create_token("schemathesis", "admin")
        # schemathesis serves the app on its own event loop: start it with an empty pool
        await app.engine.dispose()
        return app, token

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


@pytest.fixture(scope="module")
def prepared(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, str]:
    path = tmp_path_factory.mktemp("schema") / "etp.db"
    shutil.copy(sqlite_template, path)
    app, token = _prepare(f"sqlite+aiosqlite:///{path}")
    override(app.settings, api=ApiSettings(etp_api_rate_limit="1000000/minute"))
    return app, token


@pytest.fixture(scope="module")
def api_schema(prepared: tuple[Any, str]) -> Any:
    app, _ = prepared
    return schemathesis.openapi.from_asgi("/openapi.json", create_api(app))


def _operations() -> list[str]:
    return [
        "GET /api/etps",
        "GET /api/etps/{etp_id}",
        "GET /api/etps/{etp_id}/export",
        "GET /api/etps/{etp_id}/revisions",
        "GET /health",
        "GET /health/ready",
        "GET /metrics",
    ]  # POST /telegram/webhook exists only with a bot and its secret (tests/telegram/test_webhook.py)


# schemathesis' lazy pytest loader does not run under pytest 9, so each operation's Hypothesis
# strategy is driven here, positive (valid) and negative (invalid) data alike.
CASES = [(label, GenerationMode.POSITIVE) for label in _operations()] + [
    (label, GenerationMode.NEGATIVE) for label in _operations() if label.startswith("GET /api/")
]  # the health routes take no input


@pytest.mark.parametrize(("label", "mode"), CASES)
def test_api_never_answers_500(
    api_schema: Any, prepared: tuple[Any, str], label: str, mode: GenerationMode
) -> None:
    _, token = prepared
    method, path = label.split(" ", 1)
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    def check(case: Any) -> None:
        # a repeated query parameter is invalid by the schema but FastAPI takes the last one;
        # that is not what this test is about (no input may make a 500)
        case.call_and_validate(
            headers={"Authorization": f"Bearer {token}"},
            excluded_checks=[negative_data_rejection],
        )

    check()


def test_every_operation_is_exercised(api_schema: Any) -> None:
    labels = {r.ok().label for r in api_schema.get_all_operations()}
    assert labels == set(_operations())
