"""Campaign bodies: Markdown rendered safely. Raw HTML in the source is not passed through
(it shows as text), and links only to http(s) and mailto (markdown-it's link check drops
javascript:, vbscript:, file: and data:)."""

from __future__ import annotations

from functools import cache

from markdown_it import MarkdownIt
from markupsafe import Markup


@cache
def _renderer() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def render(source: str) -> Markup:
    # markdown-it escapes every text and attribute it writes, and with html=False no raw
    # HTML of the source survives: the output is safe to mark as such.
    return Markup(_renderer().render(source or ""))  # nosec B704
