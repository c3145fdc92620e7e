"""Misspelt words read as the packs' vocabulary ("Cathter removd" is read "catheter removed"), offsets kept.

A word of four letters or more that is not in the vocabulary and is one edit (insertion, deletion,
substitution or swap of two neighbours) away from exactly one vocabulary word with the same first letter, and
is not that word with a letter more or less at its end ("image", "sutures"), is read as that word. The
corrected text is what the pipeline reads; `offsets` maps each of its characters back to the note, so quotes
and highlights are the note's own words.
"""

from __future__ import annotations

import re
from collections import defaultdict

WORD = re.compile(r"[A-Za-z]{4,}")
MIN_VOCABULARY_WORD = 4


def one_edit(a: str, b: str) -> bool:
    """Optimal string alignment distance of exactly one (a != b)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long[i]:
        i += 1
    return short[i:] == long[i + 1:]


class Speller:
    def __init__(self, vocabulary: tuple[str, ...]):
        self.words = frozenset(w.lower() for w in vocabulary if len(w) >= MIN_VOCABULARY_WORD and w.isalpha())
        self._by_start: dict[tuple[str, int], list[str]] = defaultdict(list)
        for word in self.words:
            for length in (len(word) - 1, len(word), len(word) + 1):
                self._by_start[(word[0], length)].append(word)
        self._cache: dict[str, str | None] = {}

    def __bool__(self) -> bool:
        return bool(self.words)

    def suggestion(self, token: str) -> str | None:
        lower = token.lower()
        if lower in self.words:
            return None
        if lower not in self._cache:
            # "image" or "sutures" are words of their own, not misspellings of "images" or "sutured"
            found = [w for w in self._by_start.get((lower[0], len(lower)), ())
                     if one_edit(lower, w) and not (w.startswith(lower) or lower.startswith(w))]
            self._cache[lower] = found[0] if len(found) == 1 else None
            if len(self._cache) > 50_000:  # bounded memory for a long-lived worker
                self._cache.clear()
        return self._cache[lower]

    def correct(self, text: str) -> tuple[str, list[int] | None]:
        """(text with misspellings replaced, offsets into `text` per character plus one past the end), or the
        text itself and None when nothing was replaced."""
        if not self.words:
            return text, None
        parts: list[str] = []
        offsets: list[int] = []
        last = 0
        for found in WORD.finditer(text):
            word = self.suggestion(found.group(0))
            if word is None:
                continue
            a, b = found.span()
            parts.append(text[last:a])
            offsets.extend(range(last, a))
            if found.group(0)[0].isupper():
                word = word[0].upper() + word[1:]
            parts.append(word)
            offsets.extend(a + min(j, b - a - 1) for j in range(len(word)))
            last = b
        if not parts:
            return text, None
        parts.append(text[last:])
        offsets.extend(range(last, len(text) + 1))
        return "".join(parts), offsets
