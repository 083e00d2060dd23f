"""Shared fixtures: a migrated database per test (SQLite always, PostgreSQL when reachable)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from storage.migrate import upgrade

PG_ADMIN_URL = os.environ.get(
    "ETP_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_TEST_URL = os.environ.get("ETP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE = os.environ.get("ETP_REQUIRE_SERVICES") == "1"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def need_service(name: str, host: str, port: int) -> None:
    """Skip (or, with ETP_REQUIRE_SERVICES=1, fail) when a real service is not reachable."""
    if _reachable(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}"
    if REQUIRE:
        pytest.fail(f"{message} and ETP_REQUIRE_SERVICES=1")
    pytest.skip(message)


def _run(coro: Any) -> None:
    """Run a coroutine to completion from sync code, even under a running loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coro).result()


def _pg_parts() -> tuple[str, int]:
    from sqlalchemy.engine import make_url

    url = make_url(PG_ADMIN_URL)
    return url.host or "127.0.0.1", url.port or 5432


async def _admin(sql: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(PG_ADMIN_URL)
    conn = await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=url.database,
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped at the end."""
    host, port = _pg_parts()
    need_service("PostgreSQL", host, port)
    name = f"etp_test_{uuid.uuid4().hex[:10]}"
    _run(_admin(f'CREATE DATABASE "{name}"'))
    from sqlalchemy.engine import make_url

    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        _run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def empty_pg() -> Iterator[str]:
    """A PostgreSQL database with nothing in it (never migrated), dropped after the test."""
    host, port = _pg_parts()
    need_service("PostgreSQL", host, port)
    name = f"etp_empty_{uuid.uuid4().hex[:10]}"
    _run(_admin(f'CREATE DATABASE "{name}"'))
    from sqlalchemy.engine import make_url

    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        _run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


async def _truncate(url: str) -> None:
    from sqlalchemy import text

    from storage.db import create_engine
    from storage.models import Base

    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A migrated, empty database: SQLite file per test; PostgreSQL truncated per test."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "etp.db"
        shutil.copy(template, path)
        yield f"sqlite+aiosqlite:///{path}"
    else:
        url = request.getfixturevalue("pg_database")
        await _truncate(url)
        yield url


@pytest.fixture
async def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "etp.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def pg_url(pg_database: str) -> str:
    await _truncate(pg_database)
    return pg_database


@pytest.fixture
async def chat(db_url: str) -> AsyncIterator[Any]:
    """A chat with the real service on each store (the offline drafter)."""
    from tests.helpers import make_app, make_chat

    app = await make_app(db_url)
    try:
        yield make_chat(app)
    finally:
        await app.close()
