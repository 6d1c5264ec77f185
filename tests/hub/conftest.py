"""Fixtures of the hub's tests: a fresh database per test (SQLite always; PostgreSQL
too when GATOR_TEST_PG_URL is set, and required under CI), an in-process client, and
a real ``gator hub serve`` process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hubtools import TOKEN, Server, need_postgres, postgres_schema


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    """A file holding the tests' ingest token, mode 0600."""
    path = tmp_path / "ingest.token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a new SQLite file, or a new PostgreSQL schema
    (made the connection's search_path, and dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.sqlite'}"
        return
    with postgres_schema(need_postgres()) as url:
        yield url


@pytest.fixture
def store(db_url: str) -> Iterator[Any]:
    from gator_hub.store import HubStore

    hub = HubStore(db_url)
    yield hub
    hub.close()


@pytest.fixture
def client_for(db_url: str) -> Iterator[Any]:
    """``client_for(read_token=None, max_body=...)``: an in-process client of a hub on ``db_url``."""
    import warnings

    from gator_hub.api import create_app

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2")  # starlette prefers httpx2; httpx works
        from starlette.testclient import TestClient

    opened: list[Any] = []

    def make(**options: Any) -> Any:
        client = TestClient(create_app(db_url, TOKEN, **options), raise_server_exceptions=False)
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def client(client_for: Any) -> Any:
    return client_for()


@pytest.fixture
def server_for(db_url: str, tmp_path: Path) -> Iterator[Any]:
    """``server_for(token_file, *extra_args)``: start a real hub; every one is stopped afterwards."""
    started: list[Server] = []

    def start(token_file: Path | None = None, *extra: str) -> Server:
        server = Server(db_url, token_file or tmp_path / "hub.token", *extra)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
