"""Tokens for clinical notes: words, numbers and single punctuation marks, as a spaCy tokenizer.

medspaCy's tokenizer (spaCy's, with every punctuation mark an infix) costs about 4 microseconds a token here,
1.4 ms for a 2 KB note, because spaCy caches a word's split only once the word is in the vocabulary, which a
blank pipeline never fills. Procedure notes need no more than this: the concept rules read the text itself, and
ConText, the sectionizer and the sentence splitter need words and punctuation apart ("c/o" as c / o, "R)" as
R and ")"), decimals whole ("1.5"), and dotted abbreviations whole ("e.g.") so that their periods end no
sentence. Whitespace follows spaCy's convention: one space after a token is its trailing whitespace, any
other run of whitespace is a token of its own.
"""

from __future__ import annotations

import re

from spacy.tokens import Doc
from spacy.vocab import Vocab

TEXT = "text"  # doc.user_data key: the text tokenized (spaCy rebuilds doc.text from the tokens at each call)
PIECES = re.compile(r"(?:[^\W\d_]\.){2,}|\d+(?:\.\d+)+|\w+|[^\w\s]|\s+")


class ClinicalTokenizer:
    def __init__(self, vocab: Vocab):
        self.vocab = vocab

    def __call__(self, text: str) -> Doc:
        words: list[str] = []
        spaces: list[bool] = []
        for piece in PIECES.findall(text):
            if piece[0].isspace():
                if words and piece[0] == " " and not spaces[-1]:
                    spaces[-1] = True
                    piece = piece[1:]
                    if not piece:
                        continue
            words.append(piece)
            spaces.append(False)
        doc = Doc(self.vocab, words=words, spaces=spaces)
        doc.user_data[TEXT] = text
        return doc
