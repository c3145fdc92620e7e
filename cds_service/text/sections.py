"""Section headings at the start of a line, as a spaCy component: medspaCy's section rules and matcher.

medspaCy's sectionizer finds the headings with its MedspacyMatcher (about 15 microseconds for a 2 KB note) and
then writes a section onto every token of the note through spaCy's extension attributes, about 1 microsecond a
token (0.5 ms of a 2 KB note), which nothing here reads. This component runs the same matcher over the same
SectionRules and keeps what the reader needs: each section's category, heading and extent, as medspaCy's
sectionizer draws them (a heading runs to the next one; text before the first heading is in no section).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from medspacy.section_detection.util import NEWLINE_PATTERN, is_start_line
from spacy.language import Language
from spacy.tokens import Doc

KEY = "clinical_sections"  # doc.user_data key: the document's sections, in order


class Section(NamedTuple):
    category: str | None
    title_start: int  # token indexes
    title_end: int
    body_end: int

    @property
    def body_start(self) -> int:
        return self.title_end


class ClinicalSections:
    def __init__(self, nlp: Language):
        from medspacy.common.medspacy_matcher import MedspacyMatcher

        self.matcher = MedspacyMatcher(nlp, name="clinical_sections", phrase_matcher_attr="LOWER")
        self.newline = re.compile(NEWLINE_PATTERN)

    def add(self, rules) -> None:
        self.matcher.add(rules)

    def __call__(self, doc: Doc) -> Doc:
        headings = [(start, end, self.matcher.rule_map[doc.vocab.strings[match_id]].category)
                    for match_id, start, end in self.matcher(doc) if is_start_line(start, doc, self.newline)]
        sections = []
        if not headings or headings[0][0] > 0:
            sections.append(Section(None, 0, 0, headings[0][0] if headings else len(doc)))
        for i, (start, end, category) in enumerate(headings):
            sections.append(Section(category, start, end, headings[i + 1][0] if i + 1 < len(headings) else len(doc)))
        doc.user_data[KEY] = sections
        return doc


@Language.factory("clinical_sections")
def _clinical_sections(nlp, name):  # no annotations: spaCy's config system cannot resolve postponed ones
    return ClinicalSections(nlp)
