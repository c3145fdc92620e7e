"""Reading Prometheus text exposition in tests: one sample's value by metric name and labels."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> list[tuple[str, dict, float]]:
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(text) for s in family.samples]


def value(text: str, name: str, **labels: str) -> float:
    """Sum of the samples named `name` whose labels include `labels` (0 when there are none)."""
    return sum(v for sample_name, sample_labels, v in samples(text)
               if sample_name == name and all(sample_labels.get(k) == want for k, want in labels.items()))
