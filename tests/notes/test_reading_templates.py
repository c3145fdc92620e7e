"""Reading notes, general misreadings: template checkboxes, fate words without a catheter subject, oxygen flows
and dictated volumes, single-line "Label: value" headings, abbreviated complication and guidance statements."""

from __future__ import annotations

import pytest

from cds_service.text.quantities import volume_ml
from tests.coding.helpers import post, suggestions

from .kit import note_call


def _card(client, text: str, **kwargs) -> dict:
    return suggestions(post(client, note_call(text, **kwargs)))["Procedure/p1"]


def _lines(ext: dict) -> list[str]:
    return ["-".join([line["code"], *line.get("modifiers", [])]) for line in ext.get("lines", [])]


def _evidence(ext: dict) -> dict[str, dict]:
    return {item["field"]: item for item in ext.get("evidence", [])}


def _gaps(ext: dict) -> set[str]:
    return set(ext.get("documentationGaps", []))


@pytest.mark.parametrize("text, ml", [
    ("Right thoracentesis, 700 mL drained, catheter removed. Oxygen weaned from 3 L to 1 L. No complications.", 700),
    ("Right thoracentesis, on 2 L nasal cannula, 650 cc drained, catheter removed. No complications.", 650),
    ("Right thoracentesis, catheter removed, 450 mL removed. Now on 4 L NC. No complications.", 450),
    ("Right thoracentesis, 900 mL drained, catheter removed; went from 1 to 3 liters of oxygen. No complications.",
     900),
    ("Right thoracentesis, catheter removed, one point three liters drained, now on two liters nasal cannula. "
     "No complications.", 1300),
])
def test_oxygen_flows_are_not_the_volume_drained(client, text, ml):
    ext = _card(client, text)
    assert _evidence(ext)["volume"]["value"] == ml


def test_a_note_whose_only_liters_are_oxygen_has_no_volume(client):
    ext = _card(client, "Right thoracentesis, catheter removed. Patient on 2 L NC throughout. No complications.")
    assert "volume" not in _evidence(ext) and "fluid-volume" in _gaps(ext)


@pytest.mark.parametrize("text, ml", [
    ("one point three liters", 1300), ("seven hundred and fifty milliliters", 750),
    ("two thousand two hundred cc", 2200), ("one liter", 1000), ("a liter and a half", 1500),
])
def test_dictated_volumes(client, text, ml):
    assert volume_ml(text) == ml
    ext = _card(client, f"right thoracentesis we took off {text} of straw colored fluid catheter removed "
                        "no complications")
    assert _evidence(ext)["volume"]["value"] == ml


@pytest.mark.parametrize("statement", ["No compl.", "compl: none", "Compl: 0", "Complications: 0"])
def test_abbreviated_complication_statements(client, statement):
    ext = _card(client, f"Right thoracentesis, 600 mL drained, catheter removed. {statement}")
    assert "complications" not in _gaps(ext)


@pytest.mark.parametrize("text", ["US-g R thoracentesis", "US guided R thoracentesis", "u/s guided R thoracentesis",
                                  "R thoracentesis, US-guided"])
def test_abbreviated_guidance_is_a_claim(client, text):
    ext = _card(client, f"{text}, 600 mL drained, catheter removed. No complications.")
    assert "guidance" in _evidence(ext)
