"""SqlEtpStore: the engine's EtpStore port on SQLAlchemy Core (async), SQLite or PostgreSQL.

Statements are kept few per event (see shared/PERFORMANCE.md): the dedupe insert, the person
upsert, the conversation lock, two reads of the ETP, and only the changed rows written back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, and_, func, insert, or_, select, update
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


def _now() -> datetime:
    return datetime.now(UTC)


def _is_connection_error(exc: BaseException) -> bool:
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (ConnectionError, OSError, TimeoutError))


class SqlTransaction:
    """One unit of work on one connection. Repositories never commit; the store does."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name

    def _insert(self, table: Any) -> Any:
        return postgresql.insert(table) if self.dialect == "postgresql" else sqlite.insert(table)

    async def claim_event(self, platform: str, event_id: str) -> bool:
        stmt = (
            self._insert(_events)
            .values(platform=platform, event_id=event_id[:200])
            .on_conflict_do_nothing()
            .returning(_events.c.event_id)
        )
        return (await self.conn.execute(stmt)).first() is not None

    async def touch_person(self, author: Author) -> int:
        stmt = self._insert(_people).values(
            platform=author.platform,
            external_id=author.user_id[:128],
            display_name=author.display_name[:200],
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["platform", "external_id"],
            set_={"display_name": stmt.excluded.display_name},
        ).returning(_people.c.id)
        return int((await self.conn.execute(stmt)).scalar_one())

    async def lock_conversation(self, address: Address) -> ConversationState:
        key = and_(
            _conversations.c.channel == address.channel,
            _conversations.c.chat_id == address.chat_id,
            _conversations.c.thread_id == address.thread_id,
        )
        query = (
            select(
                _conversations.c.id,
                _conversations.c.etp_id,
                _conversations.c.state,
                _conversations.c.version,
            )
            .where(key)
            .with_for_update()
        )
        row = (await self.conn.execute(query)).first()
        if row is None:
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
            row = (await self.conn.execute(query)).one()
        state = ConversationState(id=row.id, etp_id=row.etp_id, version=row.version)
        state.load_json(row.state)
        return state

    async def save_conversation(self, state: ConversationState) -> None:
        result = await self.conn.execute(
            update(_conversations)
            .where(_conversations.c.id == state.id, _conversations.c.version == state.version)
            .values(
                etp_id=state.etp_id,
                state=state.to_json(),
                version=state.version + 1,
                updated_at=_now(),
            )
        )
        if result.rowcount != 1:
            raise ConcurrentUpdate(f"conversation {state.id} changed")
        state.version += 1

    async def load_etp(self, etp_id: int) -> Etp | None:
        row = (await self.conn.execute(select(_etps).where(_etps.c.id == etp_id))).first()
        if row is None:
            return None
        rows = (
            await self.conn.execute(
                select(_sections).where(_sections.c.etp_id == etp_id).order_by(_sections.c.number)
            )
        ).all()
        etp = Etp(
            id=row.id,
            title=row.title,
            status=row.status,
            owner_id=row.owner_id,
            shared_key=row.shared_key,
            identification=Identification.from_json(row.identification),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
        for s in rows:
            etp.sections[s.number] = _entry_from_row(s)
        return etp

    async def save_etp(self, etp: Etp) -> Etp:
        now = _now()
        values: dict[str, Any] = {
            "title": etp.title[:200],
            "status": etp.status,
            "owner_id": etp.owner_id,
            "shared_key": etp.shared_key,
            "identification": etp.identification.to_json(),
            "orgao": etp.identification.orgao[:500],
            "updated_at": now,
        }
        if etp.status == "concluido":
            values["concluded_at"] = func.coalesce(_etps.c.concluded_at, now)
        if etp.id is None:
            values.pop("concluded_at", None)
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
            await self.conn.execute(update(_etps).where(_etps.c.id == etp.id).values(**values))
            for number in sorted(etp.dirty_sections):
                await self.conn.execute(
                    update(_sections)
                    .where(_sections.c.etp_id == etp.id, _sections.c.number == number)
                    .values(**_entry_values(etp.sections[number]))
                )
        etp.updated_at = now
        etp.dirty = False
        etp.dirty_sections.clear()
        return etp

    async def list_etps(self, person_id: int, address: Address) -> Sequence[EtpSummary]:
        done = (
            select(func.count())
            .where(
                _sections.c.etp_id == _etps.c.id,
                or_(_sections.c.accepted_text.is_not(None), _sections.c.status == "skipped"),
            )
            .scalar_subquery()
        )
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

    async def add_revision(self, revision: Revision) -> None:
        await self.conn.execute(
            insert(_revisions).values(
                etp_id=revision.etp_id,
                section=revision.section,
                kind=revision.kind,
                text=revision.text,
                author_id=revision.author.person_id,
                author_name=revision.author.name[:200],
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
        await self.conn.execute(
            insert(_audit).values(
                etp_id=etp_id,
                person_id=person_id,
                conversation_id=conversation_id,
                action=entry.action,
                detail=entry.detail,
            )
        )


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
        number=row.number,
        status=row.status,
        answers=[Answer.from_json(a) for a in row.answers or []],
        gaps=list(row.gaps or []),
        draft=row.draft,
        draft_attempt=row.draft_attempt,
        accepted_text=row.accepted_text,
        accepted_by=AuthorRef(row.accepted_by_id, row.accepted_by_name or "")
        if row.accepted_by_name is not None
        else None,
        justification=row.justification,
        justified_by=AuthorRef(row.justified_by_id, row.justified_by_name or "")
        if row.justified_by_name is not None
        else None,
        updated_at=row.updated_at,
    )


class SqlEtpStore:
    """The EtpStore port: one connection and one transaction per unit of work."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlTransaction]:
        try:
            async with self.engine.begin() as conn:
                yield SqlTransaction(conn)
        except ConcurrentUpdate:
            raise
        except Exception as exc:
            if _is_connection_error(exc):
                raise StoreUnavailable(str(exc)) from exc
            raise
