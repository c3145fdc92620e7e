"""What fhir.resources would cost on the hot path: its R4B models against the field-by-field shape checks.

    .venv/bin/python -m bench.fhir_models [--resources 40] [--rounds 200]

Both run over the resources of the note-sign benchmark request (`bench.workload`, the same padded encounter
`make bench` sends): `fhir/shape.py`'s `invalid_reason` (what every hook call does) and
`get_fhir_model_class(type).model_validate` (what modelling every resource would add). Prints the time per
resource and per call, best of `--rounds`, in process.
"""

from __future__ import annotations

import argparse
import json
import time

from bench.workload import context_resources, find_fixture, padded_call, prefetch_resources
from cds_service.fhir.models import _model
from cds_service.fhir.shape import invalid_reason


def _best(func, resources: list[dict], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for resource in resources:
            func(resource)
        best = min(best, time.perf_counter() - started)
    return best


def measure(total: int = 40, rounds: int = 200) -> dict:
    _, base = find_fixture("org.procedure-coding.note-sign")
    call = padded_call("note-sign", base, total).call
    resources = prefetch_resources(call) + context_resources(call)
    models = {r["resourceType"]: _model(r["resourceType"]) for r in resources}
    shape = _best(invalid_reason, resources, rounds)
    model = _best(lambda r: models[r["resourceType"]].model_validate(r), resources, max(10, rounds // 10))
    return {
        "resources": len(resources),
        "shape_checks_ms_per_call": round(shape * 1000, 3),
        "fhir_resources_ms_per_call": round(model * 1000, 3),
        "shape_checks_us_per_resource": round(shape / len(resources) * 1e6, 1),
        "fhir_resources_us_per_resource": round(model / len(resources) * 1e6, 1),
        "ratio": round(model / shape, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resources", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    print(json.dumps(measure(args.resources, args.rounds), indent=2))


if __name__ == "__main__":
    main()
