"""Template checkboxes: "[ ] Left in place [x] Removed", "Side: ☐ R ☑ L", "( ) yes (x) no".

An unchecked box's label is not something the note says, so it is blanked before reading; a checked box's
mark is blanked and its label kept. Blanking keeps every offset (evidence still points into the note).
"""

from __future__ import annotations

import re

_MARKS = "[]()☐☑☒□■✓✔"
_UNCHECKED = r"\[\s?\]|\(\s?\)|☐|□"
_CHECKED = r"\[\s?[xX✓✔]\s?\]|\(\s?[xX✓✔]\s?\)|☑|☒|■"
# An unchecked box and its label: up to the next box or the end of the line.
_UNCHECKED_FIELD = re.compile(rf"(?:{_UNCHECKED})(?:(?!{_UNCHECKED}|{_CHECKED})[^\n])*")
_CHECKED_BOX = re.compile(_CHECKED)


def _blank(found: re.Match) -> str:
    return " " * (found.end() - found.start())


def unbox(text: str) -> str:
    """`text` with unchecked boxes and their labels, and checked boxes' marks, blanked (same length)."""
    if not any(mark in text for mark in _MARKS):
        return text
    return _CHECKED_BOX.sub(_blank, _UNCHECKED_FIELD.sub(_blank, text))
