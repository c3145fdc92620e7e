"""`cds-service validate FILE...`: check every FHIR resource of JSON files with fhir.resources (R4B models).

A file may be a hook request (its context resources and prefetch are checked), a Bundle (each entry) or a
single resource. Invalid resources are reported by file and JSON path; the exit status is 1 when any file
has a problem or cannot be read, 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..fhir.models import document_problems


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path, help="hook requests, Bundles or resources (JSON)")


def run(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.files:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            print(f"{path}: not readable JSON ({exc})")
            failed += 1
            continue
        count, problems = document_problems(document)
        if count == 0:
            print(f"{path}: no FHIR resource found (not a resource, Bundle or hook request)")
            failed += 1
            continue
        for problem in problems:
            print(f"{path}: {problem}")
        if problems:
            failed += 1
        else:
            print(f"{path}: {count} resource{'s' if count != 1 else ''} valid")
    print(f"{len(args.files) - failed} of {len(args.files)} files valid", file=sys.stderr)
    return 1 if failed else 0
