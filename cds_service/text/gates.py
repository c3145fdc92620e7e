"""What a regex needs from a text before it can match: read from the pattern once, at start-up.

A concept rule runs over every note. Most rules can only match where one of a few strings starts ("catheter",
"pigtail", a digit, a capital R), and some only when the note contains one of a few words anywhere. Finding
those strings first (str.find, in C) and trying the regex only there is exact and costs a fraction of a scan:
a rule that begins with lookbehinds is otherwise tried at every character of the note.

Read from Python's own regex parser (re._parser, Python 3.11+). Anything this module does not understand
makes it answer None ("no shortcut"), never a wrong shortcut.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from re import _constants as c
from re import _parser
from typing import NamedTuple

MAX_PREFIXES = 64  # more alternatives than this and the string searches cost more than the scan
START_CHARS = 5  # characters of a start worth knowing: longer ones multiply the strings to look for
NEED_CHARS = 12  # of a needed word: a long word must not shrink to a stem that every note of its family holds
DIGITS = tuple("0123456789")
ZERO_WIDTH = (c.AT, c.ASSERT, c.ASSERT_NOT)


class Gate(NamedTuple):  # a tuple: hashed in C, once per rule and document
    text: str  # lower case unless case_sensitive
    case_sensitive: bool
    head: str = ""  # its first word characters (at most START_CHARS), lower case: how a word it starts begins


@dataclass(frozen=True)
class Gates:
    starts: frozenset[Gate] | None  # every match starts with one of these; None: unknown
    word_start: bool  # the pattern begins with \b: a one-letter start must begin a word
    needs: frozenset[str] | None  # the text (lower case) contains one of these wherever it matches; None: unknown


# A prefix while it is built: (characters, case-sensitive, complete: the item matched exactly these characters
# so the next item extends the prefix).
_Prefix = tuple[str, bool, bool]


def _join(heads: set[_Prefix], tails: set[_Prefix], limit: int) -> set[_Prefix]:
    joined = set()
    for head, head_cs, open_ in heads:
        if not open_ or len(head) >= limit:
            joined.add((head, head_cs, False))
            continue
        for tail, tail_cs, tail_open in tails:
            joined.add((head + tail, (head_cs or not head) and (tail_cs or not tail), tail_open))
    return joined


def _sequence(items, case_sensitive: bool, limit: int) -> set[_Prefix] | None:
    prefixes: set[_Prefix] = {("", case_sensitive, True)}
    for op, arg in items:
        if not any(open_ for _, _, open_ in prefixes):
            break
        step = _item(op, arg, case_sensitive, limit)
        if step is None:
            return None
        joined = _join(prefixes, step, limit)
        if len(joined) > MAX_PREFIXES:  # too many ways on: the prefixes so far are enough
            return {(text, cs, False) for text, cs, _ in prefixes}
        prefixes = joined
    return prefixes


def _item(op, arg, cs: bool, limit: int) -> set[_Prefix] | None:
    """The prefixes of one parsed item (None when unknown)."""
    if op in ZERO_WIDTH:
        return {("", cs, True)}
    if op is c.LITERAL:
        return {(chr(arg), cs, True)}
    if op is c.IN:
        chars: list[str] = []
        for kind, value in arg:
            if kind is c.LITERAL:
                chars.append(chr(value))
            elif kind is c.CATEGORY and value is c.CATEGORY_DIGIT:
                chars.extend(DIGITS)
            else:
                return {("", cs, False)}  # a negated or wide class: the prefix ends before it
        return {(ch, cs, True) for ch in chars}
    if op is c.SUBPATTERN:
        _, add_flags, del_flags, items = arg
        inner = cs
        if add_flags & re.IGNORECASE:
            inner = False
        if del_flags & re.IGNORECASE:
            inner = True
        return _sequence(items, inner, limit)
    if op is c.BRANCH:
        found: set[_Prefix] = set()
        for branch in arg[1]:
            sub = _sequence(branch, cs, limit)
            if sub is None:
                return None
            found |= sub
        return found
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
        low, high, items = arg
        sub = _sequence(items, cs, limit)
        if sub is None:
            return None
        once = sub if high == 1 else {(text, s, False) for text, s, _ in sub}  # more repeats may follow
        return once if low >= 1 else once | {("", cs, True)}
    return {("", cs, False)}  # any character, a back reference...: the prefix ends here


def _useful(prefixes: set[_Prefix], word_start: bool) -> frozenset[Gate] | None:
    """The prefixes as gates, when every one narrows the search (a lower-case letter alone only at a word
    start: "a", "t" occur everywhere)."""
    gates = set()
    for text, cs, _ in prefixes:
        if not text:
            return None
        if len(text) == 1 and not (text.isdigit() or (cs and not text.islower()) or word_start):
            return None
        gates.add(Gate(text if cs else text.lower(), cs, _head(text)))
    # "R" finds every "R and L" too: keep the shortest of prefixes that extend one another.
    kept: list[Gate] = []
    for gate in sorted(gates, key=lambda g: len(g.text)):
        if not any(gate.text.lower().startswith(k.text) if not k.case_sensitive else gate.text.startswith(k.text)
                   and gate.case_sensitive for k in kept):
            kept.append(gate)
    return frozenset(kept)


def _head(text: str) -> str:
    return re.match(r"\w*", text.lower()).group()[:START_CHARS]


def _needs(items) -> frozenset[str] | None:
    """Words of three letters or more one of which any match contains: what follows a top-level item that
    always consumes, when every way it can start is such a word ("^(?!...).*?\\b(sutured|secured)\\b")."""
    for i, (op, _) in enumerate(items):
        if op in ZERO_WIDTH or op in (c.MAX_REPEAT, c.MIN_REPEAT):
            continue  # consumes nothing, or maybe nothing
        prefixes = _sequence(items[i:], False, NEED_CHARS)
        if prefixes and all(len(text) >= 3 for text, _, _ in prefixes):
            return frozenset(text.lower() for text, _, _ in prefixes)
    return None


def gates(pattern: str, flags: int = re.IGNORECASE) -> Gates:
    """The gates of `pattern` compiled with `flags` (case-insensitive unless a group turns it off)."""
    try:
        parsed = list(_parser.parse(pattern, flags))
    except Exception:  # a shortcut only: without it the rule scans the whole text
        return Gates(None, False, None)
    if parsed and parsed[0][0] is c.AT and parsed[0][1] is c.AT_BEGINNING:
        return Gates(None, False, _needs(parsed))  # matches only at the start: one try, if the words are there
    word_start = bool(parsed) and parsed[0] == (c.AT, c.AT_BOUNDARY)
    if not word_start and parsed and parsed[0][0] is c.SUBPATTERN:
        inner = parsed[0][1][-1]
        word_start = bool(inner) and inner[0] == (c.AT, c.AT_BOUNDARY)
    prefixes = _sequence(parsed, not flags & re.IGNORECASE, START_CHARS)
    starts = _useful(prefixes, word_start) if prefixes is not None else None
    return Gates(starts, word_start, None if starts else _needs(parsed))
