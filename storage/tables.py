"""The tables of storage/models.py as SQLAlchemy Core tables, for the stores' statements."""

from __future__ import annotations

from sqlalchemy import Table

from storage.models import (
    ApiToken,
    AuditEvent,
    ConversationRow,
    EtpRow,
    Person,
    ProcessedEvent,
    RevisionRow,
    SectionRow,
)

people: Table = Person.__table__  # type: ignore[assignment]
etps: Table = EtpRow.__table__  # type: ignore[assignment]
sections: Table = SectionRow.__table__  # type: ignore[assignment]
revisions: Table = RevisionRow.__table__  # type: ignore[assignment]
conversations: Table = ConversationRow.__table__  # type: ignore[assignment]
events: Table = ProcessedEvent.__table__  # type: ignore[assignment]
audit: Table = AuditEvent.__table__  # type: ignore[assignment]
tokens: Table = ApiToken.__table__  # type: ignore[assignment]
