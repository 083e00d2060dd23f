"""What one step works on: its context (loaded by the service), its outcome, and the turn."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from conversations.catalogue import messages as m
from conversations.events import Inbound
from conversations.flow.text import InputError
from conversations.model import AuthorRef, ConversationState, Etp, EtpSummary, SectionEntry
from conversations.ports import AuditEntry
from conversations.replies import Button, Export, Reply, Text


@dataclass(frozen=True, slots=True)
class Needs:
    """What the service must load before stepping."""

    listing: bool = False
    etp_id: int | None = None
    create_title: str | None = None


@dataclass(slots=True)
class PendingRevision:
    section: int
    kind: str
    text: str
    author: AuthorRef


@dataclass(slots=True)
class StepContext:
    inbound: Inbound
    conv: ConversationState
    etp: Etp | None
    person_id: int
    now: datetime
    listing: Sequence[EtpSummary] | None = None
    candidate: Etp | None = None
    document_order: str = "law"  # the installation's default (ETP_DOCUMENT_ORDER)


@dataclass(slots=True)
class Outcome:
    replies: list[Reply | Export] = field(default_factory=list)
    etp: Etp | None = None
    drafts: list[tuple[int, int]] = field(default_factory=list)  # (section, attempt)
    instructions: dict[int, str] = field(default_factory=dict)  # /refazer <instrução>, by section
    revisions: list[PendingRevision] = field(default_factory=list)
    audits: list[AuditEntry] = field(default_factory=list)

    def say(self, text: str, *buttons: Button, expects_text: bool = False) -> None:
        self.replies.append(Text(text, tuple(buttons), expects_text))


class Turn:
    """One event's working state: the context in, the outcome being built, the ETP in hand."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        self.conv = ctx.conv
        self.etp = ctx.etp
        self.out = Outcome(etp=ctx.etp)
        self.author = AuthorRef(ctx.person_id, ctx.inbound.author.display_name)

    def require_etp(self) -> Etp:
        if self.etp is None:
            raise InputError(m.NO_ACTIVE_ETP)
        return self.etp

    def entry(self) -> SectionEntry | None:
        if self.etp is None or self.conv.section is None:
            return None
        return self.etp.section(self.conv.section)
