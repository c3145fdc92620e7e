"""Sentence boundaries for clinical notes, as a spaCy component.

PyRuSH (medspaCy's default splitter) costs about 18 microseconds per character here (33 ms for a 1.8 KB
note, measured), far above the per-note budget, because its rule matcher (PyFastNER) is pure Python. These
rules cover what procedure notes need: line structure (bullets, headings, template fields), sentence-ending
punctuation, and dictation that wraps a sentence over lines in lower case.
"""

from __future__ import annotations

import numpy
from spacy.attrs import SENT_START
from spacy.language import Language
from spacy.tokens import Doc

ENDS = {".", "!", "?", ";"}
ABBREVIATIONS = {"dr", "mr", "mrs", "ms", "approx", "vs", "e.g", "i.e", "no", "pt", "st", "fr", "inc", "est"}
BULLETS = {"-", "*", "•", "+", "#", ">"}
# Speech recognition writes a dictated stop as the word "period" ("...would not store period the steroid was
# then injected"); the word after it starts a sentence, unless "period" is the noun: after one of these words,
# or before "of".
PERIOD_NOUN_AFTER = {"a", "an", "the", "this", "that", "each", "same", "short", "brief", "whole", "entire",
                     "observation", "recovery", "procedure", "waiting", "monitoring", "time", "refractory", "trial",
                     "follow", "up", "grace", "washout", "dwell", "clamp", "clamping", "postprocedure", "postoperative"}


def _newlines(text: str) -> int:
    return text.count("\n")


@Language.component("clinical_sentences")
def clinical_sentences(doc: Doc) -> Doc:
    # Decided in a list and written once: spaCy's per-token `is_sent_start` setter rescans the whole document
    # each time (quadratic: 0.6 s for a 64 KB text).
    starts = numpy.full(len(doc), -1, dtype="int64")
    previous = None
    for i, token in enumerate(doc):
        if i == 0:
            starts[0] = 1
            previous = token
            continue
        start = False
        gap = previous.whitespace_ + (previous.text if previous.is_space else "")
        if previous.is_space or "\n" in previous.whitespace_:
            breaks = _newlines(gap)
            # A wrapped line continues the sentence when it starts in lower case and the line before does not
            # end with punctuation; a blank line, a bullet or a capital starts a new one.
            ended = _last_word(doc, i)
            first = token.text[:1]
            start = breaks >= 2 or ended in ENDS or ended == ":" or not first.islower() or token.text in BULLETS
        elif previous.lower_ == "period" and previous.whitespace_ and i >= 2 and doc[i - 2].is_alpha \
                and doc[i - 2].lower_ not in PERIOD_NOUN_AFTER and token.is_alpha and token.lower_ != "of":
            start = True
        elif previous.text[-1:] in ENDS and previous.whitespace_:
            # "mL." or "L." can be one token: the period still ends the sentence unless it ends an abbreviation.
            word = (previous.text[:-1] if len(previous.text) > 1 else (doc[i - 2].text if i >= 2 else "")).lower()
            start = not token.text[:1].islower() and not (previous.text.endswith(".") and word in ABBREVIATIONS)
        if start and not token.is_space:
            starts[i] = 1
        previous = token
    if len(doc):
        doc.from_array([SENT_START], starts.view("uint64").reshape(-1, 1))  # spaCy reads attr_t (uint64)
    return doc


def _last_word(doc: Doc, i: int) -> str:
    """The last non-space token text before token i."""
    j = i - 1
    while j >= 0 and doc[j].is_space:
        j -= 1
    return doc[j].text[-1:] if j >= 0 else ""
