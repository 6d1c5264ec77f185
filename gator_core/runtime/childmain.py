"""Entry point of every child process (tier or wrapper): ``python -m gator_core.child``.

The child reads three variables set by its parent's scheduler request:
``GATOR_PARENT_URL``, ``GATOR_TOKEN`` and ``GATOR_CHILD``.  It connects,
says hello, receives its part of the spec and the run's settings, then runs
as a wrapper (a ``!Job``: synchronous, see :mod:`gator_core.job.wrapper`) or as a
tier (a group or array: asyncio, see :mod:`gator_core.runtime.tier`), reports the
final summary and exits.

Exit status: 0 when the parent acknowledged the final report, 3 when the
parent was lost, 2 when the child could not start at all.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

from gator_core.config import NodeConfig, RunConfig
from gator_core.envvars import CHILD_KEY, HOST_LAUNCH_DIR, HOST_TRACKING, PARENT_URL, TOKEN, attempt_number
from gator_core.exceptions import ChildError, GatorError
from gator_core.spec.model import Job
from gator_core.spec.serial import from_dict
from gator_core.wire.protocol import Hello, Refuse, Welcome
from gator_core.wire.synclink import SyncParentLink

__all__ = ["main", "preload", "run_forked", "settle_forked", "CONNECT_TIMEOUT"]

CONNECT_TIMEOUT = 30.0  # seconds to reach the parent that launched us


def preload() -> None:
    """Import everything a child needs, so that forks of this process start warm.

    The local scheduler's agent calls this once, then forks children from it.
    """
    from gator_core import plugins
    from gator_core.job import wrapper  # noqa: F401
    from gator_core.runtime import tier  # noqa: F401
    from gator_core.store import nodestore
    from gator_core.wire import uplink  # noqa: F401

    plugins.plugin_manager()
    nodestore._empty_database()  # made once here, copied by every forked child
    _rehearse()


def _rehearse() -> None:
    """Go once through what every wrapper does first, so that what the first call of
    each library initialises (OpenSSL's digest tables, SQLite's, codecs, caches of
    compiled patterns and of type lookups) is made here, once, and forks share it
    instead of each paying page faults to build its own."""
    import json
    import selectors
    import tempfile

    from gator_core.envvars import array_variables, job_environment
    from gator_core.spec.model import Job as _Job
    from gator_core.spec.serial import to_dict
    from gator_core.store.nodestore import Store
    from gator_core.store.summary import new_summary
    from gator_core.wire import wsclient
    from gator_core.wire.protocol import Hello, decode, encode

    _request, key = wsclient.handshake_request(wsclient.parse_url("ws://127.0.0.1:1/"), {})
    wsclient.HandshakeReader(key)  # sha1 and base64 of the key
    decode(encode(Hello("k")))
    json.loads(json.dumps(to_dict(_Job(id="j", command="true", args=["x"]))))
    from_dict(to_dict(_Job(id="j", command="true", args=["x"])))
    new_summary("running", job=True)
    job_environment(os.environ, {**array_variables([("a", 0)]), "GATOR_SEED": "1"})
    selectors.DefaultSelector().close()
    with tempfile.TemporaryDirectory() as scratch:
        store = Store(Path(scratch), durable=False)
        store.set_attrs({"id": "k"})
        store.add_message(20, "x")
        store.flush()
        store.close()
        with open(os.path.join(scratch, "log"), "a", encoding="utf-8", errors="replace") as log:
            log.write("x\n")


async def _run_tier(spec: object, welcome: Welcome, link: SyncParentLink, url: str, token: str,
                    key: str) -> int:
    import asyncio

    from gator_core.plugins import scheduler_class
    from gator_core.runtime.tier import Tier
    from gator_core.wire.transport import ParentLink
    from gator_core.wire.uplink import UpLink

    sock, buffered = link.detach()
    reader, writer = await asyncio.open_connection(sock=sock)
    parent = ParentLink(reader, writer, buffered)
    parent.protocol.state = "active"  # the welcome was read by the synchronous link
    run = RunConfig.from_dict(welcome.config["run"])
    node = NodeConfig.from_dict(welcome.config["node"])
    tier = Tier(spec, node, run, key=key, token=token)  # type: ignore[arg-type]
    uplink = UpLink(parent, url=url, token=token, key=key, interval=run.interval,
                    snapshot=tier.snapshot, on_stop=tier.stop, on_kill=tier.force_stop)
    tier.poke = uplink.poke
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        # A signal here comes from outside the run (scancel, qdel, preemption): its
        # parent did not ask for it, so the tier fails, whatever its jobs' results.
        loop.add_signal_handler(sig, tier.stop, f"received {signal.Signals(sig).name}", True)
    uplink.start()
    try:
        cls = scheduler_class(run.scheduler)
        scheduler = cls(run.sched_options, tier.scheduler_context())
        try:
            await scheduler.start()
        except GatorError as exc:
            # Reported as this tier's failure, with the reason, rather than as a lost child.
            await scheduler.close()
            failed = tier.abandon(f"the {run.scheduler} scheduler did not start: {exc}")
            _, changes, watched = tier.snapshot()
            return 0 if await uplink.complete(failed, changes, watched) else 3
        try:
            await tier.run(scheduler)
        finally:
            await scheduler.close()
        if uplink.parent_lost:
            return 3
        summary, changes, watched = tier.snapshot()
        summary.update(result=tier.summary["result"])
        ok = await uplink.complete(summary, changes, watched)
        return 0 if ok else 3
    finally:
        tier.close()
        await uplink.close()


def on_this_host(node: NodeConfig) -> NodeConfig:
    """The node as this host sees it: a scheduler that runs the child where the
    submitting machine's filesystem is not says where its tracking data goes and
    which directory stands for the run's launch directory."""
    tracking, launch = os.environ.get(HOST_TRACKING), os.environ.get(HOST_LAUNCH_DIR)
    if not tracking and not launch:
        return node
    changes: dict[str, object] = {}
    if tracking:
        os.makedirs(tracking, exist_ok=True)
        changes["tracking"] = tracking
    if launch and node.cwd:
        changes["cwd"] = [launch, *node.cwd[1:]]
    return replace(node, **changes)  # type: ignore[arg-type]


def _child(url: str, token: str, key: str) -> int:
    link = SyncParentLink.connect(url, token, timeout=CONNECT_TIMEOUT)
    try:
        link.send(Hello(key, pid=os.getpid(), host=socket.gethostname(), attempt=attempt_number()))
        welcome = link.receive(CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        link.close()
        raise ChildError(f"parent at {url} did not send the spec: {exc}") from None
    if isinstance(welcome, Refuse):
        link.close()
        raise ChildError(f"parent refused child '{key}': {welcome.reason}")
    assert isinstance(welcome, Welcome)
    spec = from_dict(welcome.spec)
    if isinstance(spec, Job):
        from gator_core.job.wrapper import Wrapper

        run = RunConfig.from_dict(welcome.config["run"])
        node = on_this_host(NodeConfig.from_dict(welcome.config["node"]))
        return Wrapper(spec, node, run, key=key, link=link, url=url, token=token).run()
    import asyncio  # tiers only: a wrapper never loads it

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    return loop.run_until_complete(_run_tier(spec, welcome, link, url, token, key))


def settle_forked(log: str, cwd: str, env: Mapping[str, str]) -> None:
    """In a process just forked from a server, once it has closed the server's own files:
    a session of its own, default signal handling, stdin from /dev/null, stdout and
    stderr appended to ``log``, then ``cwd`` and ``env``."""
    os.setsid()
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(null)
    os.close(out)
    os.chdir(cwd)
    os.environ.update(env)


def run_forked(become: Callable[[], None]) -> NoReturn:
    """In a process just forked from a warm server: ``become()`` sheds the server's state
    (it may also exec another program), then the child runs; the process then ends at
    once with the child's status, whatever happened, so that it never returns into the
    server's code (nor runs the server's exit handlers)."""
    code = 70
    try:
        become()
        code = main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - whatever happens, the child process ends here
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def main() -> int:
    """Run this process as a child of a Gator tier.  Returns the exit status."""
    missing = [name for name in (PARENT_URL, TOKEN, CHILD_KEY) if not os.environ.get(name)]
    if missing:
        print(f"gator child: {', '.join(missing)} not set; children are started by a Gator tier",
              file=sys.stderr)
        return 2
    url, token, key = os.environ[PARENT_URL], os.environ[TOKEN], os.environ[CHILD_KEY]
    try:
        return _child(url, token, key)
    except GatorError as exc:
        print(f"gator child '{key}': {exc}", file=sys.stderr)
        return 2
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main())
