"""Template checkboxes: "[ ] Left in place [x] Removed", "Side: ☐ R ☑ L", "Removed [x]  Left in place [ ]".

An unchecked box's label is not something the note says, so it is blanked before reading; a checked box's
mark is blanked and its label kept. A label follows its box (up to the next box, a wide gap or the next
"Field:"), unless the line ends with a box ("Left in place [ ]"): then each label precedes its box. A field
left blank ("Right: ___") is blanked too. Blanking keeps every offset (evidence still points into the note).
"""

from __future__ import annotations

import re

_MARKS = "[]()☐☑☒□■_"
_BOX = re.compile(r"(?P<off>\[\s?\]|\(\s?\)|☐|□)|\[\s?[xX✓✔]\s?\]|\(\s?[xX✓✔]\s?\)|☑|☒|■")
# Where a label ends in a line of several fields ("[ ] Right   Ultrasound: [x] yes"): a wide gap or the next
# field's "Name:".
_FIELD_GAP = re.compile(r"\s{3,}|\t|\s[A-Za-z][A-Za-z0-9 /-]{0,25}:")
# A field left blank ("Right: ___"): its label says nothing.
_UNFILLED = re.compile(r"(?:^\s*|(?<=\s\s)|(?<=\t))[A-Za-z][A-Za-z0-9/-]*(?: [A-Za-z0-9/-]+){0,3}:\s*_{2,}(?=\s|$)"
                       r"|(?<=\s)[A-Za-z][A-Za-z0-9/-]*:\s*_{2,}(?=\s|$)")


def _line(line: str) -> str:
    line = _UNFILLED.sub(lambda m: " " * len(m.group(0)), line)
    boxes = list(_BOX.finditer(line))
    if not boxes:
        return line
    chars = list(line)
    before = not line[boxes[-1].end():].strip()  # the line ends with a box: labels precede their boxes
    for i, box in enumerate(boxes):
        start, end = box.start(), box.end()
        if box.group("off") is not None:
            if before:  # the label runs back to the previous box or the line start
                start = boxes[i - 1].end() if i else 0
            else:  # the label runs on to the next box, the next field or the line end
                end = boxes[i + 1].start() if i + 1 < len(boxes) else len(line)
                gap = _FIELD_GAP.search(line, box.end() + 1, end)
                end = gap.start() if gap else end
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def unbox(text: str) -> str:
    """`text` with unchecked boxes and their labels, checked boxes' marks and blank fields' labels blanked (same
    length)."""
    if not any(mark in text for mark in _MARKS):
        return text
    return "\n".join(_line(line) for line in text.split("\n"))
