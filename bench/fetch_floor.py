"""The FHIR server's own share of a call without prefetch: its queries, concurrently, with no service.

The encounter-discharge case is bound by the FHIR server it reads from. To tell our cost from the
server's, the same queries the service makes (its prefetch templates filled from the context, `next`
links followed) are sent straight to the server from a thread pool of the service's size, one call's
worth at a time, and timed.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import requests

from cds_service.fhir.access import query_for
from cds_service.fhir.client import next_link
from cds_service.services import ServiceDefinition

from .loadgen import percentile


def _fetch(session: requests.Session, base_url: str, query: str) -> int:
    url: str | None = f"{base_url.rstrip('/')}/{query}"
    found = 0
    while url:
        response = session.get(url, headers={"Accept": "application/fhir+json"}, timeout=10)
        response.raise_for_status()
        body = response.json()
        found += len(body.get("entry") or []) if body.get("resourceType") == "Bundle" else 1
        url = next_link(body) if body.get("resourceType") == "Bundle" else None
    return found


def fetch_floor(base_url: str, service: ServiceDefinition, context: dict, calls: int, workers: int) -> dict:
    """Latency of one call's queries sent concurrently, ``calls`` times in a row (ms percentiles)."""
    queries = [q for q in (query_for(spec, context) for spec in service.prefetch) if q]
    session = requests.Session()
    session.trust_env = False
    timings: list[float] = []
    resources = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in range(calls + 2):  # two unmeasured calls open the connections
            started = time.perf_counter()
            resources = sum(pool.map(lambda q: _fetch(session, base_url, q), queries))
            timings.append((time.perf_counter() - started) * 1000)
    timings = sorted(timings[2:])
    return {"queries": len(queries), "resources": resources, "calls": calls,
            "p50_ms": round(percentile(timings, 0.5), 2), "p95_ms": round(percentile(timings, 0.95), 2),
            "p99_ms": round(percentile(timings, 0.99), 2)}
