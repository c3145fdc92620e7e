"""gunicorn settings: HOST/PORT from the environment; workers sized for a small machine."""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8080')}"
workers = int(os.environ.get("WEB_CONCURRENCY", max(2, min(4, multiprocessing.cpu_count()))))
# Two threads per worker overlap FHIR reads with work; more only queue on the GIL (bench/: p99 halves vs 4).
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
# gthread (default) or sync, both with JSON errors; README "Running in production" has the measurements.
WORKER_CLASSES = {"gthread": "cds_service.gunicorn_worker.OutcomeThreadWorker",
                  "sync": "cds_service.gunicorn_worker.OutcomeSyncWorker"}
_worker_kind = os.environ.get("GUNICORN_WORKER_CLASS", "gthread").strip().lower() or "gthread"
if _worker_kind not in WORKER_CLASSES:
    raise ValueError(f"GUNICORN_WORKER_CLASS must be one of {', '.join(WORKER_CLASSES)}, not {_worker_kind!r}")
worker_class = WORKER_CLASSES[_worker_kind]
# spaCy keeps every distinct word it reads in its string store for the life of the process (about 5 new ones
# a note: names, numbers, dates; ~2 KB), so a worker is replaced after this many calls, at a jittered count
# so that the workers do not restart together. The audit queue drains as at any graceful exit.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "10000"))
max_requests_jitter = max_requests // 10
timeout = 30
graceful_timeout = 10
keepalive = 5
accesslog = None  # access lines carry query strings; the service logs what it needs itself
errorlog = "-"
# The runtime control socket sits at one per-user path: several instances (tests, bench) would collide.
control_socket_disable = True


# -- Prometheus multiprocess mode (cds_service/metrics.py) ---------------------------------------------
# Each worker writes its metric values to files in PROMETHEUS_MULTIPROC_DIR; a scrape adds them up. The
# folder is set up here, in the master, before any worker imports prometheus_client (which reads the
# variable at import): nothing in this file may import prometheus_client at module level.
_created_metrics_dir: list[str] = []


def on_starting(server) -> None:
    import tempfile

    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:  # given (Kubernetes: an emptyDir): start empty, the files of an earlier run would add up
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):
            if name.endswith(".db"):
                os.remove(os.path.join(folder, name))
    else:
        folder = tempfile.mkdtemp(prefix="cds-metrics-")
        _created_metrics_dir.append(folder)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder


def when_ready(server) -> None:
    # CDS_METRICS_PORT: /metrics served by the master on its own port (not the port the EHR calls).
    port = int(os.environ.get("CDS_METRICS_PORT", "0") or 0)
    if port:
        from prometheus_client import CollectorRegistry, multiprocess, start_http_server

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        start_http_server(port, addr=os.environ.get("CDS_METRICS_HOST", os.environ.get("HOST", "127.0.0.1")),
                          registry=registry)
        server.log.info("metrics on port %s", port)


def child_exit(server, worker) -> None:
    # A dead worker's gauges (audit queue depth) leave the sum; its counters stay counted.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    import shutil

    for folder in _created_metrics_dir:
        shutil.rmtree(folder, ignore_errors=True)
