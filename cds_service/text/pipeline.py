"""The clinical text pipeline: medspaCy on a blank English spaCy pipeline, built once per worker.

clinical tokens (tokens.py) -> clinical_sentences (sentences.py) -> concept matcher (the packs' concepts as
regex target rules) -> ConText (medspaCy's, with language.CONTEXT) -> section headings (sections.py:
medspaCy's section rules and matcher, language.SECTIONS). Every mention keeps its offsets, its sentence and
its modifiers, so that a card can quote the sentence and an EHR can highlight the words.

The concept matcher does what medspaCy's TargetMatcher does with regex rules (a span per match, in a span
group that ConText and the sectionizer read), at a tenth of the cost: medspaCy's RegexMatcher rebuilds the
document text for every rule (about 35 microseconds per rule for a 2 KB note) and runs every rule over it;
here the text is read once and a rule is tried only where the strings its matches start with occur (gates.py).
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import lru_cache

from spacy.attrs import IDX
from spacy.language import Language
from spacy.tokens import Doc, Span

from .checkboxes import unbox
from .gates import START_CHARS, Gate, Gates, gates
from .language import CONTEXT, HISTORICAL_SECTIONS, HYPOTHETICAL_SECTIONS, PAST_TIMES, SECTIONS
from .quiet import silence_libraries
from .sections import KEY as SECTIONS_KEY  # also registers clinical_sections
from .spelling import Speller
from .tokens import TEXT, ClinicalTokenizer

GROUP = "concepts"
WORDS = re.compile(r"\w+")
LABELS = "concept_labels"  # doc.user_data key: (first token, end token) -> the concept labels of that span
CONTEXT_SCOPE = 6
BACKWARD_SCOPE = 2  # "ultrasound was not used": a trailing modifier is about the words just before it
# ...but a time in the past closes its clause: "the joint was injected with 40 mg about three months ago".


@dataclass(frozen=True)
class ConceptRule:
    """One target rule: a concept label (opaque to the pipeline) and a regex (case-insensitive)."""

    label: str
    pattern: str


@dataclass(frozen=True)
class Mention:
    label: str
    start: int  # character offsets into the text read
    end: int
    text: str
    sentence_start: int
    sentence_end: int
    section: str | None
    negated: bool = False
    hypothetical: bool = False
    historical: bool = False
    family: bool = False
    uncertain: bool = False

    @property
    def affirmed(self) -> bool:
        """Something the note says was done or is so (not negated, planned, past, a relative's, or doubted)."""
        return not (self.negated or self.hypothetical or self.historical or self.family or self.uncertain)

    @property
    def asserted(self) -> bool:
        """About this act, possibly as a negative statement ("no complications"), not planned or past."""
        return not (self.hypothetical or self.historical or self.family)


@dataclass(frozen=True)
class _Compiled:
    label: str
    regex: re.Pattern
    gates: Gates


def compile_rule(rule: ConceptRule) -> _Compiled:
    return _Compiled(rule.label, re.compile(rule.pattern, re.IGNORECASE), gates(rule.pattern))


class ConceptMatcher:
    """Regex target rules over the document text, as spans in the span group ConText reads. `only` (set by
    TextReader under its lock) restricts a run to the rules whose label starts with it (one pack's)."""

    def __init__(self, rules: tuple[ConceptRule, ...]):
        self.rules = tuple(compile_rule(rule) for rule in rules)
        self.only: str | None = None
        self._selected: dict[str | None, tuple[_Compiled, ...]] = {}

    def selected(self) -> tuple[_Compiled, ...]:
        if self.only not in self._selected:
            self._selected[self.only] = tuple(rule for rule in self.rules
                                              if self.only is None or rule.label.startswith(self.only))
        return self._selected[self.only]

    def __call__(self, doc: Doc) -> Doc:
        # Notes wrap lines mid-phrase ("not enough to\ndrain"): rules read line breaks as spaces (same offsets).
        text = _Text(text_of(doc).replace("\r", " ").replace("\n", " "))
        starts = doc.to_array([IDX]).tolist()  # doc.char_span costs ~0.5 ms a call here: bisect instead
        # One span per stretch of tokens, however many concepts (of however many packs) match it: ConText
        # compares every modifier with every span, and the concepts of one stretch share its modifiers.
        labels: dict[tuple[int, int], list[str]] = {}
        for rule in self.selected():
            for start, end in text.matches(rule):
                first = bisect_right(starts, start) - 1  # the token holding the first character
                last = bisect_left(starts, end)  # the first token starting at or after the end
                if 0 <= first < last:
                    found = labels.setdefault((first, last), [])
                    if rule.label not in found:
                        found.append(rule.label)
        doc.spans[GROUP] = [Span(doc, first, last, label=found[0]) for (first, last), found in labels.items()]
        doc.user_data[LABELS] = labels
        return doc


class _Text:
    """One document's text as the rules read it, with the places of the strings rules start with (each found
    once per document: many rules share "catheter" or a digit)."""

    def __init__(self, text: str):
        self.text = text
        self.lower = text.lower()
        self.anchored = len(self.lower) == len(text)  # lower() keeps offsets for all but a few non-ASCII letters
        self._found: dict[Gate, list[int]] = {}
        # How every word of the text begins (up to START_CHARS letters): a rule that starts at a word boundary
        # need not look for a start no word begins with (most starts, most notes; a set lookup, not a scan).
        self.word_heads = {word[:size] for word in set(WORDS.findall(self.lower)) for size in range(1, START_CHARS + 1)}

    def places(self, gate: Gate) -> list[int]:
        if gate not in self._found:
            haystack = self.text if gate.case_sensitive else self.lower
            found = []
            at = haystack.find(gate.text)
            while at >= 0:
                found.append(at)
                at = haystack.find(gate.text, at + 1)
            self._found[gate] = found
        return self._found[gate]

    def matches(self, rule: _Compiled):
        """(start, end) of the rule's matches, as finditer would give them: tried only where the strings every
        match starts with occur, and only in texts holding a word every match needs."""
        text, gated = self.text, rule.gates
        if gated.needs is not None and not any(word in self.lower for word in gated.needs):
            return
        if gated.starts is None or not self.anchored:
            for found in rule.regex.finditer(text):
                if found.end() > found.start():
                    yield found.start(), found.end()
            return
        positions: set[int] = set()
        for gate in gated.starts:
            if gated.word_start and gate.head and gate.head not in self.word_heads:
                continue
            places = self.places(gate)
            if gated.word_start and len(gate.text) == 1 and _word(gate.text):
                places = [at for at in places if at == 0 or not _word(text[at - 1])]
            positions.update(places)
        last_end = -1
        for at in sorted(positions):
            if at < last_end:
                continue
            found = rule.regex.match(text, at)
            if found and found.end() > found.start():
                last_end = found.end()
                yield found.start(), found.end()


def _word(char: str) -> bool:
    """What the regex \\w matches (str patterns): a letter or digit in Unicode, or the underscore."""
    return char.isalnum() or char == "_"


class TextReader:
    """Reads a text into Mentions of the given concept rules. Thread-safe: one per worker, shared."""

    def __init__(self, rules: tuple[ConceptRule, ...], vocabulary: tuple[str, ...] = ()):
        self.rules = rules
        self.speller = Speller(vocabulary)
        self.nlp = _pipeline(rules)
        # spaCy pipelines are not documented as thread-safe; gunicorn threads share this one.
        self._lock = threading.Lock()

    def read(self, text: str, only: str | None = None) -> list[Mention]:
        """The mentions of every concept in `text` (`only`: of the concepts whose label starts with it)."""
        if not text.strip():
            return []
        read, offsets = self.speller.correct(unbox(text))
        with self._lock:
            self.nlp.get_pipe("concept_matcher").only = only
            doc = self.nlp.make_doc(read)
            for name, component in self.nlp.pipeline:
                doc = component(doc)
                if name == "concept_matcher" and not doc.spans[GROUP]:
                    return []  # no mention: nothing for ConText or the sections to qualify
            spans = list(doc.spans.get(GROUP, ()))
            labels = doc.user_data.get(LABELS, {})
            graph = doc._.context_graph
            negations = [m.modifier_span for m in (graph.modifiers if graph else ())
                         if m.category == "NEGATED_EXISTENCE"]
            # ConText's edges and the sections, read once (span attributes cost ~4 us each)
            modified: dict[tuple[int, int], set[str]] = {}
            for target, modifier in graph.edges if graph else ():
                modified.setdefault((target.start, target.end), set()).add(modifier.category)
            sections = _field_sections(doc)
            sentence_of = _sentence_bounds(doc)
        section_starts = [start for start, _ in sections]
        found = []

        def at(i: int) -> int:  # an offset in `read` as an offset in `text`
            return i if offsets is None else offsets[i]

        for span in spans:
            # ConText leaves a modifier inside the target alone ("ultrasound was not used" as one mention).
            inner_negation = any(span.start <= a and b <= span.end for a, b in negations)
            index = bisect_right(section_starts, span.start) - 1
            section = sections[index][1] if index >= 0 else None
            categories = modified.get((span.start, span.end), set())
            sent_start, sent_end = sentence_of(span.start_char)
            start, end = at(span.start_char), at(span.end_char - 1) + 1
            flags = dict(
                negated="NEGATED_EXISTENCE" in categories or inner_negation,
                hypothetical="HYPOTHETICAL" in categories or section in HYPOTHETICAL_SECTIONS,
                historical="HISTORICAL" in categories or section in HISTORICAL_SECTIONS,
                family="FAMILY" in categories, uncertain="POSSIBLE_EXISTENCE" in categories,
            )
            found.extend(Mention(
                label=label, start=start, end=end, text=text[start:end],
                sentence_start=at(sent_start), sentence_end=at(sent_end - 1) + 1, section=section,
                **flags) for label in labels.get((span.start, span.end), [span.label_]))
        found.sort(key=lambda m: (m.start, -m.end))
        return found


def _field_sections(doc: Doc) -> list[tuple[int, str | None]]:
    """(first token, category) of each section. A heading with its value on the same line ("Indication: left
    effusion") is a one-line field: its section ends with the line (and any wrapped lower-case continuation),
    and what follows belongs to no section until the next heading (medspaCy runs each to the next heading)."""
    found: list[tuple[int, str | None]] = []
    text = text_of(doc)
    for section in doc.user_data[SECTIONS_KEY]:
        found.append((section.title_start, section.category))  # a heading's words are in its section
        if section.category is None or section.body_end <= section.body_start:
            continue
        title_end = doc[section.title_end - 1].idx + len(doc[section.title_end - 1].text)
        line_end = text.find("\n", title_end)
        if line_end < 0 or not text[title_end:line_end].strip():
            continue  # the heading is alone on its line: its section runs to the next heading
        while line_end + 1 < len(text) and text[line_end + 1:line_end + 2].islower():  # a wrapped value
            following = text.find("\n", line_end + 1)
            line_end = following if following >= 0 else len(text)
        after = next((t.i for t in doc[section.body_start:section.body_end] if t.idx > line_end), None)
        if after is not None:
            found.append((after, None))
    return found


def text_of(doc: Doc) -> str:
    return doc.user_data.get(TEXT) or doc.text


def _sentence_bounds(doc: Doc):
    """A function from a character offset to its sentence's (start, end) character offsets."""
    bounds = [(sent.start_char, sent.end_char) for sent in doc.sents]
    starts = [start for start, _ in bounds]

    def of(char: int) -> tuple[int, int]:
        return bounds[max(bisect_right(starts, char) - 1, 0)]

    return of


@lru_cache(maxsize=4)
def _pipeline(rules: tuple[ConceptRule, ...]):
    """Built once per distinct rule set (per worker; tests that load the same packs share it)."""
    silence_libraries()
    import medspacy  # noqa: F401  (registers the medspaCy factories)
    import spacy
    from medspacy.context import ConTextRule
    from medspacy.section_detection import SectionRule

    from . import sentences  # noqa: F401  (registers clinical_sentences)

    silence_libraries()  # again: importing PyRuSH installs loguru's handler
    nlp = spacy.blank("en")
    nlp.tokenizer = ClinicalTokenizer(nlp.vocab)
    nlp.add_pipe("clinical_sentences")
    nlp.add_pipe("concept_matcher").rules = tuple(compile_rule(rule) for rule in rules)
    # Our modifier rules only (language.CONTEXT, phrase-matched): medspaCy's defaults are token patterns with
    # regex predicates that cost about 1.5 ms per note here, and some do not fit procedure notes ("but" as a
    # negation).
    context = nlp.add_pipe("medspacy_context", config={
        "rules": None, "input_span_type": "group", "span_group_name": GROUP, "span_attrs": None})
    # Scope: the sentence, and at most CONTEXT_SCOPE tokens of it (dictation runs clauses into one sentence).
    context.add([ConTextRule(literal, category, direction=direction, max_scope=_scope(literal, direction))
                 for literal, category, direction in CONTEXT])
    # Headings as phrases at a line start (a phrase matcher): medspaCy's regex rules rebuild the document text
    # for every rule (about 0.3 ms each for 2 KB) and token patterns cost more still.
    nlp.add_pipe("clinical_sections").add([
        SectionRule(heading, category) for category, phrases in SECTIONS for phrase in phrases
        for heading in (f"{phrase}:", f"[{phrase}]", f"{phrase} -")])
    return nlp


def _scope(literal: str, direction: str) -> int:
    if direction == "TERMINATE":
        # A terminator ends a modifier's scope only when ConText finds the two scopes overlapping, and its
        # overlap test misses a scope inside the other: the terminator's own must be small ("no imaging; catheter
        # left in place": with the sentence as its scope, the negation ran on to the catheter).
        return 1
    return BACKWARD_SCOPE if direction == "BACKWARD" and literal not in PAST_TIMES else CONTEXT_SCOPE


@Language.factory("concept_matcher")
def _concept_matcher(nlp, name):  # no annotations: spaCy's config system cannot resolve postponed ones
    return ConceptMatcher(())  # rules are set after creation: regexes do not survive spaCy's config system
