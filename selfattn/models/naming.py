"""How a preset made from a model names its text (shared by the BERT and decoder routes)."""

from __future__ import annotations


def shorten(text: str, limit: int) -> str:
    """`text` cut to `limit` characters with "…" when longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def one_line(text: str, limit: int) -> str:
    """`text` on one line (runs of spaces, tabs and newlines as one space), shortened.

    A preset's name is shown in title bars, menus and prompts: a multi-line prompt
    must not turn into "\\n\\n" escapes or several lines there.
    """
    return shorten(" ".join(text.split()), limit)
