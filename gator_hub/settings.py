"""Where the hub keeps things by default, and its secrets (tokens, the database URL).

Secrets never travel on a command line: a token lives in a file (created with
mode 0600 when missing), and a database URL with a password comes from the
environment variable ``GATOR_HUB_DB``.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from gator_hub.errors import HubUsageError

__all__ = ["DB_ENV", "TOKEN_ENV", "data_dir", "default_db_url", "default_token_file", "resolve_db_url",
           "read_or_create_token", "read_token", "parse_age"]

DB_ENV = "GATOR_HUB_DB"
TOKEN_ENV = "GATOR_HUB_TOKEN"


def data_dir() -> Path:
    """``$XDG_DATA_HOME/gator``, else ``~/.local/share/gator``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "gator"


def default_db_url() -> str:
    return f"sqlite:///{data_dir() / 'hub.sqlite'}"


def default_token_file() -> Path:
    """Next to the default database."""
    return data_dir() / "hub.token"


def resolve_db_url(given: str | None) -> str:
    """``--db``, else ``$GATOR_HUB_DB``, else the default SQLite file (its directory is made)."""
    url = given or os.environ.get(DB_ENV) or default_db_url()
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):].split("?", 1)[0]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    return url


def read_token(path: Path) -> str:
    """The token in ``path`` (surrounding whitespace dropped); a clear error when unreadable or empty."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise HubUsageError(f"cannot read the token file {path}: {exc.strerror or exc}") from None
    if not token:
        raise HubUsageError(f"the token file {path} is empty")
    return token


def read_or_create_token(path: Path) -> str:
    """The token in ``path``; when there is no such file, a new random token written there
    with mode 0600 (created exclusively, so it is never readable by others, even briefly)."""
    if path.exists():
        return read_token(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # made by someone else meanwhile: use theirs
        return read_token(path)
    except OSError as exc:
        raise HubUsageError(f"cannot create the token file {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(token + "\n")
    return token


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_age(text: str) -> float:
    """``90d``, ``12h``, ``30m``, ``45s`` (or a bare number of seconds) as seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if not match:
        raise HubUsageError(f"cannot read the age {text!r}: use a number with s, m, h or d (90d)")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]
