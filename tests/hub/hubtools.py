"""Helpers of the hub's tests (import them: ``from hubtools import ...``)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from helpers import units

__all__ = ["PG_ENV", "TOKEN", "READ_TOKEN", "AUTH", "hub_command", "Server"]

PG_ENV = "GATOR_TEST_PG_URL"
TOKEN = "ingest-token-for-tests"
READ_TOKEN = "read-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


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


