"""`cds-service eval-notes DIR`: score the coder against a labelled note corpus.

Each note becomes the note-sign call an EHR would send (note_corpus.hook_call) and goes through the same
Pipeline and coding engine as the HTTP route (nothing is recorded, no FHIR server). The cards' lines and the
`evidence` items of the `cpt-coding.suggestion` extension are compared with the labels: per-field precision
and recall, exact lines (in-scope notes and all notes), `not_codes` violations and a confusion table of codes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..coding import build_coder
from ..config import Settings
from ..pipeline import Pipeline
from ..rendering.cards import EXTENSION
from ..rules.packs import PackError
from ..services import SERVICES_BY_ID
from .evaluate import checked_call
from .note_corpus import CorpusError, LabelledNote, hook_call, known_codes, load_corpus, procedure_id

SERVICE_ID = "procedure-coding-note-sign"
FIELDS = ("code", "side", "fate", "guidance", "volume", "complications")
NONE = "(none)"


@dataclass
class FieldScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, expected, predicted) -> None:
        """Categorical values with None for 'not stated'; booleans count True as the positive class."""
        if isinstance(expected, bool) or isinstance(predicted, bool):
            expected, predicted = (True if expected else None), (True if predicted else None)
        if predicted is not None and _same(expected, predicted):
            self.tp += 1
            return
        if predicted is not None:
            self.fp += 1
        if expected is not None:
            self.fn += 1

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None


def _same(expected, predicted) -> bool:
    if isinstance(expected, int | float) and isinstance(predicted, int | float):
        return abs(expected - predicted) < 1
    return expected == predicted


@dataclass
class NoteResult:
    id: str
    style: str
    in_scope: bool
    exact: bool
    expected_lines: list[str]
    predicted_lines: list[str]
    violations: list[str]
    expected_gaps: list[str]
    predicted_gaps: list[str]
    fields: list[dict] = field(default_factory=list)  # per procedure: {"field": (expected, predicted)}


@dataclass
class Report:
    notes: list[NoteResult]
    scores: dict[str, FieldScore]
    confusion: Counter

    def as_json(self) -> dict:
        in_scope = [n for n in self.notes if n.in_scope]
        return {
            "notes": len(self.notes),
            "in_scope": len(in_scope),
            "exact_lines_in_scope": _rate(sum(n.exact for n in in_scope), len(in_scope)),
            "exact_lines_all": _rate(sum(n.exact for n in self.notes), len(self.notes)),
            "gaps_agree_in_scope": _rate(sum(sorted(n.expected_gaps) == sorted(n.predicted_gaps) for n in in_scope),
                                         len(in_scope)),
            "not_codes_violations": [{"id": n.id, "codes": n.violations} for n in self.notes if n.violations],
            "fields": {
                name: {"tp": s.tp, "fp": s.fp, "fn": s.fn, "precision": s.precision, "recall": s.recall}
                for name, s in self.scores.items()
            },
            "confusion": [{"expected": e, "predicted": p, "count": c} for (e, p), c in sorted(self.confusion.items())],
            "misses": [
                {"id": n.id, "expected": n.expected_lines, "predicted": n.predicted_lines}
                for n in self.notes if not n.exact
            ],
        }


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _label(code: str, modifiers, units: int) -> str:
    return "-".join([code, *sorted(modifiers)]) + (f" x{units}" if units != 1 else "")


def predicted(response: dict) -> tuple[list[tuple[str, tuple[str, ...], int]], list[str], dict[str, dict]]:
    """(claim lines, billing gap ids, per subject the values the cards read from text)."""
    lines, gaps, read = [], [], {}
    for card in response["cards"]:
        ext = (card.get("extension") or {}).get(EXTENSION)
        if ext is None:
            continue
        for line in ext.get("lines", []):
            lines.append((line["code"], tuple(sorted(line.get("modifiers", []))), line.get("units", 1)))
        if ext.get("lines"):
            gaps.extend(ext.get("documentationGaps", []))
        values: dict = {}
        for item in ext.get("evidence", []):
            values.setdefault(item["field"], item.get("value", True))
        read[ext["subject"]] = values
    return lines, gaps, read


def _confusion(expected: list[str], got: list[str], table: Counter) -> None:
    remaining = list(got)
    missing = []
    for code in expected:
        if code in remaining:
            remaining.remove(code)
            table[(code, code)] += 1
        else:
            missing.append(code)
    for i, code in enumerate(missing):
        table[(code, remaining[i] if i < len(remaining) else NONE)] += 1
    for code in remaining[len(missing):]:
        table[(NONE, code)] += 1


def evaluate_notes(notes: list[LabelledNote], pipeline: Pipeline, known: frozenset[str],
                   billing_gaps: frozenset[str]) -> Report:
    service = SERVICES_BY_ID[SERVICE_ID]
    scores = {name: FieldScore() for name in FIELDS}
    confusion: Counter = Counter()
    results = []
    for note in notes:
        response = pipeline.answer(service, checked_call(hook_call(note), service))
        lines, gaps, read = predicted(response)
        exp_codes = [code for code, _, _ in note.lines]
        got_codes = [code for code, _, _ in lines]
        code_score = FieldScore()
        remaining = list(got_codes)
        for code in exp_codes:
            if code in remaining:
                remaining.remove(code)
                code_score.tp += 1
            else:
                code_score.fn += 1
        code_score.fp += len(remaining)
        for name in ("tp", "fp", "fn"):
            setattr(scores["code"], name, getattr(scores["code"], name) + getattr(code_score, name))
        _confusion(exp_codes, got_codes, confusion)
        per_field = []
        for i, expected in enumerate(note.expected):
            values = read.get(f"Procedure/{procedure_id(i)}", {})
            pairs = {
                "side": (expected.side, values.get("side")),
                "fate": (expected.fate, values.get("fate")),
                "guidance": (expected.guidance, bool(values.get("guidance"))),
                "volume": (expected.volume_ml, values.get("volume")),
                "complications": (expected.complications, bool(values.get("complications"))),
            }
            for name, (exp, got) in pairs.items():
                scores[name].add(exp, got)
            per_field.append(pairs)
        results.append(NoteResult(
            id=note.id, style=note.style, in_scope=set(exp_codes) <= known,
            exact=Counter(note.lines) == Counter(lines),
            expected_lines=sorted(_label(*line) for line in note.lines),
            predicted_lines=sorted(_label(*line) for line in lines),
            violations=sorted(set(got_codes) & note.not_codes),
            expected_gaps=sorted(note.gaps & billing_gaps), predicted_gaps=sorted(set(gaps) & billing_gaps),
            fields=per_field,
        ))
    return Report(results, scores, confusion)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def table(report: Report) -> str:
    data = report.as_json()
    out = [
        f"notes: {data['notes']}, in scope (every expected code known to the packs): {data['in_scope']}",
        f"exact lines: in scope {_pct(data['exact_lines_in_scope'])}, all notes {_pct(data['exact_lines_all'])}",
        f"billing gaps agree (in scope): {_pct(data['gaps_agree_in_scope'])}",
        f"not_codes violations: {len(data['not_codes_violations'])}",
        "",
        "field          precision  recall   tp   fp   fn",
    ]
    for name, s in data["fields"].items():
        out.append(f"{name:<14} {_pct(s['precision']):>9}  {_pct(s['recall']):>6}  {s['tp']:>3}  {s['fp']:>3}  "
                   f"{s['fn']:>3}")
    out += ["", "confusion (expected -> predicted: notes' lines)"]
    out += [f"  {row['expected']:<7} -> {row['predicted']:<7} {row['count']}" for row in data["confusion"]]
    for item in data["not_codes_violations"]:
        out.append(f"VIOLATION {item['id']}: {', '.join(item['codes'])}")
    if data["misses"]:
        out += ["", "notes whose lines differ (expected | predicted)"]
        out += [f"  {m['id']}: {', '.join(m['expected']) or NONE} | {', '.join(m['predicted']) or NONE}"
                for m in data["misses"]]
    return "\n".join(out)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, help="corpus folder (e.g. tests/notes/corpus)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--packs", type=Path, help="rule pack folder (default: CDS_RULE_PACKS or ./cards)")


def build_pipeline(packs: Path | None = None) -> tuple[Pipeline, frozenset[str], frozenset[str]]:
    settings = Settings.from_env()
    if packs is not None:
        settings = settings.with_overrides(rule_packs_dir=packs)
    coder = build_coder(settings)
    book = coder.book
    billing = frozenset(gap.id for pack in book.packs for gap in pack.documentation if gap.billing)
    return Pipeline(settings, coder), known_codes(book), billing


def run(args: argparse.Namespace) -> int:
    try:
        notes = load_corpus(args.folder)
        pipeline, known, billing = build_pipeline(args.packs)
    except (CorpusError, PackError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    try:
        report = evaluate_notes(notes, pipeline, known, billing)
    finally:
        pipeline.executor.shutdown(wait=False)
    print(json.dumps(report.as_json(), indent=2) if args.format == "json" else table(report))
    return 0
