"""What was billed for an encounter, and how it compares with the engine's suggested lines.

Billed lines come from Claim / ExplanationOfBenefit items (CPT or HCPCS codes; modifiers from any code
system), else from the CPT codings already on the encounter's Procedures. Only codes the rule packs know
(procedure, not-performed imaging and bundled guidance codes) are compared; other lines (visits, labs)
are not this audit's business.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..evidence.values import CPT, codings, listed, reference_key
from ..rules.model import Finding
from ..rules.packs import RuleBook

Known = dict[str, frozenset[str]]  # code -> ids of the packs that know it
HCPCS_SYSTEMS = ("urn:oid:2.16.840.1.113883.6.285", "urn:oid:2.16.840.1.113883.6.12")

# Statuses, a billing problem first (the first that applies wins), then the documentation and the match.
WRONG_CODE, MISSING_MODIFIER, EXTRA_LINE, NOT_BILLED = "wrong-code", "missing-modifier", "extra-line", "not-billed"
DOCUMENTATION_GAP, MATCH = "documentation-gap", "match"
BILLING_PROBLEMS = (WRONG_CODE, MISSING_MODIFIER, EXTRA_LINE, NOT_BILLED)
STATUSES = (*BILLING_PROBLEMS, DOCUMENTATION_GAP, MATCH)


def is_billing_code_system(system: str) -> bool:
    lowered = system.lower()
    return system == CPT or "cpt" in lowered or "hcpcs" in lowered or system in HCPCS_SYSTEMS


@dataclass
class BilledLine:
    code: str
    modifiers: list[str]
    units: int
    source: str  # "Claim/c1 item 2" or "Procedure/p1"
    subject: str | None = None  # the Procedure the line is tied to (procedureSequence), when known

    def as_json(self) -> dict:
        line: dict = {"code": self.code}
        if self.modifiers:
            line["modifiers"] = self.modifiers
        line["units"] = self.units
        line["source"] = self.source
        return line


def known_codes(book: RuleBook) -> Known:
    """Every code a pack decides about (procedure, imaging, bundled guidance and drug supply codes) -> the ids
    of the packs that know it (guidance codes are shared)."""
    found: dict[str, set[str]] = {}
    for pack in book.packs:
        drugs = getattr(pack, "drugs", None)
        drug_codes = [c.code for item in drugs.items for c in item.codes] if drugs is not None else []
        for code in (*pack.codes, *pack.cpt_index, *pack.bundled_guidance, *drug_codes):
            found.setdefault(code, set()).add(pack.id)
    return {code: frozenset(packs) for code, packs in found.items()}


def with_suggested(known: Known, findings: list[Finding]) -> Known:
    """`known` plus any code the engine suggested for this encounter (a line is always comparable)."""
    extra = {line.code: frozenset({f.pack.id}) for f in findings for line in f.lines if line.code not in known}
    return {**known, **extra} if extra else known


def _units(item: dict) -> int:
    quantity = item.get("quantity")
    value = quantity.get("value") if isinstance(quantity, dict) else None
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) and value >= 1 else 1


def _claim_lines(claim: dict, encounter: str | None, known: Known) -> list[BilledLine]:
    key = f"{claim.get('resourceType')}/{claim.get('id')}"
    procedures = {}
    for procedure in listed(claim, "procedure"):
        if isinstance(procedure, dict) and isinstance(procedure.get("sequence"), int):
            procedures[procedure["sequence"]] = reference_key(procedure.get("procedureReference"))
    lines = []
    for index, item in enumerate(listed(claim, "item"), start=1):
        if not isinstance(item, dict):
            continue
        item_encounters = [reference_key(e) for e in listed(item, "encounter")]
        if encounter and item_encounters and encounter not in item_encounters:
            continue
        codes = [c.code for c in codings(item.get("productOrService")) if is_billing_code_system(c.system)]
        code = next((c for c in codes if c in known), None)
        if code is None:
            continue
        modifiers = list(dict.fromkeys(c.code.upper() for m in listed(item, "modifier") for c in codings(m)))
        tied = [procedures.get(seq) for seq in listed(item, "procedureSequence") if procedures.get(seq)]
        sequence = item.get("sequence") if isinstance(item.get("sequence"), int) else index
        lines.append(BilledLine(code, modifiers, _units(item), f"{key} item {sequence}", tied[0] if tied else None))
    return lines


def billed_lines(claims: list[dict], procedures: list[dict], encounter: str | None,
                 known: Known) -> tuple[str, list[BilledLine]]:
    """('claim' | 'procedure' | 'none', the lines). Claims count when they carry CPT/HCPCS codes at all (a
    claim coded in SNOMED only, as Synthea writes them, says nothing about CPT billing); an EOB is read
    only when its Claim is not in the export."""
    usable = [c for c in claims if c.get("status") not in ("cancelled", "entered-in-error")]
    claim_keys = {f"Claim/{c.get('id')}" for c in usable if c.get("resourceType") == "Claim"}
    usable = [c for c in usable if c.get("resourceType") == "Claim" or reference_key(c.get("claim")) not in claim_keys]
    if any(is_billing_code_system(c.system) for claim in usable for item in listed(claim, "item")
           if isinstance(item, dict) for c in codings(item.get("productOrService"))):
        return "claim", [line for claim in usable for line in _claim_lines(claim, encounter, known)]
    lines = []
    for procedure in procedures:
        if procedure.get("status") in ("entered-in-error",):
            continue
        key = f"Procedure/{procedure.get('id')}"
        for coded in codings(procedure.get("code")):
            if coded.system == CPT and coded.code in known:
                lines.append(BilledLine(coded.code, [], 1, key, key))
    return ("procedure" if lines else "none"), lines


@dataclass
class Comparison:
    finding: Finding | None  # None: billed lines no coded subject accounts for
    billed: list[BilledLine] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        for status in BILLING_PROBLEMS:
            if status in self.problems:
                return status
        if self.finding is not None and self.finding.billing_gaps:
            return DOCUMENTATION_GAP
        return MATCH


def compare(findings: list[Finding], lines: list[BilledLine], source: str, known: Known) -> list[Comparison]:
    """Ties billed lines to the coded subjects, then names what differs for each subject."""
    comparisons = [Comparison(f) for f in findings]
    by_subject = {c.finding.act.key: c for c in comparisons if c.finding is not None}
    suggested_codes = {c.finding.act.key: [line.code for line in c.finding.lines] for c in comparisons if c.finding}
    loose: list[BilledLine] = []
    for line in lines:
        holder = by_subject.get(line.subject) if line.subject else None
        if holder is not None and not holder.finding.lines and line.code in holder.finding.billed_elsewhere:
            # Tied to the second side of a bilateral line: the line sits on the other subject's card.
            holder = next((c for c in comparisons if line.code in suggested_codes.get(c.finding.act.key, [])), None)
        if holder is None:
            loose.append(line)
        else:
            holder.billed.append(line)
    for line in loose:
        _place(line, comparisons, suggested_codes, known).billed.append(line)
    orphans = [c for c in comparisons if c.finding is None]
    for comparison in comparisons:
        _judge(comparison, check_modifiers=source == "claim")
    return [c for c in comparisons if c.finding is not None] + orphans


def _place(line: BilledLine, comparisons: list[Comparison], suggested: dict[str, list[str]],
           known: Known) -> Comparison:
    coded = [c for c in comparisons if c.finding is not None]
    taken = {id(c): sum(1 for b in c.billed if b.code == line.code) for c in coded}
    same_code = [c for c in coded if suggested[c.finding.act.key].count(line.code) > taken[id(c)]]
    if same_code:
        return same_code[0]
    bundled = [c for c in coded if line.code in c.finding.not_separately_billable]
    if bundled:
        return bundled[0]
    families = known.get(line.code, frozenset())
    same_family = [c for c in coded if c.finding.pack.id in families]
    unbilled = [c for c in same_family if c.finding.lines and not c.billed]
    if unbilled or same_family:
        return (unbilled or same_family)[0]
    orphan = next((c for c in comparisons if c.finding is None), None)
    if orphan is None:
        orphan = Comparison(None)
        comparisons.append(orphan)
    return orphan


def _judge(comparison: Comparison, check_modifiers: bool) -> None:
    problems = comparison.problems
    bundled = set(comparison.finding.not_separately_billable) if comparison.finding is not None else set()
    billed = [b for b in comparison.billed if b.code not in bundled]
    if len(billed) < len(comparison.billed):
        problems.append(EXTRA_LINE)  # a code the procedure's line includes, billed on its own
    suggested = comparison.finding.lines if comparison.finding is not None else []
    unmatched = []
    for line in suggested:
        same = next((b for b in billed if b.code == line.code), None)
        if same is None:
            unmatched.append(line)
            continue
        billed.remove(same)
        if check_modifiers and not set(line.modifiers) <= set(same.modifiers):
            problems.append(MISSING_MODIFIER)
        if same.units > line.units:  # more units billed than done (drug supply lines count units)
            problems.append(EXTRA_LINE)
        elif same.units < line.units:
            problems.append(NOT_BILLED)
    for _ in unmatched:
        if billed:
            billed.pop(0)
            problems.append(WRONG_CODE)
        else:
            problems.append(NOT_BILLED)
    if billed:
        problems.append(EXTRA_LINE)
    comparison.problems = list(dict.fromkeys(problems))
