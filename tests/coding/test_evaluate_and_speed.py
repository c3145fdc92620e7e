"""The evaluate CLI (same pipeline, no server) and the engine's cost on large encounters."""

from __future__ import annotations

import json
import time

from cds_service.cli import main
from cds_service.coding import build_coder
from cds_service.fhir.access import ClinicalData, KeyResult, Outcome
from cds_service.services import SERVICES_BY_ID

from .helpers import REQUESTS, request


def test_evaluate_prints_response_and_table(capsys):
    assert main(["evaluate", str(REQUESTS / "thoracentesis-bilateral.encounter-discharge.json")]) == 0
    out = capsys.readouterr().out
    response_text, table = out.rsplit("\n\n", 1)
    response = json.loads(response_text)
    assert response["cards"][0]["extension"]["cpt-coding.suggestion"]["lines"][0]["modifiers"] == ["50"]
    assert "Procedure/p-right  32555-50" in table and "76942" in table


def test_evaluate_reports_an_invalid_request_as_operation_outcome(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**request("dry-tap.encounter-discharge"), "hookInstance": 5}))
    assert main(["evaluate", str(bad)]) == 1
    assert json.loads(capsys.readouterr().out)["resourceType"] == "OperationOutcome"


def _big_encounter(procedures: int) -> ClinicalData:
    call = request("thoracentesis-bilateral.encounter-discharge")
    base = call["prefetch"]["procedures"]["entry"][0]["resource"]
    study = call["prefetch"]["imagingStudies"]["entry"][0]["resource"]
    resources, studies = [], []
    for i in range(procedures):
        minute = i * 7  # spread over days: sessions, repeats and windows all work
        day, clock = 1 + minute // 1440, minute % 1440
        start = f"2024-03-{day:02d}T{clock // 60:02d}:{clock % 60:02d}:00-05:00"
        resources.append({**base, "id": f"p{i}", "performedPeriod": {"start": start, "end": start}})
        link = {"reference": f"Procedure/p{i}"}
        studies.append({**study, "id": f"i{i}", "started": start, "procedureReference": link})
    conditions = [e["resource"] for e in call["prefetch"]["conditions"]["entry"]]
    return ClinicalData(results={
        "procedures": KeyResult("procedures", Outcome.PROVIDED, resources),
        "imagingStudies": KeyResult("imagingStudies", Outcome.PROVIDED, studies),
        "conditions": KeyResult("conditions", Outcome.PROVIDED, conditions),
    }), call


def _cpu_seconds(coder, service, size: int) -> float:
    """Best of two runs, in CPU time of this process: the machine is shared, wall time is not ours."""
    data, call = _big_encounter(size)
    best = float("inf")
    for _ in range(2):
        started = time.process_time()
        cards = coder.cards(service, call, data)
        best = min(best, time.process_time() - started)
    assert len(cards) == size
    return best


def test_engine_stays_fast_and_roughly_linear(settings):
    coder = build_coder(settings)
    service = SERVICES_BY_ID["procedure-coding-encounter-discharge"]
    small, large = _cpu_seconds(coder, service, 50), _cpu_seconds(coder, service, 500)
    assert large < 0.5, f"500 procedures + 500 studies (1,000 resources) took {large:.3f} s"
    assert large < 25 * small, f"10x the resources cost {large / small:.1f}x the time"
