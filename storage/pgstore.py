"""PgEtpStore: the engine's EtpStore port on PostgreSQL through raw asyncpg, two statements an event.

The conversation hot path costs what its round trips cost, and a prepared asyncpg statement
costs a fraction of a SQLAlchemy one's Python (bench/README.md); BEGIN and COMMIT are round
trips too. So a unit of work here holds no transaction:

1. one read: the conversation, its ETP with every section, and whether the event was already
   processed (a redelivery raises DuplicateEvent before any work);
2. the engine steps in Python;
3. one write, atomic as every statement is: the conversation's update *where its version is
   still the one read* (optimistic concurrency), and, only if that row was updated, the event's
   claim, the ETP and its changed sections, revisions and audit rows (data-modifying CTEs, each
   conditioned on the conversation's update). A stale version writes nothing and raises
   ConcurrentUpdate; the service runs the event again on fresh state. A claim that collides with
   a concurrent delivery of the same event fails the whole statement the same way.

After a unit is written, the store keeps the conversation and its ETP as written (a bounded LRU
in the process). The conversation's next event starts from them without the read: one statement
an event. That is safe because the write checks what the unit started from: the conversation's
version and the ETP's `updated_at` (set by every write of an ETP). If another process or another
conversation changed either, the write does nothing, the kept copy is dropped and the event runs
again from a fresh read, which also tells a redelivered event (DuplicateEvent). So a kept copy
saves the read when a conversation's events reach the same process, and costs one failed
statement when they do not.

Statements are SQLAlchemy Core constructs over the same tables, compiled once for asyncpg and run
as prepared statements; a new shape of writes is compiled once and cached. Everything else
(admin API, migrations, SQLite) stays on SQLAlchemy (storage/store.py, storage/admin.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

import asyncpg
from cachetools import LRUCache
from sqlalchemy import (
    JSON,
    Table,
    bindparam,
    cast,
    exists,
    func,
    insert,
    literal,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy import update as sa_update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncEngine

from conversations.events import Address, Author
from conversations.model import ConversationState, Etp, EtpSummary
from conversations.ports import ConcurrentUpdate, DuplicateEvent, StalledDraft
from conversations.replies import Reply, replies_from_json, replies_to_json
from storage.errors import unreachable_as_unavailable
from storage.rows import (
    ETP_COLUMNS,
    conversation_from_row,
    etp_from_rows,
    section_rows,
    settled_before,
    summary_from_row,
)
from storage.statements import (
    LIST_ETPS,
    LOAD_ETP,
    PERSON_UPSERT,
    PeopleCache,
    conversation_read,
    identity,
    list_params,
    person_params,
)
from storage.store import SqlEtpStore
from storage.tables import audit, conversations, etps, events, revisions, sections
from storage.writes import (
    AUDIT_FIELDS,
    ETP_FIELDS,
    REVISION_FIELDS,
    SECTION_FIELDS,
    DeferredWrites,
    bind,
    write_params,
    write_statement,
)

_DIALECT = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]

Kept = tuple[ConversationState, Etp | None]  # a conversation and its ETP, as last written


@dataclass(frozen=True, slots=True)
class Sql:
    """A statement compiled for asyncpg: its text and how to order (and encode) its parameters."""

    text: str
    names: tuple[str, ...]
    json_names: frozenset[str]
    constants: Mapping[str, Any]  # values written into the construct (`version=0`)

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        args = []
        for name in self.names:
            value = params[name] if name in params else self.constants[name]
            # asyncpg sends json parameters as text; SQLAlchemy's JSON bind processor is bypassed
            args.append(
                json.dumps(value) if name in self.json_names and value is not None else value
            )
        return args


def compile_sql(statement: Any) -> Sql:
    compiled = statement.compile(dialect=_DIALECT)
    names = tuple(compiled.positiontup or ())
    binds = compiled.binds
    json_names = frozenset(n for n in names if isinstance(binds[n].type, JSON))
    constants = {n: binds[n].value for n in names if binds[n].value is not None}
    return Sql(compiled.string, names, json_names, constants)


# --- the read --------------------------------------------------------------------------


def _open_query(person: bool) -> Any:
    """The conversation at an address with its ETP, a row per section, created when missing
    (one row: no ETP, an empty state), and whether the event was already processed; `person`:
    also the author's identity upserted, its id on every row. A first contact is one round
    trip where it was three (the person, the read, the insert).

    The insert runs only when no conversation is at the address (a plain read: it neither waits
    for a concurrent writer of an existing row nor draws an id from the sequence). Its row is
    not visible to the read in the same statement, so exactly one branch of the union has
    rows, except when another unit created the row after this statement's snapshot was taken:
    the insert waits for it, does nothing, and neither branch has rows (ConcurrentUpdate: the
    unit runs again).
    """
    c = conversations
    seen = exists().where(
        events.c.platform == bindparam("platform"), events.c.event_id == bindparam("event_id")
    )
    here = (
        c.c.channel == bindparam("channel"),
        c.c.chat_id == bindparam("chat_id"),
        c.c.thread_id == bindparam("thread_id"),
    )
    fields = ["channel", "chat_id", "thread_id", "state", "version"]
    missing = select(
        *[bindparam(name, type_=c.c[name].type) for name in fields[:4]], literal(0)
    ).where(~exists().where(*here))
    created = (
        postgresql.insert(c)
        .from_select(fields, missing)
        .on_conflict_do_nothing()
        .returning(c.c.id, c.c.version)
        .cte("created")
    )
    extra = []
    if person:
        upserted = PERSON_UPSERT[True].cte("person")
        extra = [select(upserted.c.person_id).scalar_subquery().label("person_id")]
    # an event already processed: its replies, kept while the conversation is where the
    # event left it (a redelivery sends them again, see EtpService.handle)
    kept = (
        select(events.c.reply)
        .where(
            events.c.platform == bindparam("platform"),
            events.c.event_id == bindparam("event_id"),
            events.c.conversation_id == c.c.id,
            events.c.version == c.c.version,
            events.c.created_at < bindparam("settled_before", type_=events.c.created_at.type),
        )
        .scalar_subquery()
        .label("seen_reply")
    )
    # json arrives as text through asyncpg
    read = conversation_read(c.c.state, seen.label("seen_event")).order_by(None)
    new = select(
        created.c.id.label("conv_id"),
        cast(null(), c.c.etp_id.type).label("conv_etp_id"),
        cast(literal("{}"), c.c.state.type).label("state_json"),
        created.c.version,
        seen.label("seen_event"),
        *[cast(null(), column.type).label(column.name) for column in ETP_COLUMNS],
    )
    unkept = cast(null(), events.c.reply.type).label("seen_reply")
    both = union_all(read.add_columns(kept, *extra), new.add_columns(unkept, *extra))
    return both.order_by(both.selected_columns.number)


@cache
def _statements() -> dict[str, Sql]:
    """The fixed statements, compiled on first use."""
    return {
        "open": compile_sql(_open_query(person=False)),
        "open_person": compile_sql(_open_query(person=True)),
        "person": compile_sql(PERSON_UPSERT[True]),
        "load": compile_sql(LOAD_ETP),
        "list": compile_sql(LIST_ETPS[False]),
        "list_shared": compile_sql(LIST_ETPS[True]),
        "next_etp_id": compile_sql(
            select(func.nextval(func.pg_get_serial_sequence(etps.name, "id")))
        ),
        "settle": compile_sql(
            sa_update(events)
            .where(
                events.c.platform == bindparam("k_platform"),
                events.c.event_id == bindparam("k_event_id"),
            )
            .values(reply=bindparam("v_reply", type_=events.c.reply.type))
        ),
    }


# --- the write -------------------------------------------------------------------------

_INSERTS: dict[str, tuple[Table, tuple[str, ...]]] = {
    "etp_new": (etps, ("id", *ETP_FIELDS, "created_at")),
    "section_new": (sections, ("etp_id", "number", *SECTION_FIELDS)),
    "revision": (revisions, REVISION_FIELDS),
    "audit": (audit, AUDIT_FIELDS),
    "claim": (events, ("platform", "event_id", "reply", "conversation_id", "version")),
}


def _write(kind: str, slot: str, condition: Any) -> Any:
    """One write of the unit, done only when `condition` holds (the conversation was updated)."""
    if kind in _INSERTS:
        table, fields = _INSERTS[kind]
        values = [bind(table, f, slot).label(f) for f in fields]
        source = select(*values) if condition is None else select(*values).where(condition)
        return insert(table).from_select(list(fields), source)
    statement = write_statement(kind, slot)  # an UPDATE of the ETP or of a section
    return statement if condition is None else statement.where(condition)


def _saved(etp_checked: bool, verify: bool) -> Any:
    """The conversation's update, where its version (and its ETP's `updated_at`) are as read;
    `verify`: a unit that changes no conversation, so the update changes nothing (it takes the
    row and re-checks the version, as the update proper does)."""
    c = conversations
    update = (
        sa_update(c)
        .where(
            c.c.id == bind(c, "id", "_c", key=True),
            c.c.version == bind(c, "version", "_c", key=True),
        )
        .values(version=c.c.version)
        if verify
        else write_statement("conversation", "_c")
    )
    if etp_checked:
        # a locking read: unlike a plain EXISTS on the statement's snapshot, it waits for a
        # concurrent writer of the ETP and re-checks the newest row, so two conversations on one
        # ETP cannot both write it from the same starting point
        seen = (
            select(etps.c.id)
            .where(
                etps.c.id == bindparam("k_etp_c", type_=etps.c.id.type),
                etps.c.updated_at == bindparam("k_etp_seen_c", type_=etps.c.updated_at.type),
            )
            .with_for_update(key_share=True)  # FOR NO KEY UPDATE
            .cte("etp_seen")
        )
        update = update.where(exists(select(literal_column("1")).select_from(seen)))
    return update.returning(conversations.c.id).cte("saved")


@lru_cache(maxsize=512)
def _unit(
    kinds: tuple[str, ...], checked: bool, etp_checked: bool = False, verify: bool = False
) -> Sql:
    """The one statement for a shape of writes: `checked` when the conversation is saved."""
    if checked:
        saved = _saved(etp_checked, verify)
        condition = exists(select(literal_column("1")).select_from(saved))
        query = select(select(func.count()).select_from(saved).scalar_subquery())
    else:
        condition = None
        query = select(literal_column("1"))
    for i, kind in enumerate(kinds):
        query = query.add_cte(_write(kind, f"_{i}", condition).cte(f"w{i}"))
    return compile_sql(query)


APPLICATION_NAME = "etp-express-store"


class FairPool:
    """An asyncpg pool whose connections go to statements first come, first served.

    asyncpg's own wait is not fair: a connection put back wakes the longest waiter, but a
    statement that asks before that waiter runs takes it, and the waiter queues again at the
    back, so under load a few statements wait far longer than the rest (bench/README.md). A
    FIFO semaphore as wide as the pool admits
    statements in arrival order instead, so the pool itself never has a waiter.
    """

    def __init__(self, pool: asyncpg.Pool, size: int) -> None:
        self.pool = pool
        self._turns = asyncio.Semaphore(size)

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        async with self._turns:
            rows: list[asyncpg.Record] = await self.pool.fetch(query, *args)
            return rows

    async def fetchval(self, query: str, *args: Any) -> Any:
        async with self._turns:
            return await self.pool.fetchval(query, *args)

    async def close(self) -> None:
        await self.pool.close()


class PgTransaction(DeferredWrites):
    """One unit of work, holding no transaction (see the module doc), nor a connection: each
    statement takes one for its round trip only, so no connection waits idle through the
    engine's step."""

    def __init__(self, pool: FairPool, people: PeopleCache, recent: LRUCache[str, Kept]) -> None:
        super().__init__()
        self.pool = pool
        self.people = people
        self.recent = recent
        self._sql = _statements()
        self._key: str | None = None  # the conversation this unit started from
        self._seen_etp_id: int | None = None  # its ETP
        self._read_at: dict[int, datetime | None] = {}  # every ETP read: updated_at as read
        self._etps: list[Etp] = []  # every ETP this unit read or wrote, by identity
        self._state: ConversationState | None = None
        self._as_kept: dict[str, Any] | None = None  # the conversation, when served kept
        self._claim: tuple[str, str] | None = None
        self._kept: dict[str, Any] | None = None  # the claim's replies (keep_replies)

    async def _fetch(self, sql: Sql, params: Mapping[str, Any]) -> list[asyncpg.Record]:
        return await self.pool.fetch(sql.text, *sql.args(params))

    async def claim_event(self, platform: str, event_id: str) -> bool:
        # checked by lock_conversation's read, written with the unit's other writes
        self._claim = (platform, event_id[:200])
        return True

    def keep_replies(self, replies: Sequence[Reply], conversation_id: int, version: int) -> None:
        self._kept = {
            "reply": replies_to_json(replies),
            "conversation_id": conversation_id,
            "version": version,
        }

    async def open_conversation(
        self, author: Author, address: Address
    ) -> tuple[int, ConversationState]:
        person = identity(author)
        known = self.people.get(person)
        # the person's upsert when not known here: with the conversation's read if there is one
        upsert = person_params(person) if known is None else None
        state = self._take_kept(address)
        if state is None:
            rows = await self._open(address, upsert)
            state = self._opened(rows)
        elif upsert is not None:
            rows = await self._fetch(self._sql["person"], upsert)
        if known is not None:
            return known, state
        person_id = int(rows[0]["person_id"])
        self.people.learn([(person, person_id)])  # an upsert: committed, and idempotent
        return person_id, state

    async def lock_conversation(self, address: Address) -> ConversationState:
        state = self._take_kept(address)
        return state if state is not None else self._opened(await self._open(address, None))

    def _take_kept(self, address: Address) -> ConversationState | None:
        """The conversation as this process last wrote it, if it kept it (see the module doc)."""
        self._key = address.key
        kept = self.recent.pop(address.key, None)  # taken out: put back only once written
        if kept is None:
            return None
        state, etp = kept
        # as written, for a unit that ends without saving it (a refusal, a superseded draft):
        # its write then checks the copy was current all the same (see flush)
        self._as_kept = {"id": state.id, "version": state.version}
        self._started_from(etp)
        return state

    async def _open(
        self, address: Address, person: Mapping[str, Any] | None
    ) -> list[asyncpg.Record]:
        """The conversation's rows from the open statement (see _open_query)."""
        platform, event_id = self._claim or ("", "")
        params: dict[str, Any] = {
            "channel": address.channel,
            "chat_id": address.chat_id,
            "thread_id": address.thread_id,
            "platform": platform,
            "event_id": event_id,
            "settled_before": settled_before(),
            "state": {},
        }
        sql = self._sql["open"]
        if person is not None:  # and the person's upsert (see open_conversation)
            sql = self._sql["open_person"]
            params |= person
        rows = await self._fetch(sql, params)
        if not rows:  # created by another unit after this statement's snapshot: the service
            # runs the unit again, and the statement, with a new snapshot, reads that row
            raise ConcurrentUpdate("the conversation was created concurrently")
        return rows

    def _opened(self, rows: Sequence[asyncpg.Record]) -> ConversationState:
        head = rows[0]
        if head["seen_event"]:
            platform, event_id = self._claim or ("", "")
            kept = head["seen_reply"]
            replies = replies_from_json(json.loads(kept)) if kept else []
            raise DuplicateEvent(f"{platform}:{event_id}", replies)
        self._started_from(etp_from_rows(rows) if head["etp_id_"] is not None else None)
        return conversation_from_row(head)

    def _started_from(self, etp: Etp | None) -> None:
        self._prefetched = etp
        if etp is not None and etp.id is not None:
            self._seen_etp_id = etp.id
            self._read(etp)

    def _read(self, etp: Etp) -> Etp:
        """Remember an ETP this unit read, and its `updated_at` as read (flush checks it)."""
        self._etps.append(etp)
        if etp.id is not None:
            self._read_at.setdefault(etp.id, etp.updated_at)
        return etp

    async def save_conversation(self, state: ConversationState) -> None:
        self._state = state
        await super().save_conversation(state)

    async def load_etp(self, etp_id: int) -> Etp | None:
        prefetched = self._take_prefetched(etp_id)
        if prefetched is not None:
            return prefetched
        rows = await self._fetch(self._sql["load"], {"etp_id": etp_id})
        if not rows:
            return None
        return self._read(etp_from_rows(rows))

    async def save_etp(self, etp: Etp) -> Etp:
        self._etps.append(etp)
        return await super().save_etp(etp)

    async def _insert_etp(self, etp: Etp, values: dict[str, Any], now: datetime) -> None:
        # the id now, the rows with the unit's writes
        etp.id = int((await self._fetch(self._sql["next_etp_id"], {}))[0][0])
        self._writes.append(("etp_new", {**values, "id": etp.id, "created_at": now}))
        self._writes += [("section_new", row) for row in section_rows(etp, etp.sections)]

    async def list_etps(self, person_id: int, address: Address) -> Sequence[EtpSummary]:
        sql = self._sql["list_shared" if address.shared else "list"]
        rows = await self._fetch(sql, list_params(person_id, address))
        return [summary_from_row(row) for row in rows]

    async def flush(self) -> None:
        """The unit's one write; nothing at all when a check fails (ConcurrentUpdate)."""
        writes, check = self._writes, self._conversation_check
        verify = check is None and self._as_kept is not None
        if verify:
            # a kept copy is only trusted through a checked write: a unit that saves no
            # conversation (a refusal, a superseded draft) still checks its version, changing
            # nothing, so a stale copy fails here and the event runs again
            check = self._as_kept
        self._as_kept = None
        if self._claim is not None:
            platform, event_id = self._claim
            kept = self._kept or {"reply": None, "conversation_id": None, "version": None}
            claim = {"platform": platform, "event_id": event_id, **kept}
            writes = [("claim", claim), *writes]
        self._writes, self._conversation_check, self._claim, self._kept = [], None, None, None
        if not writes and check is None:
            return
        params: dict[str, Any] = {}
        for i, (kind, values) in enumerate(writes):
            params.update(write_params(kind, values, f"_{i}"))
        # the ETP checked is the one this unit updates, as it was read (an ETP resumed in
        # this event is not the conversation's yet); else the conversation's own
        updated = next((v["id"] for kind, v in writes if kind == "etp"), None)
        checked_id = updated if updated in self._read_at else self._seen_etp_id
        seen = None if checked_id is None else (checked_id, self._read_at[checked_id])
        etp_checked = check is not None and seen is not None
        if check is not None:
            params.update(write_params("conversation", check, "_c"))
            if seen is not None:
                params["k_etp_c"], params["k_etp_seen_c"] = seen
        sql = _unit(tuple(kind for kind, _ in writes), check is not None, etp_checked, verify)
        try:
            saved = await self.pool.fetchval(sql.text, *sql.args(params))
        except asyncpg.UniqueViolationError as exc:
            if exc.table_name == events.name:  # a concurrent delivery of this event won
                raise ConcurrentUpdate("event claimed concurrently") from exc
            raise
        if check is not None and saved != 1:
            raise ConcurrentUpdate("conversation or its ETP changed")
        if check is not None and not verify:
            self._keep()

    def _keep(self) -> None:
        """Keep the conversation and its ETP as just written, for its next event."""
        state = self._state
        if state is None or self._key is None:
            return
        etp = None
        if state.etp_id is not None:
            etp = next((e for e in reversed(self._etps) if e.id == state.etp_id), None)
            if etp is None or etp.dirty or etp.dirty_sections:
                return  # not an ETP this unit read or wrote whole: the next event reads it
        self.recent[self._key] = (state, etp)


class PgEtpStore:
    """The EtpStore port on an asyncpg pool (PostgreSQL only); see the module doc."""

    def __init__(self, pool: FairPool, rare: SqlEtpStore, *, keep: int = 5_000) -> None:
        self.pool = pool
        self.rare = rare  # operations off the conversation path, on SQLAlchemy
        self.people = PeopleCache()
        self.recent: LRUCache[str, Kept] = LRUCache(maxsize=keep)

    @classmethod
    async def connect(
        cls, engine: AsyncEngine, *, connections: int = 8, pgbouncer: bool = False
    ) -> PgEtpStore:
        """A pool of `connections` to `engine`'s database (the rest goes through `engine`);
        connects lazily, so a database that is down at start-up fails the first event
        (StoreUnavailable), not the start.

        A few connections serve many chats: a statement holds one for its round trip only, and
        fewer PostgreSQL processes at work cost PostgreSQL less CPU (bench/README.md).

        Behind PgBouncer in transaction mode (`pgbouncer`), nothing stays prepared between
        statements and `plan_cache_mode`, a startup parameter PgBouncer refuses, is not sent.
        """
        url = engine.url.set(drivername="postgresql")
        dsn = url.render_as_string(hide_password=False)
        server_settings = {"application_name": APPLICATION_NAME}  # pg_stat_activity
        if not pgbouncer:
            # every statement here finds rows by key, so one plan per prepared statement serves
            # all values; by default PostgreSQL plans each of a statement's first five runs
            # anew on every connection, costly for the unit's write (a dozen CTEs)
            server_settings["plan_cache_mode"] = "force_generic_plan"
        pool = asyncpg.create_pool(
            dsn,
            min_size=0,
            max_size=connections,
            statement_cache_size=0 if pgbouncer else 512,
            server_settings=server_settings,
            reset=_no_reset,
        )
        await pool
        return cls(FairPool(pool, connections), SqlEtpStore(engine))

    async def close(self) -> None:
        await self.pool.close()

    async def prune_events(self, before: datetime) -> int:
        return await self.rare.prune_events(before)

    async def settle_event(self, platform: str, event_id: str, rest: Sequence[Reply]) -> None:
        sql = _statements()["settle"]
        params = {
            "k_platform": platform,
            "k_event_id": event_id[:200],
            "v_reply": replies_to_json(rest) or None,
        }
        with unreachable_as_unavailable():
            await self.pool.fetchval(sql.text, *sql.args(params))

    async def stalled_drafts(self, before: datetime, limit: int) -> list[StalledDraft]:
        return await self.rare.stalled_drafts(before, limit)

    async def touch_draft(
        self, etp_id: int, section: int, attempt: int, now: datetime, before: datetime | None
    ) -> bool:
        # the section's updated_at is not one a kept copy is checked by (the ETP's is)
        return await self.rare.touch_draft(etp_id, section, attempt, now, before)

    async def move_conversation(self, old: Address, new: Address) -> bool:
        moved = await self.rare.move_conversation(old, new)
        for address in (old, new):  # their next events read afresh
            self.recent.pop(address.key, None)
        return moved

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PgTransaction]:
        with unreachable_as_unavailable():
            tx = PgTransaction(self.pool, self.people, self.recent)
            yield tx
            await tx.flush()


async def _no_reset(_: asyncpg.Connection) -> None:
    """Units of work leave no session state (no transaction, lock or LISTEN), so a connection
    goes back to the pool as it is: asyncpg's default reset costs a round trip per release."""
