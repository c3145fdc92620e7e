"""gunicorn settings: HOST/PORT from the environment; workers sized for a small machine."""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8080')}"
workers = int(os.environ.get("WEB_CONCURRENCY", max(2, min(4, multiprocessing.cpu_count()))))
# Two threads per worker overlap FHIR reads with work; more only queue on the GIL (bench/: p99 halves vs 4).
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
worker_class = "cds_service.gunicorn_worker.OutcomeThreadWorker"  # gthread, JSON errors
timeout = 30
graceful_timeout = 10
keepalive = 5
accesslog = None  # access lines carry query strings; the service logs what it needs itself
errorlog = "-"
# The runtime control socket sits at one per-user path: several instances (tests, bench) would collide.
control_socket_disable = True
