"""Claim-level edits over all findings of a call: sessions, absorption, bilateral merge, NCCI pairs,
side/component modifiers, repeat modifiers and MUEs. Generic: every code and value comes from packs
and the payer profile.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from .course import one_unit_a_day
from .model import BILATERAL, LEFT, NOT_PERFORMED, RIGHT, Finding, Line
from .packs import NcciPair

OTHER_SIDE = {RIGHT: LEFT, LEFT: RIGHT}


def distinct_sides(a: str | None, b: str | None) -> bool:
    """Two known, opposite, unilateral sides: the only case the rules accept as separate sites."""
    return a in OTHER_SIDE and OTHER_SIDE[a] == b


def distinct_digits(a: Line, b: Line) -> bool:
    """Different anatomic digit modifiers already mark distinct sites (no distinct-site modifier needed)."""
    return a.digit is not None and b.digit is not None and a.digit != b.digit


def distinct_lines(a: Line, b: Line) -> bool:
    """Opposite sides, or two different sites of a pack's site dimension (another site, another digit)."""
    if distinct_sides(a.side, b.side):
        return True
    return a.site is not None and b.site is not None and (a.site != b.site or distinct_digits(a, b))


def group_sessions(findings: list[Finding]) -> list[list[Finding]]:
    """Procedures of one encounter whose performed periods are at most the pack's gap apart; all orders of
    one call form one session; untimed procedures of an encounter share one session."""
    sessions: list[list[Finding]] = []
    orders = [f for f in findings if f.act.is_order]
    if orders:
        sessions.append(orders)
    by_encounter: dict[str | None, list[Finding]] = defaultdict(list)
    for finding in findings:
        if not finding.act.is_order:
            by_encounter[finding.act.encounter].append(finding)
    for group in by_encounter.values():
        untimed = [f for f in group if f.act.start is None]
        timed = sorted((f for f in group if f.act.start is not None), key=lambda f: f.act.start)
        current: list[Finding] = []
        current_end = None
        for finding in timed:
            gap = timedelta(minutes=finding.pack.session_gap_minutes)
            if current and finding.act.start - current_end > gap:
                sessions.append(current)
                current = []
            if not current:
                current_end = finding.act.end or finding.act.start
            current.append(finding)
            current_end = max(current_end, finding.act.end or finding.act.start)
        if current:
            sessions.append(current)
        if untimed:
            sessions.append(untimed)
    for number, session in enumerate(sessions):
        for finding in session:
            finding.session = number
    return sessions


def initial_lines(finding: Finding) -> None:
    act = finding.act
    if finding.entry is None:
        return
    if finding.sites:  # each site its own line, its code chosen by the site's class
        finding.lines = [
            Line(c.entry.code, 1, c.side, act.day, act.start, act.performer, finding.session, site=c.site.id,
                 digit=c.digit_modifier)
            for c in finding.sites if c.entry is not None
        ]
    else:
        finding.lines = [Line(finding.entry.code, 1, finding.side, act.day, act.start, act.performer,
                              finding.session)]
    for code, why in finding.guidance_lines:
        # The guidance line keeps the procedure's side for the claim edits (distinct sites), never as a modifier.
        finding.lines.append(Line(code, 1, finding.side, act.day, act.start, act.performer, finding.session,
                                  primary=finding.entry.code))
        finding.edits.append(f"{code} is billed as its own line with {finding.entry.code}: {why}.")


def _is_guidance(line: Line) -> bool:
    return line.primary is not None


def _settle_guidance(session: list[Finding]) -> None:
    """A guidance line goes when the procedure line it guided went (absorbed, denied); a per-session guidance
    code is one unit for the session however many procedures it guided."""
    billed: dict[str, Finding] = {}
    for finding in session:
        kept = {line.code for line in finding.lines if not _is_guidance(line)} | set(finding.billed_elsewhere)
        for line in list(finding.lines):
            if not _is_guidance(line):
                continue
            if line.primary not in kept:
                finding.lines.remove(line)
                finding.edits.append(f"{line.code} goes with {line.primary}, which is not billed for this subject.")
                continue
            spec = next(g for g in finding.pack.separate_guidance if g.code == line.code)
            holder = billed.get(line.code)
            if spec.per_session and holder is not None:
                finding.lines.remove(line)
                finding.billed_elsewhere.append(line.code)
                finding.edits.append(f"{line.code} is one unit per session: billed on the card for {holder.act.key}.")
                continue
            billed.setdefault(line.code, finding)


def _localizing_scans(session: list[Finding]) -> None:
    """A dry first pass, then a guided procedure on the same side in the same session: one procedure. The scan
    of the attempt not done is part of the guided code (pack `not_performed.included_in_guided`)."""
    for scan in session:
        why = scan.pack.not_performed_included
        if scan.stage != NOT_PERFORMED or why is None or not scan.lines:
            continue
        guided = next((f for f in session if f is not scan and f.pack is scan.pack and f.stage != NOT_PERFORMED
                       and not f.act.is_order and not distinct_sides(scan.side, f.side)
                       and any(scan.pack.codes[line.code].guided is True for line in f.lines
                               if line.code in scan.pack.codes)), None)
        if guided is None:
            continue
        holder = next(line.code for line in guided.lines if scan.pack.codes.get(line.code)
                      and scan.pack.codes[line.code].guided is True)
        for line in scan.lines:
            scan.not_separately_billable.append(line.code)
        scan.lines = []
        scan.edits.append(f"Included in {holder} for {guided.act.key}: {why}.")
        guided.edits.append(f"The attempt {scan.act.key} is included in this code: {why}.")


def _absorb(session: list[Finding]) -> None:
    """CPT guidance kept in packs: e.g. an aspiration and a drain on the same side bill only the drain."""
    for absorber in session:
        if not absorber.lines or not absorber.approach.absorbs:
            continue
        for absorbed in session:
            if absorbed is absorber or not absorbed.lines or absorbed.pack is not absorber.pack:
                continue
            why = absorber.approach.absorbs.get(absorbed.approach.id)
            if why is None or distinct_sides(absorbed.side, absorber.side):
                continue
            holder = absorber.lines[0].code
            if absorbed.side == BILATERAL and absorber.side in OTHER_SIDE:
                remaining = OTHER_SIDE[absorber.side]
                absorbed.edits.append(f"The {absorber.side} side is included in {holder} for {absorber.act.key} "
                                      f"({why}); only the {remaining} side is billed here.")
                absorbed.side = remaining
                for line in absorbed.lines:
                    line.side = remaining
                continue
            for line in absorbed.lines:
                absorbed.not_separately_billable.append(line.code)
            absorbed.edits.append(f"Included in {holder} for {absorber.act.key}: {why}.")
            absorber.edits.append(f"{absorbed.act.key} is included in this code: {why}.")
            absorbed.lines = []
            _guidance_carries_over(absorbed, absorber)
            if absorber.side is None and absorbed.side in (RIGHT, LEFT, BILATERAL):
                # Absorbed as the same side: the side recorded for the included act is the side of this one.
                absorber.side, absorber.side_why = absorbed.side, f"{absorbed.act.key}, which it includes"
                for line in absorber.lines:
                    line.side = absorbed.side


def _guidance_carries_over(absorbed: Finding, absorber: Finding) -> None:
    """A tap converted to a drain at the same site: the imaging that guided the needle guided the procedure the
    drain's code includes, so the drain takes its with-imaging code (a study linked to the tap only)."""
    if not absorbed.guided or absorber.guided or absorber.entry is None or absorber.stage == NOT_PERFORMED:
        return
    guided = absorber.pack.code_for(absorber.approach.id, True)
    if guided is None or guided.code == absorber.entry.code:
        return  # no with-imaging code of its own (its guidance is a separate line, or none)
    old = absorber.entry.code
    for line in absorber.lines:
        if line.code == old:
            line.code = guided.code
    absorber.entry, absorber.guided = guided, True
    absorber.guidance_study = absorbed.guidance_study
    absorber.guidance_claimed = False
    absorber.guidance_why = (f"the imaging that guided {absorbed.act.key}, which this code includes, guided it: "
                             f"{absorbed.guidance_why}")
    absorber.edits.append(f"{guided.code}, not {old}: {absorbed.act.key} was guided at the same site in the "
                          f"same session.")
    said = absorbed.reading.guidance if absorbed.reading is not None else None
    if said is not None and not any(item.field == "guidance" for item in absorber.evidence):
        absorber.evidence.append(said)


def _merge_bilateral(session: list[Finding], focus: set[str]) -> None:
    """Same code on both sides in one session: one line with the bilateral modifier (payer and indicator
    permitting), otherwise one line per side."""
    by_code: dict[tuple[str, str | None], list[tuple[Finding, Line]]] = defaultdict(list)
    for finding in session:
        for line in finding.lines:
            # the same site on both sides only (two different sites are two lines); digits keep their own
            if (finding.pack.laterality and line.side is not None and not _is_guidance(line) and line.digit is None
                    and line.kind == "procedure"):
                by_code[(line.code, line.site)].append((finding, line))
    for (code, site), items in by_code.items():
        sides = {line.side for _, line in items}
        if not (BILATERAL in sides or {RIGHT, LEFT} <= sides):
            continue
        finding0 = items[0][0]
        entry = finding0.pack.codes[code]
        as_one = entry.bilateral_indicator == 1 and finding0.payer.bilateral == "modifier-50"
        holder = next((f for f, _ in items if f.act.key in focus), finding0)
        template = next(line for f, line in items if f is holder)
        position = holder.lines.index(template)  # the merged line keeps the holder's line order
        for finding, line in items:
            finding.lines.remove(line)
        if as_one:
            merged = Line(code, 1, BILATERAL, template.day, template.start, template.performer, template.session,
                          site=site)
            holder.lines.insert(position, merged)
            others = sorted({f.act.key for f, _ in items if f is not holder})
            if others:
                holder.edits.append(f"Both sides in one session ({', '.join([holder.act.key, *others])}): one "
                                    f"line with the bilateral modifier, 1 unit (bilateral indicator 1).")
            for finding, _ in items:
                if finding is not holder:
                    finding.billed_elsewhere.append(code)
                    finding.edits.append(f"Billed as one bilateral line {code} on the card for {holder.act.key}.")
            continue
        # One line per side; a single bilateral procedure becomes two lines on its own card.
        for finding, line in items:
            for side in ((RIGHT, LEFT) if line.side == BILATERAL else (line.side,)):
                finding.lines.append(Line(code, 1, side, line.day, line.start, line.performer, line.session,
                                          site=site))
        reason = ("the payer wants one line per side" if entry.bilateral_indicator == 1
                  else f"bilateral indicator {entry.bilateral_indicator} allows no bilateral modifier")
        holder.edits.append(f"Both sides of {code} in one session: one line per side ({reason}).")


def _apply_pairs(session: list[Finding], pairs: list[NcciPair]) -> None:
    """CMS NCCI procedure-to-procedure edits among the lines of one session."""
    for pair in pairs:
        first = [(f, line) for f in session for line in f.lines if line.code == pair.column1]
        second = [(f, line) for f in session for line in f.lines if line.code == pair.column2]
        if not first or not second or pair.modifier_indicator == 9:
            continue
        for finding, line in second:
            distinct = pair.modifier_indicator == 1 and all(distinct_lines(line, other) for _, other in first)
            if distinct:
                if all(distinct_digits(line, other) for _, other in first):
                    finding.edits.append(
                        f"NCCI pair {pair.column1}/{pair.column2} (modifier indicator 1, effective {pair.effective}): "
                        f"billed because it was another digit; its digit modifier marks the distinct site."
                    )
                    continue
                modifier = finding.payer.modifiers["distinct_site"]
                if modifier not in line.modifiers:
                    line.modifiers.append(modifier)
                where = ("on the other side" if all(distinct_sides(line.side, o.side) for _, o in first)
                         else "at another site")
                finding.edits.append(
                    f"NCCI pair {pair.column1}/{pair.column2} (modifier indicator 1, effective {pair.effective}): "
                    f"billed with {modifier} because it was {where}."
                )
                continue
            finding.lines.remove(line)
            finding.not_separately_billable.append(line.code)
            finding.edits.append(
                f"NCCI pair {pair.column1}/{pair.column2} (modifier indicator {pair.modifier_indicator}, effective "
                f"{pair.effective}): {pair.column2} is not separately billable with {pair.column1} in one session"
                + ("." if pair.modifier_indicator == 0 else " on the same side.")
            )


def _apply_pairs_per_day(findings: list[Finding], pairs: list[NcciPair]) -> None:
    """CMS applies the NCCI edits per date of service (same patient, same performer, same day), not per session:
    a column-2 line whose column-1 code was billed in another session of that day by the same performer keeps
    its line with the separate-encounter modifier when the indicator is 1, and is not separately billable when
    it is 0. Pairs within one session were settled by `_apply_pairs`."""
    modifiers = {"separate": "separate_encounter", "site": "distinct_site"}
    for pair in pairs:
        if pair.modifier_indicator == 9:
            continue
        first = [line for f in findings for line in f.lines if line.code == pair.column1 and line.day]
        if not first:
            continue
        for finding in findings:
            for line in list(finding.lines):
                if line.code != pair.column2 or not line.day:
                    continue
                other = next((o for o in first if o.day == line.day and o.performer == line.performer
                              and o.session != line.session), None)
                if other is None:
                    continue
                where = (f"NCCI pair {pair.column1}/{pair.column2} (modifier indicator {pair.modifier_indicator}, "
                         f"effective {pair.effective}) applies per date of service: {pair.column1} was billed in "
                         f"another session of {line.day} by the same performer")
                if pair.modifier_indicator == 1:
                    marks = {finding.payer.modifiers[m] for m in modifiers.values()}
                    modifier = finding.payer.modifiers[modifiers["separate"]]
                    if not marks & set(line.modifiers):
                        line.modifiers.append(modifier)
                    finding.edits.append(f"{where}: billed with {modifier} (a separate encounter).")
                    continue
                finding.lines.remove(line)
                finding.not_separately_billable.append(line.code)
                finding.edits.append(f"{where}: {pair.column2} is not separately billable.")


def _distinct_site_modifiers(session: list[Finding]) -> None:
    """Each site is its own line: later lines of the same code at another site carry the distinct-site
    modifier, except between different digit modifiers (they already mark distinct sites) and between the
    two sides of one site (the bilateral pair, per payer one line with 50 or one line per side)."""
    seen: dict[str, list[Line]] = defaultdict(list)
    for finding in session:
        for line in finding.lines:
            if line.site is None or line.kind != "procedure":
                continue
            earlier = seen[line.code]
            needs = [
                other for other in earlier
                if not distinct_digits(line, other)
                and not (other.site == line.site and distinct_sides(line.side, other.side)
                         and line.digit is None and other.digit is None)
            ]
            modifier = finding.payer.modifiers["distinct_site"]
            if needs and modifier not in line.modifiers:
                line.modifiers.append(modifier)
                finding.edits.append(f"{line.code} at another site than an earlier {line.code} line of this session "
                                     f"({', '.join(sorted({o.site or '' for o in needs}))}): distinct site, "
                                     f"{modifier}.")
            earlier.append(line)


def _side_and_component_modifiers(finding: Finding) -> None:
    modifiers = finding.payer.modifiers
    for line in finding.lines:
        entry = finding.pack.codes.get(line.code)
        if entry is None:  # a drug supply line: no side, no component
            continue
        extra = []
        if entry.pc_tc_indicator == 1 and finding.facility:
            extra.append(modifiers["professional_component"])
        if line.digit is not None and entry.role == "procedure":
            extra.append(line.digit)  # the anatomic digit modifier replaces RT/LT
        elif finding.pack.laterality and entry.role == "procedure":
            if line.side == BILATERAL:
                extra.append(modifiers["bilateral"])
            elif line.side in (RIGHT, LEFT) and finding.payer.side_modifiers:
                extra.append(modifiers[line.side])
        line.modifiers[:0] = extra  # pricing and side modifiers before informational ones (XS)


def _repeat_modifiers(findings: list[Finding]) -> None:
    """The same code on the same side later the same day in another session: 76 same performer, else 77."""
    groups: dict[tuple, list[tuple[Finding, Line]]] = defaultdict(list)
    for finding in findings:
        for line in finding.lines:
            if line.day and line.kind == "procedure" and finding.pack.codes[line.code].role == "procedure":
                groups[(line.day, line.code, line.side, line.site, line.digit)].append((finding, line))
    for items in groups.values():
        if len({line.session for _, line in items}) < 2:
            continue
        items.sort(key=lambda item: item[1].start.timestamp() if item[1].start else 0.0)
        first_finding, first = items[0]
        for finding, line in items[1:]:
            if line.session == first.session:
                continue
            same = line.performer == first.performer
            modifier = finding.payer.modifiers["repeat_same_performer" if same else "repeat_other_performer"]
            line.modifiers.append(modifier)
            who = "the same performer" if same else "another performer"
            finding.edits.append(f"Repeated later the same day after {first_finding.act.key}, by {who}: {modifier}.")


def _drug_lines(finding: Finding) -> None:
    """Drug supply lines after the claim edits: units from the dose, never a side or an NCCI edit."""
    act = finding.act
    for dose in finding.drugs:
        for code, units in dose.codes:
            finding.lines.append(Line(code, units, None, act.day, act.start, act.performer, finding.session,
                                      kind="drug"))


def _mues(findings: list[Finding]) -> None:
    units: dict[tuple[str, str | None], int] = defaultdict(int)
    for finding in findings:
        for line in finding.lines:
            units[(line.code, line.day)] += line.units
    for finding in findings:
        for line in finding.lines:
            limit = finding.pack.mues.get(line.code)
            total = units[(line.code, line.day)]
            message = (f"MUE: {total} units of {line.code} on {line.day or 'one day'} exceed the CMS limit of "
                       f"{limit}; expect a denial unless the record supports every unit.")
            if limit is not None and total > limit and message not in finding.edits:
                finding.mue_exceeded = True
                finding.edits.append(message)


def apply_claim_edits(findings: list[Finding], focus: set[str]) -> None:
    """Order matters: day sequences, absorption and bilateral merge shape the lines the NCCI pairs then see
    (per session, then per date of service); guidance lines follow their primaries."""
    sessions = group_sessions(findings)
    for finding in findings:
        initial_lines(finding)
    one_unit_a_day(findings)
    pairs = list({pair: None for f in findings for pair in f.pack.ncci_pairs})
    for session in sessions:
        _localizing_scans(session)
        _absorb(session)
        _merge_bilateral(session, focus)
        _apply_pairs(session, pairs)
    _apply_pairs_per_day(findings, pairs)
    for session in sessions:
        _settle_guidance(session)
        _distinct_site_modifiers(session)
    for finding in findings:
        # A merged or split procedure line is appended: its guidance lines follow it, the procedure comes first.
        finding.lines.sort(key=_is_guidance)
        _side_and_component_modifiers(finding)
    _repeat_modifiers(findings)
    for finding in findings:
        _drug_lines(finding)
    _mues(findings)
