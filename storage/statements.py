"""The read statements both stores run: an ETP's load, a conversation's read, a person's ETP
list with how many sections are done, and a person's upsert. Built once, with bind parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, bindparam, func, literal_column, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from conversations.events import Address, Author
from conversations.model import DONE_WHEN_SKIPPED, SectionStatus
from storage.rows import ETP_COLUMNS
from storage.tables import conversations, etps, people, sections

LOAD_ETP = (
    select(*ETP_COLUMNS)
    .select_from(etps.outerjoin(sections, sections.c.etp_id == etps.c.id))
    .where(etps.c.id == bindparam("etp_id"))
    .order_by(sections.c.number)
)


def conversation_read(state_json: Any, flag: Any) -> Any:
    """A conversation by address with its ETP and sections, a row per section; `state_json`
    is the state as JSON text, `flag` a labelled column each store adds."""
    c = conversations.c
    return (
        select(
            c.id.label("conv_id"),
            c.etp_id.label("conv_etp_id"),
            state_json.label("state_json"),
            c.version,
            flag,
            *ETP_COLUMNS,
        )
        .select_from(
            conversations.outerjoin(etps, etps.c.id == c.etp_id).outerjoin(
                sections, sections.c.etp_id == etps.c.id
            )
        )
        .where(
            c.channel == bindparam("channel"),
            c.chat_id == bindparam("chat_id"),
            c.thread_id == bindparam("thread_id"),
        )
        .order_by(sections.c.number)
    )


def section_done() -> Any:
    """conversations.model.section_done in SQL: accepted, or skipped where the law lets it be
    (a mandatory section cannot be skipped, art. 18 §2º, even when a row says so)."""
    skippable = sections.c.number.in_([literal_column(str(n)) for n in sorted(DONE_WHEN_SKIPPED)])
    skipped = sections.c.status == SectionStatus.SKIPPED.value
    return or_(sections.c.accepted_text.is_not(None), and_(skipped, skippable))


def sections_done() -> Any:
    """How many sections of the outer query's ETP are done (Etp.done_count)."""
    return (
        select(func.count()).where(sections.c.etp_id == etps.c.id, section_done()).scalar_subquery()
    )


def _listing(shared: bool) -> Any:
    # Address.reaches in SQL: in a shared chat its shared ETPs (never a member's private ones,
    # which the whole chat would see); in a private chat the person's private ones
    where = (
        etps.c.shared_key.like(bindparam("chat_like"), escape="\\")
        if shared
        else and_(etps.c.owner_id == bindparam("person_id"), etps.c.shared_key.is_(None))
    )
    return (
        select(
            etps.c.id, etps.c.title, etps.c.status, etps.c.updated_at, sections_done().label("done")
        )
        .where(where)
        .order_by(etps.c.updated_at.desc(), etps.c.id.desc())
        .limit(20)
    )


# The ETPs a conversation may resume, most recent first (rows.summary_from_row).
LIST_ETPS = {shared: _listing(shared) for shared in (False, True)}


def list_params(person_id: int, address: Address) -> dict[str, Any]:
    """The parameters of LIST_ETPS[address.shared]."""
    if address.shared:
        prefix = address.chat_key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return {"chat_like": prefix + "%"}
    return {"person_id": person_id}


def _person_upsert(pg: bool) -> Any:
    upsert = (postgresql.insert(people) if pg else sqlite.insert(people)).values(
        platform=bindparam("person_platform"),
        external_id=bindparam("external_id"),
        display_name=bindparam("display_name"),
    )
    return upsert.on_conflict_do_update(
        index_elements=["platform", "external_id"],
        set_={"display_name": upsert.excluded.display_name},
    ).returning(people.c.id.label("person_id"))


# The author's identity, upserted (its display name refreshed), by dialect (PostgreSQL: True);
# returns its id as `person_id`.
PERSON_UPSERT = {pg: _person_upsert(pg) for pg in (False, True)}

Identity = tuple[tuple[str, str], str]  # (platform, user id), display name; as stored


def identity(author: Author) -> Identity:
    return (author.platform, author.user_id[:128]), author.display_name[:200]


def person_params(person: Identity) -> dict[str, Any]:
    """The parameters of PERSON_UPSERT."""
    (platform, external_id), name = person
    return {"person_platform": platform, "external_id": external_id, "display_name": name}


class PeopleCache:
    """Person ids by platform identity, learned from committed transactions (ids never change),
    so a known person with an unchanged name costs no statement."""

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._ids: dict[tuple[str, str], tuple[str, int]] = {}

    def get(self, person: Identity) -> int | None:
        key, name = person
        known = self._ids.get(key)
        return known[1] if known is not None and known[0] == name else None

    def learn(self, entries: Sequence[tuple[Identity, int]]) -> None:
        if len(self._ids) + len(entries) > self.capacity:
            self._ids.clear()
        for (key, name), person_id in entries:
            self._ids[key] = (name, person_id)
