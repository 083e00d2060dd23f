"""SqlEtpStore: the engine's EtpStore port on SQLAlchemy Core (async), for SQLite (the embedded
default) and any other SQLAlchemy database. PostgreSQL gets storage/pgstore.py, which runs the
same statements on raw asyncpg, two per event.

One transaction per unit of work: the dedupe insert, the conversation lock (BEGIN IMMEDIATE on
SQLite; a row lock elsewhere) read together with the ETP and its sections, then the writes (the
ETP and its changed sections, the conversation, revisions, audit) deferred to the end of the
unit of work. A person's id is remembered once committed, so a known person with an unchanged
name costs no statement. The statements are built once, with bind parameters.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Table,
    Text,
    bindparam,
    cast,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from conversations.events import Address, Author
from conversations.model import (
    Answer,
    AuthorRef,
    ConversationState,
    Etp,
    EtpSummary,
    Identification,
    SectionEntry,
)
from conversations.ports import AuditEntry, ConcurrentUpdate, Revision, StoreUnavailable
from storage.models import (
    AuditEvent,
    ConversationRow,
    EtpRow,
    Person,
    ProcessedEvent,
    RevisionRow,
    SectionRow,
)

_people: Table = Person.__table__  # type: ignore[assignment]
_etps: Table = EtpRow.__table__  # type: ignore[assignment]
_sections: Table = SectionRow.__table__  # type: ignore[assignment]
_revisions: Table = RevisionRow.__table__  # type: ignore[assignment]
_conversations: Table = ConversationRow.__table__  # type: ignore[assignment]
_events: Table = ProcessedEvent.__table__  # type: ignore[assignment]
_audit: Table = AuditEvent.__table__  # type: ignore[assignment]


# An ETP with its sections, in one query: the ETP's columns repeat on each section row.
_ETP_COLUMNS = (
    _etps.c.id.label("etp_id_"),
    _etps.c.title,
    _etps.c.status.label("etp_status"),
    _etps.c.owner_id,
    _etps.c.shared_key,
    # repeated on every section row: read as text and decoded once, from the first row
    cast(_etps.c.identification, Text).label("identification_json"),
    _etps.c.created_at,
    _etps.c.updated_at.label("etp_updated_at"),
    *[c for c in _sections.c if c.name not in ("id", "etp_id")],
)


def _etp_from_rows(rows: Sequence[Any]) -> Etp:
    """An ETP from its joined rows: mappings (SQLAlchemy's `row._mapping`, asyncpg records)."""
    head = rows[0]
    etp = Etp(
        id=head["etp_id_"],
        title=head["title"],
        status=head["etp_status"],
        owner_id=head["owner_id"],
        shared_key=head["shared_key"],
        identification=Identification.from_json(json.loads(head["identification_json"])),
        created_at=head["created_at"],
        updated_at=head["etp_updated_at"],
    )
    for row in rows:
        if row["number"] is not None:
            etp.sections[row["number"]] = _entry_from_row(row)
    return etp


def _json(value: Any) -> Any:
    # SQLAlchemy decodes JSON columns; raw asyncpg hands them over as text
    return json.loads(value) if isinstance(value, str) else value


# The hot path's statements, built once (building and cache-keying them costs per event).
_CLAIM = {
    pg: (postgresql.insert(_events) if pg else sqlite.insert(_events))
    .values(platform=bindparam("platform"), event_id=bindparam("event_id"))
    .on_conflict_do_nothing()
    .returning(_events.c.event_id)
    for pg in (False, True)
}

_LOAD_ETP = (
    select(*_ETP_COLUMNS)
    .select_from(_etps.outerjoin(_sections, _sections.c.etp_id == _etps.c.id))
    .where(_etps.c.id == bindparam("etp_id"))
    .order_by(_sections.c.number)
)


def _conversation_read(state_json: Any, flag: Any) -> Any:
    """A conversation by address with its ETP and sections, a row per section; `state_json`
    is the state as JSON text, `flag` a labelled column each store adds."""
    c = _conversations.c
    return (
        select(
            c.id.label("conv_id"),
            c.etp_id.label("conv_etp_id"),
            state_json.label("state_json"),
            c.version,
            flag,
            *_ETP_COLUMNS,
        )
        .select_from(
            _conversations.outerjoin(_etps, _etps.c.id == c.etp_id).outerjoin(
                _sections, _sections.c.etp_id == _etps.c.id
            )
        )
        .where(
            c.channel == bindparam("channel"),
            c.chat_id == bindparam("chat_id"),
            c.thread_id == bindparam("thread_id"),
        )
        .order_by(_sections.c.number)
    )


def _lock_conversation_query() -> Any:
    c = _conversations.c
    # After waiting for the lock, PostgreSQL returns the row's newest version but the joined
    # ETP as of the statement's snapshot; the version seen in that snapshot tells them apart.
    seen = _conversations.alias("seen")
    seen_version = (
        select(seen.c.version).where(seen.c.id == c.id).scalar_subquery().label("seen_version")
    )
    return _conversation_read(cast(c.state, Text), seen_version).with_for_update(of=_conversations)


_LOCK_CONVERSATION = _lock_conversation_query()


# The deferred writes: built once per kind and slot with bind parameters, and the combined
# statements of storage/pgstore.py once per shape, so an event costs no statement building
# (building them was a large share of the server's CPU under load; bench/README.md).
_SECTION_FIELDS = tuple(c.name for c in _sections.c if c.name not in ("id", "etp_id", "number"))
_ETP_FIELDS = ("title", "status", "owner_id", "shared_key", "identification", "orgao", "updated_at")
_REVISION_FIELDS = ("etp_id", "section", "kind", "text", "author_id", "author_name")
_AUDIT_FIELDS = ("etp_id", "person_id", "conversation_id", "action", "detail")


_WHERE = {"etp": {"id"}, "section": {"etp_id", "number"}, "conversation": {"id", "version"}}


def _bind(
    table: Table, column: str, slot: str, name: str | None = None, *, key: bool = False
) -> Any:
    # SQLAlchemy reserves a column's own name for its SET/VALUES bind: prefix every name
    prefix = "k_" if key else "v_"
    return bindparam(f"{prefix}{name or column}{slot}", type_=table.c[column].type)


def _params(kind: str, values: dict[str, Any], slot: str) -> dict[str, Any]:
    where = _WHERE.get(kind, set())
    return {f"{'k_' if k in where else 'v_'}{k}{slot}": v for k, v in values.items()}


@cache
def _template(kind: str, slot: str) -> Any:
    if kind == "etp":
        values = {f: _bind(_etps, f, slot) for f in _ETP_FIELDS}
        values["concluded_at"] = func.coalesce(
            _etps.c.concluded_at, _bind(_etps, "concluded_at", slot, "concluded_now")
        )
        return update(_etps).where(_etps.c.id == _bind(_etps, "id", slot, key=True)).values(values)
    if kind == "section":
        return (
            update(_sections)
            .where(
                _sections.c.etp_id == _bind(_sections, "etp_id", slot, key=True),
                _sections.c.number == _bind(_sections, "number", slot, key=True),
            )
            .values({f: _bind(_sections, f, slot) for f in _SECTION_FIELDS})
        )
    if kind == "revision":
        return insert(_revisions).values({f: _bind(_revisions, f, slot) for f in _REVISION_FIELDS})
    if kind == "audit":
        return insert(_audit).values({f: _bind(_audit, f, slot) for f in _AUDIT_FIELDS})
    if kind == "conversation":
        c = _conversations
        return (
            update(c)
            .where(
                c.c.id == _bind(c, "id", slot, key=True),
                c.c.version == _bind(c, "version", slot, key=True),
            )
            .values(
                etp_id=_bind(c, "etp_id", slot),
                state=_bind(c, "state", slot),
                version=_bind(c, "version", slot, "new_version"),
                updated_at=_bind(c, "updated_at", slot),
            )
        )
    raise ValueError(kind)


def sections_done() -> Any:
    """How many sections of the outer query's ETP are resolved (accepted, or skipped)."""
    return (
        select(func.count())
        .where(
            _sections.c.etp_id == _etps.c.id,
            or_(_sections.c.accepted_text.is_not(None), _sections.c.status == "skipped"),
        )
        .scalar_subquery()
    )


def _now() -> datetime:
    return datetime.now(UTC)


def etp_values(etp: Etp, now: datetime) -> dict[str, Any]:
    """The ETP row's columns as the aggregate has them (sections are rows of their own)."""
    return {
        "title": etp.title[:200],
        "status": etp.status,
        "owner_id": etp.owner_id,
        "shared_key": etp.shared_key,
        "identification": etp.identification.to_json(),
        "orgao": etp.identification.orgao[:500],
        "updated_at": now,
    }


def _is_connection_error(exc: BaseException) -> bool:
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (ConnectionError, OSError, TimeoutError))


class DeferredWrites:
    """What the stores' units of work share: the writes they defer to the end of the unit
    (flush), as (kind, params) for the statements of `_template`, and the ETP read together
    with the conversation."""

    def __init__(self) -> None:
        self._writes: list[tuple[str, dict[str, Any]]] = []  # (kind, params) for flush()
        self._conversation_check: dict[str, Any] | None = None  # the versioned update's params
        self._prefetched: Etp | None = None  # the ETP read with the conversation

    def _take_prefetched(self, etp_id: int) -> Etp | None:
        prefetched, self._prefetched = self._prefetched, None
        return prefetched if prefetched is not None and prefetched.id == etp_id else None

    async def save_conversation(self, state: ConversationState) -> None:
        # deferred to flush(); a stale version raises ConcurrentUpdate there, writing nothing
        self._conversation_check = {
            "id": state.id,
            "version": state.version,
            "etp_id": state.etp_id,
            "state": state.to_json(),
            "new_version": state.version + 1,
            "updated_at": _now(),
        }
        state.version += 1

    def _defer_etp_update(self, etp: Etp, values: dict[str, Any], now: datetime) -> None:
        """An existing ETP's row and changed sections, with the values as they are now."""
        concluded_now = now if etp.status == "concluido" else None
        self._writes.append(("etp", {**values, "concluded_now": concluded_now, "id": etp.id}))
        for number in sorted(etp.dirty_sections):
            self._writes.append(
                ("section", {**_entry_values(etp.sections[number]), "etp_id": etp.id})
            )

    @staticmethod
    def _written(etp: Etp, now: datetime) -> Etp:
        etp.updated_at = now
        etp.dirty = False
        etp.dirty_sections.clear()
        return etp

    async def add_revision(self, revision: Revision) -> None:
        self._writes.append(
            (
                "revision",
                {
                    "etp_id": revision.etp_id,
                    "section": revision.section,
                    "kind": revision.kind,
                    "text": revision.text,
                    "author_id": revision.author.person_id,
                    "author_name": revision.author.name[:200],
                },
            )
        )

    async def add_audit(
        self,
        entry: AuditEntry,
        *,
        etp_id: int | None,
        person_id: int | None,
        conversation_id: int | None,
    ) -> None:
        self._writes.append(
            (
                "audit",
                {
                    "etp_id": etp_id,
                    "person_id": person_id,
                    "conversation_id": conversation_id,
                    "action": entry.action,
                    "detail": entry.detail,
                },
            )
        )


class SqlTransaction(DeferredWrites):
    """One unit of work on one connection. Repositories never commit; the store does."""

    def __init__(self, conn: AsyncConnection, people: PeopleCache | None = None) -> None:
        super().__init__()
        self.conn = conn
        self.dialect = conn.dialect.name
        self.people = people if people is not None else PeopleCache()
        self.learned: list[tuple[tuple[str, str], str, int]] = []  # people ids, once committed

    def _insert(self, table: Any) -> Any:
        return postgresql.insert(table) if self.dialect == "postgresql" else sqlite.insert(table)

    async def claim_event(self, platform: str, event_id: str) -> bool:
        stmt = _CLAIM[self.dialect == "postgresql"]
        params = {"platform": platform, "event_id": event_id[:200]}
        return (await self.conn.execute(stmt, params)).first() is not None

    async def open_conversation(
        self, author: Author, address: Address
    ) -> tuple[int, ConversationState]:
        return await self.touch_person(author), await self.lock_conversation(address)

    async def touch_person(self, author: Author) -> int:
        """Upsert the platform identity and return our person id."""
        key = (author.platform, author.user_id[:128])
        name = author.display_name[:200]
        known = self.people.get(key, name)
        if known is not None:
            return known
        stmt = self._insert(_people).values(
            platform=author.platform,
            external_id=author.user_id[:128],
            display_name=author.display_name[:200],
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["platform", "external_id"],
            set_={"display_name": stmt.excluded.display_name},
        ).returning(_people.c.id)
        person_id = int((await self.conn.execute(stmt)).scalar_one())
        self.learned.append((key, name, person_id))
        return person_id

    async def lock_conversation(self, address: Address) -> ConversationState:
        # one round trip: the row is locked and its current ETP read with it (see load_etp)
        query = _LOCK_CONVERSATION
        params = {"channel": address.channel, "chat_id": address.chat_id}
        params["thread_id"] = address.thread_id
        rows = (await self.conn.execute(query, params)).mappings().all()
        if not rows:
            await self.conn.execute(
                self._insert(_conversations)
                .values(
                    channel=address.channel,
                    chat_id=address.chat_id,
                    thread_id=address.thread_id,
                    state={},
                    version=0,
                )
                .on_conflict_do_nothing()
            )
            rows = (await self.conn.execute(query, params)).mappings().all()
        head = rows[0]
        state = ConversationState(
            id=head["conv_id"], etp_id=head["conv_etp_id"], version=head["version"]
        )
        state.load_json(json.loads(head["state_json"]))
        fresh = head["etp_id_"] is not None and head["seen_version"] == head["version"]
        self._prefetched = _etp_from_rows(rows) if fresh else None  # else load_etp reads again
        return state

    async def load_etp(self, etp_id: int) -> Etp | None:
        prefetched = self._take_prefetched(etp_id)
        if prefetched is not None:
            return prefetched  # read with the conversation lock, in this transaction
        rows = (await self.conn.execute(_LOAD_ETP, {"etp_id": etp_id})).mappings().all()
        return _etp_from_rows(rows) if rows else None

    async def save_etp(self, etp: Etp) -> Etp:
        now = _now()
        values = etp_values(etp, now)
        if etp.id is None:
            etp.id = int(
                (
                    await self.conn.execute(
                        insert(_etps).values(**values, created_at=now).returning(_etps.c.id)
                    )
                ).scalar_one()
            )
            etp.created_at = now
            await self.conn.execute(
                insert(_sections),
                [{**_entry_values(entry), "etp_id": etp.id} for entry in etp.sections.values()],
            )
        else:
            self._defer_etp_update(etp, values, now)
        return self._written(etp, now)

    async def list_etps(self, person_id: int, address: Address) -> Sequence[EtpSummary]:
        done = sections_done()
        owner = _etps.c.owner_id == person_id
        where = or_(owner, _etps.c.shared_key == address.key) if address.shared else owner
        rows = (
            await self.conn.execute(
                select(
                    _etps.c.id,
                    _etps.c.title,
                    _etps.c.status,
                    _etps.c.updated_at,
                    done.label("done"),
                )
                .where(where)
                .order_by(_etps.c.updated_at.desc(), _etps.c.id.desc())
                .limit(20)
            )
        ).all()
        return [EtpSummary(r.id, r.title, r.status, int(r.done), r.updated_at) for r in rows]

    async def flush(self) -> None:
        """Send the deferred writes, in order; the conversation's versioned update last."""
        writes, check = self._writes, self._conversation_check
        self._writes, self._conversation_check = [], None
        for kind, values in writes:
            await self.conn.execute(_template(kind, ""), _params(kind, values, ""))
        if check is not None:
            result = await self.conn.execute(
                _template("conversation", ""), _params("conversation", check, "")
            )
            if result.rowcount != 1:
                raise ConcurrentUpdate("conversation changed")


class PeopleCache:
    """Person ids by platform identity, learned from committed transactions (ids never change)."""

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._ids: dict[tuple[str, str], tuple[str, int]] = {}

    def get(self, key: tuple[str, str], name: str) -> int | None:
        known = self._ids.get(key)
        return known[1] if known is not None and known[0] == name else None

    def learn(self, entries: Sequence[tuple[tuple[str, str], str, int]]) -> None:
        if len(self._ids) + len(entries) > self.capacity:
            self._ids.clear()
        for key, name, person_id in entries:
            self._ids[key] = (name, person_id)


def _entry_values(entry: SectionEntry) -> dict[str, Any]:
    return {
        "number": entry.number,
        "status": entry.status,
        "answers": [a.to_json() for a in entry.answers],
        "gaps": list(entry.gaps),
        "draft": entry.draft,
        "draft_attempt": entry.draft_attempt,
        "accepted_text": entry.accepted_text,
        "accepted_by_id": entry.accepted_by.person_id if entry.accepted_by else None,
        "accepted_by_name": entry.accepted_by.name if entry.accepted_by else None,
        "justification": entry.justification,
        "justified_by_id": entry.justified_by.person_id if entry.justified_by else None,
        "justified_by_name": entry.justified_by.name if entry.justified_by else None,
        "updated_at": _now(),
    }


def _entry_from_row(row: Any) -> SectionEntry:
    return SectionEntry(
        number=row["number"],
        status=row["status"],
        answers=[Answer.from_json(a) for a in _json(row["answers"]) or []],
        gaps=list(_json(row["gaps"]) or []),
        draft=row["draft"],
        draft_attempt=row["draft_attempt"],
        accepted_text=row["accepted_text"],
        accepted_by=AuthorRef(row["accepted_by_id"], row["accepted_by_name"] or "")
        if row["accepted_by_name"] is not None
        else None,
        justification=row["justification"],
        justified_by=AuthorRef(row["justified_by_id"], row["justified_by_name"] or "")
        if row["justified_by_name"] is not None
        else None,
        updated_at=row["updated_at"],
    )


class SqlEtpStore:
    """The EtpStore port: one connection and one transaction per unit of work."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.people = PeopleCache()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlTransaction]:
        async with self._begin() as conn:
            tx = SqlTransaction(conn, self.people)
            yield tx
            await tx.flush()
        self.people.learn(tx.learned)

    async def prune_events(self, before: datetime) -> int:
        async with self._begin() as conn:
            result = await conn.execute(delete(_events).where(_events.c.created_at < before))
        return int(result.rowcount or 0)

    async def move_conversation(self, old: Address, new: Address) -> bool:
        """The conversation at `old` continues at `new` (the chat's id changed), its shared ETPs
        with it; False when there was nothing to move, or `new` already has an ETP of its own."""
        async with self._begin() as conn:
            moving = await _conversation_at(conn, old)
            if moving is None:
                return False
            there = await _conversation_at(conn, new)
            if there is None:
                values = {"chat_id": new.chat_id, "thread_id": new.thread_id}
                await conn.execute(_bump(moving.id).values(**values))
            elif there.etp_id is None:  # a first contact at the new id, before the move
                carried = {"etp_id": moving.etp_id, "state": moving.state}
                await conn.execute(_bump(there.id).values(**carried))
                await conn.execute(_bump(moving.id).values(etp_id=None, state={}))
            else:
                return False
            await conn.execute(
                update(_etps)
                .where(_etps.c.shared_key == old.key)
                .values(shared_key=new.key, updated_at=func.now())  # kept copies go stale
            )
        return True

    @asynccontextmanager
    async def _begin(self) -> AsyncIterator[AsyncConnection]:
        """One database transaction; a connection that failed is StoreUnavailable."""
        try:
            async with self.engine.begin() as conn:
                yield conn
        except Exception as exc:
            if _is_connection_error(exc):
                raise StoreUnavailable(str(exc)) from exc
            raise


async def _conversation_at(conn: AsyncConnection, address: Address) -> Any:
    query = select(_conversations).where(
        _conversations.c.channel == address.channel,
        _conversations.c.chat_id == address.chat_id,
        _conversations.c.thread_id == address.thread_id,
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return (await conn.execute(query)).first()


def _bump(conversation_id: int) -> Any:
    """An update of a conversation that kept copies of it will not miss (a new version)."""
    return (
        update(_conversations)
        .where(_conversations.c.id == conversation_id)
        .values(version=_conversations.c.version + 1, updated_at=func.now())
    )
