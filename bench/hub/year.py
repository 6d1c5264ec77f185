"""A year of nightlies: a hub database filled directly (SQLAlchemy Core bulk inserts into
``runs`` and ``nodes``, the schema made by HubStore's migrations) with one nightly
regression a day, then timed as a hub serves it: the run list and its filters, one
run's tree, the HTML pages, and ``gator hub prune --older-than 90d``.

The database is made once per shape and kept in the work directory (SQLite: a file
``year-RUNSxJOBS-vN.sqlite``; PostgreSQL: a schema ``gator_bench_year_RUNSxJOBS_vN``),
so that later runs of the bench reuse it.  It is written under another name and
renamed (or marked, in PostgreSQL) only when complete.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import Hub, child_env, disk_usage, hidden, keep_alive_probe, pg_admin, pg_url, say, time_get
from shapes import RARE_USER, SPEC_NAME, USERS, nightly, rows

VERSION = 1  # of the fixture's shape: bump when shapes.py changes what it makes
DAY = 86400.0
SEED = 2024


def run_row(run: Any) -> dict[str, Any]:
    """The run's row in ``runs``, as HubStore.register_run and finish_run would leave it."""
    import hashlib

    record, end = run.record, run.end
    return {"id": run.run_id, "spec_text": record["spec"], "spec_file": record["spec_file"],
            "spec_hash": hashlib.sha256(record["spec"].encode()).hexdigest(), "spec_name": record["spec_name"],
            "user": record["user"], "host": record["host"], "argv": record["argv"],
            "scheduler": record["scheduler"], "seed": record["seed"], "tracking": record["tracking"],
            "started": record["started"], "stopped": end["stopped"], "listed_at": record["started"],
            "state": end["state"], "result": end["result"], "jobs": end["jobs"], "updated": end["stopped"],
            "readable": False}


def generate(url: str, runs: int, jobs: int, *, now: float | None = None, seed: int = SEED) -> dict[str, Any]:
    """Fill the (empty) database at ``url``: ``runs`` nightlies of ``jobs`` jobs spread
    evenly over the year up to yesterday (365 runs: one a night), oldest first.  About a
    third of the nights pass; the others fail 0.2-5% of their jobs."""
    from sqlalchemy import insert

    from gator_hub.store import HubStore
    from gator_hub.store.schema import nodes as nodes_table
    from gator_hub.store.schema import runs as runs_table

    store = HubStore(url)  # the schema, through the migrations
    rng = random.Random(seed)
    now = time.time() if now is None else now
    midnight = now - now % DAY
    sqlite = store.engine.dialect.name == "sqlite"
    started_at = time.perf_counter()
    node_rows = 0
    try:
        for index in range(runs):
            day = midnight - (runs - index) * (365 * DAY / runs)
            user = rng.choice(USERS)
            fail_rate = 0.0 if rng.random() < 0.35 else rng.choice((0.002, 0.005, 0.01, 0.02, 0.03, 0.05))
            run = nightly(rng, f"{rng.getrandbits(128):032x}", day + 3600 + rng.uniform(0, 600), jobs,
                          fail_rate=fail_rate, user=user)
            with store.engine.begin() as connection:
                if sqlite:
                    connection.exec_driver_sql("PRAGMA synchronous=OFF")  # a fixture: made again if lost
                connection.execute(insert(runs_table), [run_row(run)])
                connection.execute(insert(nodes_table), list(rows(run.run_id, run.nodes)))
            node_rows += len(run.nodes)
            done = index + 1
            if done % max(1, runs // 20) == 0 or done == runs:
                elapsed = time.perf_counter() - started_at
                say(f"    {done}/{runs} runs, {node_rows:,} node rows, {elapsed:.0f} s "
                    f"({node_rows / elapsed:,.0f} rows/s; about {elapsed / done * (runs - done):.0f} s to go)")
    finally:
        store.close()
    return {"runs": runs, "jobs_per_run": jobs, "node_rows": node_rows, "seconds": time.perf_counter() - started_at,
            "made_at": now, "made": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(now)), "seed": seed}


# -- the cached fixture ----------------------------------------------------------------------


def sqlite_fixture(work: Path, runs: int, jobs: int) -> tuple[str, dict[str, Any], Path]:
    """The SQLite database of this shape in ``work``, made when missing."""
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"year-{runs}x{jobs}-v{VERSION}.sqlite"
    meta_path = path.with_suffix(".json")
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        say(f"  SQLite: reusing {path} (made {meta['made']} in {meta['seconds']:.0f} s)")
        return f"sqlite:///{path}", meta, path
    partial = path.with_name(path.name + ".partial")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    say(f"  SQLite: making {path}: {runs} runs of {jobs:,} jobs")
    meta = generate(f"sqlite:///{partial}", runs, jobs)
    _checkpoint(partial)
    partial.rename(path)
    meta_path.write_text(json.dumps(meta, indent=2))
    return f"sqlite:///{path}", meta, path


def _checkpoint(path: Path) -> None:
    """Fold the WAL into the file, so that the file alone is the database (to copy it)."""
    import sqlite3

    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


def pg_fixture(base: str, runs: int, jobs: int) -> tuple[str, dict[str, Any], str]:
    """The PostgreSQL schema of this shape, made when missing (its comment says it is complete)."""
    schema = f"gator_bench_year_{runs}x{jobs}_v{VERSION}"
    found = pg_admin(base, "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = :name",
                     name=schema)
    if found and found[0][0] and found[0][0].startswith("{"):
        meta = json.loads(found[0][0])
        say(f"  PostgreSQL: reusing schema {schema} (made {meta['made']} in {meta['seconds']:.0f} s)")
        return pg_url(base, schema), meta, schema
    if found:
        pg_admin(base, f'DROP SCHEMA "{schema}" CASCADE')  # an incomplete one
    pg_admin(base, f'CREATE SCHEMA "{schema}"')
    say(f"  PostgreSQL: making schema {schema}: {runs} runs of {jobs:,} jobs")
    meta = generate(pg_url(base, schema), runs, jobs)
    pg_admin(base, f'ANALYZE "{schema}".runs')
    pg_admin(base, f'ANALYZE "{schema}".nodes')
    pg_admin(base, f"COMMENT ON SCHEMA \"{schema}\" IS '{json.dumps(meta)}'")
    return pg_url(base, schema), meta, schema


def pg_size(base: str, schema: str) -> int:
    found = pg_admin(base, "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                           "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :name AND c.relkind = 'r'",
                     name=schema)
    return int(found[0][0])


# -- measuring -------------------------------------------------------------------------------


def prune(url: str) -> dict[str, Any]:
    """``gator hub prune --older-than 90d`` on ``url``: its wall time and what it said."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "gator_hub", "prune", "--older-than", "90d"],
                          capture_output=True, text=True, env=child_env(GATOR_HUB_DB=url))
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        return {"error": (done.stderr or done.stdout).strip()[-500:], "seconds": seconds}
    return {"seconds": seconds, "said": done.stdout.strip()}


def measure(url: str, label: str, work: Path, repeats: int, loads: int, pages: bool) -> dict[str, Any]:
    """Time the reads against a hub on ``url``."""
    import page as browser

    out: dict[str, Any] = {"requests": {}}
    with Hub(url, work, f"year-{label.lower()}") as hub:
        newest = hub.json("GET", "/api/runs?limit=1")["runs"][0]
        failing = hub.json("GET", "/api/runs?limit=1&result=fail")["runs"]
        run_id = (failing or [newest])[0]["id"]  # the newest failing night: the page people open
        out["run_id"] = run_id
        tree = hub.json("GET", f"/api/runs/{run_id}")
        out["tree_nodes"] = _count(tree)
        reads = [
            ("GET /api/runs (first page)", "/api/runs"),
            (f"GET /api/runs?spec={SPEC_NAME}", f"/api/runs?spec={SPEC_NAME}"),
            (f"GET /api/runs?user={RARE_USER}", f"/api/runs?user={RARE_USER}"),
            ("GET /api/runs?result=pass", "/api/runs?result=pass"),
            (f"GET /api/runs/{{id}} ({out['tree_nodes']:,} nodes)", f"/api/runs/{run_id}"),
        ]
        if pages:
            reads += [
                ("HTML / (runs page)", "/"),
                (f"HTML /?user={RARE_USER}", f"/?user={RARE_USER}"),
                ("HTML /runs/{id}", f"/runs/{run_id}"),
                ("HTML /runs/{id}/buckets", f"/runs/{run_id}/buckets"),
                ("HTML /runs/{id}/compare", f"/runs/{run_id}/compare"),
                (f"HTML /history?spec={SPEC_NAME}", f"/history?spec={SPEC_NAME}"),
            ]
        for name, path in reads:
            result = time_get(hub, path, repeats)
            out["requests"][name] = result
            if "error" in result:
                say(f"    {name}: {result['status']} {result['error'][:120]}")
            else:
                say(f"    {name}: {result['median_s'] * 1000:8.1f} ms ({result['bytes']:,} bytes)")
        if pages and loads:
            out["browser"] = browser.measure(f"{hub.url}/runs/{run_id}", loads)
            out["browser"]["keep_alive"] = keep_alive_probe(hub)
    return out


def _count(tree: dict[str, Any] | None) -> int:
    if not tree:
        return 0
    return 1 + sum(_count(child) for child in tree.get("children", ()))


def run(work: Path, runs: int, jobs: int, repeats: int, loads: int, pg: str | None, pages: bool) -> dict[str, Any]:
    results: dict[str, Any] = {"runs": runs, "jobs_per_run": jobs, "repeats": repeats}
    url, meta, path = sqlite_fixture(work, runs, jobs)
    size = disk_usage(path)
    results["SQLite"] = {"fixture": meta, "db_bytes": size}
    say(f"  SQLite database: {size / 2**30:.2f} GiB, {meta['node_rows']:,} node rows")
    results["SQLite"].update(measure(url, "SQLite", work, repeats, loads, pages))
    copy = path.with_name(path.stem + ".prune-copy.sqlite")
    if shutil.disk_usage(work).free > 2 * size:
        shutil.copyfile(path, copy)
        try:
            pruned = prune(f"sqlite:///{copy}")
            pruned["db_bytes_after"] = disk_usage(copy)
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{copy}{suffix}").unlink(missing_ok=True)
    else:
        pruned = {"error": f"not enough free space in {work} for a copy of {size / 2**30:.1f} GiB"}
    results["SQLite"]["prune"] = pruned
    say("    gator hub prune --older-than 90d (on a copy): " + _pruned(pruned))
    if pg:
        url, meta, schema = pg_fixture(pg, runs, jobs)
        size = pg_size(pg, schema)
        results["PostgreSQL"] = {"fixture": meta, "db_bytes": size, "schema": schema, "url": hidden(url)}
        say(f"  PostgreSQL schema {schema}: {size / 2**30:.2f} GiB (tables, indexes and TOAST)")
        results["PostgreSQL"].update(measure(url, "PostgreSQL", work, repeats, loads, pages))
        pruned = prune(url)  # last: it spoils the fixture, which is dropped so the next run makes it again
        pruned["db_bytes_after"] = pg_size(pg, schema)
        pg_admin(pg, f'DROP SCHEMA "{schema}" CASCADE')
        results["PostgreSQL"]["prune"] = pruned
        say("    gator hub prune --older-than 90d (then the schema is dropped): " + _pruned(pruned))
    return results


def _pruned(pruned: dict[str, Any]) -> str:
    if "error" in pruned:
        return f"failed: {pruned['error']}"
    return f"{pruned['seconds']:.1f} s ({pruned['said']})"


def report(result: dict[str, Any]) -> list[str]:
    import page as browser

    lines = [f"A year of nightlies: {result['runs']} runs of {result['jobs_per_run']:,} jobs, median of "
             f"{result['repeats']} requests after one untimed:"]
    for label in ("SQLite", "PostgreSQL"):
        data = result.get(label)
        if not data:
            continue
        meta = data["fixture"]
        lines.append(f"  {label}: {meta['node_rows']:,} node rows, {data['db_bytes'] / 2**30:.2f} GiB "
                     f"(made {meta['made']} in {meta['seconds']:.0f} s, {meta['node_rows'] / meta['seconds']:,.0f} "
                     "rows/s)")
        for name, figures in data["requests"].items():
            if "error" in figures:
                lines.append(f"    {name:<34} {figures['status']}: {figures['error'][:100]}")
            else:
                lines.append(f"    {name:<34} {figures['median_s'] * 1000:9.1f} ms  {figures['bytes']:>11,} bytes")
        pruned = data["prune"]
        lines.append(f"    {'gator hub prune --older-than 90d':<34} " + _pruned(pruned))
        if "browser" in data:
            lines += browser.report(f"run page /runs/{{id}} in Chromium ({label})", data["browser"])
    return lines

