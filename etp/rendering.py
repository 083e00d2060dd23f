"""Rendering documents in worker processes, so that a DOCX or a PDF never stalls the event loop.

A render takes tens of milliseconds of CPU. On the event loop, every other chat would wait that
long; in a thread, the render holds the GIL and the loop loses time at each switch. A process has
its own interpreter: the loop only waits for the answer (figures in bench/README.md).
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

from conversations.export import HEAVY_FORMATS, render
from conversations.export.document import EtpDocument

log = logging.getLogger(__name__)


def _worker_start() -> None:
    """In each worker: Ctrl-C in a terminal reaches the whole process group, but the parent
    decides when its workers stop (a worker interrupted mid-render would break the pool); if
    the parent dies without stopping them, they stop too. SIGTERM keeps its default: the pool
    itself stops workers with it (deploy/etp-express.service sends it to the parent only). The
    renderers' libraries are imported here, not on the first document."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
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
    with its render, or with this process. At most `processes` renders are handed to the pool at
    once, the others wait here for a free worker: so `timeout` counts a render's own time, not
    the time it waited behind others. After `close()`, documents are rendered in place."""

    def __init__(self, processes: int, *, timeout: float = 60.0) -> None:
        if processes < 1:
            raise ValueError("a process renderer needs at least one process")
        self.processes = processes
        self.timeout = timeout
        self._pool: ProcessPoolExecutor | None = None
        self._closed = False
        self._free = asyncio.Semaphore(processes)  # one a worker: a render never queues there

    def start(self) -> Future[None]:
        """Start the workers now, in the background (the first export then waits for none)."""
        started = self._executor().submit(_ready)
        started.add_done_callback(_report_start)
        return started

    async def render(self, fmt: str, document: EtpDocument) -> bytes:
        if fmt not in HEAVY_FORMATS or self._closed:
            return render(fmt, document)
        async with self._free:  # the timeout starts once a worker is free, not before
            if self._closed:
                return render(fmt, document)
            pool = self._executor()
            try:
                return await self._render_on(pool, fmt, document)
            except BrokenProcessPool:
                self._discard(pool)
                if self._closed:
                    return render(fmt, document)
                log.warning("the document workers stopped; rendering again on new ones")
                return await self._render_on(self._executor(), fmt, document)

    async def _render_on(self, pool: ProcessPoolExecutor, fmt: str, document: EtpDocument) -> bytes:
        loop = asyncio.get_running_loop()
        seconds = self.timeout
        limit = asyncio.timeout(seconds)
        try:
            async with limit:
                return await loop.run_in_executor(pool, render, fmt, document)
        except TimeoutError:
            if not limit.expired():
                raise
            log.error("rendering a %s took over %g s; starting new document workers", fmt, seconds)
            self._discard(pool)  # renders on its other workers fail over to the new ones
            raise

    async def close(self) -> None:
        """Stop the workers; the renders already asked for finish first, for up to `timeout`
        seconds, then the workers are killed (and those renders done in place)."""
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(asyncio.to_thread(pool.shutdown, wait=True), self.timeout)
        except TimeoutError:
            log.error("the document workers did not stop in %g s; killing them", self.timeout)
            _kill_workers(pool)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_start,
            )
        return self._pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        """No more renders on `pool`: its workers are killed, so that a stuck one neither keeps
        the renders queued behind it (they fail with BrokenProcessPool and are rendered again)
        nor keeps the process from exiting (the pool's thread waits for its workers)."""
        if self._pool is pool:
            self._pool = None
        _kill_workers(pool)
        pool.shutdown(wait=False)


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    kill = getattr(pool, "kill_workers", None)  # Python 3.14
    if kill is not None:
        kill()
        return
    # before 3.14 the pool's processes are only in an attribute of its own
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        if process.is_alive():
            process.kill()


def _report_start(started: Future[None]) -> None:
    if not started.cancelled() and started.exception() is not None:
        log.error("the document workers did not start", exc_info=started.exception())
