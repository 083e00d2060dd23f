"""Storage: migrations up and down, no drift from the models, concurrency, an unreachable database."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from conversations.events import Address, Author, Inbound
from conversations.ports import StoreUnavailable
from storage.db import create_engine
from storage.migrate import downgrade, upgrade
from storage.models import Base
from tests.conftest import PG_ADMIN_URL, _admin, need_service
from tests.helpers import GOOD_ANSWERS, make_app, make_chat


def _diff(sync_conn: object) -> list[object]:
    context = MigrationContext.configure(sync_conn, opts={"compare_type": True})  # type: ignore[arg-type]
    return compare_metadata(context, Base.metadata)


async def test_models_and_migrations_do_not_drift(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
    finally:
        await engine.dispose()


async def test_migrations_up_and_down_on_postgres() -> None:
    from sqlalchemy.engine import make_url

    need_service(
        "PostgreSQL",
        make_url(PG_ADMIN_URL).host or "127.0.0.1",
        make_url(PG_ADMIN_URL).port or 5432,
    )
    name = f"etp_test_updown_{uuid.uuid4().hex[:8]}"
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _admin(f'CREATE DATABASE "{name}"')
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)

    async def tables() -> set[str]:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))

    try:
        upgrade(url)
        assert {
            "etps",
            "section_entries",
            "conversations",
            "revisions",
            "people",
            "processed_events",
            "audit_events",
        } <= await tables()
        downgrade(url, "base")
        assert await tables() <= {"alembic_version"}
        upgrade(url)
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
    finally:
        await engine.dispose()
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_concurrent_events_on_one_conversation_are_serialised_across_processes(
    pg_url: str,
) -> None:
    # two apps = two engines and two in-process lock tables, as two processes would have;
    # only the database row lock keeps their events from interleaving
    first, second = await make_app(pg_url), await make_app(pg_url)
    try:
        ana = make_chat(first, chat_id="group", user_id="a", name="Ana", shared=True)
        await ana.identify()
        address = Address("test", "group", "", True)
        answers = [
            f"Resposta {i}: falta papel nas unidades para atender o público." for i in range(12)
        ]
        events = [
            (first if i % 2 else second).service.handle(
                Inbound.from_text(
                    address, Author("test", f"user{i}", f"Pessoa {i}"), answer, f"evt-{i}"
                )
            )
            for i, answer in enumerate(answers)
        ]
        await asyncio.gather(*events)
        await first.queue.drain()
        await second.queue.drain()
        async with first.engine.connect() as conn:
            stored = (
                await conn.execute(text("SELECT answers FROM section_entries WHERE number = 1"))
            ).scalar_one()
            version = (await conn.execute(text("SELECT version FROM conversations"))).scalar_one()
        stored = stored if isinstance(stored, list) else json.loads(stored)
        assert sorted(a["text"] for a in stored) == sorted(answers)
        # every event bumped the version once (plus the identification steps and draft results)
        assert version >= 12 + 8
    finally:
        await first.close()
        await second.close()


async def test_unreachable_database_raises_store_unavailable_and_loses_nothing(
    sqlite_url: str, unused_tcp_port: int
) -> None:
    app = await make_app(f"postgresql+asyncpg://postgres@127.0.0.1:{unused_tcp_port}/none")
    try:
        inbound = Inbound.from_text(Address("test", "c"), Author("test", "u", "U"), "/novo X", "e1")
        with pytest.raises(StoreUnavailable):
            await app.service.handle(inbound)
    finally:
        await app.close()
    # the same event, redelivered once the database is back, takes effect once
    app = await make_app(sqlite_url)
    try:
        chat = make_chat(app, chat_id="c", user_id="u", name="U")
        assert "ETP nº 1 criado" in chat.texts(await chat.say("/novo X", event_id="e1"))[0]
        assert await chat.say("/novo X", event_id="e1") == []
    finally:
        await app.close()


async def test_resume_after_restart_on_the_same_database(db_url: str) -> None:
    app = await make_app(db_url)
    chat = make_chat(app)
    await chat.identify()
    await chat.say(GOOD_ANSWERS[1][0])
    await app.close()
    app = await make_app(db_url)  # a new process on the same database
    try:
        chat = make_chat(app)
        await chat.say(GOOD_ANSWERS[1][1])
        assert "Pergunta 3 de 3" in chat.last_text()
    finally:
        await app.close()
