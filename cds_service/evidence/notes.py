"""Clinical note text: DocumentReference attachments are base64 text/plain or text/markdown.

Decoded defensively: an attachment that is not valid base64 or UTF-8 is skipped and reported, never a 500.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from .values import key_of, listed

TEXT_TYPES = ("text/plain", "text/markdown")
# A note larger than this is not a procedure note; reading it would only cost time.
MAX_NOTE_BYTES = 512 * 1024


@dataclass(frozen=True)
class NoteText:
    source: str  # e.g. "DocumentReference/n1"
    text: str
    # True when the text documents several procedures (or none in particular): it can fill documentation
    # gaps, but it cannot tell which of them a catheter was left in.
    shared: bool = False


def note_text(document: dict) -> tuple[NoteText | None, str | None]:
    """The readable text of a DocumentReference and, when some of it could not be read, why."""
    parts: list[str] = []
    problem = None
    for content in listed(document, "content"):
        attachment = content.get("attachment") if isinstance(content, dict) else None
        if not isinstance(attachment, dict) or not isinstance(attachment.get("data"), str):
            continue
        content_type = str(attachment.get("contentType") or "text/plain").split(";")[0].strip().lower()
        if content_type not in TEXT_TYPES:
            continue
        data = attachment["data"]
        if len(data) > MAX_NOTE_BYTES * 4 // 3 + 4:
            problem = "note attachment is too large to read"
            continue
        try:
            parts.append(base64.b64decode(data, validate=True).decode("utf-8"))
        except (binascii.Error, ValueError):
            problem = "note attachment is not valid base64 UTF-8 text"
    if not parts:
        return None, problem
    return NoteText(key_of(document), "\n".join(parts)), problem
