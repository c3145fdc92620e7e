"""Template checkboxes: "[ ] Left in place [x] Removed", "Side: ☐ R ☑ L", "Removed [x]  Left in place [ ]".

An unchecked box's label is not something the note says, so it is blanked before reading; a checked box's
mark is blanked and its label kept. A label follows its box, unless the line ends with a box ("Left in place
[ ]"): then each label precedes its box. Blanking keeps every offset (evidence still points into the note).
"""

from __future__ import annotations

import re

_MARKS = "[]()☐☑☒□■"
_BOX = re.compile(r"(?P<off>\[\s?\]|\(\s?\)|☐|□)|\[\s?[xX✓✔]\s?\]|\(\s?[xX✓✔]\s?\)|☑|☒|■")


def _line(line: str) -> str:
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
            else:  # the label runs on to the next box or the line end
                end = boxes[i + 1].start() if i + 1 < len(boxes) else len(line)
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def unbox(text: str) -> str:
    """`text` with unchecked boxes and their labels, and checked boxes' marks, blanked (same length)."""
    if not any(mark in text for mark in _MARKS):
        return text
    return "\n".join(_line(line) for line in text.split("\n"))
