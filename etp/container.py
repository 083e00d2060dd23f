"""Wiring: settings in, a ready service out. Nothing is built at import."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine

from api.ratelimit import TokenRateLimiter
from conversations.drafting import OfflineDrafter
from conversations.events import Address
from conversations.export import InlineRenderer
from conversations.ports import DocumentRenderer, DraftWriter, Notifier
from conversations.replies import Reply
from conversations.service import EtpService, InProcessDraftQueue, MemoryLocks
from etp.metrics import Metrics
from etp.observability import init_sentry
from etp.privacy import install_log_scrubbing
from etp.rendering import ProcessRenderer
from etp.settings import Settings
from storage.admin import AdminStore
from storage.db import create_engine, is_sqlite
from storage.jobs import QUEUE_NAME, ArqDraftQueue
from storage.migrate import upgrade_async
from storage.pgstore import PgEtpStore
from storage.store import SqlEtpStore

log = logging.getLogger(__name__)


class RoutingNotifier:
    """Sends late replies through the channel that owns the conversation."""

    def __init__(self) -> None:
        self._channels: dict[str, Notifier] = {}

    def register(self, channel: str, notifier: Notifier) -> None:
        self._channels[channel] = notifier

    async def notify(self, address: Address, replies: Sequence[Reply]) -> None:
        notifier = self._channels.get(address.channel)
        if notifier is None:
            log.warning(
                "no notifier for channel %s; %d replies dropped", address.channel, len(replies)
            )
            return
        await notifier.notify(address, replies)

    async def still_drafting(self, address: Address) -> None:
        notifier = self._channels.get(address.channel)
        if notifier is not None:
            await notifier.still_drafting(address)

    async def drafting_progress(self, address: Address, job_id: str, text: str) -> None:
        notifier = self._channels.get(address.channel)
        if notifier is not None:
            await notifier.drafting_progress(address, job_id, text)


def build_drafter(settings: Settings, redis: Redis | None = None) -> DraftWriter:
    """The configured drafter; an LLM's answers are cached in Redis when there is one."""
    if settings.llm.provider == "openai":
        from etp.llm import OpenAiDrafter, build_cache

        return OpenAiDrafter(settings.llm, cache=build_cache(settings.llm, redis))
    return OfflineDrafter()


@dataclass
class App:
    settings: Settings
    engine: AsyncEngine
    service: EtpService
    queue: InProcessDraftQueue | ArqDraftQueue
    notifier: RoutingNotifier
    admin: AdminStore
    metrics: Metrics
    redis: Redis | None = None
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def close(self) -> None:
        await self.queue.drain()
        if isinstance(self.queue, ArqDraftQueue):
            await self.queue.close()
        for closer in reversed(self.closers):
            await closer()
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()


async def build_app(
    settings: Settings,
    *,
    drafter: DraftWriter | None = None,
    migrate: bool | None = None,
    in_process_drafts: bool = False,
    queue_name: str = QUEUE_NAME,
) -> App:
    """Build the service on the configured database; SQLite (the embedded default) migrates itself.

    With REDIS_URL, draft jobs go through the arq queue (run by `etp worker` or the worker
    embedded in `etp serve`), unless `in_process_drafts` (the console chat) keeps them here.
    """
    install_log_scrubbing()
    init_sentry(settings.observability, environment=settings.security.etp_env)
    url = settings.database.database_url
    if migrate if migrate is not None else is_sqlite(url):
        await upgrade_async(url)
    pgbouncer = settings.database.etp_pgbouncer
    engine = create_engine(url, pgbouncer=pgbouncer)
    # PostgreSQL: the conversation path on raw asyncpg, one statement an event (storage/pgstore)
    store = (
        await PgEtpStore.connect(
            engine, connections=settings.database.etp_store_connections, pgbouncer=pgbouncer
        )
        if engine.dialect.name == "postgresql"
        else None
    )
    notifier = RoutingNotifier()
    redis_url = settings.redis.redis_url
    redis = Redis.from_url(redis_url) if redis_url else None
    # Conversations are serialised by the database (row lock on PostgreSQL, BEGIN IMMEDIATE on
    # SQLite); a Redis lock on top only duplicated that work (bench/README.md), so the per-process
    # lock just spares the database a queue of waiters.
    locks = MemoryLocks()
    queue: InProcessDraftQueue | ArqDraftQueue = InProcessDraftQueue()
    if redis_url and not in_process_drafts:
        try:
            queue = await ArqDraftQueue.connect(redis_url, queue_name=queue_name)
        except (RedisError, OSError) as exc:
            # Redis only accelerates: drafts run here until a restart finds it again, rather
            # than the whole service staying down with it
            log.warning(
                "Redis unreachable at start (%s): drafts run in this process, not on the queue",
                type(exc).__name__,
            )
    metrics = Metrics(cost_per_1k_tokens=settings.llm.llm_cost_per_1k_tokens)
    processes = settings.documents.etp_render_processes
    renderer: DocumentRenderer = ProcessRenderer(processes) if processes else InlineRenderer()
    llm = settings.llm
    service = EtpService(
        store or SqlEtpStore(engine),
        drafter or build_drafter(settings, redis),
        queue,
        notifier,
        locks=locks,
        observer=metrics,
        renderer=renderer,
        # the adapter's own deadline comes first; this one bounds any drafter, below the job's
        draft_deadline=llm.llm_draft_deadline + 15,
        draft_rate=TokenRateLimiter(
            llm.llm_drafts_per_person, redis_url, key_prefix="etp:draftrate"
        ),
        max_tokens_per_etp=llm.llm_max_tokens_per_etp,
        stream_every=llm.llm_stream_interval,
        document_order=settings.documents.etp_document_order,
        draft_stale_after=settings.recovery.etp_draft_stale_after,
        store_retry_for=settings.recovery.etp_store_retry_for,
    )
    queue.bind(service.run_draft)
    app = App(settings, engine, service, queue, notifier, AdminStore(engine), metrics, redis)
    if store is not None:
        app.closers.insert(0, store.close)
    if isinstance(renderer, ProcessRenderer):
        app.closers.insert(0, renderer.close)
    return app
