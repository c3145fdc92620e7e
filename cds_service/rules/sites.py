"""The site dimension of a pack: which sites a subject names, with side and digit.

Sites come from each bodySite entry (codes, then its text), else from the code text, else from the
subject's own notes. Text is cut into phrases at the pack's `phrase_boundary`; a phrase names at most one
site (the first in pack order, so specific sites are listed before general ones), and its side and digit
words are read inside the same phrase. Everything family-specific is pack data.
"""

from __future__ import annotations

import re

from ..evidence.facts import ActFacts
from ..evidence.values import SNOMED, codings, concept_text, listed
from ..text.checkboxes import unbox
from .model import BILATERAL, LEFT, RIGHT, SiteChoice
from .packs import DigitSpec, RulePack, SiteSpec
from .reading import NoteReadings

# Sentences of a note (a decimal point is no sentence end).
_SENTENCE_END = re.compile(r"(?<!\d)[.!?](?!\d)\s*|[;\n]+")


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text) if s.strip()]


def _side_in(pack: RulePack, codes: set[str], text: str) -> str | None:
    found = set()
    for side, spec in pack.sides.items():
        if codes & spec.snomed or (text and spec.text.search(text)):
            found.add(side)
    if BILATERAL in found or {RIGHT, LEFT} <= found:
        return BILATERAL
    return next((side for side in (RIGHT, LEFT) if side in found), None)


def _digit_in(pack: RulePack, site: SiteSpec, codes: set[str], text: str) -> DigitSpec | None:
    if site.digits is None:
        return None
    for digit in pack.digits:
        if digit.group != site.digits:
            continue
        if codes & digit.recognise.snomed or (text and digit.recognise.text.search(text)):
            return digit
    return None


def text_sites(pack: RulePack, text: str, where: str) -> list[SiteChoice]:
    """Sites named in `text`, one per phrase, each with the side and digit of its own phrase."""
    found = []
    phrases = pack.site_boundary.split(text) if pack.site_boundary else [text]
    for phrase in phrases:
        for site in pack.sites:
            excerpt = site.recognise.text.search(phrase) if site.recognise.text else None
            if excerpt:
                side = _side_in(pack, set(), phrase) or site.side
                found.append(SiteChoice(site, side, _digit_in(pack, site, set(), phrase),
                                        f"\"{phrase.strip()[:80]}\" in {where}"))
                break
    return found


def _entry_sites(pack: RulePack, entry: dict) -> list[SiteChoice]:
    codes = {c.code for c in codings(entry) if c.system == SNOMED}
    text = concept_text(entry)
    for site in pack.sites:
        hit = codes & site.recognise.snomed
        if hit:
            side = _side_in(pack, codes, text) or site.side
            return [SiteChoice(site, side, _digit_in(pack, site, codes, text), f"bodySite code {min(hit)}")]
    return text_sites(pack, text, "the bodySite text") if text else []


def _unique(choices: list[SiteChoice]) -> list[SiteChoice]:
    """One choice per (site, side, digit); a site named without a side is dropped when it is named with one."""
    seen: dict[tuple, SiteChoice] = {}
    for choice in choices:
        key = (choice.site.id, choice.side, choice.digit.label if choice.digit else None)
        seen.setdefault(key, choice)
    sided = {key[0] for key in seen if key[1] is not None}
    return [c for key, c in seen.items() if key[1] is not None or key[0] not in sided]


def names_site_of(pack: RulePack, sentence: str, choices: list[SiteChoice]) -> bool:
    """Whether `sentence` names one of `choices` (same site; its side, both sides, or no side; its digit, or
    none named)."""
    for named in text_sites(pack, sentence, ""):
        for choice in choices:
            if named.site.id == choice.site.id and named.side in (None, BILATERAL, choice.side) and (
                    named.digit is None or choice.digit is None or named.digit is choice.digit):
                return True
    return False


def _note_sites(pack: RulePack, act: ActFacts, readings: NoteReadings | None, acted: bool = True
                ) -> list[SiteChoice]:
    """Sites from the procedure's own notes (in a note shared by several procedures, in the stretch the text
    pipeline attributed to this one); with `acted`, only in sentences that say what was done there (the pack's
    note_action words) or that head the procedure's stretch, not the history the note also tells."""
    reading = readings.reading(act, pack) if readings is not None else None
    choices: list[SiteChoice] = []
    for note in act.texts:
        region = reading.regions.get(note.source) if reading is not None else None
        if note.shared and region is None:
            continue
        text = unbox(note.text)  # an unchecked template box names no site; offsets kept
        offset = 0
        for sentence in sentences(text):
            start = text.find(sentence, offset)
            offset = start + len(sentence) if start >= 0 else offset
            if region is not None and not (start < region[1] and region[0] < start + len(sentence)):
                continue
            # the head of this procedure's account ("Right: ...") names its site without an action word
            head = region is not None and start <= region[0] < start + len(sentence)
            if acted and not head and pack.site_note_action is not None and not pack.site_note_action.search(sentence):
                continue
            found = text_sites(pack, sentence, note.source)
            if readings is not None and start >= 0:  # ConText: not a negated, planned or past site
                span = (start, start + len(sentence))
                found = [c for c in found if not readings.only_unaffirmed(note, pack, "site", c.site.id, span)]
            choices.extend(found)
    return choices


def _completed(choice: SiteChoice, named: list[SiteChoice]) -> SiteChoice:
    """A site from bodySite or the code text, with the side and digit the note says for that site when the
    coded one lacks them and the note names only one."""
    same = [n for n in named if n.site.id == choice.site.id]
    side, digit = choice.side, choice.digit
    if side is None:
        sides = {n.side for n in same if n.side}
        side = sides.pop() if len(sides) == 1 else None
    if digit is None and choice.site.digits is not None:
        digits = {n.digit.label: n.digit for n in same if n.digit and n.side in (None, side)}
        digit = next(iter(digits.values())) if len(digits) == 1 else None
    if (side, digit) == (choice.side, choice.digit):
        return choice
    return SiteChoice(choice.site, side, digit, choice.why + "; side and digit from the note")


def sites_of(pack: RulePack, act: ActFacts, act_side: str | None,
             readings: NoteReadings | None = None, note_side: str | None = None) -> list[SiteChoice]:
    """The subject's sites. `act_side`: a side recorded apart from the site (bodySite); `note_side`: the side
    the note says as a whole, used only when the note names no side for the site itself."""
    if not pack.sites:
        return []
    choices = [c for entry in listed(act.resource, "bodySite") if isinstance(entry, dict)
               for c in _entry_sites(pack, entry)]
    if not choices and act.code_text:
        choices = text_sites(pack, act.code_text, f"the code text of {act.key}")
    if not choices:
        choices = _on_side(_note_sites(pack, act, readings), note_side)
    choices = _unique(choices)
    if act_side is not None and len(choices) == 1 and choices[0].side is None:
        # a side recorded apart from the site (a laterality qualifier in another bodySite entry, the note)
        only = choices[0]
        choices = [SiteChoice(only.site, act_side, only.digit, only.why)]
    if any(_incomplete(c) for c in choices):
        # A coded site the note's action sentences name several times, each complete ("the 2nd and 3rd MTP
        # injected"): those are the sites; else the side and digit any sentence gives that site.
        done = _unique([n for n in _note_sites(pack, act, readings) if not _incomplete(n)])
        done = _on_side(done, note_side)
        if len(choices) == 1 and len(done) > 1 and all(n.site.id == choices[0].site.id for n in done):
            return done
        named = _note_sites(pack, act, readings, acted=False)  # the site is known: any sentence naming it
        choices = _unique([_completed(c, named) for c in choices])
    if note_side is not None and len(choices) == 1 and choices[0].side is None:
        only = choices[0]
        choices = [SiteChoice(only.site, note_side, only.digit, only.why)]
    return choices


def _on_side(choices: list[SiteChoice], note_side: str | None) -> list[SiteChoice]:
    """With one side read from the procedure's own phrase, the sites on that side (or sideless): the other
    side's joint named in the exam or history ("Right: small effusion") is not a second site."""
    if note_side not in (RIGHT, LEFT):
        return choices
    kept = [c for c in choices if c.side in (note_side, BILATERAL, None)]
    return kept or choices


def _incomplete(choice: SiteChoice) -> bool:
    return choice.side is None or (choice.site.digits is not None and choice.digit is None)
