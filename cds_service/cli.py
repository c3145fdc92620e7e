"""The `cds-service` command: serve, evaluate a request file, report on feedback."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# subcommand -> module in cds_service.commands (dashes as underscores)
# exposing add_arguments(parser) and run(args) -> int
SUBCOMMANDS = {
    "serve": "Serve the service with gunicorn on $HOST:$PORT.",
    "evaluate": "Evaluate a hook request JSON file without a server and print the response.",
    "report": "Report per rule: cards issued, accepted, overridden, top override reasons.",
    "eval-notes": "Score the coder on a labelled note corpus: per-field precision/recall, exact lines.",
    "audit": "Audit a FHIR Bulk Data export: code every encounter and compare with what was billed.",
    "validate": "Validate the FHIR resources of JSON files (hook requests, Bundles, resources) with fhir.resources.",
}


def _serve(args: argparse.Namespace) -> int:
    argv = ["gunicorn", "-c", "python:cds_service.gunicorn_conf", "cds_service.wsgi:app"]
    os.execvp(sys.executable, [sys.executable, "-m", *argv])
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cds-service", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    handlers = {}
    for name, help_text in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == "serve":
            handlers[name] = _serve
            continue
        try:
            module = importlib.import_module(f"cds_service.commands.{name.replace('-', '_')}")
        except ModuleNotFoundError:
            continue
        module.add_arguments(p)
        handlers[name] = module.run
    args = parser.parse_args(argv)
    handler = handlers.get(args.command)
    if handler is None:
        parser.error(f"'{args.command}' is not available in this build")
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
