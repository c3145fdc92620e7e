"""`cds-service audit INPUT... --out DIR`: code a FHIR Bulk Data export and compare with what was billed.

INPUT is a folder of NDJSON files (or the files), plain or gzip. With `--fhir-server URL` the export is
first requested from the server ($export, Bulk Data Access) and downloaded into DIR/export.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..batch.fees import FeeScheduleError
from ..batch.progress import Progress
from ..batch.runner import AuditOptions, Interrupted, default_workers, run_audit
from ..config import Settings
from ..rules.packs import PackError

DEFAULT_TYPES = ("Patient,Encounter,Procedure,Condition,ImagingStudy,Observation,DocumentReference,ServiceRequest,"
                 "Coverage,MedicationAdministration,Claim,ExplanationOfBenefit")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="*", type=Path, metavar="INPUT",
                        help="folder(s) or NDJSON files of a Bulk Data export (.ndjson, .ndjson.gz)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help="worker processes (default: the CPU count)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted audit in DIR")
    parser.add_argument("--fee-schedule", type=Path, metavar="FILE",
                        help="CMS Physician Fee Schedule CSV (subset) for the money at stake")
    parser.add_argument("--dask", metavar="SCHEDULER_ADDRESS", help="code on a dask.distributed cluster")
    parser.add_argument("--fhir-server", metavar="URL", help="export from this FHIR server first (Bulk Data $export)")
    parser.add_argument("--type", dest="types", default=DEFAULT_TYPES, help="_type of the $export (resource types)")
    parser.add_argument("--since", help="_since of the $export (FHIR instant)")
    parser.add_argument("--token-env", default="CDS_BULK_TOKEN", metavar="VAR",
                        help="environment variable holding the Bearer token for the FHIR server (CDS_BULK_TOKEN)")


def run(args: argparse.Namespace) -> int:
    progress = Progress()
    inputs = list(args.inputs)
    if args.workers < 1:
        print("cds-service audit: --workers must be at least 1", file=sys.stderr)
        return 2
    if args.fhir_server:
        from ..batch.bulk_export import BulkExportError, download_export

        try:
            inputs.append(download_export(args.fhir_server, args.types, args.since, os.environ.get(args.token_env),
                                          args.out / "export", progress, resume=args.resume))
        except BulkExportError as exc:
            print(f"cds-service audit: bulk export failed: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("cds-service audit: interrupted; run again with --resume", file=sys.stderr)
            return 130
    if not inputs:
        print("cds-service audit: give an INPUT folder or file, or --fhir-server URL", file=sys.stderr)
        return 2
    options = AuditOptions(
        inputs=inputs, out=args.out, rule_packs=Settings.from_env().rule_packs_dir, workers=args.workers,
        resume=args.resume, fee_schedule=args.fee_schedule, dask_scheduler=args.dask,
    )
    try:
        summary = run_audit(options, progress)
    except Interrupted:
        progress.close_phase()
        progress.message("interrupted: the work done is kept; run the same command with --resume to continue")
        return 130
    except (FileNotFoundError, FeeScheduleError, PackError) as exc:
        print(f"cds-service audit: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:  # --dask without dask installed
        print(f"cds-service audit: {exc.name or exc} is not installed (pip install -e '.[dask]')", file=sys.stderr)
        return 2
    except (OSError, TimeoutError) as exc:  # a Dask scheduler that cannot be reached
        print(f"cds-service audit: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    statuses = ", ".join(f"{n} {s}" for s, n in summary["byStatus"].items() if n)
    progress.message(f"{summary['encounters']} encounters, {summary['findings']} coded subjects "
                     f"({statuses or 'none'}); {summary['inputs']['errors']} malformed lines; outputs in {args.out}")
    return 0
