"""Markdown for card details. Text that comes from resources is escaped: clients such as the CDS Hooks
sandbox render raw HTML inside Markdown, so a note or a display must never reach it unescaped."""

from __future__ import annotations

import html
import re

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-!|>~])")


def escape(text: str) -> str:
    """Resource text made inert: HTML entities for <, >, &, quotes; backslashes before Markdown syntax."""
    flattened = " ".join(text.split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(flattened, quote=False))


def bullets(items: list[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


def checklist(items: list[str]) -> str:
    return "\n".join(f"- [ ] {item}" for item in items)


def section(title: str, body: str) -> str:
    return f"**{title}**\n\n{body}" if body else ""
