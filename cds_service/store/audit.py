"""The audit writer: hook calls are recorded off the request path, in batches, by one thread per worker.

A request thread hands its CallRecord to a bounded queue and answers at once. The writer thread wakes on
the first waiting record, sleeps through the batch window, takes everything queued meanwhile (up to a batch
size), and commits it in one transaction (group commit): one commit and one thread wake-up per window
instead of one per call.

- Back-pressure: the queue holds at most `max_queue` records. When it is full (the database is slower than
  the calls) a request thread waits up to `submit_wait` seconds for room; past that the record is dropped,
  counted and logged. Memory never grows without bound and a stuck database never holds a clinician for long.
- Shutdown (SIGTERM): gunicorn lets a worker finish its requests and exit; `close()` (registered with
  atexit) then writes everything still queued before the process ends. Nothing acknowledged is lost.
- SIGKILL: the records not yet committed are lost: those of the current batch window plus what waits in
  the queue (with a database that keeps up, one window: `CDS_AUDIT_BATCH_MS`, 50 ms by default, plus the
  time of one commit).

A failure to store does not fail the call: the cards are advisory and the clinician is waiting, so the
answer goes out and the failure is logged (ids and the error type only) for operators to act on. Feedback
on those cards is still stored; the report lists it under cards missing from the audit trail.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
import weakref

from .. import metrics
from .interface import Store, StoreUnavailable
from .records import CallRecord

log = logging.getLogger(__name__)
_STOP = object()


class AuditWriter:
    def __init__(self, store: Store, batch_window: float = 0.05, max_batch: int = 256, max_queue: int = 2000,
                 submit_wait: float = 1.0):
        self.store = store
        self.batch_window = batch_window
        self.max_batch = max_batch
        self.submit_wait = submit_wait
        self._queue: queue.Queue = queue.Queue(max_queue)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._stopping = threading.Event()
        # A weak reference: the exit hook must not keep a discarded app's store alive.
        ref = weakref.ref(self)
        atexit.register(lambda: (writer := ref()) is not None and writer.close())

    # -- request threads ------------------------------------------------------------------------------
    def submit(self, record: CallRecord) -> None:
        """Queue a record for the writer; waits for room up to `submit_wait` s, then drops it (logged)."""
        if self._closed:
            self._write([record])  # after shutdown began: write in the caller's thread, not lost
            return
        self._start()
        try:
            self._queue.put(record, timeout=self.submit_wait)
        except queue.Full:
            metrics.AUDIT_RECORDS.labels("dropped").inc()
            log.error("audit record not stored",
                      extra={"service": record.service_id, "hookInstance": record.hook_instance,
                             "error": "audit queue full"})
            return
        metrics.AUDIT_QUEUE.inc()

    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
                self._thread.start()

    # -- the writer thread ----------------------------------------------------------------------------
    def _run(self) -> None:
        full = False
        while True:
            first = self._queue.get()  # blocks until a record (or the stop mark) arrives
            if first is _STOP:
                self._queue.task_done()
                break
            if not full and self.batch_window > 0:
                # Sleep through the window rather than wait on the queue: a waiting reader would be woken
                # (and take the GIL) by every put; this way a request thread's put wakes nobody.
                self._stopping.wait(self.batch_window)
            more, stop = self._take(self.max_batch - 1)
            batch = [first, *more]
            full = len(batch) >= self.max_batch  # more may be waiting: no window before the next batch
            self._write_queued(batch)
            if stop or self._stopping.is_set():
                break
        self._drain()  # shutdown: what is still queued, in batches, before the thread ends

    def _take(self, limit: int) -> tuple[list[CallRecord], bool]:
        """Up to `limit` queued records without waiting, and whether the stop mark ended the taking."""
        taken: list[CallRecord] = []
        while len(taken) < limit:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return taken, False
            if item is _STOP:
                self._queue.task_done()
                return taken, True
            taken.append(item)
        return taken, False

    def _drain(self) -> None:
        while True:
            batch, stopped = self._take(self.max_batch)
            if batch:
                self._write_queued(batch)
            elif not stopped:
                return

    def _write_queued(self, batch: list[CallRecord]) -> None:
        try:
            self._write(batch)
        finally:
            metrics.AUDIT_QUEUE.dec(len(batch))
            for _ in batch:
                self._queue.task_done()

    def _write(self, batch: list[CallRecord]) -> None:
        started = time.perf_counter()
        try:
            self.store.record_calls(batch)
        except StoreUnavailable as exc:
            metrics.AUDIT_RECORDS.labels("failed").inc(len(batch))
            for record in batch:
                log.error("audit record not stored",
                          extra={"service": record.service_id, "hookInstance": record.hook_instance,
                                 "error": _kind(exc)})
            return
        except Exception as exc:  # the writer thread must outlive any one bad batch
            metrics.AUDIT_RECORDS.labels("failed").inc(len(batch))
            log.error("audit batch not stored", extra={"count": len(batch), "error": type(exc).__name__})
            return
        metrics.AUDIT_WRITE.observe(time.perf_counter() - started)
        metrics.AUDIT_RECORDS.labels("written").inc(len(batch))

    # -- lifecycle ------------------------------------------------------------------------------------
    def pending(self) -> int:
        return self._queue.unfinished_tasks

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued record is committed (or failed); False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.002)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Write everything queued, then stop the thread. Idempotent; later records are written directly."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        if thread is None:
            return
        self._stopping.set()  # cuts a batch window short
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            log.error("audit writer did not drain before shutdown", extra={"count": self._queue.qsize()})
            return
        thread.join(timeout)


def _kind(exc: BaseException) -> str:
    # The exception text may quote SQL parameters; the type of the underlying error is enough to act on.
    cause = exc.__cause__
    return type(cause).__name__ if cause is not None else type(exc).__name__
