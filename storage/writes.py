"""The writes a unit of work defers to its end, and their statements, for both stores.

The statements are built once per kind and slot with bind parameters (storage/pgstore.py
combines several slots into one statement), so an event costs no statement building.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, update

from conversations.model import CONCLUDED_STATUSES, ConversationState, Etp
from conversations.ports import AuditEntry, Revision
from storage.rows import etp_values, section_rows, utcnow
from storage.tables import audit, conversations, etps, revisions, sections

SECTION_FIELDS = tuple(c.name for c in sections.c if c.name not in ("id", "etp_id", "number"))
ETP_FIELDS = (
    "title",
    "status",
    "owner_id",
    "shared_key",
    "identification",
    "orgao",
    "updated_at",
    "llm_prompt_tokens",
    "llm_completion_tokens",
    "llm_cost_usd",
)
REVISION_FIELDS = ("etp_id", "section", "kind", "text", "author_id", "author_name")
AUDIT_FIELDS = ("etp_id", "person_id", "conversation_id", "action", "detail")

_WHERE = {"etp": {"id"}, "section": {"etp_id", "number"}, "conversation": {"id", "version"}}


def bind(
    table: Table, column: str, slot: str, name: str | None = None, *, key: bool = False
) -> Any:
    """The bind parameter of `column` (or of `name`) in `slot`; `key`: in the WHERE clause."""
    # SQLAlchemy reserves a column's own name for its SET/VALUES bind: prefix every name
    prefix = "k_" if key else "v_"
    return bindparam(f"{prefix}{name or column}{slot}", type_=table.c[column].type)


def write_params(kind: str, values: dict[str, Any], slot: str) -> dict[str, Any]:
    """A write's values as the parameters of its statement in `slot`."""
    where = _WHERE.get(kind, set())
    return {f"{'k_' if k in where else 'v_'}{k}{slot}": v for k, v in values.items()}


@cache
def write_statement(kind: str, slot: str) -> Any:
    if kind == "etp":
        values = {f: bind(etps, f, slot) for f in ETP_FIELDS}
        values["concluded_at"] = func.coalesce(
            etps.c.concluded_at, bind(etps, "concluded_at", slot, "concluded_now")
        )
        return update(etps).where(etps.c.id == bind(etps, "id", slot, key=True)).values(values)
    if kind == "section":
        return (
            update(sections)
            .where(
                sections.c.etp_id == bind(sections, "etp_id", slot, key=True),
                sections.c.number == bind(sections, "number", slot, key=True),
            )
            .values({f: bind(sections, f, slot) for f in SECTION_FIELDS})
        )
    if kind == "revision":
        return insert(revisions).values({f: bind(revisions, f, slot) for f in REVISION_FIELDS})
    if kind == "audit":
        return insert(audit).values({f: bind(audit, f, slot) for f in AUDIT_FIELDS})
    if kind == "conversation":
        c = conversations
        return (
            update(c)
            .where(
                c.c.id == bind(c, "id", slot, key=True),
                c.c.version == bind(c, "version", slot, key=True),
            )
            .values(
                etp_id=bind(c, "etp_id", slot),
                state=bind(c, "state", slot),
                version=bind(c, "version", slot, "new_version"),
                updated_at=bind(c, "updated_at", slot),
            )
        )
    raise ValueError(kind)


class DeferredWrites:
    """What the stores' units of work share: the writes they defer to the end of the unit
    (flush), as (kind, params) for the statements of `write_statement`, and the ETP read
    together with the conversation."""

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
            "updated_at": utcnow(),
        }
        state.version += 1

    async def save_etp(self, etp: Etp) -> Etp:
        now = utcnow()
        values = etp_values(etp, now)
        if etp.id is None:
            await self._insert_etp(etp, values, now)
            etp.created_at = now
        else:  # the ETP's row and changed sections, with the values as they are now
            concluded_now = now if etp.status in CONCLUDED_STATUSES else None
            self._writes.append(("etp", {**values, "concluded_now": concluded_now, "id": etp.id}))
            self._writes += [
                ("section", row) for row in section_rows(etp, sorted(etp.dirty_sections))
            ]
        etp.updated_at = now
        etp.dirty = False
        etp.dirty_sections.clear()
        return etp

    async def _insert_etp(self, etp: Etp, values: dict[str, Any], now: datetime) -> None:
        """A new ETP with all its sections; sets its id."""
        raise NotImplementedError

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
