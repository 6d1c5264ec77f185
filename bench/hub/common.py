"""What every part of bench/hub shares: the machine it ran on, a real ``gator hub serve``
process, timed HTTP requests, PostgreSQL schemas of their own, and figures."""

from __future__ import annotations

import http.client
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TOKEN = "bench-hub-ingest-token"
PG_ENV = "GATOR_TEST_PG_URL"


def say(text: str = "") -> None:
    print(text, flush=True)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def child_env(**extra: str) -> dict[str, str]:
    """The environment of the processes the bench starts (as bench/local_overhead's)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(extra)
    return env


# -- the machine and the code ------------------------------------------------------------------


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def machine() -> dict[str, Any]:
    """Where and on what the figures were taken: the work tree may hold others' uncommitted
    changes, which the figures include, so their count is reported beside the commit."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    except OSError:
        pass
    changed = [line for line in _git("status", "--porcelain").splitlines() if line.strip()]
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "host": socket.gethostname(), "cpus": os.cpu_count() or 1, "cpu_model": model,
        "memory_gb": round(memory / 2**30, 1), "load": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(), "kernel": platform.release(),
        "commit": _git("rev-parse", "--short", "HEAD"), "commit_subject": _git("log", "-1", "--format=%s"),
        "work_tree_changes": len(changed),
    }


def describe(info: dict[str, Any]) -> str:
    dirty = f" + {info['work_tree_changes']} changed or new files in the work tree" if info["work_tree_changes"] else ""
    return (f"{info['date']}; {info['host']}, {info['cpus']} CPUs ({info['cpu_model'] or '?'}), "
            f"{info['memory_gb']} GB, load {' '.join(map(str, info['load']))}; Python {info['python']}, "
            f"Linux {info['kernel']}; commit {info['commit']}{dirty}")


# -- a hub -------------------------------------------------------------------------------------


def hidden(url: str) -> str:
    """A database URL fit to print (no password)."""
    if url.startswith("sqlite"):
        return url
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


class Hub:
    """A running ``gator hub serve --port 0`` on the database ``db_url`` (given through
    ``GATOR_HUB_DB``, so that a password stays off the command line)."""

    def __init__(self, db_url: str, work: Path, name: str) -> None:
        self.db_url = db_url
        self.name = name
        work.mkdir(parents=True, exist_ok=True)
        token_file = work / f"{name}.token"
        token_file.write_text(TOKEN)
        token_file.chmod(0o600)
        self.log_path = work / f"{name}.log"
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gator_hub", "serve", "--port", "0", "--token-file", str(token_file)],
            stdout=subprocess.PIPE, stderr=self._log, text=True, cwd=work, env=child_env(GATOR_HUB_DB=db_url))
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(300)  # migrating a large database first can take a while
        text = line[0] if line else ""
        if "serving on " not in text:
            self.stop()
            raise SystemExit(f"gator hub serve did not start ({hidden(db_url)}): {text!r}; "
                             f"{self.log_path.read_text()[-2000:]}")
        self.url = text.split("serving on ", 1)[1].strip().rstrip("/")
        parts = urlsplit(self.url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self._connection: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None, *, auth: bool = True,
                timeout: float = 600, keep_alive: bool = False) -> tuple[int, bytes, float]:
        """Status, body and seconds from connecting to having read the whole answer.  A new
        connection each time, as the reporter's urllib client and curl make; ``keep_alive``
        reuses one connection instead, as a browser does."""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if auth:
            headers["Authorization"] = f"Bearer {TOKEN}"
        start = time.perf_counter()
        connection = self._connection if keep_alive else None
        if connection is None:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            answer = connection.getresponse()
            data = answer.read()
            seconds = time.perf_counter() - start
        except Exception:
            connection.close()
            self._connection = None
            raise
        if keep_alive:
            self._connection = connection
        else:
            connection.close()
        return answer.status, data, seconds

    def json(self, method: str, path: str, body: Any = None) -> Any:
        status, data, _ = self.request(method, path, None if body is None else json.dumps(body).encode())
        if status >= 400:
            raise SystemExit(f"{method} {path}: {status} {data[:500]!r}")
        return json.loads(data)

    def ingest_requests(self) -> int:
        return int(self.json("GET", "/api/health")["ingest_requests"])

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the hub process has used so far."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return float("nan")

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()

    def __enter__(self) -> Hub:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def time_get(hub: Hub, path: str, repeats: int, *, warm: int = 1, keep_alive: bool = False) -> dict[str, Any]:
    """``GET path`` ``warm`` times untimed, then ``repeats`` times (only once more when the
    first took over 20 s): the median seconds and the size of the answer."""
    times: list[float] = []
    status, size, index = 0, 0, 0
    while index < warm + repeats:
        status, data, seconds = hub.request("GET", path, auth=False, keep_alive=keep_alive)
        size = len(data)
        if status != 200:
            return {"path": path, "status": status, "error": data[:300].decode(errors="replace")}
        if index >= warm:
            times.append(seconds)
        elif seconds > 20:
            index = warm + repeats - 2
        index += 1
    return {"path": path, "status": status, "bytes": size, "seconds": times, "median_s": median(times)}


def keep_alive_probe(hub: Hub, repeats: int = 9) -> dict[str, float]:
    """``GET /api/health`` on new connections and on one kept-alive connection (as a
    script's HTTP session sends them): a server that leaves Nagle's algorithm on
    answers the second kind about 40 ms late (delayed ACK)."""
    fresh = time_get(hub, "/api/health", repeats)["median_s"]
    kept = time_get(hub, "/api/health", repeats, keep_alive=True)["median_s"]
    return {"new_connection_ms": fresh * 1000, "kept_alive_ms": kept * 1000}


# -- databases ---------------------------------------------------------------------------------


def pg_base(given: str | None) -> str | None:
    return given or os.environ.get(PG_ENV) or None


def pg_url(base: str, schema: str) -> str:
    """``base`` with ``schema`` as its search path (as tests/hub/conftest.py does)."""
    from sqlalchemy import make_url

    return make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False)


def pg_admin(base: str, sql: str, **params: Any) -> list[Any]:
    """Run one statement on ``base`` in its own transaction; its rows, if any."""
    from sqlalchemy import create_engine, text

    engine = create_engine(base)
    try:
        with engine.begin() as connection:
            result = connection.execute(text(sql), params) if params else connection.exec_driver_sql(sql)
            return list(result) if result.returns_rows else []
    finally:
        engine.dispose()


@contextmanager
def pg_schema(base: str, prefix: str = "gator_bench_hub") -> Iterator[str]:
    """A new, empty PostgreSQL schema for the block (its URL), dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    pg_admin(base, f'CREATE SCHEMA "{schema}"')
    try:
        yield pg_url(base, schema)
    finally:
        pg_admin(base, f'DROP SCHEMA "{schema}" CASCADE')


@contextmanager
def sqlite_file(directory: Path, name: str) -> Iterator[str]:
    """A new SQLite database file in ``directory`` (its URL), removed afterwards."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}-{uuid.uuid4().hex[:8]}.sqlite"
    try:
        yield f"sqlite:///{path}"
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def databases(work: Path, pg: str | None, name: str) -> list[tuple[str, Any]]:
    """(label, context manager giving a fresh database URL): SQLite, and PostgreSQL when asked."""
    found: list[tuple[str, Any]] = [("SQLite", sqlite_file(work / "db", name))]
    if pg:
        found.append(("PostgreSQL", pg_schema(pg)))
    return found


def disk_usage(path: Path) -> int:
    return sum(Path(f"{path}{suffix}").stat().st_size for suffix in ("", "-wal", "-shm")
               if Path(f"{path}{suffix}").exists())


def have_space(path: Path, needed: int) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    return shutil.disk_usage(path).free > needed
