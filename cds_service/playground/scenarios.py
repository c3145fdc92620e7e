"""The playground's scenarios: the hook requests in fhir_fixtures/requests, one JSON file each.

A file is named `<scenario>.<hook>.json` (for example `thoracentesis-bilateral.encounter-discharge.json`);
its own `hook` field decides which service it is fired at. Files that are not valid hook requests are
left out of the list rather than breaking the page.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from ..services import SERVICES

log = logging.getLogger(__name__)

# Scenario names come from URLs: only plain file-name characters, so no path can leave the folder.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,150}$")
# Abbreviations that read better upper-case in a scenario title.
_UPPER_WORDS = {"us": "US", "ct": "CT", "mr": "MR", "mri": "MRI", "ipc": "IPC", "cpt": "CPT"}
_SERVICE_FOR_HOOK = {service.hook: service for service in SERVICES}


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    hook: str
    service_id: str | None

    def as_json(self) -> dict:
        return asdict(self)


def _title(name: str) -> str:
    stem = name.split(".", 1)[0]
    words = [_UPPER_WORDS.get(word.lower(), word) for word in re.split(r"[-_]+", stem) if word]
    if words and words[0] == words[0].lower():
        words[0] = words[0].capitalize()
    return " ".join(words) or name


def _read_request(path: Path) -> dict | None:
    try:
        request = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        log.warning("playground scenario is not readable JSON", extra={"path": path.name})
        return None
    if not isinstance(request, dict) or not isinstance(request.get("hook"), str):
        log.warning("playground scenario is not a hook request", extra={"path": path.name})
        return None
    return request


def list_scenarios(folder: Path) -> list[Scenario]:
    """Every readable hook request in `folder`, sorted by name; an absent folder lists nothing."""
    if not folder.is_dir():
        return []
    scenarios = []
    for path in sorted(folder.glob("*.json")):
        name = path.name.removesuffix(".json")
        if not _NAME.match(name):
            continue
        request = _read_request(path)
        if request is None:
            continue
        service = _SERVICE_FOR_HOOK.get(request["hook"])
        scenarios.append(Scenario(name, _title(name), request["hook"], service and service.id))
    return scenarios


def load_scenario(folder: Path, name: str) -> dict | None:
    """The hook request of one scenario, or None when there is no such scenario."""
    if not _NAME.match(name):
        return None
    path = folder / f"{name}.json"
    if not path.is_file() or path.resolve().parent != folder.resolve():
        return None
    return _read_request(path)
