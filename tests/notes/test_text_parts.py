"""The pipeline's own parts, each against what it replaces: the gated concept matcher finds exactly what a regex
scan finds, the tokenizer keeps every character and spaCy's whitespace convention, and the section headings
are those medspaCy's sectionizer draws."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
import spacy
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cds_service.rules.concepts import book_rules
from cds_service.rules.packs import load_rule_book
from cds_service.text.gates import Gate, gates
from cds_service.text.pipeline import _Text, compile_rule
from cds_service.text.tokens import ClinicalTokenizer

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "notes" / "corpus"


@cache
def rules():
    return tuple(compile_rule(rule) for rule in book_rules(load_rule_book(ROOT / "cards").packs))


@cache
def notes() -> tuple[str, ...]:
    return tuple(yaml.safe_load(path.read_text(encoding="utf-8"))["note"] for path in sorted(CORPUS.rglob("*.yaml")))


def scanned(rule, text: str) -> list[tuple[int, int]]:
    """What the matcher must find: every non-empty match of a plain scan."""
    return [(m.start(), m.end()) for m in rule.regex.finditer(text) if m.end() > m.start()]


def gated(rule, text: str) -> list[tuple[int, int]]:
    return list(_Text(text).matches(rule))


def test_most_pack_rules_have_a_shortcut():
    """The point of the gates: a rule without one scans every character of every note."""
    without = [r.regex.pattern for r in rules() if r.gates.starts is None and r.gates.needs is None]
    assert len(without) <= len(rules()) // 20, without


@pytest.mark.parametrize("case", [str, str.swapcase])
def test_gated_matches_are_a_scans_matches_on_every_corpus_note(case):
    for note in notes():
        text = case(note).replace("\r", " ").replace("\n", " ")
        for rule in rules():
            assert gated(rule, text) == scanned(rule, text), (rule.label, rule.regex.pattern, note[:60])


PATTERNS = [r"\bcath(eter)?s?\b", r"(?-i:\bR\b)(?!/)", r"(?<!no )\b\d+(?:\.\d+)?\s*(ml|l)\b", r"\b(an?|one) liter",
            r"^(?!.*\bnot\b).*?\bremoved\b", r"[- ]?guided", r"\b(t-?pa|dnase)\b", r"(?-i:\b(R|Rt) (and|&) (L|Lt)\b)",
            r"(x|y)?z", r"\bleft\b(?! in)", r"(?i:US)\b", r"(?-i:US)"]
WORDS = st.sampled_from(["catheter", "caths", "R", "r", "Rt", "L", "Lt", "and", "&", "1.5", "10", "ml", "L", "a",
                         "an", "one", "liter", "not", "removed", "guided", "-", "t-pa", "tPA", "DNase", "x", "z", "xz",
                         "left", "in", "US", "us", "no", "\n", ".", "ß", "İ"])


@settings(max_examples=300, deadline=None)
@given(st.lists(WORDS, max_size=30), st.sampled_from([" ", "", "  "]))
def test_gated_matches_are_a_scans_matches_on_any_text(words, joiner):
    text = joiner.join(words)
    for pattern in PATTERNS:
        rule = compile_rule(type("R", (), {"label": "x", "pattern": pattern})())
        assert gated(rule, text) == scanned(rule, text), (pattern, text)


def starts(pattern: str) -> set[tuple[str, bool]] | None:
    found = gates(pattern).starts
    return None if found is None else {(gate.text, gate.case_sensitive) for gate in found}


def test_gates_read_starts_and_needed_words_from_the_pattern():
    assert starts(r"\bcatheter\b") == {("cathe", False)}
    assert gates(r"\bcatheter\b").starts == {Gate("cathe", False, "cathe")}  # a word must begin "cathe"
    assert starts(r"(?-i:\bR\b)") == {("R", True)}  # case-sensitive: searched as written
    assert starts(r"\b\d+\s*ml") == {(d, False) for d in "0123456789"}
    assert starts(r"(?<!not )\b(removed|pulled)\b") == {("remov", False), ("pulle", False)}
    assert starts(r"\b(x|y)\b") == {("x", False), ("y", False)}  # one letter: at word starts only
    assert gates(r"\b(x|y)\b").word_start
    assert starts(r"(x|y)z") == {("xz", False), ("yz", False)}
    assert starts(r"(x|y)?z") is None  # one letter anywhere: no shortcut
    found = gates(r"^(?!.*\bnot\b).*?\b(removed|withdrawn)\b")
    assert found.starts is None and found.needs == {"removed", "withdrawn"}
    assert starts(r"(unclosed") is None  # not a pattern: no shortcut, no error


@cache
def tokenizer() -> ClinicalTokenizer:
    return ClinicalTokenizer(spacy.blank("en").vocab)


def test_tokens_keep_every_character_and_spacys_whitespace_convention():
    text = "  Right thoracentesis:\n\n 1.5 L removed (e.g. via c/o) .\tDone \n"
    doc = tokenizer()(text)
    assert doc.text == text
    assert [t.text for t in doc] == ["  ", "Right", "thoracentesis", ":", "\n\n ", "1.5", "L", "removed", "(", "e.g.",
                                     "via", "c", "/", "o", ")", ".", "\t", "Done", "\n"]
    assert [t.whitespace_ for t in doc][:3] == ["", " ", ""]
    assert doc[-2].whitespace_ == " "  # one space after a token is its own; the line break is a token


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("aZ1.,:/- \n\t\r()[]ßé☒")), max_size=60))
def test_tokens_round_trip_any_text(text):
    doc = tokenizer()(text)
    assert doc.text == text
    assert all(t.text for t in doc)


def test_sections_are_those_medspacys_sectionizer_draws():
    import medspacy  # noqa: F401  (registers medspaCy's factories)
    from medspacy.section_detection import SectionRule

    from cds_service.text.sections import KEY

    text = ("Patient seen.\nIndication: effusion\nProcedure:\nTap done. Indication: repeated inline\n"
            "[Plan]\nFollow up.\nComplications - none")
    headings = [SectionRule(h, c) for c, p in (("indication", "indication"), ("procedure", "procedure"),
                                              ("plan", "plan"), ("complications", "complications"))
                for h in (f"{p}:", f"[{p}]", f"{p} -")]
    ours, theirs = spacy.blank("en"), spacy.blank("en")
    for nlp in (ours, theirs):
        nlp.tokenizer = ClinicalTokenizer(nlp.vocab)
    ours.add_pipe("clinical_sections").add(headings)
    theirs.add_pipe("medspacy_sectionizer", config={"rules": None, "require_start_line": True}).add(headings)
    drawn = ours(text).user_data[KEY]
    expected = [(s.category, s.title_start, s.title_end, s.body_end) for s in theirs(text)._.sections]
    assert [tuple(s) for s in drawn] == expected
    assert [s.category for s in drawn] == [None, "indication", "procedure", "plan", "complications"]
    assert not re.search("inline", " ".join(str(s) for s in drawn))


@pytest.mark.parametrize("text", [
    "Right thoracentesis. No imaging; catheter left in place to a drainage bag.",
    "Right thoracentesis. No imaging, catheter left in place to a drainage bag.",
    "Right thoracentesis without ultrasound but the catheter was left in place to a drainage bag.",
])
def test_a_negation_stops_at_a_terminator(text):
    """ConText ends a scope at a terminator only if it sees the two scopes overlap; its test misses a scope that
    holds the other, so a terminator's own scope is kept small (with the sentence as its scope, the negation of
    the imaging ran on to the catheter)."""
    from cds_service.coding import build_coder
    from cds_service.config import Settings

    reader = build_coder(Settings()).book.reader
    stayed = [m for m in reader.read(text) if "|stayed|" in m.label]
    assert stayed and all(not m.negated for m in stayed), stayed
