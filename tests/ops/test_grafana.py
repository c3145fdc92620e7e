"""deploy/grafana: the sample dashboard queries only metrics and labels the service exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

import cds_service.metrics  # noqa: F401 - registers the service's metrics in the default registry

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "cds-service-dashboard.json"


def exposed() -> dict[str, set[str]]:
    """Sample name -> label names, for every cds_ metric (counters' _total, histograms' _bucket/_sum/_count)."""
    names: dict[str, set[str]] = {}
    for collector in list(REGISTRY._collector_to_names):
        describe = getattr(collector, "describe", None)
        for family in describe() if describe else []:
            if not family.name.startswith("cds_"):
                continue
            labels = set(getattr(collector, "_labelnames", ()))
            for suffix in {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}.get(family.type, [""]):
                names[family.name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return names


def test_every_query_names_an_exposed_metric_and_its_labels():
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    metrics = exposed()
    assert "cds_http_requests_total" in metrics and "cds_audit_queue_depth" in metrics
    queried = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for name, selector in re.findall(r"(cds_[a-z_]+)(\{[^}]*\})?", expr):
                assert name in metrics, f"{panel['title']}: {name} is not a metric of the service"
                queried.add(name)
                for label in re.findall(r"([a-z_]+)\s*=~?", selector or ""):
                    assert label in metrics[name] | {"job"}, f"{panel['title']}: {name} has no label {label}"
            for label in re.findall(r"by \(([^)]*)\)", expr):
                for name in re.findall(r"cds_[a-z_]+", expr):
                    assert {x.strip() for x in label.split(",")} <= metrics[name] | {"job"}, (panel["title"], name)
    # Every family the service exposes is on the dashboard.
    families = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in metrics}
    assert families == {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in queried}
