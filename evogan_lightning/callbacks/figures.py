"""Small helpers shared by the figures of the callbacks and the CLIs (no torch or Lightning import)."""

from __future__ import annotations

import textwrap


def wrap_title(text: str, width_inches: float, fontsize: float = 12) -> str:
    """``text`` broken into lines that fit a figure ``width_inches`` wide at ``fontsize`` points (about
    0.55 em per character), so ``tight_layout`` never clips a long title."""
    chars = max(20, int(width_inches * 72 / (0.55 * fontsize)) - 4)
    return textwrap.fill(text, width=chars)
