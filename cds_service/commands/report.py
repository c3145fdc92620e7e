"""`cds-service report`: per rule, cards issued, accepted, overridden, acceptance rate, top override reasons."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from ..config import Settings
from ..store import StoreUnavailable, open_store
from ..store.records import OverrideReasonCount, RuleReport


def since_argument(text: str) -> datetime:
    """A date (midnight UTC) or an ISO 8601 date-time with a time zone."""
    try:
        value = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD) or ISO 8601 date-time: {text!r}") from None
    if value.tzinfo is None:
        if "T" in text.upper():
            raise argparse.ArgumentTypeError("a date-time needs a time zone, e.g. 2025-01-31T08:00:00Z")
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since", type=since_argument, metavar="DATE", help="only cards issued from this date (UTC) or date-time"
    )
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output format (table)")


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    try:
        store = open_store(settings)
        try:
            rows = store.report(args.since)
        finally:
            store.close()
    except StoreUnavailable as exc:
        print(f"cds-service report: the store could not be read ({exc.__cause__ or exc})", file=sys.stderr)
        return 1
    sys.stdout.write(as_json(rows, args.since) if args.format == "json" else as_table(rows))
    return 0


def _reason_label(reason: OverrideReasonCount) -> str:
    if not reason.code:
        return "(no reason given)"
    label = f"{reason.system}|{reason.code}" if reason.system else reason.code
    return f"{label} ({reason.display})" if reason.display else label


def _rate(row: RuleReport) -> str:
    return "-" if row.acceptance_rate is None else f"{row.acceptance_rate:.1%}"


def as_table(rows: list[RuleReport]) -> str:
    if not rows:
        return "No cards or feedback recorded in this period.\n"
    width = max(len("RULE"), *(len(row.rule) for row in rows))
    lines = [f"{'RULE':<{width}}  {'ISSUED':>7}  {'ACCEPTED':>8}  {'OVERRIDDEN':>10}  {'ACCEPTANCE':>10}"]
    for row in rows:
        lines.append(
            f"{row.rule:<{width}}  {row.issued:>7}  {row.accepted:>8}  {row.overridden:>10}  {_rate(row):>10}"
        )
        for reason in row.top_override_reasons:
            lines.append(f"    {reason.count:>5} x {_reason_label(reason)}; {reason.with_comment} with a comment")
    return "\n".join(lines) + "\n"


def as_json(rows: list[RuleReport], since: datetime | None) -> str:
    document = {
        "since": since.isoformat().replace("+00:00", "Z") if since else None,
        "rules": [
            {
                "rule": row.rule,
                "issued": row.issued,
                "accepted": row.accepted,
                "overridden": row.overridden,
                "acceptanceRate": None if row.acceptance_rate is None else round(row.acceptance_rate, 4),
                "topOverrideReasons": [
                    {
                        "system": reason.system or None,
                        "code": reason.code or None,
                        "display": reason.display,
                        "count": reason.count,
                        "withComment": reason.with_comment,
                    }
                    for reason in row.top_override_reasons
                ],
            }
            for row in rows
        ],
    }
    return json.dumps(document, indent=2) + "\n"
