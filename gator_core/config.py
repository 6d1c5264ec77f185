"""Settings of a run and of one node, as sent to each child in its welcome."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Limits", "RunConfig", "NodeConfig", "DEFAULT_INTERVAL", "DEFAULT_GRACE", "job_seed"]

DEFAULT_INTERVAL = 5.0
DEFAULT_GRACE = 3.0


def job_seed(run_seed: int, path: str) -> int:
    """A job's ``GATOR_SEED``: the same for the same run seed and path, on any machine.

    31 bits, so that every simulator takes it as a plain positive integer.
    """
    digest = hashlib.sha256(f"{run_seed}:{path}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


@dataclass(frozen=True)
class Limits:
    """How many messages of each severity a job may log and still pass (None: no limit)."""

    warning: int | None = None
    error: int | None = 0
    critical: int | None = 0

    def exceeded(self, counts: dict[str, int]) -> list[str]:
        """Descriptions of every limit the counts go over."""
        out = []
        for name in ("critical", "error", "warning"):
            limit = getattr(self, name)
            if limit is not None and counts.get(name, 0) > limit:
                out.append(f"{counts[name]} {name} message{'s' if counts[name] != 1 else ''} "
                           f"(limit {limit})")
        return out


@dataclass(frozen=True)
class RunConfig:
    """Settings shared by every node of one run."""

    run_id: str
    tracking_root: str
    launch_dir: str
    scheduler: str = "local"
    sched_options: dict[str, str] = field(default_factory=dict)
    sched_inherited: dict[str, Any] = field(default_factory=dict)
    interval: float = DEFAULT_INTERVAL
    grace: float = DEFAULT_GRACE
    limits: Limits = Limits()
    seed: int = 0  # the run's seed; every job's GATOR_SEED derives from it and the job's path

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        data = dict(data)
        data["limits"] = Limits(**data.get("limits", {}))
        return cls(**data)


@dataclass(frozen=True)
class NodeConfig:
    """Where one node sits in the run: its path, directories and inherited settings."""

    path: str
    tracking: str
    cwd: list[str]  # working directory parts, root first: joined after $VAR expansion
    env: dict[str, str | None] = field(default_factory=dict)  # spec layers merged, top down
    arrays: list[tuple[str, int]] = field(default_factory=list)  # (array id, index), outermost first
    watch: list[str] = field(default_factory=list)  # descendant paths whose outcome the parent needs
    rules: list[list[str]] = field(default_factory=list)  # [pattern, severity, stream], closest first
    parsers: list[str] = field(default_factory=list)  # log parser names, closest first
    params: dict[str, str] = field(default_factory=dict)  # {{ name }} values it sees (its own included)
    # The artefacts it and everything below may use: need (build.binary) -> paths here.
    artefacts: dict[str, list[str]] = field(default_factory=dict)
    # A rerun: this node's directory in the earlier run, and the paths below this node
    # (relative, dotted) of the jobs to run again; the others are carried over.
    rerun_from: str | None = None
    rerun_only: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NodeConfig:
        data = dict(data)
        data["arrays"] = [tuple(x) for x in data.get("arrays", [])]
        return cls(**data)
