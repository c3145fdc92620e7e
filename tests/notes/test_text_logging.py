"""No note text reaches a log at DEBUG level: not through the standard library (spaCy, medspaCy, ours), not
through loguru (PyRuSH logs token text at DEBUG), not on stderr; in-process and through the service."""

from __future__ import annotations

import io
import logging

import pytest

from cds_service.text.pipeline import ConceptRule, TextReader
from cds_service.text.quiet import silence_libraries
from tests.coding.helpers import post

from .kit import note_call

NOTE = ("Procedure: Right thoracentesis by Dr Quorvantish. Zephyrlumen fluid, 900 mL removed. "
        "Catheter removed. No complications.")
SECRETS = ("Quorvantish", "Zephyrlumen")


@pytest.fixture
def every_log():
    """Everything any logger or loguru sink writes at DEBUG and above, plus stderr."""
    from loguru import logger as loguru_logger

    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):  # library loggers too, whatever their setting
        logging.getLogger(name).addHandler(handler)
    sink = loguru_logger.add(captured, level="DEBUG")
    try:
        yield captured
    finally:
        loguru_logger.remove(sink)
        for name in list(logging.root.manager.loggerDict):
            logging.getLogger(name).removeHandler(handler)
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_the_pipeline_and_pyrush_log_no_note_text_at_debug(every_log, capfd):
    reader = TextReader((ConceptRule("t|procedure|x", r"\bthoracentesis\b"),))
    assert [m.text for m in reader.read(NOTE)] == ["thoracentesis"]
    # PyRuSH itself (loaded by medspaCy) logs every token at DEBUG unless silenced.
    import spacy
    from PyRuSH import PyRuSHSentencizer  # noqa: F401  (registers medspacy_pyrush)

    silence_libraries()
    nlp = spacy.blank("en")
    nlp.add_pipe("medspacy_pyrush")
    assert len(list(nlp(NOTE).sents)) >= 2
    out, err = capfd.readouterr()
    logged = every_log.getvalue() + out + err
    assert not [s for s in SECRETS if s in logged], "note text reached a log"


def test_a_note_sign_call_logs_no_note_text_at_debug(client, every_log, capfd):
    body = post(client, note_call(NOTE))
    assert body["cards"]
    out, err = capfd.readouterr()
    logged = every_log.getvalue() + out + err
    assert "hook answered" in logged  # the capture works
    assert not [s for s in SECRETS if s in logged], "note text reached a log"
