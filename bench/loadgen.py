"""Closed-loop HTTP load generator, run in its own process so that it never shares a GIL with the server.

    python -m bench.loadgen < job.json > result.json

The job names a URL, a request body file, the number of concurrent clients and how long to measure.
Each client is a thread with one keep-alive ``http.client`` connection that sends the same POST back to
back. A warm-up phase (connections opened, caches filled) is not measured. A request counts as an error
unless it answers 200 with a ``cards`` object; the first few error descriptions are kept.
"""

from __future__ import annotations

import http.client
import json
import math
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

HEADERS = {"Content-Type": "application/json", "Accept": "application/json", "Connection": "keep-alive"}
KEPT_ERRORS = 5


@dataclass(frozen=True)
class Job:
    url: str  # e.g. http://127.0.0.1:8123/cds-services/procedure-coding-note-sign
    body_file: str
    concurrency: int
    duration: float  # seconds measured
    warmup: float = 0.5  # seconds before measuring
    timeout: float = 10.0
    max_requests: int = 0  # per client; 0 = as many as fit in the duration
    raw: bool = False  # also return every latency, so that several runs can be merged

    @classmethod
    def from_json(cls, text: str) -> Job:
        return cls(**json.loads(text))


@dataclass
class Result:
    requests: int
    errors: int
    seconds: float
    throughput: float  # answered requests per second (errors excluded)
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    error_samples: list[str] = field(default_factory=list)
    latencies_ms: list[float] | None = None
    sent: int = 0  # every request sent, warm-up included (the server's CPU time is spread over all of them)


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), math.ceil(fraction * len(sorted_values))))
    return sorted_values[rank - 1]


class _Client(threading.Thread):
    def __init__(self, job: Job, body: bytes, start_measuring: float, stop_at: float):
        super().__init__(daemon=True)
        parts = urlsplit(job.url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path = parts.path + (f"?{parts.query}" if parts.query else "")
        self.job, self.body = job, body
        self.start_measuring, self.stop_at = start_measuring, stop_at
        self.latencies: list[float] = []
        self.errors = 0
        self.error_samples: list[str] = []
        self.first_measured: float | None = None
        self.last_done = 0.0
        self.sent = 0

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=self.job.timeout)

    def _error(self, measured: bool, text: str) -> None:
        if measured:
            self.errors += 1
            if len(self.error_samples) < KEPT_ERRORS:
                self.error_samples.append(text)

    def run(self) -> None:
        connection = self._connect()
        headers = {**HEADERS, "Content-Length": str(len(self.body))}
        done = 0
        while True:
            started = time.perf_counter()
            if started >= self.stop_at or (self.job.max_requests and done >= self.job.max_requests):
                break
            measured = started >= self.start_measuring
            self.sent += 1
            try:
                connection.request("POST", self.path, body=self.body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                status = response.status
                closing = response.will_close
            except (OSError, http.client.HTTPException) as exc:
                self._error(measured, f"{type(exc).__name__}: {exc}"[:200])
                connection.close()
                connection = self._connect()
                continue
            finished = time.perf_counter()
            if closing:  # the server ended keep-alive; a real client would reconnect too
                connection.close()
                connection = self._connect()
            if not measured:
                continue
            done += 1
            if status != 200 or b'"cards"' not in data[:64]:
                self._error(True, f"HTTP {status}: {data[:200].decode('utf-8', 'replace')}")
                continue
            if self.first_measured is None:
                self.first_measured = started
            self.latencies.append(finished - started)
            self.last_done = finished
        connection.close()


def run(job: Job) -> Result:
    body = Path(job.body_file).read_bytes()
    now = time.perf_counter()
    start_measuring = now + job.warmup
    stop_at = start_measuring + job.duration
    clients = [_Client(job, body, start_measuring, stop_at) for _ in range(job.concurrency)]
    for client in clients:
        client.start()
    for client in clients:
        client.join(job.duration + job.warmup + job.timeout + 5)
    latencies = [ms * 1000 for client in clients for ms in client.latencies]
    errors = sum(client.errors for client in clients)
    # The measured span: from the start of measuring to the last answer (a request may end past stop_at).
    ended = max(client.last_done for client in clients)
    if not job.max_requests or not ended:
        ended = max(ended, stop_at)
    samples = [text for client in clients for text in client.error_samples][:KEPT_ERRORS]
    result = summarise(latencies, errors, max(ended - start_measuring, 1e-9), samples)
    if job.raw:
        result.latencies_ms = [round(ms, 3) for ms in latencies]
    result.sent = sum(client.sent for client in clients)
    return result


def summarise(latencies_ms: list[float], errors: int, seconds: float, error_samples: list[str]) -> Result:
    """Percentiles and throughput of answered requests (also used to merge several runs)."""
    ordered = sorted(latencies_ms)
    return Result(
        requests=len(ordered) + errors,
        errors=errors,
        seconds=round(seconds, 3),
        throughput=round(len(ordered) / seconds, 1),
        p50_ms=round(percentile(ordered, 0.50), 2),
        p95_ms=round(percentile(ordered, 0.95), 2),
        p99_ms=round(percentile(ordered, 0.99), 2),
        max_ms=round(ordered[-1], 2) if ordered else 0.0,
        mean_ms=round(sum(ordered) / len(ordered), 2) if ordered else 0.0,
        error_samples=error_samples[:KEPT_ERRORS],
    )


def main() -> int:
    job = Job.from_json(sys.stdin.read())
    json.dump(asdict(run(job)), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
