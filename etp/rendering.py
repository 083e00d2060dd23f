"""Rendering documents in worker processes, so that a DOCX or a PDF never stalls the event loop.

A DOCX takes 30-80 ms of CPU and a PDF 70-150 ms (bench/render.py). On the event loop, every
other chat waited that long; in a thread, the render kept the GIL and the loop lost 5 ms at each
switch (bench/README.md). A process has its own interpreter: the loop only waits for the answer.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from conversations.export import render
from conversations.export.document import EtpDocument

log = logging.getLogger(__name__)

# Formats that take milliseconds of CPU; the text ones (md, html, json) take under one, less
# than sending the document to another process, and are rendered in place.
HEAVY_FORMATS = frozenset({"docx", "pdf"})


def _worker_start() -> None:
    """In each worker: Ctrl-C in a terminal reaches the whole process group, and systemd's
    SIGTERM the whole control group, but the parent decides when its workers stop (a worker
    killed mid-render would break the pool); if the parent dies without stopping them, they
    stop too. The renderers' libraries are imported here, not on the first document."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()
    import docx  # noqa: F401
    import fpdf  # noqa: F401


def _exit_with(parent: int) -> None:
    """A worker outlives a parent killed outright (SIGKILL, a crash): the pool's queues keep
    both ends of their pipes open in the worker, so it never sees an end of file. The parent's
    sentinel does: it becomes ready when the parent is gone."""
    multiprocessing.connection.wait([parent])
    os._exit(0)


def _ready() -> None:
    """A job that does nothing: submitted at start-up, it makes the pool start its workers."""


class ProcessRenderer:
    """The DocumentRenderer of the long-running commands: DOCX and PDF in `processes` worker
    processes (spawned, not forked: the parent has threads and open sockets), started on the
    first heavy document or by `start()`. A pool whose worker died is replaced, and the document
    rendered again on the new one. A render that takes longer than `timeout` seconds fails
    (the user is asked to export again) and later ones go to a new pool; the stuck worker stops
    with its render, or with this process. After `close()`, documents are rendered in place."""

    def __init__(self, processes: int, *, timeout: float = 60.0) -> None:
        if processes < 1:
            raise ValueError("a process renderer needs at least one process")
        self.processes = processes
        self.timeout = timeout
        self._pool: ProcessPoolExecutor | None = None
        self._closed = False

    def start(self) -> Future[None]:
        """Start the workers now, in the background (the first export then waits for none)."""
        started = self._executor().submit(_ready)
        started.add_done_callback(_report_start)
        return started

    async def render(self, fmt: str, document: EtpDocument) -> bytes:
        if fmt not in HEAVY_FORMATS or self._closed:
            return render(fmt, document)
        pool = self._executor()
        try:
            return await self._render_on(pool, fmt, document)
        except BrokenProcessPool:
            log.warning("a document worker died; starting new ones")
            self._discard(pool)
            return await self._render_on(self._executor(), fmt, document)

    async def _render_on(self, pool: ProcessPoolExecutor, fmt: str, document: EtpDocument) -> bytes:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.timeout):
                return await loop.run_in_executor(pool, render, fmt, document)
        except TimeoutError:
            log.error(
                "rendering a %s took over %g s; starting new document workers", fmt, self.timeout
            )
            self._discard(pool)
            raise

    async def close(self) -> None:
        """Stop the workers; the renders already asked for finish first."""
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_start,
            )
        return self._pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        if self._pool is pool:
            self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)


def _report_start(started: Future[None]) -> None:
    if not started.cancelled() and started.exception() is not None:
        log.error("the document workers did not start", exc_info=started.exception())
