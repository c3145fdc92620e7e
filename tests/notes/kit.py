"""A note-sign call from a short note text, through the corpus builder (one way to build note-sign calls)."""

from __future__ import annotations

from cds_service.commands.note_corpus import LabelledNote, hook_call
from tests.coding.helpers import post, suggestions

THORACENTESIS = {"system": "http://snomed.info/sct", "code": "91602002", "display": "Thoracentesis"}
DRAIN = {"system": "http://snomed.info/sct", "code": "264957007", "display": "Insertion of pleural tube drain"}


def note_call(text: str, procedures: list[dict] | None = None, imaging: list[dict] | None = None,
              diagnoses: tuple[str, ...] = ("J90",)) -> dict:
    note = LabelledNote(
        id="unit", style="unit", path="unit.yaml", note=text, encounter_class="AMB", payer="medicare",
        diagnoses=diagnoses, procedures=tuple(procedures or [{"code": THORACENTESIS}]),
        imaging=tuple(imaging or ()), lines=(), not_codes=frozenset(), gaps=frozenset(),
    )
    return hook_call(note)


def card_for(client, text: str, **kwargs) -> dict:
    """The `cpt-coding.suggestion` extension of the card for the note's first procedure."""
    return suggestions(post(client, note_call(text, **kwargs)))["Procedure/p1"]


def evidence_by_field(ext: dict) -> dict[str, dict]:
    return {item["field"]: item for item in ext.get("evidence", [])}
