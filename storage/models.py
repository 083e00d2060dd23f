"""SQLAlchemy models: the schema Alembic migrates, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# BIGINT on PostgreSQL, INTEGER (rowid alias, autoincrement) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


def _now_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Person(Base):
    """A platform identity (Telegram user, Slack user, console user)."""

    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("platform", "external_id", name="uq_people_identity"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = _now_column()


class EtpRow(Base):
    __tablename__ = "etps"
    __table_args__ = (
        Index("ix_etps_owner", "owner_id"),
        Index("ix_etps_shared_key", "shared_key"),
        Index("ix_etps_status_updated", "status", "updated_at"),
        Index("ix_etps_updated", "updated_at"),
        # Admin API "contains" searches (ILIKE '%x%'): trigram GIN indexes on PostgreSQL
        # (migration 0003 enables pg_trgm); plain indexes on SQLite, where they go unused.
        Index(
            "ix_etps_title_trgm",
            "title",
            postgresql_using="gin",
            postgresql_ops={"title": "gin_trgm_ops"},
        ),
        Index(
            "ix_etps_orgao_trgm",
            "orgao",
            postgresql_using="gin",
            postgresql_ops={"orgao": "gin_trgm_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(32), default="em_elaboracao")
    owner_id: Mapped[int | None] = mapped_column(Id, ForeignKey("people.id", ondelete="SET NULL"))
    shared_key: Mapped[str | None] = mapped_column(String(300))
    orgao: Mapped[str] = mapped_column(String(500), default="")
    identification: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = _now_column()
    concluded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # What its LLM drafts cost in all (each draft's own figures are in its audit entry)
    llm_prompt_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    llm_completion_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    llm_cost_usd: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")


class SectionRow(Base):
    __tablename__ = "section_entries"
    __table_args__ = (UniqueConstraint("etp_id", "number", name="uq_section_entries_etp_number"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    etp_id: Mapped[int] = mapped_column(Id, ForeignKey("etps.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    answers: Mapped[list[Any]] = mapped_column(JSON, default=list)
    gaps: Mapped[list[Any]] = mapped_column(JSON, default=list)
    draft: Mapped[str | None] = mapped_column(Text)
    draft_attempt: Mapped[int] = mapped_column(Integer, default=0)
    accepted_text: Mapped[str | None] = mapped_column(Text)
    accepted_by_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("people.id", ondelete="SET NULL")
    )
    accepted_by_name: Mapped[str | None] = mapped_column(String(200))
    justification: Mapped[str | None] = mapped_column(Text)
    justified_by_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("people.id", ondelete="SET NULL")
    )
    justified_by_name: Mapped[str | None] = mapped_column(String(200))
    # the concluding section's explicit choice (conversations Verdict values), NULL until made
    verdict: Mapped[str | None] = mapped_column(String(32))
    # what the section holds as data besides its texts (conversations SectionEntry.data)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = _now_column()


class RevisionRow(Base):
    """Every accepted, edited or skipped text, kept for ever."""

    __tablename__ = "revisions"
    __table_args__ = (Index("ix_revisions_etp", "etp_id", "section"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    etp_id: Mapped[int] = mapped_column(Id, ForeignKey("etps.id", ondelete="CASCADE"))
    section: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(Id, ForeignKey("people.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = _now_column()


class ConversationRow(Base):
    """channel + chat + thread → the current ETP and position; `version` for optimistic checks."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("channel", "chat_id", "thread_id", name="uq_conversations_address"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(128))
    thread_id: Mapped[str] = mapped_column(String(128), default="")
    etp_id: Mapped[int | None] = mapped_column(Id, ForeignKey("etps.id", ondelete="SET NULL"))
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = _now_column()


class ProcessedEvent(Base):
    """Platform event ids already applied (dedupe of redeliveries)."""

    __tablename__ = "processed_events"
    # pruned by age (EtpStore.prune_events); BRIN: a few pages for an append-only table, no
    # B-tree to keep up on every event's claim (SQLite builds an ordinary index)
    __table_args__ = (
        Index("ix_processed_events_created_at", "created_at", postgresql_using="brin"),
    )

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[datetime] = _now_column()
    # the event's replies (conversations.replies.replies_to_json) until the channel delivered
    # them, for a redelivery to send again while the conversation is still at `version`
    reply: Mapped[list[Any] | None] = mapped_column(JSON)
    conversation_id: Mapped[int | None] = mapped_column(
        Id
    )  # no foreign key: a lookup, never a join to keep up
    version: Mapped[int | None] = mapped_column(Integer)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_etp", "etp_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    etp_id: Mapped[int | None] = mapped_column(Id, ForeignKey("etps.id", ondelete="SET NULL"))
    conversation_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("conversations.id", ondelete="SET NULL")
    )
    person_id: Mapped[int | None] = mapped_column(Id, ForeignKey("people.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = _now_column()


class ApiToken(Base):
    """An admin API token: only its SHA-256 hash is stored; the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(String(16))  # read | admin
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # "slack:T0123", "telegram:-100123" or "orgao:<name>": the token sees that tenant's ETPs
    # only; NULL sees every one
    tenant: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = _now_column()
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# Slack multi-workspace OAuth: slack-sdk's own table definitions, on our database and migrations
# (the tables its SQLAlchemy installation and state stores read and write).
slack_installations = SQLAlchemyInstallationStore.build_installations_table(
    Base.metadata, "slack_installations"
)
slack_bots = SQLAlchemyInstallationStore.build_bots_table(Base.metadata, "slack_bots")
slack_oauth_states = SQLAlchemyOAuthStateStore.build_oauth_states_table(
    Base.metadata, "slack_oauth_states"
)
# tokens are stored encrypted (storage/secrets.py): a Fernet token of a long rotating Slack
# token outgrows slack-sdk's 200 characters
for _table in (slack_installations, slack_bots):
    for _column in _table.c:
        if _column.name.endswith("token"):
            _column.type = Text()
# a state is looked up by value on every OAuth redirect, and expired ones are pruned by age
Index("ix_slack_oauth_states_state", slack_oauth_states.c.state)
Index("ix_slack_oauth_states_expire_at", slack_oauth_states.c.expire_at)
