"""Small text helpers shared by the spec checks, the CLI and the schedulers."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["did_you_mean", "plural", "human_bytes", "human_seconds"]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` when a close match exists, else ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def plural(count: int, word: str) -> str:
    """``"1 error"``, ``"2 errors"``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def human_bytes(value: float | None) -> str:
    """Bytes as a short binary-multiple figure: ``512 KB``, ``1.5 GB``."""
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(size) < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" or size >= 100 else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"  # pragma: no cover


def human_seconds(value: float | None) -> str:
    """Seconds as ``0.12s``, ``3.4s``, ``2m05s`` or ``1h02m``."""
    if value is None:
        return "-"
    if value < 10:
        return f"{value:.2f}s"
    if value < 60:
        return f"{value:.1f}s"
    minutes, seconds = divmod(int(value), 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
