"""SqlEtpStore: the engine's EtpStore port on SQLAlchemy Core (async), for SQLite (the embedded
default) and any other SQLAlchemy database. PostgreSQL gets storage/pgstore.py, which runs the
same statements (storage/statements.py, storage/writes.py) on raw asyncpg, two per event.

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
from datetime import datetime
from typing import Any

from sqlalchemy import Text, bindparam, cast, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from conversations.events import Address, Author
from conversations.model import ConversationState, Etp, EtpSummary, Mode, SectionStatus
from conversations.ports import ConcurrentUpdate, DuplicateEvent, StalledDraft
from conversations.replies import Reply, replies_from_json, replies_to_json
from storage.errors import unreachable_as_unavailable
from storage.rows import (
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
    Identity,
    PeopleCache,
    conversation_read,
    identity,
    list_params,
    person_params,
)
from storage.tables import conversations, etps, events, sections
from storage.writes import DeferredWrites, write_params, write_statement

# The statements of this store alone, built once (building and cache-keying them costs per event).
_CLAIM = {
    pg: (postgresql.insert(events) if pg else sqlite.insert(events))
    .values(platform=bindparam("platform"), event_id=bindparam("event_id"))
    .on_conflict_do_nothing()
    .returning(events.c.event_id)
    for pg in (False, True)
}

_THE_EVENT = (
    events.c.platform == bindparam("k_platform"),
    events.c.event_id == bindparam("k_event_id"),
)
# a claimed event's replies, while its conversation is still where the event left it
_KEPT = (
    select(events.c.reply)
    .join(
        conversations,
        (conversations.c.id == events.c.conversation_id)
        & (conversations.c.version == events.c.version),
    )
    .where(*_THE_EVENT, events.c.created_at < bindparam("k_settled_before"))
)
_KEEP = (
    update(events)
    .where(*_THE_EVENT)
    .values(
        reply=bindparam("v_reply", type_=events.c.reply.type),
        conversation_id=bindparam("v_conversation_id"),
        version=bindparam("v_version"),
    )
)
_SETTLE = (
    update(events).where(*_THE_EVENT).values(reply=bindparam("v_reply", type_=events.c.reply.type))
)


def _keys(params: dict[str, str]) -> dict[str, str]:
    """An event's key as the parameters of _KEPT, _KEEP and _SETTLE."""
    return {f"k_{name}": value for name, value in params.items()}


def _replies(kept: Any) -> list[Reply]:
    """Kept replies as read (JSON text on some drivers), as replies."""
    if isinstance(kept, str):
        kept = json.loads(kept)
    return replies_from_json(kept) if kept else []


def _lock_conversation_query() -> Any:
    c = conversations.c
    # After waiting for the lock, PostgreSQL returns the row's newest version but the joined
    # ETP as of the statement's snapshot; the version seen in that snapshot tells them apart.
    seen = conversations.alias("seen")
    seen_version = (
        select(seen.c.version).where(seen.c.id == c.id).scalar_subquery().label("seen_version")
    )
    return conversation_read(cast(c.state, Text), seen_version).with_for_update(of=conversations)


_LOCK_CONVERSATION = _lock_conversation_query()


class SqlTransaction(DeferredWrites):
    """One unit of work on one connection. Repositories never commit; the store does."""

    def __init__(self, conn: AsyncConnection, people: PeopleCache | None = None) -> None:
        super().__init__()
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"
        self.people = people if people is not None else PeopleCache()
        self.learned: list[tuple[Identity, int]] = []  # people's ids, once committed
        self._claimed: dict[str, str] | None = None  # the event this unit claimed
        self._kept: dict[str, Any] | None = None  # its replies, kept with the claim

    async def claim_event(self, platform: str, event_id: str) -> bool:
        params = {"platform": platform, "event_id": event_id[:200]}
        if (await self.conn.execute(_CLAIM[self.pg], params)).first() is None:
            settled = {"k_settled_before": settled_before()}
            kept = (await self.conn.execute(_KEPT, _keys(params) | settled)).scalar()
            raise DuplicateEvent(f"{platform}:{event_id}", _replies(kept))
        self._claimed = params
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
        return await self.touch_person(author), await self.lock_conversation(address)

    async def touch_person(self, author: Author) -> int:
        """Upsert the platform identity and return our person id."""
        person = identity(author)
        known = self.people.get(person)
        if known is not None:
            return known
        upsert = PERSON_UPSERT[self.pg]
        person_id = int((await self.conn.execute(upsert, person_params(person))).scalar_one())
        self.learned.append((person, person_id))
        return person_id

    async def lock_conversation(self, address: Address) -> ConversationState:
        # one round trip: the row is locked and its current ETP read with it (see load_etp)
        query = _LOCK_CONVERSATION
        params = {"channel": address.channel, "chat_id": address.chat_id}
        params["thread_id"] = address.thread_id
        rows = (await self.conn.execute(query, params)).mappings().all()
        if not rows:
            insert_ = postgresql.insert if self.pg else sqlite.insert
            await self.conn.execute(
                insert_(conversations)
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
        fresh = head["etp_id_"] is not None and head["seen_version"] == head["version"]
        self._prefetched = etp_from_rows(rows) if fresh else None  # else load_etp reads again
        return conversation_from_row(head)

    async def load_etp(self, etp_id: int) -> Etp | None:
        prefetched = self._take_prefetched(etp_id)
        if prefetched is not None:
            return prefetched  # read with the conversation lock, in this transaction
        rows = (await self.conn.execute(LOAD_ETP, {"etp_id": etp_id})).mappings().all()
        return etp_from_rows(rows) if rows else None

    async def _insert_etp(self, etp: Etp, values: dict[str, Any], now: datetime) -> None:
        new = insert(etps).values(**values, created_at=now).returning(etps.c.id)
        etp.id = int((await self.conn.execute(new)).scalar_one())
        await self.conn.execute(insert(sections), section_rows(etp, etp.sections))

    async def list_etps(self, person_id: int, address: Address) -> Sequence[EtpSummary]:
        listing = LIST_ETPS[address.shared]
        rows = await self.conn.execute(listing, list_params(person_id, address))
        return [summary_from_row(row) for row in rows.mappings()]

    async def flush(self) -> None:
        """Send the deferred writes, in order; the conversation's versioned update last."""
        writes, check = self._writes, self._conversation_check
        self._writes, self._conversation_check = [], None
        for kind, values in writes:
            await self.conn.execute(write_statement(kind, ""), write_params(kind, values, ""))
        if check is not None:
            result = await self.conn.execute(
                write_statement("conversation", ""), write_params("conversation", check, "")
            )
            if result.rowcount != 1:
                raise ConcurrentUpdate("conversation changed")
        if self._claimed is not None and self._kept is not None:
            kept = {f"v_{k}": v for k, v in self._kept.items()}
            await self.conn.execute(_KEEP, {**_keys(self._claimed), **kept})
        self._claimed = self._kept = None


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

    async def settle_event(self, platform: str, event_id: str, rest: Sequence[Reply]) -> None:
        params = {"platform": platform, "event_id": event_id[:200]}
        async with self._begin() as conn:
            await conn.execute(_SETTLE, {**_keys(params), "v_reply": replies_to_json(rest) or None})

    async def prune_events(self, before: datetime) -> int:
        async with self._begin() as conn:
            result = await conn.execute(delete(events).where(events.c.created_at < before))
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
                update(etps)
                .where(etps.c.shared_key == old.key)
                .values(shared_key=new.key, updated_at=func.now())  # kept copies go stale
            )
        return True

    async def stalled_drafts(self, before: datetime, limit: int) -> list[StalledDraft]:
        s, e, c = sections.c, etps.c, conversations.c
        async with self._begin() as conn:
            found = (
                await conn.execute(
                    select(s.etp_id, s.number, s.draft_attempt, e.shared_key)
                    .join(etps, e.id == s.etp_id)
                    .where(s.status == SectionStatus.DRAFTING.value, s.updated_at < before)
                    .order_by(s.updated_at)
                    .limit(limit)
                )
            ).all()
            if not found:
                return []
            ids = {row.etp_id for row in found}
            at = (
                await conn.execute(
                    select(c.channel, c.chat_id, c.thread_id, c.etp_id, cast(c.state, Text))
                    .where(c.etp_id.in_(ids))
                    .order_by(c.updated_at.desc())
                )
            ).all()
        stalled: list[StalledDraft] = []
        for row in found:
            address: Address | None = None
            for conv in at:
                if conv.etp_id != row.etp_id:
                    continue
                state = ConversationState(id=0)
                state.load_json(json.loads(conv[4]) if conv[4] else None)
                here = Address(
                    conv.channel, conv.chat_id, conv.thread_id, shared=row.shared_key is not None
                )
                # the conversation waiting on this very section first, else the latest at it
                if state.section == row.number and state.mode == Mode.DRAFTING:
                    address = here
                    break
                address = address or here
            stalled.append(StalledDraft(row.etp_id, row.number, row.draft_attempt, address))
        return stalled

    async def touch_draft(
        self, etp_id: int, section: int, attempt: int, now: datetime, before: datetime | None
    ) -> bool:
        s = sections.c
        statement = update(sections).where(
            s.etp_id == etp_id,
            s.number == section,
            s.status == SectionStatus.DRAFTING.value,
            s.draft_attempt == attempt,
        )
        if before is not None:
            statement = statement.where(s.updated_at < before)
        async with self._begin() as conn:
            result = await conn.execute(statement.values(updated_at=now))
        return result.rowcount == 1

    @asynccontextmanager
    async def _begin(self) -> AsyncIterator[AsyncConnection]:
        """One database transaction; a connection that failed is StoreUnavailable."""
        with unreachable_as_unavailable():
            async with self.engine.begin() as conn:
                yield conn


async def _conversation_at(conn: AsyncConnection, address: Address) -> Any:
    query = select(conversations).where(
        conversations.c.channel == address.channel,
        conversations.c.chat_id == address.chat_id,
        conversations.c.thread_id == address.thread_id,
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return (await conn.execute(query)).first()


def _bump(conversation_id: int) -> Any:
    """An update of a conversation that kept copies of it will not miss (a new version)."""
    return (
        update(conversations)
        .where(conversations.c.id == conversation_id)
        .values(version=conversations.c.version + 1, updated_at=func.now())
    )
