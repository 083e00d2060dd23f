"""The engine's ports: narrow Protocols named by capability; adapters live outside."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from conversations.events import Address, Author
from conversations.model import AuthorRef, ConversationState, Etp, EtpSummary
from conversations.replies import Reply

if TYPE_CHECKING:
    from conversations.export.document import EtpDocument


class ConcurrentUpdate(Exception):
    """The conversation changed under us (version check failed); the event is retried."""


class DuplicateEvent(Exception):
    """The event was already applied (a redelivery): nothing is done. `replies`: what the event
    answered, kept with its claim, when the channel has not said they were delivered and the
    conversation has not moved on since (see EtpService.handle); else empty."""

    def __init__(self, message: str = "", replies: Sequence[Reply] = ()) -> None:
        super().__init__(message)
        self.replies = list(replies)


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
        """Record a platform event id; raises DuplicateEvent (with the replies kept, see
        keep_replies) when it was already processed. A store may instead write the claim with
        the unit's other writes: it then raises DuplicateEvent from lock_conversation (already
        processed) or ConcurrentUpdate at commit (claimed meanwhile)."""

    def keep_replies(self, replies: Sequence[Reply], conversation_id: int, version: int) -> None:
        """Keep the claimed event's replies with its claim, written with the unit, until the
        channel says they were delivered (EtpStore.settle_event): a redelivery of the event
        gets them back (DuplicateEvent.replies) while the conversation is still at `version`."""

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

    async def settle_event(self, platform: str, event_id: str, rest: Sequence[Reply]) -> None:
        """The event's kept replies were delivered but `rest` (nothing kept when empty)."""

    async def move_conversation(self, old: Address, new: Address) -> bool:
        """The conversation at `old` continues at `new` (see EtpService.move_conversation)."""

    async def stalled_drafts(self, before: datetime, limit: int) -> Sequence[StalledDraft]:
        """Sections still being drafted that nothing touched since `before`, oldest first."""

    async def touch_draft(
        self, etp_id: int, section: int, attempt: int, now: datetime, before: datetime | None
    ) -> bool:
        """Mark draft `attempt` of the section alive at `now`, if it is still being drafted
        (and, with `before`, only if nothing touched it since: one caller of several wins)."""


@dataclass(frozen=True, slots=True)
class StalledDraft:
    """A section left "Redigindo…": its draft attempt, and the conversation that awaits it
    (None when no conversation is at that ETP any more)."""

    etp_id: int
    section: int
    attempt: int
    address: Address | None


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
    instruction: str = ""  # what /refazer <instrução> asked of this draft
    requester: str = ""  # who asked (platform:user id), for the per-person draft rate

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
    earlier: tuple[tuple[int, str], ...]  # accepted texts of earlier sections (within a budget)
    gaps: tuple[str, ...]
    unidade: str = ""
    date: str = ""  # today, as the document writes it (dd/mm/aaaa)
    mandatory: tuple[int, ...] = ()  # the sections the law requires
    # answers of the sections this one depends on: (section, question, answer)
    depends: tuple[tuple[int, str, str], ...] = ()
    skipped: tuple[tuple[int, str], ...] = ()  # (section, justification) of skipped sections
    previous: str = ""  # the draft a redo replaces
    instruction: str = ""  # what the user asked of the redo ("mais conciso")
    findings: tuple[str, ...] = ()  # unsupported items of the previous try, to be removed
    # the concluding section's explicit choice (a Verdict value; "" when not chosen): the
    # draft's conclusion states it, whatever the answers' words say
    verdict: str = ""
    # figures the software computed (the price research, section IV's quantity): the drafters
    # state them as they are; an LLM may not alter them
    facts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Usage:
    """What one draft cost: tokens, the model, and the estimated price in US dollars."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    model: str = ""
    cached: bool = False  # answered from the cache: nothing was spent

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cost_usd + other.cost_usd,
            other.model or self.model,
            self.cached and other.cached,
        )


@dataclass(frozen=True, slots=True)
class Draft:
    text: str
    provider: str
    note: str = ""  # shown to the user, e.g. that a fallback drafter wrote it
    tokens: int = 0  # LLM tokens spent, for metrics
    usage: Usage = field(default_factory=Usage)
    findings: tuple[
        str, ...
    ] = ()  # items the grounding check could not trace to the user's material
    suspicious: bool = False  # an answer looked like an instruction to the model


# Why a drafter gave up; each has its own message to the user (catalogue FALLBACK_BY_CAUSE).
DRAFT_CAUSES = ("quota", "timeout", "invalid", "unavailable", "refused", "budget", "rate")


class DraftFailed(Exception):
    """A drafter could not write the draft; `cause` is one of DRAFT_CAUSES."""

    def __init__(self, cause: str, detail: str = "") -> None:
        super().__init__(f"{cause}: {detail}" if detail else cause)
        self.cause = cause if cause in DRAFT_CAUSES else "unavailable"


Progress = Callable[[str], Awaitable[None]]


class DraftWriter(Protocol):
    """Writes a section's formal text from its context."""

    name: str
    # True when writing takes no I/O and well under a millisecond (the offline drafter): the
    # service then drafts inside the event that asked for it, and the draft is in its replies.
    # A slow drafter (an LLM) runs as a job instead (DraftingStarted, then the Notifier).
    inline: bool

    async def write(self, context: DraftContext) -> Draft:
        """Return the draft text; raise on failure."""


@runtime_checkable
class StreamingDraftWriter(Protocol):
    """A drafter that can show its text while it writes it (an LLM streaming its answer)."""

    name: str
    inline: bool

    async def write(self, context: DraftContext) -> Draft:
        """Return the draft text; raise on failure."""

    async def stream(self, context: DraftContext, progress: Progress) -> Draft:
        """Like write, calling `progress` with the text so far as it grows."""


class Notifier(Protocol):
    """Delivers replies that arrive after the event that caused them (e.g. a finished draft)."""

    async def notify(self, address: Address, replies: Sequence[Reply]) -> None:
        """Send the replies to the conversation."""

    async def still_drafting(self, address: Address) -> None:
        """Show the conversation that a late reply is still being written (Telegram's "typing"
        lasts 5 s); a channel without such a sign does nothing."""

    async def drafting_progress(self, address: Address, job_id: str, text: str) -> None:
        """Show the draft of job `job_id` as written so far, in place of its "Redigindo…"
        message (an edit); a channel that cannot edit messages does nothing."""


class DraftQueue(Protocol):
    """Runs draft jobs away from the inbound event: in-process, or on a worker queue."""

    async def submit(self, request: DraftRequest) -> bool:
        """Enqueue the job; returns at once: False when the same job was already there."""


class DraftRate(Protocol):
    """How many LLM drafts a person may start (LLM_DRAFTS_PER_PERSON)."""

    async def retry_after(self, key: str) -> int | None:
        """Count one draft for `key`; the seconds until another is allowed when over, else None."""


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

    def draft_usage(self, provider: str, usage: Usage) -> None:
        """What one draft cost (tokens, estimated dollars; a cache hit costs nothing)."""

    def draft_resumed(self) -> None:
        """A draft whose job was lost was submitted again."""


class NullObserver:
    def event_handled(self, channel: str, kind: str, seconds: float, outcome: str) -> None:
        pass

    def draft_finished(self, provider: str, outcome: str, seconds: float, tokens: int) -> None:
        pass

    def exported(self, fmt: str) -> None:
        pass

    def draft_usage(self, provider: str, usage: Usage) -> None:
        pass

    def draft_resumed(self) -> None:
        pass
