"""Row mapping: the engine's ETP, sections, conversation and listing to and from table rows.

Rows are mappings by column name: SQLAlchemy's RowMapping, asyncpg's Record (`Row`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Text, cast

from conversations.catalogue.sections import Verdict
from conversations.model import (
    Answer,
    AuthorRef,
    ConversationState,
    Etp,
    EtpSummary,
    Identification,
    SectionEntry,
)
from storage.tables import etps, sections

Row = Any  # RowMapping or asyncpg.Record: neither type is the other's

# An ETP with its sections, in one query: the ETP's columns repeat on each section row.
ETP_COLUMNS = (
    etps.c.id.label("etp_id_"),
    etps.c.title,
    etps.c.status.label("etp_status"),
    etps.c.owner_id,
    etps.c.shared_key,
    # repeated on every section row: read as text and decoded once, from the first row
    cast(etps.c.identification, Text).label("identification_json"),
    etps.c.created_at,
    etps.c.updated_at.label("etp_updated_at"),
    etps.c.llm_prompt_tokens,
    etps.c.llm_completion_tokens,
    etps.c.llm_cost_usd,
    *[c for c in sections.c if c.name not in ("id", "etp_id")],
)


def utcnow() -> datetime:
    return datetime.now(UTC)


# A claim younger than this is taken for a copy of the event still answering (copies delivered
# at once, possibly to two processes), not for a redelivery: its kept replies are not sent again.
SETTLING = timedelta(seconds=2)


def settled_before() -> datetime:
    """The claims whose kept replies a redelivery may send again were made before this."""
    return utcnow() - SETTLING


def etp_from_rows(rows: Sequence[Row]) -> Etp:
    """An ETP from its joined rows (ETP_COLUMNS)."""
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
        llm_prompt_tokens=int(head["llm_prompt_tokens"] or 0),
        llm_completion_tokens=int(head["llm_completion_tokens"] or 0),
        llm_cost_usd=float(head["llm_cost_usd"] or 0),
    )
    for row in rows:
        if row["number"] is not None:
            etp.sections[row["number"]] = entry_from_row(row)
    return etp


def conversation_from_row(head: Row) -> ConversationState:
    """The conversation of a conversation read's first row (statements.conversation_read)."""
    state = ConversationState(
        id=head["conv_id"], etp_id=head["conv_etp_id"], version=head["version"]
    )
    state.load_json(json.loads(head["state_json"]))
    return state


def summary_from_row(row: Row) -> EtpSummary:
    """A line of a person's ETP list (statements.LIST_ETPS)."""
    return EtpSummary(row["id"], row["title"], row["status"], int(row["done"]), row["updated_at"])


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
        "llm_prompt_tokens": etp.llm_prompt_tokens,
        "llm_completion_tokens": etp.llm_completion_tokens,
        "llm_cost_usd": etp.llm_cost_usd,
    }


def section_rows(etp: Etp, numbers: Iterable[int]) -> list[dict[str, Any]]:
    """The rows of an ETP's sections `numbers`, as the aggregate has them."""
    return [{**entry_values(etp.sections[number]), "etp_id": etp.id} for number in numbers]


def entry_values(entry: SectionEntry) -> dict[str, Any]:
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
        "verdict": entry.verdict.value if entry.verdict is not None else None,
        "data": entry.data or None,
        "updated_at": utcnow(),
    }


def _json(value: Any) -> Any:
    # SQLAlchemy decodes JSON columns; raw asyncpg hands them over as text
    return json.loads(value) if isinstance(value, str) else value


def entry_from_row(row: Row) -> SectionEntry:
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
        verdict=Verdict(row["verdict"]) if row["verdict"] else None,
        data=dict(_json(row["data"]) or {}),
    )
