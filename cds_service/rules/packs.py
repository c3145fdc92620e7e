"""Rule packs and payer profiles: loaded from YAML/JSON once at start-up, validated, compiled.

A pack holds everything the engine knows about one procedure family (recognition codes, code table,
guidance, laterality, NCCI pairs and MUEs, medical necessity, documentation checks, texts). A broken
pack raises PackError naming the file and the field, so the service never starts with it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from ..evidence.values import CPT, LOINC, RADLEX

SCHEMA_DIR = Path(__file__).resolve().parent
# Pack keys of guidance.study_codes -> the code system URI they are read in.
STUDY_CODE_SYSTEMS = {"cpt": CPT, "loinc": LOINC, "radlex": RADLEX}
PACK_SUFFIXES = (".yaml", ".yml", ".json")


class PackError(ValueError):
    """A rule pack or payer profile is invalid; the message names the file and the field."""


@dataclass(frozen=True)
class Patterns:
    """Case-insensitive regular expressions compiled once; `search` returns the first matching excerpt."""

    compiled: tuple[re.Pattern, ...] = ()

    def search(self, text: str) -> str | None:
        for pattern in self.compiled:
            found = pattern.search(text)
            if found:
                return found.group(0)
        return None

    def __bool__(self) -> bool:
        return bool(self.compiled)


@dataclass(frozen=True)
class EvidenceSpec:
    snomed: frozenset[str] = frozenset()
    cpt: frozenset[str] = frozenset()
    text: Patterns = Patterns()
    focal_device: bool = False


@dataclass(frozen=True)
class Approach:
    id: str
    label: str
    recognise: EvidenceSpec
    selected_by: EvidenceSpec | None
    absorbs: dict[str, str]  # absorbed approach id -> why
    # `selected_by` switches only procedures recognised as one of these approaches (None: any of the pack).
    selects_from: frozenset[str] | None = None
    # Day-sequence codes: an earlier act of this approach within this many days makes this a later day.
    course_days: int | None = None
    course_later_text: Patterns = Patterns()  # the act's own words saying it is a later day of its course


@dataclass(frozen=True)
class CodeEntry:
    code: str
    role: str
    approach: str | None
    guided: bool | str | None
    rule: str
    short: str
    meaning: str
    plain: str
    bilateral_indicator: int
    pc_tc_indicator: int
    course_day: str | None = None  # "first" or "later" for day-sequence codes
    global_days: int = 0  # fee-schedule global period (0 for 000/XXX/ZZZ)
    site_class: str | None = None


@dataclass(frozen=True)
class SeparateGuidance:
    """An imaging-guidance code billed as its own line with the listed primary codes, when a study of one of
    its modalities with saved images guided the procedure (or it is ordered with it)."""

    code: str
    primaries: frozenset[str]
    modalities: frozenset[str]
    per_session: bool  # one unit per session, whatever the number of procedures it guided


@dataclass(frozen=True)
class Source:
    id: str
    label: str
    url: str
    supports: str


@dataclass(frozen=True)
class NcciPair:
    column1: str
    column2: str
    modifier_indicator: int
    effective: str


@dataclass(frozen=True)
class DeviceSpec:
    """The device whose fate in the note decides between two approaches (stayed vs removed)."""

    approach: str
    otherwise: str
    inserted: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass(frozen=True)
class NoteReadingSpec:
    """Regex lists the clinical text pipeline reads besides the pack's other ones (README: Reading notes)."""

    procedures: dict[str, tuple[str, ...]] = field(default_factory=dict)
    other_procedures: tuple[str, ...] = ()
    device: DeviceSpec | None = None
    not_side: tuple[str, ...] = ()
    not_fate: tuple[str, ...] = ()
    volume: tuple[str, ...] = ()
    volume_not_removed: tuple[str, ...] = ()
    complications: tuple[str, ...] = ()
    every_act: tuple[str, ...] = ()  # said of every act of a shared note ("catheters removed")
    vocabulary: tuple[str, ...] = ()  # words notes misspell, read as these when one edit away


@dataclass(frozen=True)
class GapSpec:
    id: str
    billing: bool
    stages: frozenset[str]
    checklist: str
    supporting_diagnosis: bool = False
    side: bool = False
    guidance_images: bool = False
    text: Patterns = Patterns()
    observation_units: frozenset[str] = frozenset()
    procedure_fields: tuple[str, ...] = ()
    imaging_after: frozenset[str] = frozenset()
    # The check applies only to subjects billing one of these codes (empty: every subject of the pack).
    for_codes: frozenset[str] = frozenset()
    note_field: str | None = None  # "volume", "complications" or "device_fate": stated in the note
    text_sources: tuple[str, ...] = ()  # the regexes of `text`, as written (compiled again as target rules)
    site: bool = False
    guidance_report: bool = False
    drug_dose: bool = False


@dataclass(frozen=True)
class SiteSpec:
    """One site of a site dimension: its class selects the code."""

    id: str
    label: str
    site_class: str
    recognise: EvidenceSpec
    digits: str | None = None  # digit group whose modifiers replace the side modifier
    side: str | None = None  # the side the site code itself implies (a code for both sides)


@dataclass(frozen=True)
class DigitSpec:
    group: str
    label: str
    recognise: EvidenceSpec
    modifiers: dict[str, str]  # "right"/"left" -> modifier


@dataclass(frozen=True)
class DrugCode:
    code: str
    mg_per_unit: float
    meaning: str


@dataclass(frozen=True)
class DrugSpec:
    id: str
    label: str
    names: Patterns  # the drug named in text
    doses: Patterns  # the pack's dose_text with {drug} filled in: groups 'value' and 'unit'
    codes: tuple[DrugCode, ...]
    mg_per_ml: float | None = None


@dataclass(frozen=True)
class DrugTable:
    source: Source
    items: tuple[DrugSpec, ...]
    injection_text: Patterns
    not_billed: tuple[tuple[str, Patterns, str], ...]  # (label, names, why)
    # Words after a dose saying it was given on each side ("40 mg into each side"): doubled for a bilateral act.
    per_side_text: Patterns = Patterns()

    def code(self, code: str) -> DrugCode | None:
        return next((c for d in self.items for c in d.codes if c.code == code), None)


@dataclass(frozen=True)
class PcsTable:
    """One ICD-10-PCS table of a family: which characters 4-7 are the family, and what they say."""

    table: str  # characters 1-3
    body_parts: dict[str, str | None]  # character 4 -> side (None: the body part has no side)
    approaches: frozenset[str]  # character 5
    devices: dict[str, str]  # character 6 -> approach id
    qualifiers: frozenset[str]  # character 7


@dataclass(frozen=True)
class PcsReading:
    code: str
    approach: Approach
    side: str | None
    how: str


def normalise_pcs(code: str) -> str:
    return code.replace(".", "").replace(" ", "").upper()


@dataclass(frozen=True)
class RulePack:
    id: str
    title: str
    path: str
    sources: dict[str, Source]
    card_source: Source
    approaches: tuple[Approach, ...]
    codes: dict[str, CodeEntry]
    guidance_modalities: frozenset[str]
    guidance_window_minutes: int
    bundled_guidance: dict[str, str]  # code -> label
    guidance_order_codes: frozenset[str]
    guidance_claimed: Patterns
    laterality: bool
    sides: dict[str, EvidenceSpec]  # "right" | "left" | "bilateral" -> evidence
    not_performed_code: str | None
    not_performed_reason: Patterns
    session_gap_minutes: int
    necessity_prefixes: tuple[str, ...]
    necessity_source: Source
    ncci_pairs: tuple[NcciPair, ...]
    ptp_source: Source
    mues: dict[str, int]
    mue_source: Source
    documentation: tuple[GapSpec, ...]
    override_system: str
    override_reasons: tuple[tuple[str, str], ...]
    separate_guidance: tuple[SeparateGuidance, ...] = ()
    snomed_index: dict[str, Approach] = field(default_factory=dict)
    cpt_index: dict[str, CodeEntry] = field(default_factory=dict)
    necessity_snomed: frozenset[str] = frozenset()
    necessity_snomed_source: Source | None = None
    pcs_tables: tuple[PcsTable, ...] = ()
    pcs_source: Source | None = None
    # ImagingStudy.procedureCode codes (by code system URI) that show a study guided this family's needle.
    guidance_study_codes: dict[str, frozenset[str]] = field(default_factory=dict)
    guidance_study_source: Source | None = None
    sites: tuple[SiteSpec, ...] = ()
    site_boundary: re.Pattern | None = None
    site_note_action: Patterns | None = None  # a site read from a note needs one of these in its sentence
    digits: tuple[DigitSpec, ...] = ()
    guidance_report: Patterns | None = None  # None: no report needed; else its text (and guidance_report_fields)
    guidance_report_fields: tuple[str, ...] = ()
    drugs: DrugTable | None = None
    guidance_sites: frozenset[str] = frozenset()  # SNOMED CT body sites of this family's guidance studies
    # Sites that only other packs list (filled by load_rule_book): a study there is not this family's guidance.
    foreign_sites: set[str] = field(default_factory=set)

    note_reading: NoteReadingSpec = NoteReadingSpec()
    other_procedures: Patterns = Patterns()  # note_reading.other_procedures, compiled for code text
    # Why a not-performed scan is part of a guided procedure of the pack on the same side in the same session
    # (a dry first pass, then a guided tap); None: it is always billed.
    not_performed_included: str | None = None

    def pcs_reading(self, code: str) -> PcsReading | None:
        """What an ICD-10-PCS code says for this family (approach from the device, side from the body part),
        or None when the code is not one of the family's."""
        code = normalise_pcs(code)
        if len(code) != 7:
            return None
        for table in self.pcs_tables:
            if code[:3] != table.table or code[3] not in table.body_parts or code[4] not in table.approaches:
                continue
            if code[5] not in table.devices or code[6] not in table.qualifiers:
                continue
            side = table.body_parts[code[3]]
            approach = self.approach(table.devices[code[5]])
            how = (f"ICD-10-PCS {code} (table {table.table}, body part {code[3]}"
                   f"{' = ' + side if side else ''}, approach {code[4]}, device {code[5]} = {approach.id}, "
                   f"qualifier {code[6]})")
            return PcsReading(code, approach, side, how)
        return None

    def code_for(self, approach: str, guided: bool, course_day: str | None = None,
                 site_class: str | None = None) -> CodeEntry | None:
        """The procedure code of `approach`; for day-sequence codes the one of `course_day` (first by default);
        in a pack with a site dimension the one of `site_class`."""
        for entry in self.codes.values():
            if (entry.role == "procedure" and entry.approach == approach and entry.guided in (guided, "any")
                    and entry.course_day in (course_day or "first", None) and entry.site_class == site_class):
                return entry
        return None

    def separate_guidance_for(self, code: str) -> list[SeparateGuidance]:
        return [spec for spec in self.separate_guidance if code in spec.primaries]

    def approach(self, approach_id: str) -> Approach:
        return next(a for a in self.approaches if a.id == approach_id)


@dataclass(frozen=True)
class PayerProfile:
    id: str
    title: str
    path: str
    default: bool
    match_payor: Patterns
    side_modifiers: bool
    bilateral: str
    modifiers: dict[str, str]
    facility_encounter_classes: frozenset[str]


@dataclass(frozen=True)
class RuleBook:
    packs: tuple[RulePack, ...]
    payers: tuple[PayerProfile, ...]

    @property
    def default_payer(self) -> PayerProfile:
        return next(p for p in self.payers if p.default)

    @cached_property
    def reader(self):
        """The clinical text pipeline with every pack's concepts (built on first use; coding.py builds it at
        start-up so that it is built once per worker, before the first call)."""
        from ..text.pipeline import TextReader
        from .concepts import book_rules

        vocabulary = tuple(dict.fromkeys(w for pack in self.packs for w in pack.note_reading.vocabulary))
        return TextReader(book_rules(self.packs), vocabulary)


@cache
def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _field_path(parts) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _read(path: Path) -> Any:
    try:
        raw = path.read_text(encoding="utf-8")
        return json.loads(raw) if path.suffix == ".json" else yaml.safe_load(raw)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise PackError(f"{path}: cannot be read as {path.suffix[1:].upper()}: {type(exc).__name__}: {exc}") from None


def _validate(path: Path, document: Any, schema: str) -> None:
    errors = sorted(_validator(schema).iter_errors(document), key=lambda e: (len(e.path), list(map(str, e.path))))
    if errors:
        error = errors[0]
        raise PackError(f"{path}: field '{_field_path(error.absolute_path)}': {error.message[:300]}")


def _patterns(path: Path, where: str, items: list[str] | None) -> Patterns:
    compiled = []
    for i, item in enumerate(items or []):
        try:
            compiled.append(re.compile(item, re.IGNORECASE))
        except re.error as exc:
            raise PackError(f"{path}: field '{where}[{i}]': not a valid regular expression: {exc}") from None
    return Patterns(tuple(compiled))


def _evidence(path: Path, where: str, raw: dict | None) -> EvidenceSpec | None:
    if raw is None:
        return None
    return EvidenceSpec(
        snomed=frozenset(raw.get("snomed", ())),
        cpt=frozenset(raw.get("cpt", ())),
        text=_patterns(path, f"{where}.text", raw.get("text")),
        focal_device=bool(raw.get("focal_device")),
    )


def _require(condition: bool, path: Path, where: str, message: str) -> None:
    if not condition:
        raise PackError(f"{path}: field '{where}': {message}")


def _normalise_icd(code: str) -> str:
    return code.replace(".", "").upper()


def load_pack(path: Path) -> RulePack:
    raw = _read(path)
    _validate(path, raw, "rule-pack.schema.json")
    sources = {s["id"]: Source(s["id"], s["label"], s["url"], s["supports"]) for s in raw["sources"]}

    def source(where: str, source_id: str) -> Source:
        _require(source_id in sources, path, where, f"'{source_id}' is not the id of an entry in 'sources'")
        return sources[source_id]

    approaches = []
    for i, a in enumerate(raw["approaches"]):
        approaches.append(Approach(
            id=a["id"],
            label=a["label"],
            recognise=_evidence(path, f"approaches[{i}].recognise", a["recognise"]),
            selected_by=_evidence(path, f"approaches[{i}].selected_by", a.get("selected_by")),
            absorbs={item["approach"]: item["why"] for item in a.get("absorbs", [])},
            selects_from=frozenset(a["selects_from"]) if "selects_from" in a else None,
            course_days=a.get("course", {}).get("window_days"),
            course_later_text=_patterns(path, f"approaches[{i}].course.later_day_text",
                                        a.get("course", {}).get("later_day_text")),
        ))
    approach_ids = {a.id for a in approaches}
    _require(len(approach_ids) == len(approaches), path, "approaches", "approach ids must be unique")
    for i, a in enumerate(approaches):
        for absorbed in a.absorbs:
            _require(absorbed in approach_ids, path, f"approaches[{i}].absorbs", f"unknown approach '{absorbed}'")
        for other in a.selects_from or ():
            _require(other in approach_ids, path, f"approaches[{i}].selects_from", f"unknown approach '{other}'")

    codes: dict[str, CodeEntry] = {}
    for i, c in enumerate(raw["codes"]):
        where = f"codes[{i}]"
        _require(c["code"] not in codes, path, f"{where}.code", f"code {c['code']} is listed twice")
        if c["role"] == "procedure":
            _require(c.get("approach") in approach_ids, path, f"{where}.approach", "must name one of 'approaches'")
            _require("guided" in c, path, f"{where}.guided", "is required for a procedure code")
        codes[c["code"]] = CodeEntry(
            code=c["code"], role=c["role"], approach=c.get("approach"), guided=c.get("guided"), rule=c["rule"],
            short=c["short"], meaning=c["meaning"], plain=c["plain"],
            bilateral_indicator=c["bilateral_indicator"], pc_tc_indicator=c["pc_tc_indicator"],
            course_day=c.get("course_day"), global_days=c.get("global_days", 0), site_class=c.get("site_class"),
        )
        if c.get("course_day"):
            course = next((a for a in approaches if a.id == c.get("approach")), None)
            _require(course is not None and course.course_days is not None, path, f"{where}.course_day",
                     "needs an approach with 'course' (the window of the course in days)")

    separate = []
    for i, g in enumerate(raw.get("separate_guidance", [])):
        where = f"separate_guidance[{i}]"
        _require(g["code"] not in codes, path, f"{where}.code", f"code {g['code']} is also in 'codes'")
        for primary in g["with"]:
            _require(codes.get(primary) is not None and codes[primary].role == "procedure", path, f"{where}.with",
                     f"{primary} is not a procedure code of 'codes'")
        separate.append(SeparateGuidance(g["code"], frozenset(g["with"]), frozenset(g["modalities"]),
                                         bool(g.get("per_session"))))
        # Held with the codes (for modifiers, texts and MUEs), but never a recognition code of the pack.
        codes[g["code"]] = CodeEntry(
            code=g["code"], role="separate-guidance", approach=None, guided=None, rule="separate-guidance",
            short=g["short"], meaning=g["meaning"], plain=g["plain"], bilateral_indicator=0,
            pc_tc_indicator=g["pc_tc_indicator"], global_days=0,
        )

    laterality = raw["laterality"]
    sides = {}
    if laterality["applies"]:
        for side in ("right", "left", "bilateral"):
            _require(side in laterality, path, f"laterality.{side}", "is required when laterality applies")
            sides[side] = _evidence(path, f"laterality.{side}", laterality[side])

    not_performed = raw.get("not_performed")
    if not_performed:
        entry = codes.get(not_performed["code"])
        _require(entry is not None and entry.role == "not-performed-imaging", path, "not_performed.code",
                 "must be listed in 'codes' with role 'not-performed-imaging'")

    gaps = []
    for i, g in enumerate(raw["documentation"]):
        satisfied = g["satisfied_by"]
        if satisfied.get("side"):
            _require(laterality["applies"], path, f"documentation[{i}].satisfied_by.side",
                     "a side check needs 'laterality.applies: true'")
        gaps.append(GapSpec(
            id=g["id"], billing=g["billing"], stages=frozenset(g["stages"]), checklist=g["checklist"],
            supporting_diagnosis=bool(satisfied.get("supporting_diagnosis")),
            side=bool(satisfied.get("side")),
            guidance_images=bool(satisfied.get("guidance_images")),
            text=_patterns(path, f"documentation[{i}].satisfied_by.text", satisfied.get("text")),
            observation_units=frozenset(u.lower() for u in satisfied.get("observation_units", ())),
            procedure_fields=tuple(satisfied.get("procedure_fields", ())),
            imaging_after=frozenset(satisfied.get("imaging_after", ())),
            for_codes=frozenset(g.get("for_codes", ())),
            note_field=satisfied.get("note_field"),
            text_sources=tuple(satisfied.get("text", ())),
            site=bool(satisfied.get("site")),
            guidance_report=bool(satisfied.get("guidance_report")),
            drug_dose=bool(satisfied.get("drug_dose")),
        ))

    guidance = raw["guidance"]
    ncci = raw["ncci"]
    snomed_necessity = raw["necessity"].get("snomed")
    pcs = raw.get("icd10pcs")
    pcs_tables = []
    for i, t in enumerate((pcs or {}).get("tables", ())):
        for char, approach_id in t["devices"].items():
            _require(approach_id in approach_ids, path, f"icd10pcs.tables[{i}].devices.{char}",
                     f"unknown approach '{approach_id}'")
        pcs_tables.append(PcsTable(
            table=t["table"],
            body_parts={char: (None if side == "none" else side) for char, side in t["body_parts"].items()},
            approaches=frozenset(t["approaches"]),
            devices=dict(t["devices"]),
            qualifiers=frozenset(t["qualifiers"]),
        ))
    study_codes = guidance.get("study_codes")
    guidance_sites = guidance.get("body_sites")
    if guidance_sites:
        source("guidance.body_sites.source", guidance_sites["source"])
    pack = RulePack(
        id=raw["id"],
        title=raw["title"],
        path=str(path),
        sources=sources,
        card_source=source("card_source", raw["card_source"]),
        approaches=tuple(approaches),
        codes=codes,
        guidance_modalities=frozenset(guidance["modalities"]),
        guidance_window_minutes=guidance["window_minutes_before"],
        bundled_guidance={b["code"]: b["label"] for b in guidance["bundled_codes"]},
        guidance_order_codes=frozenset(guidance["order_codes"]),
        guidance_claimed=_patterns(path, "guidance.claimed_text", guidance["claimed_text"]),
        laterality=laterality["applies"],
        sides=sides,
        not_performed_code=not_performed["code"] if not_performed else None,
        not_performed_reason=_patterns(path, "not_performed.reason_text", (not_performed or {}).get("reason_text")),
        not_performed_included=(not_performed or {}).get("included_in_guided"),
        session_gap_minutes=raw.get("session", {}).get("max_gap_minutes", 60),
        necessity_prefixes=tuple(_normalise_icd(p) for p in raw["necessity"]["icd10cm"]),
        necessity_source=source("necessity.source", raw["necessity"]["source"]),
        ncci_pairs=tuple(NcciPair(**p) for p in ncci["pairs"]),
        ptp_source=source("ncci.ptp_source", ncci["ptp_source"]),
        mues={m["code"]: m["units"] for m in ncci["mues"]},
        mue_source=source("ncci.mue_source", ncci["mue_source"]),
        documentation=tuple(gaps),
        override_system=raw["override_reasons"]["system"],
        override_reasons=tuple((r["code"], r["display"]) for r in raw["override_reasons"]["reasons"]),
        separate_guidance=tuple(separate),
        necessity_snomed=frozenset(c["code"] for c in (snomed_necessity or {}).get("concepts", ())),
        necessity_snomed_source=(source("necessity.snomed.source", snomed_necessity["source"])
                                 if snomed_necessity else None),
        pcs_tables=tuple(pcs_tables),
        pcs_source=source("icd10pcs.source", pcs["source"]) if pcs else None,
        guidance_study_codes={
            system: frozenset(study_codes.get(name, ())) for name, system in STUDY_CODE_SYSTEMS.items()
        } if study_codes else {},
        guidance_study_source=source("guidance.study_codes.source", study_codes["source"]) if study_codes else None,
        note_reading=_note_reading(path, raw.get("note_reading") or {}, approach_ids),
        other_procedures=_patterns(path, "note_reading.other_procedures",
                                   (raw.get("note_reading") or {}).get("other_procedures")),
        **_site_dimension(path, raw, codes),
        **_drug_table(path, raw, source),
        guidance_sites=frozenset(guidance_sites["snomed"]) if guidance_sites else frozenset(),
    )
    for approach in approaches:
        for code in approach.recognise.snomed:
            pack.snomed_index[code] = approach
    for entry in codes.values():
        if entry.role != "separate-guidance":
            pack.cpt_index[entry.code] = entry
    return pack


def _note_reading(path: Path, raw: dict, approach_ids: set[str]) -> NoteReadingSpec:
    lists = {}
    for name in ("other_procedures", "not_side", "not_fate", "volume", "volume_not_removed", "complications",
                 "every_act"):
        _patterns(path, f"note_reading.{name}", raw.get(name))  # fails start-up on a bad regex
        lists[name] = tuple(raw.get(name, ()))
    procedures = {}
    for approach, items in (raw.get("procedures") or {}).items():
        _require(approach in approach_ids, path, f"note_reading.procedures.{approach}", "must name one of 'approaches'")
        _patterns(path, f"note_reading.procedures.{approach}", items)
        procedures[approach] = tuple(items)
    device = None
    if raw.get("device"):
        d = raw["device"]
        for key in ("approach", "otherwise"):
            _require(d[key] in approach_ids, path, f"note_reading.device.{key}", "must name one of 'approaches'")
        for key in ("inserted", "removed"):
            _patterns(path, f"note_reading.device.{key}", d[key])
        device = DeviceSpec(d["approach"], d["otherwise"], tuple(d["inserted"]), tuple(d["removed"]))
    return NoteReadingSpec(procedures=procedures, device=device, vocabulary=tuple(raw.get("vocabulary", ())), **lists)


def _site_dimension(path: Path, raw: dict, codes: dict[str, CodeEntry]) -> dict:
    """Sites (their class picks the code), digits, and the guidance report a with-imaging code needs."""
    found: dict = {}
    report = raw["guidance"].get("report")
    if report:
        found["guidance_report"] = _patterns(path, "guidance.report.text", report.get("text"))
        found["guidance_report_fields"] = tuple(report.get("procedure_fields", ()))
    digits = raw.get("digits", [])
    found["digits"] = tuple(
        DigitSpec(d["group"], d["label"], _evidence(path, f"digits[{i}].recognise", d["recognise"]),
                  {"right": d["right"], "left": d["left"]})
        for i, d in enumerate(digits)
    )
    site_raw = raw.get("sites")
    classes = {c.site_class for c in codes.values() if c.site_class}
    if not site_raw:
        _require(not classes, path, "codes", "a code with 'site_class' needs a 'sites' section")
        return found
    groups = {d.group for d in found["digits"]}
    sites = []
    for i, s in enumerate(site_raw["items"]):
        where = f"sites.items[{i}]"
        _require(s["class"] in classes, path, f"{where}.class", f"no code has site_class '{s['class']}'")
        _require(s.get("digits") in (None, *groups), path, f"{where}.digits", "must name a group of 'digits'")
        sites.append(SiteSpec(s["id"], s["label"], s["class"], _evidence(path, f"{where}.recognise", s["recognise"]),
                              s.get("digits"), s.get("side")))
    found["sites"] = tuple(sites)
    if site_raw.get("note_action"):
        found["site_note_action"] = _patterns(path, "sites.note_action", site_raw["note_action"])
    boundary = site_raw.get("phrase_boundary", r"[.;\n]")
    try:
        found["site_boundary"] = re.compile(boundary, re.IGNORECASE)
    except re.error as exc:
        raise PackError(f"{path}: field 'sites.phrase_boundary': not a valid regular expression: {exc}") from None
    return found


def _drug_table(path: Path, raw: dict, source) -> dict:
    """Drug supply lines: each drug's names are put into the pack's dose patterns and compiled once."""
    drugs = raw.get("drugs")
    if not drugs:
        return {}
    items = []
    for i, d in enumerate(drugs["items"]):
        names = "|".join(f"(?:{name})" for name in d["names"])
        doses = [pattern.replace("{drug}", f"(?:{names})") for pattern in drugs["dose_text"]]
        items.append(DrugSpec(
            id=d["id"], label=d["label"],
            names=_patterns(path, f"drugs.items[{i}].names", d["names"]),
            doses=_patterns(path, f"drugs.items[{i}] (dose_text with its names)", doses),
            codes=tuple(DrugCode(c["code"], float(c["mg_per_unit"]), c["meaning"]) for c in d["codes"]),
            mg_per_ml=d.get("mg_per_ml"),
        ))
    for i, pattern in enumerate(drugs["dose_text"]):
        _require("{drug}" in pattern, path, f"drugs.dose_text[{i}]", "must hold {drug}")
        _require("(?P<value>" in pattern and "(?P<unit>" in pattern, path, f"drugs.dose_text[{i}]",
                 "must hold the groups (?P<value>...) and (?P<unit>...)")
    not_billed = tuple(
        (n["label"], _patterns(path, f"drugs.not_billed[{i}].names", n["names"]), n["why"])
        for i, n in enumerate(drugs.get("not_billed", []))
    )
    table = DrugTable(source("drugs.source", drugs["source"]), tuple(items),
                      _patterns(path, "drugs.injection_text", drugs.get("injection_text")), not_billed,
                      _patterns(path, "drugs.per_side_text", drugs.get("per_side_text")))
    return {"drugs": table}


def load_payer(path: Path) -> PayerProfile:
    raw = _read(path)
    _validate(path, raw, "payer-profile.schema.json")
    return PayerProfile(
        id=raw["id"],
        title=raw["title"],
        path=str(path),
        default=raw["default"],
        match_payor=_patterns(path, "match_payor", raw.get("match_payor")),
        side_modifiers=raw["side_modifiers"],
        bilateral=raw["bilateral"],
        modifiers=dict(raw["modifiers"]),
        facility_encounter_classes=frozenset(raw["facility_encounter_classes"]),
    )


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in PACK_SUFFIXES)


def _pcs_cells(table: PcsTable) -> list[str]:
    """Characters 1-6 of every code a PCS table claims (the qualifier does not change the family)."""
    return [table.table + part + approach + device
            for part in table.body_parts for approach in table.approaches for device in table.devices]


def load_rule_book(folder: Path) -> RuleBook:
    """Every pack in `folder` and every payer profile in `folder/payers`, checked against each other."""
    if not folder.is_dir():
        raise PackError(f"{folder}: the rule pack folder does not exist (CDS_RULE_PACKS)")
    packs = tuple(load_pack(p) for p in _files(folder))
    if not packs:
        raise PackError(f"{folder}: holds no rule pack (*.yaml, *.yml, *.json)")
    seen: dict[str, str] = {}
    recognised: dict[str, str] = {}
    for pack in packs:
        if pack.id in seen:
            raise PackError(f"{pack.path}: field 'id': '{pack.id}' is also the id of {seen[pack.id]}")
        seen[pack.id] = pack.path
        for code in [*pack.snomed_index, *pack.cpt_index]:
            if code in recognised:
                raise PackError(f"{pack.path}: field 'approaches'/'codes': {code} is also claimed by "
                                f"{recognised[code]}")
            recognised[code] = pack.path
        for table in pack.pcs_tables:
            for cells in _pcs_cells(table):
                if cells in recognised:
                    raise PackError(f"{pack.path}: field 'icd10pcs': {''.join(cells)}.. is also claimed by "
                                    f"{recognised[cells]}")
                recognised[cells] = pack.path
    for pack in packs:
        for other in packs:
            if other is not pack:
                pack.foreign_sites.update(other.guidance_sites - pack.guidance_sites)
    payer_dir = folder / "payers"
    payers = tuple(load_payer(p) for p in _files(payer_dir)) if payer_dir.is_dir() else ()
    defaults = [p for p in payers if p.default]
    if len(defaults) != 1:
        raise PackError(f"{payer_dir}: field 'default': exactly one payer profile must be the default, found "
                        f"{len(defaults)}")
    return RuleBook(packs=packs, payers=payers)
