"""The hub's tables as the code queries them (SQLAlchemy Core).

The migrations in ``gator_hub/migrations/versions`` create exactly these; a
change here needs a new migration.  Times are seconds since the epoch (floats,
as in Gator's stores); counts, metrics and command lines are JSON.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Float, Index, Integer, MetaData, String, Table, Text

__all__ = ["metadata", "runs", "nodes", "messages", "details", "RUN_STATES"]

RUN_STATES = ("running", "finished", "interrupted")

metadata = MetaData()

runs = Table(
    "runs", metadata,
    Column("id", String(64), primary_key=True),  # the run's run_id
    Column("spec_text", Text),
    Column("spec_file", Text),
    Column("spec_hash", String(64)),  # sha256 of spec_text
    Column("spec_name", Text),  # the top node's id
    Column("user", Text),
    Column("host", Text),
    Column("argv", JSON),
    Column("scheduler", Text),
    Column("seed", BigInteger),
    Column("tracking", Text),
    Column("started", Float),
    Column("stopped", Float),
    Column("listed_at", Float, nullable=False),  # started, else when registered: the list's order
    Column("state", String(16), nullable=False),
    Column("result", String(16)),
    Column("jobs", JSON),
    Column("updated", Float, nullable=False),
    # Whether the hub could open the run's tracking directory when it was registered
    # (the root store there held the same run id): then messages are read from there.
    Column("readable", Boolean),
)
Index("ix_runs_listed", runs.c.listed_at, runs.c.id)
Index("ix_runs_spec", runs.c.spec_name, runs.c.listed_at)
Index("ix_runs_user", runs.c.user, runs.c.listed_at)
Index("ix_runs_result", runs.c.result, runs.c.listed_at)
Index("ix_runs_stopped", runs.c.stopped)

nodes = Table(
    "nodes", metadata,
    Column("run_id", String(64), primary_key=True),
    Column("path", Text, primary_key=True),
    Column("parent", Text),  # the parent's path; NULL for the top node
    Column("position", Integer, nullable=False),  # order among its siblings
    Column("node_id", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("result", String(16), nullable=False),
    Column("reason", Text),
    Column("exit_code", BigInteger),
    Column("started", Float),
    Column("stopped", Float),
    Column("duration", Float),
    Column("peak_memory", Float),
    Column("messages", JSON),
    Column("jobs", JSON),
    Column("metrics", JSON),
    Column("tracking", Text),
    Column("log", Text),
    Column("native_id", Text),
    Column("host", Text),
    Column("seed", BigInteger),
    Column("first_errors", JSON),  # the first error and critical messages, as texts
    Column("attempts", JSON),  # a retried job's earlier attempts (gator show --json's "attempts")
    Column("artefacts", JSON),  # a job's artefacts: name -> pattern and files (size, sha256)
)
Index("ix_nodes_parent", nodes.c.run_id, nodes.c.parent)
Index("ix_nodes_result", nodes.c.run_id, nodes.c.result)

# A job's messages, for runs whose tracking directory the hub cannot read: uploaded by the
# run (or `gator hub push`).  seq is the message's id in the job's own store.
messages = Table(
    "messages", metadata,
    Column("run_id", String(64), primary_key=True),
    Column("path", Text, primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("time", Float, nullable=False),
    Column("severity", Integer, nullable=False),  # gator_core.Severity's numbers
    Column("text", Text, nullable=False),
)
Index("ix_messages_severity", messages.c.run_id, messages.c.path, messages.c.severity)

# What a job page shows beyond the node, uploaded with the messages: the job store's
# attributes (argv, cwd, host, pid, command, args) and its CPU/memory samples
# ([[time, cpu, rss, procs], ...]).
details = Table(
    "details", metadata,
    Column("run_id", String(64), primary_key=True),
    Column("path", Text, primary_key=True),
    Column("attrs", JSON),
    Column("samples", JSON),
)
