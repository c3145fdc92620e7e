"""In-process cost of reading a note: the text pipeline alone and the whole note-sign coding of one call
(evidence, text pipeline, rules, cards), median and 90th percentile over repeated calls in this process, in
CPU time of this process (the machine may be shared: wall time would count other processes' work)."""

from __future__ import annotations

import base64
import copy
import statistics
import time
from pathlib import Path

from cds_service.coding import build_coder
from cds_service.config import Settings
from cds_service.fhir.access import FhirAccess
from cds_service.fhir.client import new_session
from cds_service.services import SERVICES_BY_ID

NOTE_FILE = Path(__file__).resolve().parent / "notes" / "thoracentesis-operative.txt"
NOTE_SIGN = "procedure-coding-note-sign"


def long_note_text(size: int = 2048) -> str:
    """The benchmark's operative note, cut at a line end near `size` bytes."""
    text = NOTE_FILE.read_text(encoding="utf-8")
    return text if len(text) <= size else text[: text.rfind("\n", 0, size) + 1]


def with_note_text(call: dict, text: str) -> dict:
    """A copy of a note-sign call whose signed note holds `text`."""
    call = copy.deepcopy(call)
    attachment = call["context"]["note"]["content"][0]["attachment"]
    attachment["contentType"] = "text/plain"
    attachment["data"] = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return call


def _quantiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"median_ms": round(statistics.median(ordered) * 1000, 2),
            "p90_ms": round(ordered[int(len(ordered) * 0.9)] * 1000, 2)}


def text_cost(call: dict, repeats: int = 200) -> dict:
    """Cost of the note-sign coding of `call` (whose note is read) in this process, after one warm-up call."""
    settings = Settings()
    coder = build_coder(settings)
    service = SERVICES_BY_ID[NOTE_SIGN]
    access = FhirAccess(settings, new_session(1), None)
    data = access.resolve(service, call, [call["context"]["note"]])
    text = base64.b64decode(call["context"]["note"]["content"][0]["attachment"]["data"]).decode("utf-8")
    coder.cards(service, call, data)
    reads, codings = [], []
    for _ in range(repeats):
        started = time.process_time()
        coder.book.reader.read(text)
        reads.append(time.process_time() - started)
        started = time.process_time()
        coder.cards(service, call, data)
        codings.append(time.process_time() - started)
    return {"note_bytes": len(text.encode("utf-8")), "read": _quantiles(reads), "coding": _quantiles(codings)}
