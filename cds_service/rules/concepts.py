"""The packs' regex lists compiled into the text pipeline's target rules, once per rule book.

A rule's label is `pack|kind|detail`; each kind is what a mention means to the engine (reading.py). Every
regex a pack already had keeps its meaning, now read with sentences, sections and ConText around it:

| kind | from the pack | detail |
|---|---|---|
| procedure | approaches[].recognise.text, note_reading.procedures | approach id |
| stayed | approaches[].selected_by.text (a device left in) | approach id |
| device, removed | note_reading.device.inserted / .removed | the device's approach id |
| other | note_reading.other_procedures | - |
| guidance | guidance.claimed_text | - |
| side, not_side | laterality.<side>.text, note_reading.not_side | right, left, bilateral |
| not_fate | note_reading.not_fate (a dressing left in place) | - |
| every_act | note_reading.every_act (its sentence is said of every act of a shared note) | - |
| dry_tap | not_performed.reason_text | - |
| gap | documentation[].satisfied_by.text | gap id |
| volume, not_removed, complications | note_reading.volume, .volume_not_removed, .complications | - |
| site | sites.items[].recognise.text | site id |
| drug | drugs.items[].names | drug id |
"""

from __future__ import annotations

from functools import lru_cache

from ..text.pipeline import ConceptRule
from .packs import Patterns, RulePack

SEP = "|"


def label(pack: RulePack, kind: str, detail: str = "") -> str:
    return SEP.join((pack.id, kind, detail))


@lru_cache(maxsize=4096)  # a few hundred labels, asked about for every mention of every call
def parse_label(text: str) -> tuple[str, str, str]:
    pack, kind, detail = text.split(SEP, 2)
    return pack, kind, detail


def _sources(patterns: Patterns | None) -> tuple[str, ...]:
    return tuple(p.pattern for p in patterns.compiled) if patterns else ()


def pack_rules(pack: RulePack) -> list[ConceptRule]:
    found: list[tuple[str, str, tuple[str, ...]]] = []
    for approach in pack.approaches:
        found.append(("procedure", approach.id, _sources(approach.recognise.text)))
        found.append(("procedure", approach.id, pack.note_reading.procedures.get(approach.id, ())))
        if approach.selected_by is not None:
            found.append(("stayed", approach.id, _sources(approach.selected_by.text)))
    reading = pack.note_reading
    if reading.device is not None:
        found.append(("device", reading.device.approach, reading.device.inserted))
        found.append(("removed", reading.device.approach, reading.device.removed))
    found.append(("other", "", reading.other_procedures))
    found.append(("guidance", "", _sources(pack.guidance_claimed)))
    for side, spec in pack.sides.items():
        found.append(("side", side, _sources(spec.text)))
    found.append(("not_side", "", reading.not_side))
    found.append(("not_fate", "", reading.not_fate))
    found.append(("every_act", "", reading.every_act))
    found.append(("dry_tap", "", _sources(pack.not_performed_reason)))
    for gap in pack.documentation:
        # A gap answered by a note field reads its words as that field (so a volume of local anaesthetic,
        # or a planned one, does not document the fluid removed).
        kind = {"volume": "volume", "complications": "complications"}.get(gap.note_field or "", "gap")
        found.append((kind, gap.id if kind == "gap" else "", gap.text_sources))
    found.append(("volume", "", reading.volume))
    found.append(("not_removed", "", reading.volume_not_removed))
    found.append(("complications", "", reading.complications))
    for site in pack.sites:
        found.append(("site", site.id, _sources(site.recognise.text)))
    for drug in pack.drugs.items if pack.drugs is not None else ():
        found.append(("drug", drug.id, _sources(drug.names)))
    return [ConceptRule(label(pack, kind, detail), pattern) for kind, detail, patterns in found for pattern in patterns]


def book_rules(packs) -> tuple[ConceptRule, ...]:
    """Every pack's rules, deduplicated, in a stable order (the pipeline is cached by this tuple)."""
    return tuple(dict.fromkeys(rule for pack in packs for rule in pack_rules(pack)))
