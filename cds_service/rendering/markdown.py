"""Markdown for card details. Text that comes from resources is escaped: clients such as the CDS Hooks
sandbox render raw HTML inside Markdown, so a note or a display must never reach it unescaped."""

from __future__ import annotations

import html

# Markdown punctuation, each preceded by a backslash (str.translate: one pass, no regex templates).
_MARKDOWN_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_{}[]()#+-!|>~"})


def escape(text: str) -> str:
    """Resource text made inert: HTML entities for <, >, &, quotes; backslashes before Markdown syntax."""
    flattened = " ".join(text.split())
    return html.escape(flattened, quote=False).translate(_MARKDOWN_SPECIAL)


def bullets(items: list[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


def checklist(items: list[str]) -> str:
    return "\n".join(f"- [ ] {item}" for item in items)


def section(title: str, body: str) -> str:
    return f"**{title}**\n\n{body}" if body else ""
