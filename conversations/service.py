"""The use case: lock, load, step and save one event in one transaction; run drafts after."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from conversations.catalogue import messages as m
from conversations.catalogue.sections import BY_NUMBER
from conversations.context import build_context
from conversations.drafting import OfflineDrafter, keep_facts
from conversations.events import Address, Inbound
from conversations.export import FORMATS, InlineRenderer
from conversations.fencing import suspicious
from conversations.flow import InputError, Needs, StepContext, apply_draft, needs, step
from conversations.grounding import Finding
from conversations.grounding import check as ground
from conversations.model import ConversationState, Etp, Mode, SectionStatus, Step
from conversations.ports import (
    AuditEntry,
    ConcurrentUpdate,
    ConversationLock,
    DocumentRenderer,
    Draft,
    DraftContext,
    DraftFailed,
    DraftQueue,
    DraftRate,
    DraftRequest,
    DraftWriter,
    DuplicateEvent,
    EtpStore,
    Notifier,
    NullObserver,
    Observer,
    Revision,
    StoreTransaction,
    StoreUnavailable,
    StreamingDraftWriter,
    Usage,
)
from conversations.privacy import Masker, mask_context
from conversations.prompting import material, user_texts
from conversations.replies import Document, DraftingStarted, Export, Reply, Text

log = logging.getLogger(__name__)

T = TypeVar("T")


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class MemoryLocks:
    """Per-key asyncio locks for one process; entries are dropped when nobody holds them."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        release = await self.acquire(key)
        try:
            yield
        finally:
            release()

    async def acquire(self, key: str) -> Callable[[], None]:
        """Take `key`'s lock; returns its release, which another task may call (a handoff)."""
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            await lock.acquire()
        except BaseException:
            self._leave(key)
            raise

        def release() -> None:
            lock.release()
            self._leave(key)

        return release

    def _leave(self, key: str) -> None:
        lock, users = self._locks[key]
        if users <= 1:
            del self._locks[key]
        else:
            self._locks[key] = (lock, users - 1)


class InProcessDraftQueue:
    """Runs draft jobs as asyncio tasks of this process (the embedded default, no Redis)."""

    def __init__(self) -> None:
        self._runner: Callable[[DraftRequest], Coroutine[Any, Any, None]] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._started: dict[asyncio.Task[None], float] = {}  # for backlog()

    def bind(self, runner: Callable[[DraftRequest], Coroutine[Any, Any, None]]) -> None:
        self._runner = runner

    async def submit(self, request: DraftRequest) -> bool:
        if self._runner is None:
            raise RuntimeError("draft queue not bound to a service")
        if any(t.get_name() == request.job_id for t in self._tasks):
            return False  # the same job is already running
        task = asyncio.create_task(self._runner(request), name=request.job_id)
        self._tasks.add(task)
        self._started[task] = time.monotonic()
        task.add_done_callback(self._done)
        return True

    def backlog(self) -> tuple[int, float]:
        """Jobs running now, and the seconds the oldest of them has run."""
        oldest = min(self._started.values(), default=None)
        return len(self._tasks), 0.0 if oldest is None else time.monotonic() - oldest

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._started.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("draft job %s failed", task.get_name(), exc_info=task.exception())

    async def drain(self) -> None:
        """Wait until no draft job is running (console and tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


# Another process changed the conversation between our read and our write: run it again. Each
# conflict means the other writer made progress; a short random pause keeps two processes from
# colliding on the same conversation again and again.
CONFLICT_ATTEMPTS = 10


async def _back_off(attempt: int) -> None:
    await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))


@dataclass(frozen=True, slots=True)
class DraftReport:
    """What a draft job learned, for the audit: why the LLM did not write it (if it did not),
    what the grounding check could not trace, and answers that read as instructions."""

    cause: str | None = None
    findings: tuple[Finding, ...] = ()
    suspicious: tuple[str, ...] = ()
    usage: Usage = field(default_factory=Usage)


def _drafted(
    request: DraftRequest, draft: Draft | None, report: DraftReport | None = None
) -> AuditEntry:
    detail: dict[str, Any] = {
        "section": request.section,
        "outcome": "ok" if draft is not None else "failed",
        "provider": draft.provider if draft else None,
    }
    if report is not None:
        usage = report.usage
        detail |= {
            "model": usage.model or None,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "cost_usd": round(usage.cost_usd, 6),
            "cached": usage.cached,
        }
        if report.cause:
            detail["fallback_cause"] = report.cause
        if report.findings:
            detail["unsupported"] = [{"kind": f.kind, "text": f.text} for f in report.findings]
        if report.suspicious:
            detail["suspicious_input"] = list(report.suspicious)
        if request.instruction:
            detail["instruction"] = request.instruction
    return AuditEntry("section.drafted", detail)


def _note(*parts: str) -> str:
    return "\n".join(p for p in parts if p)


def _grounding_note(findings: Sequence[Finding]) -> str:
    if not findings:
        return ""
    items = m.GROUNDING_SEP.join(
        (m.GROUNDING_FIGURE if f.kind == "figure" else m.GROUNDING_CITATION).format(text=f.text)
        for f in findings
    )
    return m.GROUNDING_NOTE.format(items=items)


def masker_for(etp: Etp, request: DraftRequest | None = None) -> Masker:
    """Placeholders for the team's names and matrículas, and the names of whoever answered."""
    team = etp.identification.equipe
    names = [member.name for member in team]
    names += [a.author.name for s in etp.sections.values() for a in s.answers if a.author.name]
    if request is not None and request.requested_by:
        names.append(request.requested_by)
    return Masker(names, [member.matricula for member in team])


def _event_key(inbound: Inbound) -> tuple[str, str]:
    return inbound.author.platform, inbound.event_id or ""


def _kept(reply: object) -> bool:
    """Whether a reply is kept with its event (replies_to_json keeps texts, not documents)."""
    return isinstance(reply, Text | DraftingStarted)


def _keep(
    tx: StoreTransaction,
    inbound: Inbound,
    conv: ConversationState,
    replies: Sequence[Reply | Export],
) -> None:
    """The event's replies kept with its claim (see EtpService._redelivered)."""
    kept: list[Reply] = [r for r in replies if isinstance(r, Text | DraftingStarted)]
    if inbound.event_id and kept and conv.id is not None:
        tx.keep_replies(kept, conv.id, conv.version)


class Unsent:
    """The events this process answered whose replies the channel has not yet said were
    delivered: a copy of one arriving meanwhile is a duplicate answered with nothing. Bounded
    in size and age (a channel that never says so, the console, is forgotten after `ttl`)."""

    def __init__(self, ttl: float = 300.0, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self._events: dict[tuple[str, str], tuple[float, bool]] = {}

    def add(self, key: tuple[str, str], kept: bool) -> None:
        now = time.monotonic()
        if len(self._events) >= self.size:
            self._events = {k: v for k, v in self._events.items() if v[0] > now}
            if len(self._events) >= self.size:
                self._events.clear()
        self._events[key] = (now + self.ttl, kept)

    def __contains__(self, key: tuple[str, str]) -> bool:
        found = self._events.get(key)
        return found is not None and found[0] > time.monotonic()

    def pop(self, key: tuple[str, str]) -> bool:
        """Whether the event kept replies (True when not known here: better written)."""
        found = self._events.pop(key, None)
        return True if found is None else found[1]


class EtpService:
    """Handles inbound events for every channel; the one place that commits."""

    def __init__(
        self,
        store: EtpStore,
        drafter: DraftWriter,
        queue: DraftQueue,
        notifier: Notifier,
        *,
        locks: ConversationLock | None = None,
        clock: SystemClock | None = None,
        fallback: DraftWriter | None = None,
        observer: Observer | None = None,
        renderer: DocumentRenderer | None = None,
        still_drafting_every: float = 4.0,
        draft_deadline: float = 150.0,
        draft_rate: DraftRate | None = None,
        max_tokens_per_etp: int = 0,
        stream_every: float = 1.5,
        document_order: str = "law",
        draft_stale_after: float = 30.0,
        store_retry_for: float = 120.0,
    ) -> None:
        self.store = store
        self.drafter = drafter
        self.queue = queue
        self.notifier = notifier
        self.locks: ConversationLock = locks or MemoryLocks()
        self.clock = clock or SystemClock()
        self.fallback = (
            fallback
            if fallback is not None
            else (OfflineDrafter() if drafter.name != "offline" else None)
        )
        # A draft job ends well before the queue's job timeout (300 s): after this, the fallback
        # drafter writes it, so the section never stays "Redigindo…" (the LLM adapter has its own,
        # shorter deadline; this one also bounds any other drafter).
        self.draft_deadline = draft_deadline
        self.draft_rate = draft_rate
        self.max_tokens_per_etp = max_tokens_per_etp  # 0 = no limit
        self.stream_every = stream_every
        self.observer: Observer = observer or NullObserver()
        self.renderer: DocumentRenderer = renderer or InlineRenderer()
        self.still_drafting_every = still_drafting_every  # Telegram shows "typing" for 5 s
        # the order of an ETP's document until it chooses one (ETP_DOCUMENT_ORDER)
        self.document_order = document_order
        self._unsent = Unsent()
        # a running draft job touches its section every third of this; a section "Redigindo…"
        # untouched for this long lost its job (ETP_DRAFT_STALE_AFTER) and is submitted again
        self.draft_stale_after = draft_stale_after
        # how long a draft job retries a database that does not answer (ETP_STORE_RETRY_FOR)
        self.store_retry_for = store_retry_for

    async def handle(self, inbound: Inbound) -> list[Reply]:
        """Process one event; the replies are for the author. Raises StoreUnavailable."""
        started = time.perf_counter()
        outcome = "error"
        try:
            async with self.locks.hold(inbound.address.key):
                for attempt in range(CONFLICT_ATTEMPTS):
                    try:
                        replies, drafts, outcome, waiting = await self._handle_once(inbound)
                    except ConcurrentUpdate:
                        await _back_off(attempt)
                        continue
                    except DuplicateEvent as duplicate:
                        outcome = "duplicate"
                        return self._redelivered(inbound, duplicate.replies)
                    if inbound.event_id:
                        self._unsent.add(_event_key(inbound), any(_kept(r) for r in replies))
                    for request in drafts:
                        await self.queue.submit(request)
                    if waiting is not None and await self._resume(waiting):
                        spec = BY_NUMBER[waiting.section]
                        replies.append(
                            Text(m.DRAFT_RESUMED.format(n=spec.number, title=spec.title))
                        )
                    return await self._documents(replies)
            outcome = "busy"
            return [Text(m.BUSY_RETRY)]
        finally:
            self.observer.event_handled(
                inbound.address.channel, inbound.kind, time.perf_counter() - started, outcome
            )

    async def _handle_once(
        self, inbound: Inbound
    ) -> tuple[list[Reply | Export], list[DraftRequest], str, DraftRequest | None]:
        """The replies, the drafts to submit, the outcome, and the draft this conversation was
        already waiting for when it looks stalled (`_resume` decides)."""
        async with self.store.transaction() as tx:
            if inbound.event_id and not await tx.claim_event(
                inbound.author.platform, inbound.event_id
            ):
                raise DuplicateEvent(inbound.event_id)
            person_id, conv = await tx.open_conversation(inbound.author, inbound.address)
            etp = await tx.load_etp(conv.etp_id) if conv.etp_id else None
            if etp is None and conv.etp_id is not None:
                conv.etp_id, conv.step = None, Step.IDLE
            waiting = self._awaited(conv, etp, inbound)
            wanted = needs(inbound)
            ctx = StepContext(
                inbound, conv, etp, person_id, self.clock.now(), document_order=self.document_order
            )
            await self._load_needs(tx, ctx, wanted, inbound.address)
            try:
                outcome = step(ctx)
            except InputError as refusal:
                refused: list[Reply | Export] = [Text(str(refusal))]
                _keep(tx, inbound, conv, refused)
                return refused, [], "refused", waiting
            saved = outcome.etp
            replies = outcome.replies
            audits = list(outcome.audits)
            requests: list[DraftRequest] = []
            if saved is not None and saved.id is not None:
                author = inbound.author
                requests = [
                    DraftRequest(
                        saved.id,
                        section,
                        attempt,
                        inbound.address,
                        author.display_name,
                        instruction=outcome.instructions.get(section, ""),
                        requester=f"{author.platform}:{author.user_id}",
                    )
                    for section, attempt in outcome.drafts
                ]
                if requests and self.drafter.inline:
                    replies, drafted = await self._draft_inline(conv, saved, requests, replies)
                    audits += drafted
                    requests = []
            if waiting is not None and (
                any(r.section == waiting.section for r in requests)
                or any(section == waiting.section for section, _ in outcome.drafts)
            ):
                waiting = None  # this event asked for that draft itself (/start, /refazer)
            if saved is not None and (saved.dirty or saved.dirty_sections):
                saved = await tx.save_etp(saved)
            await tx.save_conversation(conv)
            if saved is not None and saved.id is not None:
                for revision in outcome.revisions:
                    await tx.add_revision(
                        Revision(
                            saved.id,
                            revision.section,
                            revision.kind,
                            revision.text,
                            revision.author,
                        )
                    )
            for entry in audits:
                await tx.add_audit(
                    entry,
                    etp_id=saved.id if saved else None,
                    person_id=person_id,
                    conversation_id=conv.id,
                )
            _keep(tx, inbound, conv, replies)
            return replies, requests, "ok", waiting

    def _awaited(
        self, conv: ConversationState, etp: Etp | None, inbound: Inbound
    ) -> DraftRequest | None:
        """The draft this conversation waits for, if it has waited long enough to be stalled
        (as far as this copy of the ETP knows: `_resume` asks the database)."""
        if etp is None or etp.id is None or conv.mode != Mode.DRAFTING or conv.section is None:
            return None
        entry = etp.sections.get(conv.section)
        if entry is None or entry.status != SectionStatus.DRAFTING or self.drafter.inline:
            return None
        touched = entry.updated_at
        if touched is not None and touched.tzinfo is None:
            touched = touched.replace(tzinfo=UTC)  # SQLite keeps UTC without the zone
        if touched is not None and self.clock.now() - touched < timedelta(
            seconds=self.draft_stale_after
        ):
            return None
        return DraftRequest(
            etp.id, entry.number, entry.draft_attempt, inbound.address, inbound.author.display_name
        )

    async def _resume(self, request: DraftRequest) -> bool:
        """Submit `request` again if its section is still drafting with no sign of life for
        `draft_stale_after` seconds: the database says so, and gives it to one caller only (a
        sweep in another process, the next message). True when it was submitted."""
        now = self.clock.now()
        before = now - timedelta(seconds=self.draft_stale_after)
        try:
            claimed = await self.store.touch_draft(
                request.etp_id, request.section, request.attempt, now, before
            )
        except StoreUnavailable:
            log.warning("could not check whether %s is stalled", request.job_id)
            return False
        if not claimed:
            return False
        log.warning("draft %s had stalled; submitting it again", request.job_id)
        await self.queue.submit(request)
        self.observer.draft_resumed()
        return True

    async def resume_stalled(self, limit: int = 100) -> int:
        """Submit again every draft whose section is still "Redigindo…" with no sign of life
        for `draft_stale_after` seconds (its process died, the queue lost it, it gave up on the
        database); the waiting conversation is told. At most `limit` at a time; how many."""
        before = self.clock.now() - timedelta(seconds=self.draft_stale_after)
        resumed = 0
        for stalled in await self.store.stalled_drafts(before, limit):
            if stalled.address is None:
                continue  # no conversation waits for it; /retomar there drafts it again
            request = DraftRequest(
                stalled.etp_id, stalled.section, stalled.attempt, stalled.address, ""
            )
            if not await self._resume(request):
                continue
            resumed += 1
            spec = BY_NUMBER[stalled.section]
            await self._tell(request, m.DRAFT_RESUMED.format(n=spec.number, title=spec.title))
        return resumed

    async def _tell(self, request: DraftRequest, text: str) -> None:
        try:
            await self.notifier.notify(request.address, [Text(text)])
        except Exception:
            log.warning("could not tell %s about draft %s", request.address.key, request.job_id)

    def _redelivered(self, inbound: Inbound, kept: Sequence[Reply]) -> list[Reply]:
        """A redelivery's answer: nothing, unless the replies of its first delivery never
        left (the process died between the commit and the send, or the reply rode in a
        webhook's answer that never reached the platform). They are sent now, once: not
        while this process is still sending them (copies delivered at once), and not once
        the conversation has moved on (the store keeps them for its version only)."""
        if not kept or _event_key(inbound) in self._unsent:
            return []
        log.info("event %s delivered again: its reply had not left, sent now", inbound.event_id)
        self._unsent.add(_event_key(inbound), True)
        return list(kept)

    async def delivered(self, inbound: Inbound, rest: Sequence[Reply] | None = ()) -> None:
        """The channel delivered `inbound`'s replies, but `rest` (None: it cannot tell, e.g.
        the reply rides in a webhook's answer, so all of it stays kept). Until then a
        redelivery of the event sends them again; a failure here only means it would."""
        if not inbound.event_id:
            return
        kept = self._unsent.pop(_event_key(inbound))
        if rest is None or (not kept and not rest):
            return
        try:
            await self.store.settle_event(inbound.author.platform, inbound.event_id, rest)
        except StoreUnavailable:
            log.warning("could not mark the reply to %s delivered", inbound.event_id)

    async def _documents(self, replies: list[Reply | Export]) -> list[Reply]:
        """Each Export rendered into its Document, after the event is written and still in the
        conversation's turn. One that cannot be rendered becomes a notice: the event took effect
        (its audit says so) and /exportar again renders it again."""
        out: list[Reply] = []
        for reply in replies:
            if not isinstance(reply, Export):
                out.append(reply)
                continue
            spec = FORMATS[reply.fmt]
            try:
                content = await self.renderer.render(reply.fmt, reply.document)
            except Exception:
                log.exception("rendering ETP %s as %s failed", reply.document.etp_id, reply.fmt)
                out.append(Text(m.EXPORT_FAILED))
                continue
            name = reply.document.filename(spec.extension)
            out.append(Document(name, content, spec.media_type, reply.caption))
            self.observer.exported(reply.fmt)
        return out

    async def _draft_inline(
        self,
        conv: ConversationState,
        etp: Etp,
        requests: list[DraftRequest],
        replies: list[Reply | Export],
    ) -> tuple[list[Reply | Export], list[AuditEntry]]:
        """Write the drafts now (an inline drafter): each one's text takes the place of the
        "being written" notice in the replies, and goes into the same transaction."""
        replies = list(replies)
        audits: list[AuditEntry] = []
        for request in requests:
            context = build_context(
                etp,
                request.section,
                request.attempt,
                today=self.clock.now(),
                instruction=request.instruction,
            )
            draft, report = await self._write(request, etp, context)
            # nothing was sent that the draft could replace
            written = [
                dataclasses.replace(r, replaces=None) if isinstance(r, Text) else r
                for r in apply_draft(conv, etp, request, draft)
            ]
            at = next(
                (
                    i
                    for i, r in enumerate(replies)
                    if isinstance(r, DraftingStarted) and r.job_id == request.job_id
                ),
                len(replies),
            )
            replies[at : at + 1] = written
            audits.append(_drafted(request, draft, report))
        return replies, audits

    async def _load_needs(
        self, tx: StoreTransaction, ctx: StepContext, wanted: Needs, address: Address
    ) -> None:
        if wanted.listing:
            ctx.listing = await tx.list_etps(ctx.person_id, address)
        if wanted.etp_id is not None:
            ctx.candidate = await tx.load_etp(wanted.etp_id)
        if wanted.create_title is not None:
            etp = Etp(
                id=None,
                title=wanted.create_title,
                owner_id=ctx.person_id,
                shared_key=address.key if address.shared else None,
            )
            etp.touch()
            ctx.candidate = await tx.save_etp(etp)

    async def move_conversation(self, old: Address, new: Address) -> bool:
        """A chat's id changed (a Telegram group became a supergroup): its conversation and its
        shared ETPs continue at `new`. Repeating it does nothing (False: nothing left at `old`,
        or `new` already has an ETP of its own, which is kept)."""
        async with self.locks.hold(old.key), self.locks.hold(new.key):
            moved = await self.store.move_conversation(old, new)
        if moved:
            log.info("conversation %s continues at %s", old.key, new.key)
        return moved

    async def forget_events(self, older_than: timedelta) -> int:
        """Forget the platform event ids claimed more than `older_than` ago; how many.

        A claim only has to outlive the platform's redeliveries (Telegram keeps an update a day,
        Slack retries within minutes). Kept longer, an id the platform hands out again would be
        taken for a redelivery: Telegram picks update_ids anew at random after a week without
        updates, and a pick inside an old range would silently drop every update of it.
        """
        return await self.store.prune_events(self.clock.now() - older_than)

    async def run_draft(self, request: DraftRequest) -> None:
        """The draft job. It shows it is alive while it runs (`_keep_alive`); it retries a
        database that does not answer for `store_retry_for` seconds, then tells the user the
        draft was interrupted (the section stays "Redigindo…" and a later sweep resumes it).
        Any other failure ends the draft as failed, with the way on (/refazer): never stuck."""
        alive = asyncio.create_task(self._keep_alive(request), name=f"alive-{request.job_id}")
        try:
            await self._run_draft(request)
        except StoreUnavailable as exc:
            log.warning("draft %s interrupted, database unavailable: %s", request.job_id, exc)
            spec = BY_NUMBER[request.section]
            await self._tell(request, m.DRAFT_INTERRUPTED.format(n=spec.number, title=spec.title))
        except Exception:
            log.exception("draft job %s failed", request.job_id)
            await self._give_up(request)
        finally:
            alive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await alive

    async def _run_draft(self, request: DraftRequest) -> None:
        """Write outside any lock, then apply if still awaited, then notify."""
        etp = await self._retrying(lambda: self._load(request.etp_id))
        if etp is None:
            return
        entry = etp.section(request.section)
        if entry.draft_attempt != request.attempt or entry.status != SectionStatus.DRAFTING:
            return
        context = build_context(
            etp,
            request.section,
            request.attempt,
            today=self.clock.now(),
            instruction=request.instruction,
        )
        draft, report = await self._write_showing(request, etp, context)
        # the draft is written: a database that blinks now must not cost another LLM call
        replies = await self._retrying(lambda: self._apply_turn(request, draft, report))
        if replies:
            await self.notifier.notify(request.address, replies)

    async def _load(self, etp_id: int) -> Etp | None:
        async with self.store.transaction() as tx:
            return await tx.load_etp(etp_id)

    async def _apply_turn(
        self, request: DraftRequest, draft: Draft | None, report: DraftReport
    ) -> list[Reply]:
        """`_apply` in the conversation's turn, run again on a concurrent update."""
        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                async with self.locks.hold(request.address.key):
                    return await self._apply(request, draft, report)
            except ConcurrentUpdate:
                await _back_off(attempt)
        return []

    async def _retrying(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """`work()`, again and again while the database is unavailable, for `store_retry_for`
        seconds (tenacity: growing pauses up to 5 s); then its StoreUnavailable."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(StoreUnavailable),
            stop=stop_after_delay(self.store_retry_for),
            wait=wait_exponential(multiplier=0.2, max=5),
            reraise=True,
        ):
            with attempt:
                return await work()
        raise AssertionError("unreachable: tenacity reraises the last failure")

    async def _keep_alive(self, request: DraftRequest) -> None:
        """Touch the section every third of `draft_stale_after` while the job runs, so that
        no sweep takes it for lost; a database that does not answer is tried next time."""
        every = self.draft_stale_after / 3
        while True:
            await asyncio.sleep(every)
            try:
                alive = await self.store.touch_draft(
                    request.etp_id, request.section, request.attempt, self.clock.now(), None
                )
            except StoreUnavailable:
                continue
            if not alive:
                return  # applied, superseded or cancelled: nothing left to keep alive

    async def _give_up(self, request: DraftRequest) -> None:
        """A job that failed for good: the section leaves "Redigindo…" as a failed draft (the
        user gets the failure and /refazer), or, without a database, the user is told."""
        try:
            replies = await self._apply_turn(request, None, DraftReport("error"))
        except Exception:
            log.exception("could not record the failure of draft %s", request.job_id)
            spec = BY_NUMBER[request.section]
            await self._tell(request, m.DRAFT_INTERRUPTED.format(n=spec.number, title=spec.title))
            return
        if replies:
            try:
                await self.notifier.notify(request.address, replies)
            except Exception:
                log.exception(
                    "could not tell %s draft %s failed", request.address.key, request.job_id
                )

    async def _write_showing(
        self, request: DraftRequest, etp: Etp, context: DraftContext
    ) -> tuple[Draft | None, DraftReport]:
        """`_write`, while the conversation is shown every `still_drafting_every` seconds that the
        draft is still being written (a sign that fails is logged; the draft goes on)."""
        writing = asyncio.ensure_future(self._write(request, etp, context, show=True))
        try:
            while not (await asyncio.wait({writing}, timeout=self.still_drafting_every))[0]:
                try:
                    await self.notifier.still_drafting(request.address)
                except Exception:
                    log.warning("could not show %s a draft in progress", request.address.key)
            return writing.result()
        finally:
            writing.cancel()  # the job itself was cancelled: so is the drafting

    async def _refusal(self, request: DraftRequest, etp: Etp) -> str | None:
        """Why this draft may not use the LLM (the ETP's token budget, the person's draft rate),
        or None. Checked in the job, never on the per-message path."""
        if self.drafter.inline:
            return None
        if self.max_tokens_per_etp and etp.llm_tokens >= self.max_tokens_per_etp:
            return "budget"
        if (
            self.draft_rate is not None
            and request.requester
            and await self.draft_rate.retry_after(request.requester) is not None
        ):
            return "rate"
        return None

    async def _write(
        self, request: DraftRequest, etp: Etp, context: DraftContext, *, show: bool = False
    ) -> tuple[Draft | None, DraftReport]:
        """Draft (LLM or offline), check it, and fall back to the offline drafter with a message
        that says why when the LLM did not write it. Never raises; never outlives the deadline."""
        started = time.perf_counter()
        flagged = tuple(hit for text in user_texts(context) for hit in suspicious(text))
        if flagged:
            log.warning("ETP %s section %s: answers read as instructions", etp.id, context.section)
        usage = Usage()
        cause = await self._refusal(request, etp)
        draft: Draft | None = None
        findings: list[Finding] = []
        facts = material(context)
        if cause is None:
            masker = Masker() if self.drafter.inline else masker_for(etp, request)
            progress = self._progress(request, masker) if show else None
            draft, cause = await self._call(context, masker, progress)
            if draft is not None:
                # a drafter that counts tokens without a Usage still shows in the totals
                usage = (
                    draft.usage
                    if draft.usage.tokens or draft.usage.cached
                    else Usage(completion_tokens=draft.tokens)
                )
                findings = ground(draft.text, facts, today=context.date)
                if findings and not self.drafter.inline:
                    # once more, told what it made up; the better of the two is kept
                    retry = dataclasses.replace(context, findings=tuple(f.text for f in findings))
                    again, _ = await self._call(retry, masker, None)
                    if again is not None:
                        usage = usage + again.usage
                        again_findings = ground(again.text, facts, today=context.date)
                        if len(again_findings) <= len(findings):
                            draft, findings = again, again_findings
        seconds = time.perf_counter() - started
        if draft is not None:
            self.observer.draft_finished(draft.provider, "ok", seconds, usage.tokens)
            self.observer.draft_usage(draft.provider, usage)
            note = _note(draft.note, _grounding_note(findings))
            text = keep_facts(draft.text, context.facts)
            draft = dataclasses.replace(
                draft, text=text, note=note, usage=usage, tokens=usage.tokens
            )
            return draft, DraftReport(None, tuple(findings), flagged, usage)
        if self.fallback is None:
            self.observer.draft_finished(self.drafter.name, "failed", seconds, 0)
            return None, DraftReport(cause, (), flagged, usage)
        written = await self.fallback.write(context)
        findings = ground(written.text, facts, today=context.date)
        self.observer.draft_finished(self.drafter.name, "fallback", seconds, usage.tokens)
        self.observer.draft_usage(self.drafter.name, usage)
        note = _note(
            m.FALLBACK_BY_CAUSE.get(cause or "unavailable", m.LLM_FALLBACK),
            _grounding_note(findings),
        )
        draft = Draft(written.text, written.provider, note=note, usage=usage, tokens=usage.tokens)
        return draft, DraftReport(cause or "unavailable", tuple(findings), flagged, usage)

    async def _call(
        self, context: DraftContext, masker: Masker, progress: Callable[[str], Any] | None
    ) -> tuple[Draft | None, str | None]:
        """One draft from the configured drafter, personal data masked in what it receives and
        restored in what it writes; (None, cause) when it fails or runs out of time."""
        drafter = self.drafter
        # an inline drafter sends nothing anywhere: nothing to hide, no cost on the message path
        masked = context if drafter.inline else mask_context(context, masker)
        try:
            async with asyncio.timeout(self.draft_deadline):
                if progress is not None and isinstance(drafter, StreamingDraftWriter):
                    draft = await drafter.stream(masked, progress)
                else:
                    draft = await drafter.write(masked)
        except DraftFailed as failed:
            log.warning("drafter %s failed: %s", drafter.name, failed)
            return None, failed.cause
        except TimeoutError:
            log.warning("drafter %s ran out of time (%.0f s)", drafter.name, self.draft_deadline)
            return None, "timeout"
        except Exception:  # a drafter may fail in any way; the job must not die
            log.exception("drafter %s gave up", drafter.name)
            return None, "unavailable"
        if drafter.inline:
            return draft, None
        return dataclasses.replace(draft, text=masker.restore(draft.text)), None

    def _progress(self, request: DraftRequest, masker: Masker) -> Callable[[str], Any]:
        """Shows the draft as it grows, one edit every `stream_every` seconds at most (the
        platforms' pace); a failing edit is logged and the draft goes on."""
        last = 0.0

        async def show(text: str) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last < self.stream_every:
                return
            last = now
            try:
                await self.notifier.drafting_progress(
                    request.address, request.job_id, masker.restore(text, partial=True)
                )
            except Exception:
                log.warning("could not show %s the draft so far", request.address.key)

        return show

    async def _apply(
        self, request: DraftRequest, draft: Draft | None, report: DraftReport
    ) -> list[Reply]:
        async with self.store.transaction() as tx:
            conv = await tx.lock_conversation(request.address)
            etp = await tx.load_etp(request.etp_id)
            if etp is None:
                return []
            usage = report.usage
            etp.spend(usage.prompt_tokens, usage.completion_tokens, usage.cost_usd)
            replies = apply_draft(conv, etp, request, draft)
            if not replies:
                if etp.dirty:  # spent on a draft no longer awaited: still counted
                    await tx.save_etp(etp)
                return []
            await tx.save_etp(etp)
            await tx.save_conversation(conv)
            await tx.add_audit(
                _drafted(request, draft, report),
                etp_id=etp.id,
                person_id=None,
                conversation_id=conv.id,
            )
            return replies
