"""The labelled note corpus (tests/notes/corpus, written without reading the rules) holds the coder to
>= 97% exact claim lines on in-scope notes and no `not_codes` line on any note: the same in-process coder
as the service, through `cds-service eval-notes`' own evaluation."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cds_service.commands.eval_notes import build_pipeline, evaluate_notes, table
from cds_service.commands.note_corpus import load_corpus

CORPUS = Path(__file__).resolve().parent / "corpus"
EXACT_LINES_IN_SCOPE = 0.97


@pytest.fixture(scope="module")
def report():
    notes = load_corpus(CORPUS)
    pipeline, known, billing = build_pipeline(Path(__file__).resolve().parents[2] / "cards")
    started = time.monotonic()
    try:
        result = evaluate_notes(notes, pipeline, known, billing)
    finally:
        pipeline.executor.shutdown(wait=False)
    return result, time.monotonic() - started


def test_in_scope_notes_get_exactly_their_claim_lines(report):
    result, _ = report
    data = result.as_json()
    assert data["in_scope"] >= 200, "the corpus holds at least 200 in-scope notes"
    assert data["exact_lines_in_scope"] >= EXACT_LINES_IN_SCOPE, table(result)


def test_no_note_gets_a_code_it_must_never_get(report):
    result, _ = report
    assert result.as_json()["not_codes_violations"] == [], table(result)


def test_the_corpus_runs_in_seconds(report):
    _, seconds = report
    assert seconds < 30, f"{seconds:.1f} s for the corpus"
