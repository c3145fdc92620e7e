"""One validator for CDS Hooks 2.0 service responses (used by the tests and the development profile)."""

from __future__ import annotations

from urllib.parse import urlsplit

INDICATORS = {"info", "warning", "critical"}
SELECTION = {"at-most-one", "any"}
ACTION_TYPES = {"create", "update", "delete"}
LINK_TYPES = {"absolute", "smart"}
SUGGESTION = "cpt-coding.suggestion"


def _empties(value, path: str, out: list[str]) -> None:
    if value is None or value == "" or value == [] or value == {}:
        out.append(f"{path} is null or empty; omit it instead")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _empties(item, f"{path}.{key}", out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _empties(item, f"{path}[{i}]", out)


def _absolute(url: object) -> bool:
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return bool(parts.scheme and parts.netloc)


def _coding(coding: object, path: str, out: list[str], need_display: bool) -> None:
    if not isinstance(coding, dict):
        out.append(f"{path} must be a Coding object")
        return
    for field in ("code", "system") + (("display",) if need_display else ()):
        if not isinstance(coding.get(field), str):
            out.append(f"{path}.{field} is required")


def response_problems(response: object) -> list[str]:
    """Every way this response breaks the CDS Hooks 2.0 response rules; empty when it is valid."""
    out: list[str] = []
    if not isinstance(response, dict) or not isinstance(response.get("cards"), list):
        return ["response must be an object with a 'cards' array"]
    for key, value in response.items():
        if key != "cards":
            _empties(value, key, out)
    for i, card in enumerate(response["cards"]):
        path = f"cards[{i}]"
        if not isinstance(card, dict):
            out.append(f"{path} must be an object")
            continue
        _empties(card, path, out)
        summary = card.get("summary")
        if not isinstance(summary, str) or not summary:
            out.append(f"{path}.summary is required")
        elif len(summary) >= 140:
            out.append(f"{path}.summary must be under 140 characters")
        if card.get("indicator") not in INDICATORS:
            out.append(f"{path}.indicator must be one of {sorted(INDICATORS)}")
        if not isinstance(card.get("uuid"), str):
            out.append(f"{path}.uuid is required here (feedback needs it)")
        source = card.get("source")
        if not isinstance(source, dict) or not isinstance(source.get("label"), str):
            out.append(f"{path}.source.label is required")
        else:
            for field in ("url", "icon"):
                if field in source and not _absolute(source[field]):
                    out.append(f"{path}.source.{field} must be an absolute URL")
        suggestions = card.get("suggestions")
        if suggestions is not None:
            if card.get("selectionBehavior") not in SELECTION:
                out.append(f"{path}.selectionBehavior is required with suggestions")
            for j, suggestion in enumerate(suggestions if isinstance(suggestions, list) else []):
                spath = f"{path}.suggestions[{j}]"
                if not isinstance(suggestion, dict) or not isinstance(suggestion.get("label"), str):
                    out.append(f"{spath}.label is required")
                    continue
                if not isinstance(suggestion.get("uuid"), str):
                    out.append(f"{spath}.uuid is required here (feedback needs it)")
                for k, action in enumerate(suggestion.get("actions") or []):
                    apath = f"{spath}.actions[{k}]"
                    if not isinstance(action, dict) or action.get("type") not in ACTION_TYPES:
                        out.append(f"{apath}.type must be create, update or delete")
                        continue
                    if not isinstance(action.get("description"), str):
                        out.append(f"{apath}.description is required")
                    if action["type"] in ("create", "update") and not isinstance(action.get("resource"), dict):
                        out.append(f"{apath}.resource is required for {action['type']}")
                    if action["type"] == "delete" and not isinstance(action.get("resourceId"), str):
                        out.append(f"{apath}.resourceId is required for delete")
        for j, reason in enumerate(card.get("overrideReasons") or []):
            _coding(reason, f"{path}.overrideReasons[{j}]", out, need_display=True)
        for j, link in enumerate(card.get("links") or []):
            lpath = f"{path}.links[{j}]"
            if not isinstance(link, dict) or not isinstance(link.get("label"), str):
                out.append(f"{lpath}.label is required")
                continue
            if not _absolute(link.get("url")):
                out.append(f"{lpath}.url must be an absolute URL")
            if link.get("type") not in LINK_TYPES:
                out.append(f"{lpath}.type must be absolute or smart")
            if "appContext" in link and link.get("type") != "smart":
                out.append(f"{lpath}.appContext is only for smart links")
        if "extension" in card and not isinstance(card["extension"], dict):
            out.append(f"{path}.extension must be an object")
        elif isinstance(card.get("extension"), dict):
            _suggestion_evidence(card["extension"].get(SUGGESTION), f"{path}.extension.{SUGGESTION}", out)
    return out


def _suggestion_evidence(suggestion: object, path: str, out: list[str]) -> None:
    """The `evidence` items of our coding extension: the words a decision came from, by offsets in a note."""
    if not isinstance(suggestion, dict) or "evidence" not in suggestion:
        return
    items = suggestion["evidence"]
    if not isinstance(items, list):
        out.append(f"{path}.evidence must be an array")
        return
    for i, item in enumerate(items):
        ipath = f"{path}.evidence[{i}]"
        if not isinstance(item, dict):
            out.append(f"{ipath} must be an object")
            continue
        for name in ("field", "text"):
            if not isinstance(item.get(name), str) or not item.get(name):
                out.append(f"{ipath}.{name} is required")
        if not str(item.get("documentReference", "")).startswith("DocumentReference/"):
            out.append(f"{ipath}.documentReference must be a DocumentReference reference")
        start, end = item.get("start"), item.get("end")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end):
            out.append(f"{ipath}.start and .end must be offsets with 0 <= start < end")
        elif isinstance(item.get("text"), str) and end - start != len(item["text"]):
            out.append(f"{ipath}.text must be the note's text from start to end")
