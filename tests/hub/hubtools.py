"""Helpers of the hub's tests (import them: ``from hubtools import ...``)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import units

__all__ = ["PG_ENV", "TOKEN", "READ_TOKEN", "AUTH", "hub_command", "Server", "postgres_schema", "need_postgres",
           "get_json"]

PG_ENV = "GATOR_TEST_PG_URL"
TOKEN = "ingest-token-for-tests"
READ_TOKEN = "read-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def need_postgres() -> str:
    """The PostgreSQL URL to test against; skip without one, fail under CI."""
    url = os.environ.get(PG_ENV)
    if url:
        return url
    why = (f"needs PostgreSQL ({PG_ENV}=postgresql+psycopg://... is not set): as root, run "
           f"eval \"$(tests/cluster/up.sh)\" first (tests/run-all.sh does)")
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the PostgreSQL tests, but it {why}")
    pytest.skip(why)


@contextlib.contextmanager
def postgres_schema(base: str) -> Iterator[str]:
    """A URL of a new, empty PostgreSQL schema in the database at ``base`` (made the
    connection's search_path), dropped afterwards."""
    from sqlalchemy import create_engine, make_url, text

    schema = f"hub_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def get_json(url: str, token: str | None = None) -> Any:
    """GET ``url`` (with the bearer ``token``, if any) and decode its JSON; HTTPError on a 4xx/5xx."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=units(10)) as answer:
        return json.loads(answer.read())


def hub_command(*args: str | Path, env: dict[str, str] | None = None, timeout: float = 60
                ) -> subprocess.CompletedProcess[str]:
    """``gator hub ARGS`` (as ``python -m gator_hub``, the same typer app)."""
    return subprocess.run([sys.executable, "-m", "gator_hub", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=units(timeout))


class Server:
    """A running ``gator hub serve`` process on a free loopback port."""

    def __init__(self, db_url: str, token_file: Path, *extra: str, hide: Path | None = None) -> None:
        self.db_url = db_url
        # hide: serve from a mount namespace where that directory is an empty tmpfs, as a
        # hub on another machine would see it (needs root).
        become = (["unshare", "--mount", "--propagation", "private", "sh", "-c",
                   'mount -t tmpfs gator-hidden "$0" && exec "$@"', str(hide)] if hide else [])
        self.proc = subprocess.Popen(
            [*become, sys.executable, "-m", "gator_hub", "serve", "--port", "0", "--token-file", str(token_file),
             *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "GATOR_HUB_DB": db_url})
        self.url = self._first_line()

    def _first_line(self) -> str:
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(units(30))
        text = line[0] if line else ""
        if "serving on " not in text:
            if self.proc.poll() is None:
                self.proc.kill()
            errors = self.proc.stderr.read()
            self.stop()
            raise AssertionError(f"gator hub serve did not start: {text!r} {errors!r}")
        return text.split("serving on ", 1)[1].strip().rstrip("/")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=units(10))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=units(10))
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


