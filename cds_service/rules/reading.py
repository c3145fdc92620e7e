"""What the notes say about each act: the text pipeline's mentions, tied to the act they describe, turned into
the fields the rules use (procedure, side, device fate, guidance claim, volume, complications, dry tap,
documentation), each with the sentence it came from.

Attribution: a note documenting one act gives it every mention. A note shared by several acts (its
`context.related`) is cut into segments, each opened by a sentence naming a procedure of the family (or
starting with a side, as in "Right: ..."); consecutive segments that agree are merged until there are as many
as acts, and segments go to the acts in order, the approach and side each states matching the act's codes and
bodySite. Text before the first segment (title, indication) is read by every act, at a lower weight for the
side. So a side, a fate or a volume is never given to two acts.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field, replace

from ..evidence.facts import ActFacts, Evidence
from ..evidence.notes import NoteText
from ..text.language import NOT_DONE_SECTIONS, SEGMENT_CUE
from ..text.pipeline import Mention, TextReader
from ..text.quantities import volume_ml as _volume_ml
from .concepts import label, parse_label
from .packs import RulePack

# "Attempt 1:", "Pass #2", "Site 2 -": a numbered account opens a segment too (with language.SEGMENT_CUE's
# "first", "second attempt").
NUMBERED_CUE = re.compile(r"[\W_]*(?:attempt|pass|try|site|puncture|stick)\s*(?:#|no\.?)?\s*\d\b", re.IGNORECASE)
QUOTE_LIMIT = 200
# "1,5 l", "0,8 litres": a comma before one or two digits is a decimal comma (a thousands comma has three).
DECIMAL_COMMA = re.compile(r"\b(\d+),(\d{1,2})(?!\d)")
LABEL_UNIT = re.compile(r"\((?P<u>ml|cc|l|liters?|litres?)\)\s*[:|=]?\s*(?P<n>\d+(?:\.\d+)?)\b", re.IGNORECASE)
# A correction appended to the note ("Addendum: ... should read LEFT"): what it says of the side wins.
ADDENDUM = re.compile(r"^[ \t\W]*(?:addendum|late entry|correction|amendment|corrected entry)\b",
                      re.IGNORECASE | re.MULTILINE)
# A discharge summary's narrative of the stay ("Hospital course: ... on day 2 the right-sided procedure was done"): the
# acts of this encounter, though its heading is read as history; only a past cue in the sentence makes one past.
# A procedure's own account opened by a title with a dash ("PROCEDURE NOTE — right, 10:15") inside an H&P's plan
# is read the same way.
COURSE = re.compile(r"^[ \t]*(?:(?:hospital|clinical|inpatient|ward|icu|ed) course\b[^\n:]{0,20}:|"
                    r"(?:procedure note|procedure|operative note|bedside procedure)[ \t]*[—–-])",
                    re.IGNORECASE | re.MULTILINE)
FUTURE_CUE = re.compile(r"\b(?:will|plan(?:s|ned)?|tomorrow|consider\w*|if|should|to be)\b", re.IGNORECASE)
HEADING = re.compile(r"^[ \t]*\[?[A-Za-z][\w /&-]{1,40}\]?[ \t]*:", re.MULTILINE)
PAST_CUE = re.compile(r"\b(?:ago|previous(?:ly)?|s/p|status post|history of|h/o|last (?:week|month|year)|in (?:"
                      r"january|february|march|april|may|june|july|august|september|october|november|december))\b",
                      re.IGNORECASE)
LOW_WEIGHT_SECTIONS = frozenset({"findings", "post-procedure", "impression", "complications"})
SIDE_LEAD = 12  # a side this close to a sentence's start heads it ("Right: 800 mL", "- L side")
CLAUSE_GAP = 4  # characters between a side and the volume it heads ("R 1 L")
NEAR = 30  # characters between a side word and a procedure's name that make them one phrase


@dataclass(frozen=True)
class TextEvidence:
    field: str
    value: object
    source: str  # "DocumentReference/x" or "Procedure/x note"
    quote: str  # the sentence, trimmed
    start: int  # offsets of `quote` in the decoded note
    end: int

    def as_json(self) -> dict | None:
        """The extension's evidence item; only text from a DocumentReference can be highlighted by offsets."""
        if not self.source.startswith("DocumentReference/"):
            return None
        item = {"field": self.field, "text": self.quote, "documentReference": self.source,
                "start": self.start, "end": self.end}
        if isinstance(self.value, bool | int | float | str):
            item["value"] = self.value
        return item

    @property
    def cited(self) -> str:
        where = self.source.removesuffix(" note")
        return f"\"{self.quote}\" ({where})"


@dataclass
class ActReading:
    procedure: str | None = None  # approach id named in the note
    procedure_evidence: TextEvidence | None = None
    other: TextEvidence | None = None  # a procedure the pack does not code
    side: TextEvidence | None = None
    fate: TextEvidence | None = None  # value "stayed" or "removed"
    fate_approach: str | None = None  # the approach the last "stayed" mention selects
    stayed: dict[str, TextEvidence] = field(default_factory=dict)  # approach id -> a "stayed" mention
    device: TextEvidence | None = None  # a device was inserted
    guidance: TextEvidence | None = None
    volume: TextEvidence | None = None
    complications: TextEvidence | None = None
    dry_tap: TextEvidence | None = None
    gaps: dict[str, TextEvidence] = field(default_factory=dict)
    # Said anywhere in a note the act shares (documentation counts for every act a note documents).
    note_volume: bool = False
    # In a note shared by several acts: the stretch of it (start, end) that this act's segment covers.
    regions: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def other_first(self) -> bool:
        """The note names first a procedure the pack does not code (and it is what was done)."""
        if self.other is None:
            return False
        return self.procedure_evidence is None or self.other.start < self.procedure_evidence.start

    @property
    def device_fate_missing(self) -> bool:
        return self.device is not None and self.fate is None

    def evidence(self) -> list[TextEvidence]:
        items = [self.procedure_evidence, self.side, self.fate, self.guidance, self.volume, self.complications,
                 self.dry_tap]
        return [item for item in items if item is not None]


def volume_ml(text: str) -> float | None:
    """The volume stated in `text` in mL, a decimal comma read as a decimal point, a unit in the field's label
    ("Volume removed (mL): 1100") read after the number."""
    text = LABEL_UNIT.sub(r"\g<n> \g<u>", DECIMAL_COMMA.sub(r"\1.\2", text))
    return _volume_ml(text)


def _course_spans(text: str) -> list[tuple[int, int]]:
    """The stretches of the text under a hospital-course heading (to the next heading)."""
    spans = []
    for found in COURSE.finditer(text):
        following = HEADING.search(text, found.end())
        spans.append((found.end(), following.start() if following else len(text)))
    return spans


def _in_course(mentions: list[Mention], text: str) -> list[Mention]:
    """Mentions in a hospital course or a procedure's titled account are of the acts done: not history or plan
    unless their sentence says past or planned."""
    spans = _course_spans(text)
    if not spans:
        return mentions
    out = []
    for m in mentions:
        if m.section in NOT_DONE_SECTIONS and any(a <= m.start < b for a, b in spans):
            past = bool(PAST_CUE.search(text, m.sentence_start, m.sentence_end))
            planned = bool(FUTURE_CUE.search(text, m.sentence_start, m.sentence_end))
            m = replace(m, section="procedure", historical=past, hypothetical=planned)
        out.append(m)
    return out


def _quote(text: str, mention: Mention) -> tuple[str, int, int]:
    start, end = mention.sentence_start, mention.sentence_end
    while start < end and text[start] in " \t\r\n-*•#>[":
        start += 1
    while end > start and text[end - 1] in " \t\r\n":
        end -= 1
    if end - start > QUOTE_LIMIT:  # a run-on sentence (dictation): the words around the mention
        start = max(start, mention.start - QUOTE_LIMIT // 2)
        end = min(end, start + QUOTE_LIMIT)
        start = max(start, min(mention.start, end - QUOTE_LIMIT))
    return text[start:end], start, end


# Longer texts are read up to here (offsets stay valid: the prefix is read).
READ_LIMIT_CHARS = 64 * 1024


class NoteReadings:
    """Readings for one call: each note read once, each (act, pack) reading built once."""

    def __init__(self, reader: TextReader, evidence: Evidence, packs: tuple[RulePack, ...] = ()):
        self.reader = reader
        self.evidence = evidence
        self.packs = packs  # the rule book's packs: a note shared by acts of several families
        # by text and pack: a note linked to many acts is read once
        self._mentions: dict[tuple[str, str], list[Mention]] = {}
        self._readings: dict[tuple[str, str], ActReading] = {}
        # Acts sharing a note, in the order the evidence lists them (the note's related procedures).
        self._sharing: dict[int, list[ActFacts]] = {}
        for act in evidence.acts:
            if act.is_order:
                continue
            for note in act.texts:
                self._sharing.setdefault(id(note), []).append(act)

    def mentions(self, note: NoteText, pack: RulePack) -> list[Mention]:
        """The pack's mentions in the note: one pack's rules per read (a note is read for the family that codes
        its acts, and for the others only when an act's codes say nothing)."""
        key = (note.text, pack.id)
        if key not in self._mentions:
            text = note.text
            if len(text) > READ_LIMIT_CHARS:
                # Procedure documentation is a few KB; the rest of a longer text is not read (the pipeline costs
                # about 2 ms per KB), and the cards say so.
                text = text[:READ_LIMIT_CHARS]
                problem = f"{note.source}: only the first {READ_LIMIT_CHARS // 1024} KB of its text were read"
                if problem not in self.evidence.problems:
                    self.evidence.problems.append(problem)
            self._mentions[key] = _in_course(self.reader.read(text, only=pack.id + "|"), text)
        return self._mentions[key]

    def only_unaffirmed(self, note: NoteText, pack: RulePack, kind: str, detail: str,
                        span: tuple[int, int] | None = None, negation_near: bool = False) -> bool:
        """The concept is named in the note (within `span`), but only negated, planned, past or doubted. With
        `negation_near`, a negation counts only in the mention's own clause ("without aspirate and a mixture of
        <drug>" gave the drug)."""
        wanted = label(pack, kind, detail)
        found = [m for m in self.mentions(note, pack) if m.label == wanted
                 and (span is None or span[0] <= m.start < span[1])]
        return bool(found) and not any(m.affirmed or (negation_near and _done_here(m, note.text)) for m in found)

    def reading(self, act: ActFacts, pack: RulePack) -> ActReading:
        key = (act.key, pack.id)
        if key not in self._readings:
            self._readings[key] = self._read(act, pack)
        return self._readings[key]

    def _read(self, act: ActFacts, pack: RulePack) -> ActReading:
        reading = ActReading()
        for note in act.texts:
            mentions = self.mentions(note, pack)
            if not mentions:
                continue
            sharing = [a for a in self._sharing.get(id(note), []) if a.status != "entered-in-error"]
            if len(sharing) <= 1:
                own, shared = mentions, []
            else:
                foreign, foreign_acts = self._foreign(note, pack, sharing)
                own, shared = _attribute(mentions, act, sharing, pack, note.text, foreign, foreign_acts,
                                         reading.regions, note.source)
            _fill(reading, note, own, shared, mentions, pack)
        if act.status == "not-done":  # nothing was placed: a needle withdrawn from a dry pass is no device's fate
            reading.fate, reading.fate_approach, reading.device, reading.stayed = None, None, None, {}
        return reading


    def _foreign(self, note: NoteText, pack: RulePack, sharing: list[ActFacts]) -> tuple[list[Mention], set[str]]:
        """(the procedures another family's pack names in the note, the sharing acts coded by another family's
        codes): two families' procedures in one note each open their own account."""
        acts: set[str] = set()
        packs: dict[str, RulePack] = {}
        for other in sharing:
            found = _pack_of(other, self.packs)
            if found is not None and found.id != pack.id:
                acts.add(other.key)
                packs[found.id] = found
        mentions = [m for other in packs.values() for m in _procedures(self.mentions(note, other), _order(other))]
        return mentions, acts


def _pack_of(act: ActFacts, packs: tuple[RulePack, ...]) -> RulePack | None:
    """The pack whose SNOMED CT or CPT codes the act carries, or whose procedure words its code text has."""
    for pack in packs:
        if any(c.code in pack.snomed_index or c.code in pack.cpt_index for c in act.codings):
            return pack
    for pack in packs:
        if act.code_text and any(a.recognise.text.search(act.code_text) for a in pack.approaches):
            return pack
    return None


def _kind(mention: Mention) -> tuple[str, str]:
    _, kind, detail = parse_label(mention.label)
    return kind, detail


def _done(mention: Mention) -> bool:
    """Said of the act being documented: affirmed and not in an indication, history or plan section."""
    return mention.affirmed and mention.section not in NOT_DONE_SECTIONS


# A negation word said of the device itself: in its phrase or among the few words before it in its clause.
NEGATION_NEAR = re.compile(r"\b(?:no|not|without|w/o|never|nor|none|neither)\b|n't\b", re.IGNORECASE)
NEGATION_WORDS_BEFORE = 3


def _done_here(mention: Mention, text: str) -> bool:
    """A device placed, or its fate, said of this act. ConText's negation runs six tokens on, so "without
    ultrasound, 1 L, catheter removed" or "No US. cathter placed" (one sentence) would negate it: a negated
    device mention counts unless a negation word is in its own phrase or among the few words before it in its
    clause."""
    if _done(mention):
        return True
    if not mention.negated or mention.hypothetical or mention.historical or mention.family or mention.uncertain:
        return False
    if mention.section in NOT_DONE_SECTIONS:
        return False
    breaks = list(CLAUSE_BREAK.finditer(text, mention.sentence_start, mention.start))
    clause = breaks[-1].end() if breaks else mention.sentence_start
    before = text[clause:mention.start].split()[-NEGATION_WORDS_BEFORE:]
    return not NEGATION_NEAR.search(" ".join(before)) and not NEGATION_NEAR.search(text, mention.start, mention.end)


def _inside(inner: Mention, mentions: list[Mention], kinds: tuple[str, ...]) -> bool:
    return any(
        other is not inner and _kind(other)[0] in kinds and other.start <= inner.start and inner.end <= other.end
        and (other.end - other.start) > (inner.end - inner.start)
        for other in mentions
    )


def _order(pack: RulePack) -> dict[str, int]:
    return {a.id: i for i, a in enumerate(pack.approaches)}


def _overlap(a: Mention, b: Mention) -> bool:
    return a.start < b.end and b.start < a.end


def _procedures(mentions: list[Mention], order: dict[str, int] | None = None) -> list[Mention]:
    """Procedure mentions that count: done, not part of a procedure the pack does not code ("existing
    tube"), and of overlapping ones the approach the pack lists first (then the longest)."""
    others = [m for m in mentions if _kind(m)[0] == "other" and _done(m)]
    found = [m for m in mentions if _kind(m)[0] == "procedure" and _done(m)
             and not any(_overlap(m, o) for o in others)]
    rank = order or {}

    def better(a: Mention, b: Mention) -> bool:
        ka, kb = rank.get(_kind(a)[1], 99), rank.get(_kind(b)[1], 99)
        return (ka, -(a.end - a.start)) < (kb, -(b.end - b.start))

    return [m for m in found if not any(o is not m and _overlap(m, o) and better(o, m) for o in found)]


def _sides(mentions: list[Mention]) -> list[Mention]:
    """Side words that are sides: affirmed (an indication's side counts: "Indication: L effusion"), not in a
    `not_side` phrase, nor the first word of a device phrase ("left in place"). A side said of something past
    is kept (at a low weight): the act is often on the side of an earlier one ("through the left catheter
    placed last month")."""
    return [m for m in mentions if _kind(m)[0] == "side" and not (m.negated or m.hypothetical or m.family)
            and not _inside(m, mentions, ("not_side",))
            and not any(_kind(o)[0] in ("stayed", "removed", "device") and o.start == m.start and o.end > m.end
                        for o in mentions)]


@dataclass
class _Segment:
    start: int
    approach: str | None
    side: str | None
    dry_tap: bool = False
    mentions: list[Mention] = field(default_factory=list)
    foreign: bool = False  # opened by another family's procedure: that family's act's account


def _compatible(a: _Segment, b: _Segment) -> bool:
    return a.foreign == b.foreign and (a.approach is None or b.approach is None or a.approach == b.approach) and (
        a.side is None or b.side is None or a.side == b.side)


def _attribute(mentions: list[Mention], act: ActFacts, acts: list[ActFacts], pack: RulePack, text: str,
               foreign: list[Mention] = (), foreign_acts: set[str] = frozenset(),
               regions: dict[str, tuple[int, int]] | None = None,
               source: str = "") -> tuple[list[Mention], list[Mention]]:
    """(mentions of `act`'s segment, mentions before the first segment) of a note shared by `acts`; the stretch
    of the note its segment covers goes into `regions[source]`."""
    procedures = _procedures(mentions, _order(pack))
    sentences = {m.sentence_start for m in mentions}
    cues = {start for start in sentences if SEGMENT_CUE.match(text, start) or NUMBERED_CUE.match(text, start)}
    sides = _sides(mentions)
    heads: dict[int, _Segment] = {}
    for m in procedures:
        segment = heads.setdefault(m.sentence_start, _Segment(m.sentence_start, None, None))
        segment.approach = segment.approach or _kind(m)[1]
        # "... drew 50 mL, then in the same sitting a tunneled catheter was placed": another approach named
        # after a clause break of a sentence that named one opens its own clause
        first = next((p for p in procedures if p.sentence_start == m.sentence_start and p.end <= m.start
                      and _kind(p)[1] == segment.approach), None)
        if _kind(m)[1] != segment.approach and m.end <= m.sentence_end and first is not None:
            breaks = list(CLAUSE_BREAK.finditer(text, first.end, m.start))
            if breaks:  # the clause opens at the last break before the name
                heads.setdefault(breaks[-1].start(), _Segment(breaks[-1].start(), _kind(m)[1], None))
    amounts = [m for m in mentions if _kind(m)[0] == "volume"]
    for m in foreign:  # another family's procedure opens its sentence, or its clause beside one of ours
        if m.sentence_start not in heads:
            heads[m.sentence_start] = _Segment(m.sentence_start, None, None, foreign=True)
            continue
        # a sentence giving each procedure its own amount ("one tap 1.1 L and the other 3.5 L"), not a title
        if sum(v.sentence_start == m.sentence_start for v in amounts) < 2:
            continue
        ours = [p for p in procedures if p.sentence_start == m.sentence_start]
        before = [p for p in ours if p.end <= m.start]
        if before:
            breaks = list(CLAUSE_BREAK.finditer(text, before[-1].end, m.start))
            if breaks:
                heads.setdefault(breaks[-1].start(), _Segment(breaks[-1].start(), None, None, foreign=True))
        elif ours:  # the sentence opens with theirs ("theirs 3 L and our right one 1 L")
            breaks = list(CLAUSE_BREAK.finditer(text, m.end, ours[0].start))
            if breaks:
                segment = heads[m.sentence_start]
                heads[breaks[-1].start()] = _Segment(breaks[-1].start(), segment.approach, None)
                segment.approach, segment.foreign = None, True
    for m in sides:
        # "Right: 800 mL" opens one side's account; "Images of both sides saved" is about every act; an
        # indication ("Indication: right effusion") names the note's side, it opens no account
        if (m.start - m.sentence_start <= SIDE_LEAD and _kind(m)[1] != "bilateral"
                and m.section not in NOT_DONE_SECTIONS):
            heads.setdefault(m.sentence_start, _Segment(m.sentence_start, None, None))
    volumes = [m for m in mentions if _kind(m)[0] == "volume"]
    for m in sides:  # "R 1 L, L 700 mL": a side (not the sentence's first) followed by its volume heads a clause
        if m.sentence_start in heads and any(o.sentence_start == m.sentence_start and o.start < m.start
                                             for o in sides) and any(
                0 <= v.start - m.end <= CLAUSE_GAP for v in volumes):
            heads.setdefault(m.start, _Segment(m.start, None, None))
    for v in volumes:  # "800 mL right, 600 mL left": a volume followed by its side heads a clause
        named = {_kind(o)[1] for o in sides if o.sentence_start == v.sentence_start} - {"bilateral"}
        beside = any(o.sentence_start == v.sentence_start and 0 <= o.start - v.end <= CLAUSE_GAP for o in sides)
        headed = any(o.sentence_start == v.sentence_start and 0 <= v.start - o.end <= CLAUSE_GAP for o in sides)
        if beside and not headed and (len(named) > 1 or v.sentence_start not in heads):
            heads.setdefault(v.start, _Segment(v.start, None, None))
    _side_changes(sides, heads, text)
    starts = sorted(heads)
    for m in sides:  # a head's side: the sides in its own sentence (or clause) before the next head
        at = bisect_right(starts, m.start) - 1
        if at >= 0 and starts[at] >= m.sentence_start:
            segment, side = heads[starts[at]], _kind(m)[1]
            # "R and L taps": a head naming both sides is a bilateral title
            segment.side = side if segment.side in (None, side) else "bilateral"
    for m in mentions:  # "First site: ...", "Second attempt: ..." open a segment too
        if m.sentence_start not in heads and m.sentence_start in cues:
            heads[m.sentence_start] = _Segment(m.sentence_start, None, None)
    segments = [heads[k] for k in sorted(heads)]
    if not segments:
        return mentions, []
    preamble = [m for m in mentions if m.start < segments[0].start]
    # A remark on both sides after the accounts ("US both sides, images saved", "Catheters removed both
    # sides") is said of every act.
    both = ({m.sentence_start for m in sides if _kind(m)[1] == "bilateral"} - {
        m.sentence_start for m in sides if _kind(m)[1] != "bilateral"}
        | {m.sentence_start for m in mentions if _kind(m)[0] == "every_act"}) - set(heads)
    common = [m for m in mentions if m.sentence_start in both and m.start >= segments[0].start]
    for m in mentions:
        if m.start >= segments[0].start and m.sentence_start not in both:
            holder = next(s for s in reversed(segments) if s.start <= m.start)
            holder.mentions.append(m)
            if _kind(m)[0] == "dry_tap" and m.asserted:
                holder.dry_tap = True
    # As many segments as acts (another family's acts count when their procedure opened a segment).
    wanted = len(acts) - len(foreign_acts) + min(len(foreign_acts), sum(s.foreign for s in segments))
    # A title before one segment per act ("Bilateral taps", "Right tap - two attempts.") is the
    # preamble: it names both sides, or it is one sentence naming the procedure followed by enough segments.
    # Another family's procedure named in such a title ("X and Y", Y of another family) opens no account when
    # that family's acts have theirs later.
    while len(segments) > wanted and (
            (segments[0].foreign and sum(s.foreign for s in segments) > len(foreign_acts))
            or not segments[0].foreign and (
                (segments[0].side in (None, "bilateral") and all(s.side for s in segments[1:]))
                or (segments[0].approach is not None
                    and all(m.sentence_start == segments[0].start for m in segments[0].mentions)))):
        preamble.extend(segments.pop(0).mentions)
    # Merge neighbours that describe the same act (a procedure named again) while there are more segments
    # than acts; a dry tap and what follows it stay apart.
    i = 0
    while len(segments) > wanted and i < len(segments) - 1:
        a, b = segments[i], segments[i + 1]
        if _compatible(a, b) and not a.dry_tap:
            a.approach, a.side = a.approach or b.approach, a.side or b.side
            a.dry_tap = a.dry_tap or b.dry_tap
            a.mentions.extend(b.mentions)
            del segments[i + 1]
        else:
            i += 1
    while len(segments) > wanted:  # still more: fold the last into the one before
        segments[-2].mentions.extend(segments[-1].mentions)
        segments.pop()
    assigned = _assign(segments, acts, pack, foreign_acts)
    _device_words_to_the_device(assigned, acts, pack)
    own = assigned.get(act.key, [])
    if own and regions is not None:
        regions[source] = (min(m.sentence_start for m in own), max(m.sentence_end for m in own))
    if act.key in assigned and common:  # not its side nor a volume: those are each act's own
        own = sorted(own + [m for m in common if _kind(m)[0] not in ("side", "volume")], key=lambda m: m.start)
    shared = list(preamble)
    if not _sides(own) and not _sides(preamble):
        # No side of its own: the note goes on about the same side as the segment before ("converted to a
        # drain", "second attempt").
        mine = next((i for i, s in enumerate(segments) if s.mentions is own), None)
        for previous in reversed(segments[:mine] if mine else []):
            sides = _sides(previous.mentions)
            if sides:
                shared.extend(sides)
                break
    return own, shared


def _side_changes(sides: list[Mention], heads: dict[int, _Segment], text: str) -> None:
    """A sentence that goes from one side to the other ("right and left taps under ultrasound the right side
    first with 900 cc then the left side with 600 cc", "The left first, 1 L; the right next, 1.3 L"): each change
    of side opens a clause, from the last clause break or line start before the side word."""
    bilateral = [m for m in sides if _kind(m)[1] == "bilateral"]
    by_sentence: dict[int, list[Mention]] = {}
    for m in sides:
        if m.sentence_start in heads and not any(b is not m and _overlap(b, m) for b in bilateral):
            by_sentence.setdefault(m.sentence_start, []).append(m)
    for sentence, found in by_sentence.items():
        if len({_kind(m)[1] for m in found} - {"bilateral"}) < 2 and not any(
                _kind(m)[1] == "bilateral" for m in found):
            continue
        previous = None
        for m in sorted(found, key=lambda m: m.start):
            side = _kind(m)[1]
            if side != "bilateral" and previous is not None and side != previous and m.start - sentence > SIDE_LEAD:
                begin = max([b.start() for b in CLAUSE_BREAK.finditer(text, sentence + 1, m.end)]
                            + [text.rfind("\n", sentence, m.start) + 1])
                if begin > sentence:
                    heads.setdefault(begin, _Segment(begin, None, None))
            previous = side  # a bilateral title counts: the first one-sided word after it opens a clause


def _device_words_to_the_device(assigned: dict[str, list[Mention]], acts: list[ActFacts], pack: RulePack) -> None:
    """A tap converted to a drain: what the note says of the device (placed, stayed, removed) belongs to the act
    coded as the device's approach, when one of the acts is, not to the aspiration before it."""
    device = pack.note_reading.device
    if device is None:
        return
    holders = [a for a in acts if _act_approach(a, pack) == device.approach]
    device_words = ("stayed", "removed", "device")
    if len(holders) == 1 and device.approach != device.otherwise:
        _stayed_after_removal_to_the_device(assigned, acts, holders[0], pack)
    if len(holders) != 1 or any(_kind(m)[0] in device_words for m in assigned.get(holders[0].key, [])):
        return  # the device has its own words: nothing to move
    target = assigned.setdefault(holders[0].key, [])
    for act in acts:
        if act is holders[0] or _act_approach(act, pack) != device.otherwise:
            continue
        kept, moved = [], set()
        for m in assigned.get(act.key, []):
            if _kind(m)[0] in ("stayed", "removed", "device"):
                target.append(m)
                moved.add(m.sentence_start)
            else:
                kept.append(m)
        assigned[act.key] = kept
        # The side of the sentence that converts the tap is the drain's side too (one site, two codes).
        if not any(_kind(m)[0] == "side" for m in target):
            target.extend(m for m in kept if _kind(m)[0] == "side" and m.sentence_start in moved)
    target.sort(key=lambda m: m.start)


def _stayed_after_removal_to_the_device(assigned: dict[str, list[Mention]], acts: list[ActFacts], holder: ActFacts,
                                        pack: RulePack) -> None:
    """A drain and a tap in one note: after the tap's catheter was removed, words of a device that stayed ("CXR:
    drain in good position" closing the note) are about the drain, not the tap."""
    for act in acts:
        if act is holder or _act_approach(act, pack) != pack.note_reading.device.otherwise:
            continue
        mine = assigned.get(act.key, [])
        removals = [m.start for m in mine if _kind(m)[0] == "removed" and _done(m)]
        if not removals:
            continue
        later = [m for m in mine if _kind(m)[0] == "stayed" and m.start > max(removals)]
        if later:
            assigned[act.key] = [m for m in mine if m not in later]
            target = assigned.setdefault(holder.key, [])
            target.extend(later)
            target.sort(key=lambda m: m.start)


def _act_side(act: ActFacts, pack: RulePack) -> str | None:
    for side, spec in pack.sides.items():
        if any(c.code in spec.snomed for c in act.body_sites):
            return side
    return None


def _act_approach(act: ActFacts, pack: RulePack) -> str | None:
    for c in act.codings:
        if c.code in pack.snomed_index:
            return pack.snomed_index[c.code].id
    return None


def _fits(segment: _Segment, side: str | None, approach: str | None, not_done: bool, left: int, strict: bool,
          foreign: bool = False) -> bool:
    if segment.foreign != foreign:
        return False
    if side and segment.side and side != segment.side and (strict or segment.side != "bilateral"):
        return False
    if strict and approach and segment.approach and approach != segment.approach and not segment.dry_tap:
        return False
    return not strict or segment.dry_tap == not_done or left == 1


def _assign(segments: list[_Segment], acts: list[ActFacts], pack: RulePack,
            foreign_acts: set[str] = frozenset()) -> dict[str, list[Mention]]:
    """Segments to acts in order: each act takes the next segment that fits its status, approach and side (an
    act of another family, the next segment opened by that family's procedure)."""
    out: dict[str, list[Mention]] = {}
    remaining = list(segments)
    for act in acts:
        side, approach, not_done = _act_side(act, pack), _act_approach(act, pack), act.status == "not-done"
        other = act.key in foreign_acts
        chosen = next((s for s in remaining if _fits(s, side, approach, not_done, len(remaining), True, other)),
                      None) or next(
            (s for s in remaining if _fits(s, side, approach, not_done, len(remaining), False, other)), None)
        if chosen is not None:
            remaining.remove(chosen)
            out[act.key] = chosen.mentions
    return out


def _evidence(field_name: str, value, note: NoteText, mention: Mention) -> TextEvidence:
    quote, start, end = _quote(note.text, mention)
    return TextEvidence(field_name, value, note.source, quote, start, end)


def _side_of(own: list[Mention], shared: list[Mention], order: dict[str, int],
             text: str = "") -> tuple[str, Mention] | None:
    """The side the act's sentences give most weight: a side in a sentence naming the procedure weighs most,
    one in findings or after the procedure least (it may be the other lung); the act's own segment always
    outweighs text it shares with other acts. Both sides named in the procedure's sentences, or "bilateral"
    there, is bilateral."""
    addendum = ADDENDUM.search(text)
    if addendum and any(m.start >= addendum.start() for m in _sides(own)):
        # the side as corrected: the sides said before the addendum are not weighed
        own = [m for m in own if m.start >= addendum.start() or _kind(m)[0] != "side"]
    procedures = _procedures(own + shared, order)
    procedure_sentences = {m.sentence_start for m in procedures}
    scores: dict[str, float] = {}
    first: dict[str, Mention] = {}
    strong: set[str] = set()
    own_sides = _sides(own)
    for base, pool in ((100, own_sides), (1, [] if own_sides else _sides(shared))):
        for m in pool:
            side = _kind(m)[1]
            if m.sentence_start in procedure_sentences:
                weight = 2.0
                # next to the procedure's name ("right tap", "tap on the right")
                if any(abs(m.start - p.start) <= NEAR or abs(m.end - p.end) <= NEAR for p in procedures):
                    weight = 3.0
                    strong.add(side)
            elif m.section in LOW_WEIGHT_SECTIONS:
                weight = 0.5
            else:
                weight = 1.0
            if m.historical:
                if m.sentence_start not in procedure_sentences:
                    continue  # the side of a past procedure
                weight *= 0.2
            scores[side] = scores.get(side, 0) + base * weight
            first.setdefault(side, m)
    if not scores:
        return None
    if "bilateral" in strong or {"right", "left"} <= strong:
        return "bilateral", first.get("bilateral") or first["right"]
    side = max(scores, key=lambda k: (scores[k], -first[k].start))
    return side, first[side]


def _fill(reading: ActReading, note: NoteText, own: list[Mention], shared: list[Mention], every: list[Mention],
          pack: RulePack) -> None:
    """Fields not yet read, from this note's mentions (`own`: the act's; `every`: the whole note, for the
    documentation that a note gives all its acts)."""
    if reading.procedure is None:
        for m in _procedures(own + shared, _order(pack)):
            reading.procedure = _kind(m)[1]
            reading.procedure_evidence = _evidence("procedure", reading.procedure, note, m)
            break
    if reading.other is None:
        other = next((m for m in own + shared if _kind(m)[0] == "other" and _done(m)), None)
        if other is not None:
            reading.other = _evidence("procedure", "other", note, other)
    if reading.side is None:
        found = _side_of(own, shared, _order(pack), note.text)
        if found:
            reading.side = _evidence("side", found[0], note, found[1])
    not_fate = [m for m in own if _kind(m)[0] == "not_fate"]
    fates = [m for m in own if _kind(m)[0] in ("stayed", "removed") and _done_here(m, note.text)
             and not _inside(m, own, ("other",)) and not any(_overlap(m, o) for o in not_fate)]
    if any(_kind(m)[0] == "other" and _done(m) for m in own) and not any(
            _kind(m)[0] == "device" and _done_here(m, note.text) for m in own):
        # through an existing tube, nothing placed: "tube returned to suction" is that tube's, not this act's
        fates = [m for m in fates if _kind(m)[0] != "stayed"]
    # "the catheter was not left in place": the stay is part of a removal phrase
    fates = [m for m in fates if _kind(m)[0] != "stayed" or not any(
        _kind(o)[0] == "removed" and _overlap(m, o) for o in fates)]
    for m in fates:
        kind, approach = _kind(m)
        if kind == "stayed" and approach not in reading.stayed:
            reading.stayed[approach] = _evidence("fate", "stayed", note, m)
    if reading.fate is None and fates:
        last = max(fates, key=lambda m: m.start)  # the last word on the device: placed then removed is removed
        kind, approach = _kind(last)
        reading.fate = _evidence("fate", "stayed" if kind == "stayed" else "removed", note, last)
        reading.fate_approach = approach if kind == "stayed" else None
    if reading.device is None:
        device = next((m for m in own if _kind(m)[0] == "device" and _done_here(m, note.text)), None)
        if device is not None:
            reading.device = _evidence("device", True, note, device)
    if reading.guidance is None:
        claim = next((m for m in own + shared if _kind(m)[0] == "guidance" and _done(m)), None)
        if claim is not None:
            reading.guidance = _evidence("guidance", True, note, claim)
    if reading.volume is None:
        reading.volume = _volume(note, own)
        if reading.side is not None and reading.side.value == "bilateral" and reading.volume is not None:
            reading.volume = _both_sides_volume(note, own, reading.volume)
    reading.note_volume = (reading.note_volume or reading.volume is not None or _volume(note, every) is not None
                           or _none_removed(every))
    if reading.dry_tap is None:
        tap = next((m for m in own if _kind(m)[0] == "dry_tap" and m.asserted), None)
        if tap is not None:
            reading.dry_tap = _evidence("not-performed", True, note, tap)
    statements = [m for m in every if m.asserted and m.section not in NOT_DONE_SECTIONS | {"consent"}]
    if reading.complications is None:
        said = next((m for m in statements if _kind(m)[0] == "complications"), None)
        if said is not None:
            reading.complications = _evidence("complications", True, note, said)
    for m in statements:
        kind, detail = _kind(m)
        if kind == "gap" and detail not in reading.gaps:
            reading.gaps[detail] = _evidence(detail, True, note, m)


# What separates two clauses of a sentence: a volume across one of these from an anaesthetic, a flush or an
# oxygen flow is not that thing's volume ("5 mL of anaesthetic, then 1.2 L removed").
CLAUSE_BREAK = re.compile(r";|\.\s|,\s*[a-z]|->|→|\s[-–—]\s|\b(?:then|and|after|afterwards|before|followed|"
                          r"subsequently|once|until|but|while|when)\b", re.IGNORECASE)


TAKEN_OUT = re.compile(r"\s*(?:of\s+(?:[a-z-]+\s+){0,2}(?:fluid|effusion)\b|(?:was\s+|were\s+)?(?:removed|drained|"
                       r"aspirated|withdrawn|obtained|evacuated)\b)", re.IGNORECASE)
NOT_REMOVED_REACH = 30  # characters: "with local anaesthetic an 8 French catheter was placed, one liter" is not its


def _not_removed(volume: Mention, others: list[Mention], volumes: list[Mention], text: str) -> bool:
    """The volume belongs to something not removed from the patient (local anaesthetic, saline, oxygen): a
    `not_removed` phrase in the same clause of its sentence; past a comma only the nearest volume after it
    ("anaesthetic 1%, 10 mL" is the anaesthetic's; in "lido 5 mL, 1.3 L removed" or "5 L, 25 g albumin" the
    litres are not). A volume the sentence says was taken out ("60 mL of cloudy fluid", "60 mL aspirated") is
    removed."""
    if TAKEN_OUT.match(text, volume.end):
        return False
    for other in others:
        if other.sentence_start != volume.sentence_start:
            continue
        start, end = min(volume.end, other.end), max(volume.start, other.start)
        if start >= end:
            return True
        if end - start > NOT_REMOVED_REACH or CLAUSE_BREAK.search(text, start, end):
            continue
        if "," not in text[start:end]:
            return True
        if volume.start > other.start and not any(start <= v.start and v.end <= end for v in volumes):
            return True
    return False


def _both_sides_volume(note: NoteText, own: list[Mention], largest: TextEvidence) -> TextEvidence:
    """One act on both sides whose note gives each side's volume ("R 600 mL, L 500 mL"): their sum, unless the
    note states a total as large (the largest volume read)."""
    sides = [m for m in own if _kind(m)[0] == "side" and _kind(m)[1] in ("right", "left")]
    not_removed = [m for m in own if _kind(m)[0] == "not_removed"]
    volumes = [m for m in own if _kind(m)[0] == "volume"]
    per_side: dict[str, float] = {}
    for v in volumes:
        if not v.asserted or _not_removed(v, not_removed, volumes, note.text):
            continue
        value = volume_ml(v.text)
        side = next((_kind(m)[1] for m in sides if m.sentence_start == v.sentence_start and (
            0 <= v.start - m.end <= CLAUSE_GAP + 2 or 0 <= m.start - v.end <= CLAUSE_GAP + 2)), None)
        if side and value:
            per_side[side] = max(per_side.get(side, 0.0), value)
    if len(per_side) < 2 or sum(per_side.values()) <= float(largest.value):
        return largest
    total = sum(per_side.values())
    return TextEvidence("volume", int(total) if total == int(total) else total, largest.source, largest.quote,
                        largest.start, largest.end)


def _none_removed(mentions: list[Mention]) -> bool:
    """The note states that no fluid came ("air only", "no fluid return"): a pack's volume phrase with no amount."""
    return any(_kind(m)[0] == "volume" and m.asserted and m.section not in NOT_DONE_SECTIONS
               and not volume_ml(m.text) for m in mentions)


def _past_sentences(own: list[Mention]) -> set[int]:
    """Sentences about an earlier procedure ("She had a left tap two weeks ago that yielded 2 L", "s/p R thora x2
    (1.5 L)"): a procedure named only as past there, none as done."""
    procedures = [m for m in own if _kind(m)[0] == "procedure"]
    past = {m.sentence_start for m in procedures if m.historical}
    return past - {m.sentence_start for m in procedures if _done(m)}


def _volume(note: NoteText, own: list[Mention]) -> TextEvidence | None:
    not_removed = [m for m in own if _kind(m)[0] == "not_removed"]
    volumes = [m for m in own if _kind(m)[0] == "volume"]
    past = _past_sentences(own)
    best: tuple[float, Mention] | None = None
    found: list[tuple[float, Mention]] = []
    for m in own:
        if _kind(m)[0] != "volume" or not m.asserted or _not_removed(m, not_removed, volumes, note.text):
            continue
        if m.section in NOT_DONE_SECTIONS | {"consent"} or m.sentence_start in past:
            continue
        value = volume_ml(m.text)
        if value is not None and value > 0:
            found.append((value, m))
            if best is None or value > best[0]:
                best = (value, m)
    if best is None:
        return None
    # "just under five liters (4.8 L)": the figure in digits beside a rounder one in words is the measure
    exact = [(v, m) for v, m in found if m.sentence_start == best[1].sentence_start and any(c.isdigit() for c in m.text)
             and abs(v - best[0]) <= 0.1 * best[0]]
    if exact and not any(c.isdigit() for c in best[1].text):
        best = max(exact, key=lambda vm: vm[0])
    value = best[0]
    return _evidence("volume", int(value) if value == int(value) else value, note, best[1])
