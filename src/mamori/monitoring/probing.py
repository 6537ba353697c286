"""Probe workers: the processes that run uptime checks for the embedded runner (MON-01).

A :class:`ProbePool` starts ``processes`` workers (one per CPU core by default; ``0`` runs a
single worker as a thread of the calling process). Each worker runs one asyncio loop with up to
``concurrency`` checks in flight, takes jobs as they come and sends each result back as soon as
it is known, so a slow site delays nobody but itself. The caller (the uptime runner in
:mod:`mamori.monitoring.uptime`) submits jobs and collects results; the workers never touch the
database and import no Django models.

Jobs and results cross process boundaries pickled through two one-way pipes per worker. A worker
that dies takes its running checks with it: :meth:`ProbePool.collect` reports them as lost
(result ``None``) and a new worker takes its place.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mamori.monitoring.kinds import CheckKind, check_tls
from mamori.probe import TrustStore
from mamori.probe.checks import CHECKS, run_one
from mamori.probe.checks_http import ClientPool
from mamori.probe.checks_result import CheckError, CheckResult, Stopwatch, seconds

log = logging.getLogger(__name__)

#: (job id, kind, keyword arguments): one check to run.
Job = tuple[int, str, dict[str, Any]]
#: Checks one worker runs at once; past that, jobs wait in the worker's loop.
DEFAULT_CONCURRENCY = 500
#: How long finished results gather in a worker before they are sent back together.
FLUSH_DELAY = 0.02


@functools.cache
def trust_store(bundle_path: str | None) -> TrustStore:
    """The system trust store plus ``MAMORI_CA_BUNDLE``, built once per process."""
    return TrustStore.system(Path(bundle_path).read_bytes() if bundle_path else None)


async def run_tls_call(kwargs: dict[str, Any], trust: TrustStore) -> CheckResult:
    """One TLS uptime check, bounded by its timeout (plus a second) and contained."""
    timeout = kwargs["timeout"]
    watch = Stopwatch()
    try:
        async with asyncio.timeout(timeout + 1):
            return await check_tls(**kwargs, trust=trust)
    except TimeoutError:
        return CheckResult.down(
            watch.ms, CheckError.TIMEOUT, f"no TLS answer within {seconds(timeout)}"
        )
    except Exception as exc:  # a bug in one check must not lose the others
        detail = f"internal error in the tls check: {type(exc).__name__}: {exc}"
        return CheckResult.down(watch.ms, CheckError.INTERNAL_ERROR, detail)


async def run_call(
    kind: str, kwargs: dict[str, Any], ca_bundle: str | None, clients: ClientPool | None = None
) -> CheckResult:
    """Run one ``(kind, kwargs)`` check as built by :func:`~mamori.monitoring.kinds.probe_call`,
    HTTP and RDAP through ``clients`` when given (a worker keeps one for its life, so no check
    pays for building a session). Never raises: a bug or unusable arguments become an
    ``internal_error`` result."""
    if kind == CheckKind.TLS:
        try:
            trust = trust_store(ca_bundle)
        except (OSError, ValueError) as exc:
            return CheckResult.down(0.0, CheckError.INVALID_TARGET, f"MAMORI_CA_BUNDLE: {exc}")
        return await run_tls_call(kwargs, trust)
    if kind not in CHECKS:  # a caller's bug, kept to this check
        return CheckResult.down(0.0, CheckError.INTERNAL_ERROR, f"unknown check kind {kind!r}")
    own = clients is None
    pool = clients or ClientPool(max_connections=1)
    try:
        return await run_one(kind, kwargs, pool)
    finally:
        if own:
            await pool.aclose()


# --- the worker ----------------------------------------------------------------------------------


def worker_main(
    jobs: multiprocessing.connection.Connection,
    results: multiprocessing.connection.Connection,
    concurrency: int,
    ca_bundle: str | None,
    in_process: bool = False,
) -> None:
    """Run jobs received on ``jobs`` (lists of :data:`Job`, ``None`` to stop) and send lists of
    ``(job id, CheckResult)`` on ``results`` until told to stop or the parent goes away."""
    if not in_process:
        # Ctrl-C and SIGTERM reach the whole process group (a terminal, `timeout`, systemd):
        # they are the parent's to handle. It lets the checks in flight finish, then stops its
        # workers; a worker whose parent is gone sees its job pipe close and ends.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        # A check allocates many short-lived objects (tasks, futures, results): with the default
        # thresholds the collector runs every few checks, and its full passes walk every object
        # the worker imported. Move those out of its reach and collect less often (measured in
        # bench/monitor_bench.py with the earlier aiohttp executor: about a tenth more checks
        # per second).
        gc.freeze()
        gc.set_threshold(20_000, 20, 20)
    try:
        with contextlib.suppress(EOFError, OSError, BrokenPipeError):
            asyncio.run(_serve(jobs, results, concurrency, ca_bundle))
    finally:
        results.close()  # the parent's reader sees the end
        jobs.close()


async def _serve(
    jobs: multiprocessing.connection.Connection,
    results: multiprocessing.connection.Connection,
    concurrency: int,
    ca_bundle: str | None,
) -> None:
    loop = asyncio.get_running_loop()
    stopped = loop.create_future()
    semaphore = asyncio.Semaphore(concurrency)
    running: set[asyncio.Task[None]] = set()
    outbox: list[tuple[int, CheckResult]] = []
    flush_pending = False
    clients = ClientPool(max_connections=0)  # the semaphore bounds the checks in flight

    def flush() -> None:
        nonlocal flush_pending
        flush_pending = False
        if outbox and not stopped.done():
            batch = outbox[:]
            outbox.clear()
            try:
                results.send(batch)
            except (OSError, BrokenPipeError):  # the parent is gone
                stopped.set_result(None)

    async def run(job_id: int, kind: str, kwargs: dict[str, Any]) -> None:
        nonlocal flush_pending
        async with semaphore:
            result = await run_call(kind, kwargs, ca_bundle, clients)
        outbox.append((job_id, result))
        if not flush_pending:
            flush_pending = True
            loop.call_later(FLUSH_DELAY, flush)

    def receive(message: list[Job] | None) -> None:
        if message is None:
            if not stopped.done():
                stopped.set_result(None)
            return
        for job_id, kind, kwargs in message:
            task = loop.create_task(run(job_id, kind, kwargs))
            running.add(task)
            task.add_done_callback(running.discard)

    def read() -> None:
        try:
            while True:
                message = jobs.recv()
                loop.call_soon_threadsafe(receive, message)
                if message is None:
                    return
        except (EOFError, OSError):
            with contextlib.suppress(RuntimeError):  # the loop closed already
                loop.call_soon_threadsafe(receive, None)

    threading.Thread(target=read, name="mamori-probe-jobs", daemon=True).start()
    await stopped
    for task in list(running):
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
    await clients.aclose()


# --- the pool ------------------------------------------------------------------------------------


class _Worker:
    def __init__(self, index: int, concurrency: int, ca_bundle: str | None, threaded: bool):
        self.index = index
        self.in_flight: set[int] = set()
        job_reader, self.jobs = multiprocessing.Pipe(duplex=False)
        self.results, result_writer = multiprocessing.Pipe(duplex=False)
        target_args = (job_reader, result_writer, concurrency, ca_bundle)
        if threaded:
            self.process = None
            self.thread = threading.Thread(
                target=worker_main,
                args=(*target_args, True),
                name=f"mamori-probe-{index}",
                daemon=True,
            )
            self.thread.start()
        else:
            context = multiprocessing.get_context("spawn")
            self.thread = None
            self.process = context.Process(
                target=worker_main, args=target_args, name=f"mamori-probe-{index}", daemon=True
            )
            self.process.start()
            # The child holds its own ends; closing ours lets EOF reach each side when the
            # other one goes away.
            job_reader.close()
            result_writer.close()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None


class ProbePool:
    """Workers that run checks; see the module's docstring.

    ``processes``: how many worker processes (None: one per CPU core; 0: one worker thread in
    this process). ``concurrency``: checks in flight per worker. ``ca_bundle``: the
    ``MAMORI_CA_BUNDLE`` path for TLS checks. Use as a context manager or call :meth:`close`.
    """

    def __init__(
        self,
        processes: int | None = None,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        ca_bundle: str | None = None,
    ) -> None:
        self.processes = (os.cpu_count() or 1) if processes is None else processes
        self.concurrency = concurrency
        self.ca_bundle = ca_bundle
        self._threaded = self.processes == 0
        self._inbox: queue.SimpleQueue[tuple[_Worker, list[tuple[int, CheckResult]] | None]]
        self._inbox = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closing = False
        self._workers = [self._start(index) for index in range(max(1, self.processes))]

    @property
    def capacity(self) -> int:
        """How many checks the workers run at once."""
        return len(self._workers) * self.concurrency

    @property
    def in_flight(self) -> int:
        with self._lock:
            return sum(len(worker.in_flight) for worker in self._workers)

    def pids(self) -> list[int]:
        return [worker.pid for worker in self._workers if worker.pid]

    def _start(self, index: int) -> _Worker:
        worker = _Worker(index, self.concurrency, self.ca_bundle, self._threaded)
        threading.Thread(
            target=self._read, args=(worker,), name=f"mamori-probe-results-{index}", daemon=True
        ).start()
        return worker

    def _read(self, worker: _Worker) -> None:
        try:
            while True:
                self._inbox.put((worker, worker.results.recv()))
        except (EOFError, OSError):
            self._inbox.put((worker, None))  # the worker is gone

    def submit(self, jobs: Iterable[Job]) -> None:
        """Hand jobs to the least busy workers. Job ids must be unique among jobs in flight."""
        pending = list(jobs)
        if not pending:
            return
        with self._lock:
            shares: dict[int, list[Job]] = {}
            load = {w.index: len(w.in_flight) for w in self._workers}
            for job in pending:
                index = min(load, key=load.__getitem__)
                load[index] += 1
                shares.setdefault(index, []).append(job)
            for worker in self._workers:
                share = shares.get(worker.index)
                if share:
                    worker.in_flight.update(job_id for job_id, _, _ in share)
                    worker.jobs.send(share)

    def collect(self, until: float) -> list[tuple[int, CheckResult | None]]:
        """Results that arrive before ``until`` (``time.monotonic()``), at least those already
        there. ``None`` as result: the check was lost with a worker that died."""
        collected: list[tuple[int, CheckResult | None]] = []
        while True:
            remaining = until - time.monotonic()
            try:
                if remaining > 0:
                    worker, batch = self._inbox.get(timeout=remaining)
                else:
                    worker, batch = self._inbox.get_nowait()
            except queue.Empty:
                return collected
            with self._lock:
                if batch is None:
                    collected.extend((job_id, None) for job_id in worker.in_flight)
                    self._replace(worker)
                    continue
                for job_id, result in batch:
                    worker.in_flight.discard(job_id)
                    collected.append((job_id, result))

    def _replace(self, dead: _Worker) -> None:
        """Called with the lock held when ``dead`` stopped answering."""
        dead.in_flight = set()
        if self._closing or dead not in self._workers:
            return
        log.error(
            "probe worker %s (pid %s) died; its running checks are lost and run again at "
            "their next slot; starting a new one",
            dead.index,
            dead.pid,
        )
        position = self._workers.index(dead)
        self._workers[position] = self._start(dead.index)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the workers (their running checks are abandoned) and wait for them."""
        with self._lock:
            self._closing = True
            workers = list(self._workers)
        for worker in workers:
            with contextlib.suppress(OSError, BrokenPipeError):
                worker.jobs.send(None)
        deadline = time.monotonic() + timeout
        for worker in workers:
            remaining = max(0.0, deadline - time.monotonic())
            if worker.process is not None:
                worker.process.join(remaining)
                if worker.process.is_alive():
                    worker.process.kill()
                    worker.process.join(1)
            elif worker.thread is not None:
                worker.thread.join(remaining)
            worker.jobs.close()

    def __enter__(self) -> ProbePool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
