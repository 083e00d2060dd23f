"""The use case: lock, load, step and save one event in one transaction; run drafts after."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from conversations.catalogue import messages as m
from conversations.drafting import OfflineDrafter, build_context
from conversations.events import Address, Inbound
from conversations.export import FORMATS, InlineRenderer
from conversations.flow import InputError, Needs, StepContext, apply_draft, needs, step
from conversations.model import ConversationState, Etp
from conversations.ports import (
    AuditEntry,
    ConcurrentUpdate,
    ConversationLock,
    DocumentRenderer,
    Draft,
    DraftContext,
    DraftQueue,
    DraftRequest,
    DraftWriter,
    DuplicateEvent,
    EtpStore,
    Notifier,
    NullObserver,
    Observer,
    Revision,
    StoreTransaction,
)
from conversations.replies import Document, DraftingStarted, Export, Reply, Text

log = logging.getLogger(__name__)


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

    def bind(self, runner: Callable[[DraftRequest], Coroutine[Any, Any, None]]) -> None:
        self._runner = runner

    async def submit(self, request: DraftRequest) -> None:
        if self._runner is None:
            raise RuntimeError("draft queue not bound to a service")
        if any(t.get_name() == request.job_id for t in self._tasks):
            return  # the same job is already running
        task = asyncio.create_task(self._runner(request), name=request.job_id)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
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


def _drafted(request: DraftRequest, draft: Draft | None) -> AuditEntry:
    return AuditEntry(
        "section.drafted",
        {
            "section": request.section,
            "outcome": "ok" if draft is not None else "failed",
            "provider": draft.provider if draft else None,
        },
    )


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
        draft_attempts: int = 3,
        retry_wait: float = 0.5,
        observer: Observer | None = None,
        renderer: DocumentRenderer | None = None,
        still_drafting_every: float = 4.0,
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
        self.draft_attempts = draft_attempts
        self.retry_wait = retry_wait
        self.observer: Observer = observer or NullObserver()
        self.renderer: DocumentRenderer = renderer or InlineRenderer()
        self.still_drafting_every = still_drafting_every  # Telegram shows "typing" for 5 s

    async def handle(self, inbound: Inbound) -> list[Reply]:
        """Process one event; the replies are for the author. Raises StoreUnavailable."""
        started = time.perf_counter()
        outcome = "error"
        try:
            async with self.locks.hold(inbound.address.key):
                for attempt in range(CONFLICT_ATTEMPTS):
                    try:
                        replies, drafts, outcome = await self._handle_once(inbound)
                    except ConcurrentUpdate:
                        await _back_off(attempt)
                        continue
                    except DuplicateEvent:
                        outcome = "duplicate"
                        return []
                    for request in drafts:
                        await self.queue.submit(request)
                    return await self._documents(replies)
            outcome = "busy"
            return [Text(m.BUSY_RETRY)]
        finally:
            self.observer.event_handled(
                inbound.address.channel, inbound.kind, time.perf_counter() - started, outcome
            )

    async def _handle_once(
        self, inbound: Inbound
    ) -> tuple[list[Reply | Export], list[DraftRequest], str]:
        async with self.store.transaction() as tx:
            if inbound.event_id and not await tx.claim_event(
                inbound.author.platform, inbound.event_id
            ):
                return [], [], "duplicate"
            person_id, conv = await tx.open_conversation(inbound.author, inbound.address)
            etp = await tx.load_etp(conv.etp_id) if conv.etp_id else None
            if etp is None and conv.etp_id is not None:
                conv.etp_id, conv.step = None, "idle"
            wanted = needs(inbound)
            ctx = StepContext(inbound, conv, etp, person_id, self.clock.now())
            await self._load_needs(tx, ctx, wanted, inbound.address)
            try:
                outcome = step(ctx)
            except InputError as refusal:
                return [Text(str(refusal))], [], "refused"
            saved = outcome.etp
            replies = outcome.replies
            audits = list(outcome.audits)
            requests: list[DraftRequest] = []
            if saved is not None and saved.id is not None:
                requests = [
                    DraftRequest(
                        saved.id, section, attempt, inbound.address, inbound.author.display_name
                    )
                    for section, attempt in outcome.drafts
                ]
                if requests and self.drafter.inline:
                    replies, drafted = await self._draft_inline(conv, saved, requests, replies)
                    audits += drafted
                    requests = []
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
            return replies, requests, "ok"

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
            draft = await self._write(build_context(etp, request.section, request.attempt))
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
            audits.append(_drafted(request, draft))
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
        """The draft job: write outside any lock, then apply if still awaited, then notify."""
        async with self.store.transaction() as tx:
            etp = await tx.load_etp(request.etp_id)
        if etp is None:
            return
        entry = etp.section(request.section)
        if entry.draft_attempt != request.attempt or entry.status != "drafting":
            return
        draft = await self._write_showing(
            request, build_context(etp, request.section, request.attempt)
        )
        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                async with self.locks.hold(request.address.key):
                    replies = await self._apply(request, draft)
                break
            except ConcurrentUpdate:
                await _back_off(attempt)
                continue
        else:
            return
        if replies:
            await self.notifier.notify(request.address, replies)

    async def _write_showing(self, request: DraftRequest, context: DraftContext) -> Draft | None:
        """`_write`, while the conversation is shown every `still_drafting_every` seconds that the
        draft is still being written (a sign that fails is logged; the draft goes on)."""
        writing = asyncio.ensure_future(self._write(context))
        try:
            while not (await asyncio.wait({writing}, timeout=self.still_drafting_every))[0]:
                try:
                    await self.notifier.still_drafting(request.address)
                except Exception:
                    log.warning("could not show %s a draft in progress", request.address.key)
            return writing.result()
        finally:
            writing.cancel()  # the job itself was cancelled: so is the drafting

    async def _write(self, context: DraftContext) -> Draft | None:
        """Draft with retries; after the last failure, the fallback drafter (if any) writes it."""
        started = time.perf_counter()
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.draft_attempts),
                wait=wait_exponential(multiplier=self.retry_wait, max=10),
                retry=retry_if_exception_type(Exception),
                before_sleep=lambda state: log.warning(
                    "drafter %s failed (attempt %d): %s",
                    self.drafter.name,
                    state.attempt_number,
                    state.outcome.exception() if state.outcome else None,
                ),
                reraise=True,
            ):
                with attempt:
                    draft = await self.drafter.write(context)
            self.observer.draft_finished(
                draft.provider, "ok", time.perf_counter() - started, draft.tokens
            )
            return draft
        except Exception:  # a drafter may fail in any way; the job must not die
            log.exception("drafter %s gave up", self.drafter.name)
        if self.fallback is not None:
            draft = await self.fallback.write(context)
            self.observer.draft_finished(
                self.drafter.name, "fallback", time.perf_counter() - started, 0
            )
            return Draft(draft.text, draft.provider, note=m.LLM_FALLBACK)
        self.observer.draft_finished(self.drafter.name, "failed", time.perf_counter() - started, 0)
        return None

    async def _apply(self, request: DraftRequest, draft: Draft | None) -> list[Reply]:
        async with self.store.transaction() as tx:
            conv = await tx.lock_conversation(request.address)
            etp = await tx.load_etp(request.etp_id)
            if etp is None:
                return []
            replies = apply_draft(conv, etp, request, draft)
            if not replies:
                return []
            await tx.save_etp(etp)
            await tx.save_conversation(conv)
            await tx.add_audit(
                _drafted(request, draft),
                etp_id=etp.id,
                person_id=None,
                conversation_id=conv.id,
            )
            return replies
