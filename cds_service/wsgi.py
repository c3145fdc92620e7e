"""WSGI entry point for gunicorn: `gunicorn cds_service.wsgi:app`."""

import gc

from .app import create_app

# A hook call parses its encounter into thousands of short-lived dicts and lists, none in reference
# cycles. At the default threshold (700 new containers) the cyclic collector ran dozens of times per
# large call and cost a 1,000-resource call about a third of its time (bench/, README "Performance").
gc.set_threshold(10_000, 10, 10)

app = create_app()

# What start-up built (modules, rule packs, schemas) lives as long as the worker: keep the collector off it.
gc.freeze()
