"""Storage: migrations up and down, no drift from the models, concurrency, an unreachable database."""

from __future__ import annotations

import asyncio
import gc
import json
import uuid
from datetime import timedelta

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from conversations.events import Address, Author, Inbound
from conversations.ports import AuditEntry, ConcurrentUpdate, StoreUnavailable
from etp.container import App
from etp.runtime import run_with_jobs
from storage.admin import EtpFilter
from storage.db import create_engine
from storage.migrate import downgrade, upgrade
from storage.models import Base
from storage.pgstore import APPLICATION_NAME
from storage.store import SqlEtpStore
from tests.conftest import PG_ADMIN_URL, _admin, need_service
from tests.helpers import (
    GOOD_ANSWERS,
    IDENTIFICATION,
    SKIP_JUSTIFICATIONS,
    count,
    load_etp,
    make_app,
    make_chat,
)


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
    # two apps = two stores and two in-process lock tables, as two processes would have; only
    # the database keeps their events from interleaving (the conversation's version, checked by
    # every write: a stale event writes nothing and runs again)
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


async def test_one_event_delivered_to_two_processes_at_once_takes_effect_once(
    pg_url: str,
) -> None:
    first, second = await make_app(pg_url), await make_app(pg_url)
    try:
        chat = make_chat(first)
        await chat.identify()
        for i in range(8):  # several races, so that both orders of arrival happen
            inbound = Inbound.from_text(
                chat.address, chat.author, f"Resposta {i}: faltam resmas de papel.", f"dup-{i}"
            )
            answered = await asyncio.gather(
                first.service.handle(inbound), second.service.handle(inbound)
            )
            assert sorted(bool(replies) for replies in answered) == [False, True], i
        async with first.engine.connect() as conn:
            claims = (
                await conn.execute(
                    text("SELECT count(*) FROM processed_events WHERE event_id LIKE 'dup-%'")
                )
            ).scalar_one()
            audits = (
                await conn.execute(
                    text("SELECT count(*) FROM audit_events WHERE action = 'section.answered'")
                )
            ).scalar_one()
        assert claims == 8
        assert audits == 3  # three answers, then complements to the draft (not answers)
    finally:
        await first.close()
        await second.close()


async def test_a_first_contact_raced_through_two_processes_makes_one_conversation(
    pg_url: str,
) -> None:
    # both processes find no conversation and create it at once: one creates it, the other
    # reads it; the same event still takes effect once, two different events both do
    first, second = await make_app(pg_url), await make_app(pg_url)
    try:
        for i in range(6):
            author = Author("test", f"person-{i}", "Maria Silva")
            same = Inbound.from_text(Address("test", f"new-{i}", ""), author, "/start", f"s-{i}")
            answered = await asyncio.gather(first.service.handle(same), second.service.handle(same))
            assert sorted(bool(replies) for replies in answered) == [False, True], i
            other = Address("test", f"other-{i}", "")
            help_, listing = (
                Inbound.from_text(other, author, "/ajuda", f"a-{i}"),
                Inbound.from_text(other, author, "/listar", f"b-{i}"),
            )
            answered = await asyncio.gather(
                first.service.handle(help_), second.service.handle(listing)
            )
            assert all(answered), i
        async with first.engine.connect() as conn:
            conversations = (
                await conn.execute(text("SELECT count(*) FROM conversations"))
            ).scalar_one()
            claims = (
                await conn.execute(text("SELECT count(*) FROM processed_events"))
            ).scalar_one()
        assert (conversations, claims) == (12, 18)
    finally:
        await first.close()
        await second.close()


async def test_a_first_contact_whose_conversation_another_process_creates_meanwhile(
    pg_url: str,
) -> None:
    # the other process's insert is not committed when this first contact starts: this one
    # waits for it, finds the row taken, and must then read and use that conversation
    app = await make_app(pg_url)
    other = await asyncpg.connect(pg_url.replace("+asyncpg", ""))
    try:
        async with other.transaction():
            theirs = await other.fetchval(
                "INSERT INTO conversations (channel, chat_id, thread_id, state, version)"
                " VALUES ('test', 'raced', '', '{}', 0) RETURNING id"
            )
            author = Author("test", "u-raced", "Maria Silva")
            first = Inbound.from_text(Address("test", "raced", ""), author, "/start", "raced-1")
            handled = asyncio.create_task(app.service.handle(first))
            waiting = (
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            async with asyncio.timeout(30):  # until its insert waits for the uncommitted row
                while not await other.fetchval(waiting):
                    await other.execute("SELECT pg_stat_clear_snapshot()")  # kept per transaction
                    await asyncio.sleep(0.01)
            assert not handled.done()
        replies = await asyncio.wait_for(handled, 10)
        assert replies, "the first contact was answered"
        rows = await other.fetch(
            "SELECT c.id, c.version FROM conversations c WHERE chat_id = 'raced'"
        )
        assert [(r["id"], r["version"]) for r in rows] == [(theirs, 1)]  # theirs, now saved
        assert await other.fetchval("SELECT count(*) FROM people WHERE external_id = 'u-raced'")
    finally:
        await other.close()
        await app.close()


async def test_many_chats_at_once_are_served_by_the_configured_connections(pg_url: str) -> None:
    # ETP_STORE_CONNECTIONS bounds what one process opens on PostgreSQL; the events beyond it
    # wait their turn and are all answered
    app = await make_app(pg_url, etp_store_connections=2)
    watcher = await asyncpg.connect(pg_url.replace("+asyncpg", ""))
    try:
        chats = [make_chat(app, chat_id=f"busy-{n}", user_id=f"u-busy-{n}") for n in range(30)]
        first = await asyncio.gather(*(chat.say("/start") for chat in chats))
        created = await asyncio.gather(*(chat.say("/novo Papel A4") for chat in chats))
        assert all(
            "Olá, Maria Silva" in chat.texts(r)[0] for chat, r in zip(chats, first, strict=True)
        )
        assert all("criado" in chat.texts(r)[0] for chat, r in zip(chats, created, strict=True))
        assert await watcher.fetchval("SELECT count(*) FROM etps") == 30
        opened = await watcher.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = $1",
            APPLICATION_NAME,
        )
        assert opened == 2
    finally:
        await watcher.close()
        await app.close()


async def test_a_conversation_moved_to_its_chat_s_new_id_continues_there(db_url: str) -> None:
    app = await make_app(db_url)
    try:
        old, new, other = (Address("test", f"g-{n}", "", shared=True) for n in range(3))
        before = make_chat(app, chat_id=old.chat_id, shared=True)
        await before.say("/novo Papel A4")
        await before.say(IDENTIFICATION[0])
        asked = before.last_text()
        after = make_chat(app, chat_id=new.chat_id, shared=True, user_id="u2", name="Bruno")
        await after.say("/start")  # someone wrote at the new id before the news of the move
        assert await app.service.move_conversation(old, new)
        assert not await app.service.move_conversation(old, new)  # the news again: nothing
        await after.say(IDENTIFICATION[1])  # the answer to the question asked at the old id
        assert after.last_text() != asked
        await after.say("/listar")
        assert "nº 1 — Papel A4" in after.last_text()  # shared with the group at its new id
        # a destination with an ETP of its own keeps it
        third = make_chat(app, chat_id=other.chat_id, shared=True)
        await third.say("/novo Outro objeto")
        assert not await app.service.move_conversation(other, new)
        await after.say("/status")
        assert "Papel A4" in after.last_text()
    finally:
        await app.close()


async def test_event_ids_are_forgotten_after_two_days_and_recent_ones_kept(db_url: str) -> None:
    app = await make_app(db_url)
    try:
        chat = make_chat(app)
        await chat.say("/novo Papel A4", event_id="old")
        await chat.say("/status", event_id="recent")
        await claimed_days_ago(app, "old", 3)
        assert await app.service.forget_events(timedelta(days=2)) == 1
        async with app.engine.connect() as conn:
            kept = (await conn.execute(text("SELECT event_id FROM processed_events"))).scalars()
            assert list(kept) == ["recent"]
        assert await chat.say("/status", event_id="recent") == []  # still a redelivery
    finally:
        await app.close()


async def test_long_running_commands_forget_old_event_ids_while_they_run(
    sqlite_url: str,
) -> None:
    app = await make_app(sqlite_url)
    thresholds = gc.get_threshold()
    try:
        await make_chat(app).say("/novo Papel A4", event_id="old")
        await claimed_days_ago(app, "old", 3)

        async def serving() -> None:  # until the claim is gone, as a channel would run
            async with asyncio.timeout(10):
                while await count(app, "processed_events"):  # noqa: ASYNC110
                    await asyncio.sleep(0.01)  # a database state, polled

        await run_with_jobs(app, serving(), worker=False, prune_every=0.05)
        assert await count(app, "processed_events") == 0
    finally:
        gc.unfreeze()  # run_with_jobs froze this test process's objects and slowed its GC
        gc.set_threshold(*thresholds)
        await app.close()


async def claimed_days_ago(app: App, event_id: str, days: int) -> None:
    """Make the claim of `event_id` as old as `days`."""
    async with app.engine.begin() as conn:
        await conn.execute(
            text("UPDATE processed_events SET created_at = :at WHERE event_id = :event_id"),
            {"at": app.service.clock.now() - timedelta(days=days), "event_id": event_id},
        )


async def test_a_unit_of_work_on_a_stale_version_writes_nothing(pg_url: str) -> None:
    app = await make_app(pg_url)
    try:
        store = app.service.store
        address = Address("test", "stale")
        async with store.transaction() as tx:  # creates the conversation
            await tx.lock_conversation(address)
        entry = AuditEntry("test.write", {})
        with pytest.raises(ConcurrentUpdate):
            async with store.transaction() as slow:
                await slow.claim_event("test", "late-event")
                state = await slow.lock_conversation(address)
                async with store.transaction() as fast:  # another process gets in first
                    other = await fast.lock_conversation(address)
                    await fast.save_conversation(other)
                    await fast.add_audit(entry, etp_id=None, person_id=None, conversation_id=None)
                await slow.save_conversation(state)
                await slow.add_audit(entry, etp_id=None, person_id=None, conversation_id=None)
        async with app.engine.connect() as conn:
            audits = (
                await conn.execute(
                    text("SELECT count(*) FROM audit_events WHERE action = 'test.write'")
                )
            ).scalar_one()
            claimed = (
                await conn.execute(
                    text("SELECT count(*) FROM processed_events WHERE event_id = 'late-event'")
                )
            ).scalar_one()
        assert (audits, claimed) == (1, 0)  # the fast unit only; the stale one left no trace
    finally:
        await app.close()


async def test_a_conversation_changed_by_another_process_is_never_served_stale(
    pg_url: str,
) -> None:
    # each process keeps a conversation as it last wrote it; the other process's write must win
    first, second = await make_app(pg_url), await make_app(pg_url)
    try:
        here = make_chat(first)
        there = make_chat(second)  # the same chat and user, served by another process
        await here.identify()
        await here.say(GOOD_ANSWERS[1][0])  # `first` now keeps this conversation
        await there.say(GOOD_ANSWERS[1][1])
        replies = await here.say(GOOD_ANSWERS[1][2])  # from a stale copy: must run again
        assert "Minuta:" in here.texts(replies)[-1]
        etp = await load_etp(first, 1)
        assert [a.text for a in etp.section(1).answers] == GOOD_ANSWERS[1]
    finally:
        await first.close()
        await second.close()


async def test_a_refusal_is_never_decided_on_a_stale_copy(pg_url: str) -> None:
    first, second = await make_app(pg_url), await make_app(pg_url)
    try:
        here = make_chat(first)
        there = make_chat(second)
        await here.identify()
        await here.say(GOOD_ANSWERS[1][0])  # `first` keeps: ETP nº 1 open at section I
        await there.say("/cancelar")  # another process detaches it
        replies = await here.say("/pular Não se aplica", event_id="skip-1")
        # refused for the state as it is (no ETP open), not as `first` last saw it
        assert "Não há ETP em andamento" in here.texts(replies)[0]
        assert await here.say("/pular Não se aplica", event_id="skip-1") == []  # once
    finally:
        await first.close()
        await second.close()


async def test_an_etp_changed_through_another_conversation_is_never_served_stale(
    pg_url: str,
) -> None:
    app = await make_app(pg_url)
    try:
        private = make_chat(app, chat_id="private", user_id="u1", name="Maria Silva")
        # (a private ETP is resumed only in its owner's private chats: tests/test_security.py)
        other = make_chat(app, chat_id="other", user_id="u1", name="Maria Silva")
        await private.identify()
        await private.say(GOOD_ANSWERS[1][0])  # kept: the private conversation and ETP nº 1
        await other.say("/retomar 1")  # the owner opens the same ETP in another private chat
        await other.say(GOOD_ANSWERS[1][1])
        replies = await private.say(GOOD_ANSWERS[1][2])  # the kept ETP is stale by now
        assert "Minuta:" in private.texts(replies)[-1]
        etp = await load_etp(app, 1)
        assert [a.text for a in etp.section(1).answers] == GOOD_ANSWERS[1]
    finally:
        await app.close()


async def test_an_etp_resumed_while_another_conversation_changes_it_is_not_overwritten(
    pg_url: str,
) -> None:
    app = await make_app(pg_url)
    try:
        office = make_chat(app, chat_id="office")
        await office.identify()
        await office.answer_section(1, accept=False)
        # section I answered but not drafted yet: resuming it elsewhere drafts it, so the
        # resuming event writes the ETP it has just read
        async with app.engine.begin() as conn:
            await conn.execute(
                text("UPDATE section_entries SET draft = NULL, status = 'pending' WHERE number = 1")
            )
        phone = make_chat(app, chat_id="phone")  # the same person, another chat
        writer = await asyncpg.connect(pg_url.replace("+asyncpg", ""))
        try:
            # another conversation's change to the ETP, committed while the resume is under way
            change = writer.transaction()
            await change.start()
            await writer.execute(
                "UPDATE etps SET title = 'Papel A4 reciclado', updated_at = now() WHERE id = 1"
            )
            resume = asyncio.create_task(phone.say("/retomar 1"))
            async with asyncio.timeout(30):  # until the resume waits for that row
                # (any lock wait here is the resume's: pg_stat_activity's query text may still
                # show one of the connection's earlier prepared statements)
                while not resume.done() and not await writer.fetchval(  # noqa: ASYNC110
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                ):
                    await asyncio.sleep(0.01)  # a database state, polled
            await change.commit()
            replies = await resume
        finally:
            await writer.close()
        assert "Minuta:" in phone.texts(replies)[-1]
        etp = await load_etp(app, 1)
        assert etp.title == "Papel A4 reciclado"  # the concurrent change stands
        assert etp.section(1).draft  # and the resume's own write was made, from a fresh read
    finally:
        await app.close()


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


async def test_the_store_counts_the_sections_done_as_the_engine_does(db_url: str) -> None:
    # one rule (the engine's SectionEntry.done): accepted, or skipped when optional. A mandatory
    # section cannot be skipped (art. 18, §2º), so one stored as skipped (old data) is not done
    # in the ETP's listing either, whichever store or query counts it
    app = await make_app(db_url)
    try:
        chat = make_chat(app)
        await chat.identify()
        await chat.answer_section(1)  # accepted
        await chat.say(f"/pular {SKIP_JUSTIFICATIONS[2]}")  # optional: skipped
        async with app.engine.begin() as conn:  # mandatory IV and VI, skipped by older code
            await conn.execute(
                text(
                    "UPDATE section_entries SET status = 'skipped', justification = 'Antiga.'"
                    " WHERE number IN (4, 6)"
                )
            )
        etp = await load_etp(app, 1)
        assert [n for n, s in etp.sections.items() if s.status == "skipped"] == [2, 4, 6]
        assert etp.done_count() == 2
        await chat.say("/listar")
        assert "nº 1 — Papel A4 · em elaboração · 2/13 seções" in chat.last_text()
        for store in (app.service.store, SqlEtpStore(app.engine)):  # asyncpg's too, on PostgreSQL
            async with store.transaction() as tx:
                person_id, _ = await tx.open_conversation(chat.author, chat.address)
                listed = await tx.list_etps(person_id, chat.address)
            assert [(e.id, e.done) for e in listed] == [(1, 2)], store
        items, _ = await app.admin.list_etps(EtpFilter(), limit=10, offset=0)
        assert [(e.id, e.sections_done) for e in items] == [(1, 2)]
    finally:
        await app.close()
