"""The wrapper's side of artefacts: finding what a job produced, and what it needs.

When a job ends, each declared artefact (a path or glob, relative to the job's
working directory) must exist.  Each file found is recorded with its size and
SHA-256; a directory counts as one artefact file, its size the sum and its
hash over its files' relative paths and hashes.  On a host without the
submitting machine's files, each artefact is also put (hard-linked where it
can be, else copied) under ``artefacts/<name>/`` in the job's tracking
directory there, which goes back with the rest of its tracking data; the
paths recorded are then the paths that copy will have here.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
from collections.abc import Mapping
from typing import Any

from gator_core.envvars import expand

from .hostpaths import HostPaths

__all__ = ["ARTEFACTS_DIR", "find_artefacts", "inputs_here", "digest"]

ARTEFACTS_DIR = "artefacts"  # in a job's tracking directory, on hosts without the shared files
_CHUNK = 1 << 20


def _file_digest(path: str) -> tuple[int, str]:
    sha = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(_CHUNK):
            sha.update(block)
            size += len(block)
    return size, sha.hexdigest()


def digest(path: str) -> tuple[int, str]:
    """Size and SHA-256 of a file, or of a directory tree (over its files' paths and hashes)."""
    if not os.path.isdir(path):
        return _file_digest(path)
    sha = hashlib.sha256()
    total = 0
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            size, hexdigest = _file_digest(full)
            total += size
            sha.update(f"{os.path.relpath(full, path)}\0{hexdigest}\n".encode())
    return total, sha.hexdigest()


def _matches(pattern: str, cwd: str, env: Mapping[str, str]) -> list[str]:
    """The paths a pattern names, each once: a file inside a directory that also matched
    (``out/**``) belongs to that directory's entry."""
    pattern = expand(pattern, env)
    if not glob.has_magic(pattern):  # the cwd's own name may hold [ or *: only the pattern counts
        path = os.path.join(cwd, pattern)
        return [path] if os.path.exists(path) else []
    matched = sorted(glob.glob(os.path.join(glob.escape(cwd), pattern), recursive=True))
    directories = {os.path.normpath(path) for path in matched if os.path.isdir(path)}

    def inside_another(path: str) -> bool:
        parent = os.path.dirname(os.path.normpath(path))
        while parent not in directories and parent != os.path.dirname(parent):
            parent = os.path.dirname(parent)
        return parent in directories

    return [path for path in matched if not inside_another(path)]


def _keep(found: str, cwd: str, name: str, keep_in: str) -> str:
    """Put ``found`` under ``keep_in/artefacts/<name>/`` (its place below the cwd kept)."""
    relative = os.path.relpath(found, cwd)
    if relative.startswith(os.pardir) or os.path.isabs(relative):
        relative = os.path.basename(found)
    target = os.path.join(keep_in, ARTEFACTS_DIR, name, relative)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.isdir(found):
        shutil.copytree(found, target, copy_function=_link_or_copy, dirs_exist_ok=True)
    else:
        _link_or_copy(found, target)
    return target


def _link_or_copy(source: str, target: str) -> None:
    try:
        if os.path.lexists(target):
            os.unlink(target)
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def find_artefacts(declared: Mapping[str, str], cwd: str, env: Mapping[str, str], *,
                   keep_in: str | None = None, paths: HostPaths | None = None
                   ) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The record of each declared artefact (``{name: {"pattern", "files": [{"path",
    "size", "sha256"}]}}``) and a problem for each one that was not produced.

    ``keep_in`` and ``paths``: on a host without the shared files, the job's tracking
    directory there and the mapping back; each artefact is kept there (see above)."""
    record: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for name, pattern in declared.items():
        files = []
        try:
            for found in _matches(pattern, cwd, env):
                size, sha = digest(found)
                here = os.path.abspath(found)
                if keep_in is not None and paths is not None:
                    here = paths.to_local(_keep(found, cwd, name, keep_in)) or here
                files.append({"path": here, "size": size, "sha256": sha})
        except OSError as exc:
            problems.append(f"artefact '{name}' ({pattern}) could not be read: {exc}")
            files = []
        else:
            if not files:
                problems.append(f"artefact '{name}' ({pattern}) was not produced")
        record[name] = {"pattern": pattern, "files": files}
    return record, problems


def inputs_here(values: Mapping[str, list[str]], paths: HostPaths | None) -> dict[str, list[str]]:
    """The paths of the artefacts a job needs, as this host sees them."""
    if paths is None:
        return {need: list(found) for need, found in values.items()}
    return {need: [paths.to_host(path) for path in found] for need, found in values.items()}
