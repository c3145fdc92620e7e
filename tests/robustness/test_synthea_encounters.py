"""Every encounter of every Synthea bundle in ../shared/data as hook calls through the service.

All 592 encounters (15 bundles) run: about 700 calls take a few seconds, so there is no sampling. The report of
which procedure got which lines is printed (`pytest -s`) and written by `python -m tests.robustness.synthea`.
"""

from __future__ import annotations

import time

import pytest

from cds_service.app import create_app
from cds_service.config import Settings

from .synthea import DISCHARGE, NOTE_SIGN, bundle_files, encounter_cases, relevant_family, run_all

# Thoracentesis is the only pleural procedure Synthea emits (two patients here); the rest must stay uncoded.
KNOWN_RELEVANT = {
    "Clelia_Green_6902389e-b6f7-4778-bf89-befb7ebf4b82.json": "Procedure/9aef3e2a-6be1-4651-a6b3-7df69d1f9d7d",
    "Thomas756_Farrell962_9cb1c0b9-16ef-4d7c-b322-532020756f6a.json":
        "Procedure/44de5abe-e489-4ea2-95ed-48c6d6c24b65",
}


@pytest.fixture(scope="module")
def synthea_run(shared_data, tmp_path_factory):
    app = create_app(Settings(sqlite_path=tmp_path_factory.mktemp("synthea") / "cds.sqlite3"))
    started = time.monotonic()
    failures, rows, totals = run_all(app.test_client(), shared_data)
    elapsed = time.monotonic() - started
    print(f"\nSynthea: {totals} in {elapsed:.1f} s")
    for row in rows:
        print(f"  {row.patient_file[:24]:24} {row.procedure[:22]:22} {row.family:14} {row.service[17:]:21} "
              f"lines={','.join(row.lines) or '-'} rule={row.rule}")
    return failures, rows, totals, elapsed


def test_every_call_is_answered_with_spec_valid_cards(synthea_run):
    failures, _, totals, elapsed = synthea_run
    assert totals["encounters"] >= 500 and totals["discharge calls"] == totals["encounters"]
    assert totals["note-sign calls"] > 0
    assert failures == [], failures[:5]
    assert elapsed < 60


def test_each_relevant_procedure_gets_a_coding_line(synthea_run):
    _, rows, totals, _ = synthea_run
    discharge = {(row.patient_file, row.procedure): row for row in rows if row.service == DISCHARGE}
    relevant = [row for row in discharge.values() if row.family != "not a coded family"]
    assert totals["relevant procedures"] == len(relevant) >= len(KNOWN_RELEVANT)
    for patient_file, procedure in KNOWN_RELEVANT.items():
        assert (patient_file, procedure) in discharge, f"{procedure} of {patient_file} got no card"
    for row in relevant:
        assert row.lines, f"{row.procedure} ({row.family}) got a card without a CPT line"
    for row in rows:
        if row.service == NOTE_SIGN and row.family != "not a coded family":
            assert row.lines, f"{row.procedure} ({row.family}) got no line when its note was signed"


def test_no_other_procedure_gets_a_line(synthea_run):
    _, rows, _, _ = synthea_run
    coded_elsewhere = [row for row in rows if row.family == "not a coded family" and row.lines]
    assert coded_elsewhere == [], coded_elsewhere


def test_every_relevant_procedure_in_the_data_was_called(shared_data):
    """The conversion itself: each relevant Procedure lands in the prefetch of its own encounter."""
    found = {}
    for path in bundle_files(shared_data):
        for case in encounter_cases(path):
            for procedure in case.procedures:
                if relevant_family(procedure):
                    found[path.name] = f"Procedure/{procedure['id']}"
                    call = case.discharge_call()
                    entries = call["prefetch"]["procedures"]["entry"]
                    assert any(e["resource"]["id"] == procedure["id"] for e in entries)
                    assert not any("urn:uuid:" in str(e["resource"].get("encounter", "")) for e in entries)
    assert found == KNOWN_RELEVANT
