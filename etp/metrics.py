"""Prometheus metrics: the engine's Observer port, on a registry owned by one App."""

from __future__ import annotations

import logging

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from conversations.model import ETP_STATUSES
from conversations.ports import Usage

log = logging.getLogger(__name__)

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_DRAFT_BUCKETS = (0.01, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class Metrics:
    """Implements conversations.ports.Observer; each App has its own registry (no globals)."""

    def __init__(self, *, cost_per_1k_tokens: float = 0.0) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.cost_per_1k_tokens = cost_per_1k_tokens
        r = self.registry
        # memory, CPU seconds, open files, start time (process_*), and the Python version
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        self.updates = Counter(
            "etp_updates",
            "Inbound events handled, by channel, kind and outcome",
            ["channel", "kind", "outcome"],
            registry=r,
        )
        self.handler_seconds = Histogram(
            "etp_handler_seconds",
            "Time to handle one inbound event",
            ["channel"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.drafts = Counter(
            "etp_drafts",
            "Draft jobs finished, by provider and outcome",
            ["provider", "outcome"],
            registry=r,
        )
        self.draft_seconds = Histogram(
            "etp_draft_seconds",
            "Time to write one draft",
            ["provider"],
            buckets=_DRAFT_BUCKETS,
            registry=r,
        )
        self.llm_tokens = Counter(
            "etp_llm_tokens", "LLM tokens spent on drafts", ["provider"], registry=r
        )
        self.llm_cost = Counter(
            "etp_llm_cost_usd",
            "Estimated LLM cost in US dollars (LLM_*_COST_PER_1K prices), by provider and model",
            ["provider", "model"],
            registry=r,
        )
        self.llm_prompt_tokens = Counter(
            "etp_llm_prompt_tokens", "LLM prompt (input) tokens", ["model"], registry=r
        )
        self.llm_completion_tokens = Counter(
            "etp_llm_completion_tokens", "LLM completion (output) tokens", ["model"], registry=r
        )
        self.llm_cache_hits = Counter(
            "etp_llm_cache_hits", "Drafts answered from the LLM cache (no cost)", registry=r
        )
        self.drafts_resumed = Counter(
            "etp_drafts_resumed",
            "Drafts submitted again after their job was lost (a process died, Redis lost it)",
            registry=r,
        )
        self.exports = Counter(
            "etp_exports", "Documents rendered, by format", ["format"], registry=r
        )
        self.etps = Gauge(
            "etp_etps",
            "ETPs in the database, by status (counted at scrape)",
            ["status"],
            registry=r,
        )
        self.db_pool_in_use = Gauge(
            "etp_db_connections_in_use",
            "Database connections lent out now, by pool (sqlalchemy: admin API and SQLite; "
            "store: the PostgreSQL conversation path)",
            ["pool"],
            registry=r,
        )
        self.db_pool_size = Gauge(
            "etp_db_connections_open",
            "Database connections open now, by pool",
            ["pool"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "etp_draft_queue_depth",
            "Draft jobs waiting (Redis queue) or running (in-process), at scrape",
            ["queue"],
            registry=r,
        )
        self.queue_age = Gauge(
            "etp_draft_queue_oldest_seconds",
            "Age of the oldest waiting (Redis) or running (in-process) draft job, at scrape",
            ["queue"],
            registry=r,
        )

    # --- Observer ------------------------------------------------------------------------

    def event_handled(self, channel: str, kind: str, seconds: float, outcome: str) -> None:
        self.updates.labels(channel, kind, outcome).inc()
        self.handler_seconds.labels(channel).observe(seconds)

    def draft_finished(self, provider: str, outcome: str, seconds: float, tokens: int) -> None:
        self.drafts.labels(provider, outcome).inc()
        self.draft_seconds.labels(provider).observe(seconds)
        if tokens > 0:
            self.llm_tokens.labels(provider).inc(tokens)

    def draft_resumed(self) -> None:
        self.drafts_resumed.inc()

    def draft_usage(self, provider: str, usage: Usage) -> None:
        if usage.cached:
            self.llm_cache_hits.inc()
        if usage.tokens:
            model = usage.model or provider
            self.llm_prompt_tokens.labels(model).inc(usage.prompt_tokens)
            self.llm_completion_tokens.labels(model).inc(usage.completion_tokens)
        # a drafter that reports tokens but no price: LLM_COST_PER_1K_TOKENS estimates it
        cost = usage.cost_usd or usage.tokens / 1000 * self.cost_per_1k_tokens
        if cost > 0:
            self.llm_cost.labels(provider, usage.model or provider).inc(cost)

    def exported(self, fmt: str) -> None:
        self.exports.labels(fmt).inc()

    # --- scrape --------------------------------------------------------------------------

    def set_etp_counts(self, counts: dict[str, int]) -> None:
        for status in (*ETP_STATUSES, *counts):
            self.etps.labels(status).set(counts.get(status, 0))

    def set_pool(self, pool: str, in_use: int, size: int) -> None:
        self.db_pool_in_use.labels(pool).set(in_use)
        self.db_pool_size.labels(pool).set(size)

    def set_queue(self, queue: str, depth: int, oldest_seconds: float) -> None:
        self.queue_depth.labels(queue).set(depth)
        self.queue_age.labels(queue).set(oldest_seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
