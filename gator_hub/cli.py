"""``gator hub ...``: serve a hub, prune it, push a run to it.

``app`` is a typer application; gator mounts it through the entry point group
``gator.cli`` (``hub = "gator_hub.cli:app"``), and ``python -m gator_hub`` runs
it on its own.  Errors are one line on stderr and an exit code (2 for usage),
never a traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Optional, TypeVar

import typer

from gator_core import GatorError, UsageError
from gator_hub import settings
from gator_hub.errors import HubUsageError

__all__ = ["app", "main"]

T = TypeVar("T")

app = typer.Typer(name="hub", help="A web hub of Gator runs: serve it, prune it, push runs to it (docs/hub.md).",
                  no_args_is_help=False, add_completion=False, pretty_exceptions_enable=False)

DbOption = Annotated[Optional[str], typer.Option(
    "--db", metavar="URL", help=f"database URL (default: ${settings.DB_ENV}, else {settings.default_db_url()})")]
HostOption = Annotated[Optional[str], typer.Option("--host", help="address to listen on (default 127.0.0.1)")]
PortOption = Annotated[Optional[int], typer.Option(
    "--port", min=0, max=65535, help="port (0: any free one), default 8080")]
TokenFileOption = Annotated[Optional[Path], typer.Option(
    "--token-file", metavar="FILE",
    help=f"ingest token; created (mode 0600) when missing (default {settings.default_token_file()})")]
ReadTokenOption = Annotated[Optional[Path], typer.Option(
    "--read-token-file", metavar="FILE", help="token that reads need (created when missing); reads are open without")]


def _fail(message: str, code: int) -> typer.Exit:
    print(f"gator hub: {message}", file=sys.stderr, flush=True)
    return typer.Exit(code)


def _guarded(action: Callable[[], T]) -> T:
    """Run ``action``; a Gator error becomes its message and exit code 2 (usage) or 1."""
    try:
        return action()
    except UsageError as exc:
        raise _fail(str(exc), 2) from None
    except GatorError as exc:
        raise _fail(str(exc), 1) from None


def _serve(db: str | None, host: str | None, port: int | None, token_file: Path | None,
           read_token_file: Path | None, retention: str | None = None) -> None:
    from gator_hub.serve import serve  # uvicorn only when serving

    def start() -> None:
        token = settings.read_or_create_token(token_file or settings.default_token_file())
        read_token = settings.read_or_create_token(read_token_file) if read_token_file else None
        try:
            serve(settings.resolve_db_url(db), token, read_token, host or "127.0.0.1", 8080 if port is None else port,
                  settings.parse_age(retention) if retention else None)
        except GatorError:
            raise
        except Exception as exc:  # noqa: BLE001 - a database that cannot be opened, a bad URL
            raise HubUsageError(f"cannot start the hub: {type(exc).__name__}: {exc}") from None

    _guarded(start)


@app.callback(invoke_without_command=True)
def hub(ctx: typer.Context, db: DbOption = None, host: HostOption = None, port: PortOption = None,
        token_file: TokenFileOption = None) -> None:
    """A web hub of Gator runs.  With options and no command, the same as `gator hub serve`."""
    if ctx.invoked_subcommand is not None:
        if any(value is not None for value in (db, host, port, token_file)):
            raise _fail("put the options after the command: gator hub serve --db URL ...", 2)
        return
    if all(value is None for value in (db, host, port, token_file)):
        typer.echo(ctx.get_help())
        raise typer.Exit(0)
    _serve(db, host, port, token_file, None)


@app.command("serve")
def serve_command(db: DbOption = None, host: HostOption = None, port: PortOption = None,
                  token_file: TokenFileOption = None, read_token_file: ReadTokenOption = None,
                  retention: Annotated[Optional[str], typer.Option(
                      "--retention", metavar="AGE",
                      help="forget runs that ended longer ago than AGE (90d, 12h), at start and hourly; "
                           "default: keep everything")] = None) -> None:
    """Serve the hub (loopback unless --host says otherwise); prints its URL."""
    _serve(db, host, port, token_file, read_token_file, retention)


@app.command("prune")
def prune_command(
    older_than: Annotated[str, typer.Option("--older-than", metavar="AGE",
                                            help="remove runs that ended longer ago than this: 90d, 12h, 30m, 45s")],
    db: DbOption = None,
) -> None:
    """Remove runs (and their nodes) that ended before AGE ago."""
    from gator_hub.store import HubStore

    def prune() -> int:
        seconds = settings.parse_age(older_than)
        try:
            store = HubStore(settings.resolve_db_url(db))
        except Exception as exc:  # noqa: BLE001 - say it in one line
            raise HubUsageError(f"cannot open the database: {type(exc).__name__}: {exc}") from None
        try:
            return store.prune(seconds)
        finally:
            store.close()

    removed = _guarded(prune)
    print(f"removed {removed} run{'s' if removed != 1 else ''} that ended more than {older_than} ago")


@app.command("push")
def push_command(
    tracking: Annotated[Path, typer.Argument(metavar="TRACKING", help="a run's tracking directory")],
    hub_url: Annotated[str, typer.Option("--hub", metavar="URL", help="the hub: http://host:port")],
    hub_token_file: Annotated[Optional[Path], typer.Option(
        "--hub-token-file", metavar="FILE", help=f"the hub's ingest token (else ${settings.TOKEN_ENV})")] = None,
) -> None:
    """Send a run (finished, or one whose hub was unreachable) to a hub.  Safe to repeat."""
    from gator_hub.client import HubClient, push

    def send() -> None:
        if hub_token_file is not None:
            token = settings.read_token(hub_token_file)
        else:
            token = os.environ.get(settings.TOKEN_ENV, "").strip()
            if not token:
                raise HubUsageError(f"no token: give --hub-token-file FILE or set {settings.TOKEN_ENV}")
        push(tracking, HubClient(hub_url, token), say=print)

    _guarded(send)


def main() -> None:
    app(prog_name="gator hub")
