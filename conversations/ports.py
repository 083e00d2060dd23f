"""The engine's ports: narrow Protocols named by capability; adapters live outside."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from conversations.events import Address, Author
from conversations.model import AuthorRef, ConversationState, Etp, EtpSummary
from conversations.replies import Reply

if TYPE_CHECKING:
    from conversations.export.document import EtpDocument


class ConcurrentUpdate(Exception):
    """The conversation changed under us (version check failed); the event is retried."""


class DuplicateEvent(Exception):
    """The event was already applied (a redelivery): nothing is done and nothing is answered."""


class StoreUnavailable(Exception):
    """The database could not be reached or the transaction could not be committed."""


@dataclass(frozen=True, slots=True)
class Revision:
    etp_id: int
    section: int
    kind: str  # accepted | edited | skipped
    text: str
    author: AuthorRef


@dataclass(frozen=True, slots=True)
class AuditEntry:
    action: str
    detail: dict[str, Any]


class StoreTransaction(Protocol):
    """One unit of work; the store commits it when the context exits without error."""

    async def claim_event(self, platform: str, event_id: str) -> bool:
        """Record a platform event id; False when it was already processed. A store may instead
        write the claim with the unit's other writes: it then raises DuplicateEvent from
        lock_conversation (already processed) or ConcurrentUpdate at commit (claimed meanwhile)."""

    async def open_conversation(
        self, author: Author, address: Address
    ) -> tuple[int, ConversationState]:
        """Our person id for the author (the platform identity upserted) and the conversation
        as lock_conversation gives it; together, so that a store can do both in one round trip."""

    async def lock_conversation(self, address: Address) -> ConversationState:
        """Load (creating if needed) the conversation and keep it from concurrent changes: a row
        lock, or its version checked by save_conversation when the unit is written."""

    async def save_conversation(self, state: ConversationState) -> None:
        """Save if the version still matches, else raise ConcurrentUpdate."""

    async def load_etp(self, etp_id: int) -> Etp | None:
        """The whole ETP aggregate, or None."""

    async def save_etp(self, etp: Etp) -> Etp:
        """Insert a new ETP (assigning its id) or write its changed parts."""

    async def list_etps(self, person_id: int, address: Address) -> Sequence[EtpSummary]:
        """ETPs the person owns or that belong to this shared conversation, newest first."""

    async def add_revision(self, revision: Revision) -> None:
        """Keep an accepted, edited or skipped text for ever."""

    async def add_audit(
        self,
        entry: AuditEntry,
        *,
        etp_id: int | None,
        person_id: int | None,
        conversation_id: int | None,
    ) -> None:
        """Append to the audit trail."""


class DocumentRenderer(Protocol):
    """Turns a document into the bytes of one format (conversations.export.FORMATS)."""

    async def render(self, fmt: str, document: EtpDocument) -> bytes:
        """The document in `fmt`; rendered in place or elsewhere (etp/rendering.py: worker
        processes, so that no other conversation waits while it renders)."""


class EtpStore(Protocol):
    """Where ETPs and conversations live."""

    def transaction(self) -> AbstractAsyncContextManager[StoreTransaction]:
        """Open one unit of work."""

    async def prune_events(self, before: datetime) -> int:
        """Forget the event ids claimed before `before` (see EtpService.forget_events); how many."""

    async def move_conversation(self, old: Address, new: Address) -> bool:
        """The conversation at `old` continues at `new` (see EtpService.move_conversation)."""


class ConversationLock(Protocol):
    """Serialises events for one conversation (an accelerator; the database still checks)."""

    def hold(self, key: str) -> AbstractAsyncContextManager[None]:
        """Hold the lock for `key` while the context is open."""


@dataclass(frozen=True, slots=True)
class DraftRequest:
    etp_id: int
    section: int
    attempt: int
    address: Address
    requested_by: str

    @property
    def job_id(self) -> str:
        return f"draft-{self.etp_id}-{self.section}-{self.attempt}"


@dataclass(frozen=True, slots=True)
class DraftContext:
    """Everything a drafter may use; it must not invent facts beyond these."""

    section: int
    attempt: int
    objeto: str
    processo: str
    orgao: str
    answers: tuple[tuple[str, str], ...]  # (question, answer); question "" for complements
    earlier: tuple[tuple[int, str], ...]  # accepted texts of earlier sections
    gaps: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Draft:
    text: str
    provider: str
    note: str = ""  # shown to the user, e.g. that a fallback drafter wrote it
    tokens: int = 0  # LLM tokens spent, for metrics


class DraftWriter(Protocol):
    """Writes a section's formal text from its context."""

    name: str
    # True when writing takes no I/O and well under a millisecond (the offline drafter): the
    # service then drafts inside the event that asked for it, and the draft is in its replies.
    # A slow drafter (an LLM) runs as a job instead (DraftingStarted, then the Notifier).
    inline: bool

    async def write(self, context: DraftContext) -> Draft:
        """Return the draft text; raise on failure."""


class Notifier(Protocol):
    """Delivers replies that arrive after the event that caused them (e.g. a finished draft)."""

    async def notify(self, address: Address, replies: Sequence[Reply]) -> None:
        """Send the replies to the conversation."""

    async def still_drafting(self, address: Address) -> None:
        """Show the conversation that a late reply is still being written (Telegram's "typing"
        lasts 5 s); a channel without such a sign does nothing."""


class DraftQueue(Protocol):
    """Runs draft jobs away from the inbound event: in-process, or on a worker queue."""

    async def submit(self, request: DraftRequest) -> None:
        """Enqueue the job; returns at once."""


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""


class Observer(Protocol):
    """Hears what the engine does, for metrics; it must never fail the event."""

    def event_handled(self, channel: str, kind: str, seconds: float, outcome: str) -> None:
        """One inbound event finished: outcome is ok, refused, duplicate or error."""

    def draft_finished(self, provider: str, outcome: str, seconds: float, tokens: int) -> None:
        """One draft job finished: outcome is ok, fallback or failed."""

    def exported(self, fmt: str) -> None:
        """A document was rendered."""


class NullObserver:
    def event_handled(self, channel: str, kind: str, seconds: float, outcome: str) -> None:
        pass

    def draft_finished(self, provider: str, outcome: str, seconds: float, tokens: int) -> None:
        pass

    def exported(self, fmt: str) -> None:
        pass
