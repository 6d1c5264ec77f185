"""Entry point of every child process (tier or wrapper): ``python -m gator_core.child``.

The child reads three variables set by its parent's scheduler request:
``GATOR_PARENT_URL``, ``GATOR_TOKEN`` and ``GATOR_CHILD``.  It connects,
says hello, receives its part of the spec and the run's settings, runs as a
wrapper (for a ``!Job``) or a tier (for a group or array), reports the final
summary and exits.  Exit status: 0 when the parent acknowledged the final
report, 3 when the parent was lost, 2 when the child could not start at all.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from typing import Any

from .config import NodeConfig, RunConfig
from .envvars import CHILD_KEY, PARENT_URL, TOKEN
from .exceptions import ChildError, GatorError, ProtocolError
from .protocol import Hello, Refuse, Welcome
from .spec.model import Job
from .spec.serial import from_dict
from .transport import ConnectionClosed, connect_parent
from .uplink import UpLink

__all__ = ["main", "preload", "CONNECT_TIMEOUT"]

CONNECT_TIMEOUT = 30.0  # seconds to reach the parent that launched us


def preload() -> None:
    """Import everything a child needs, so that forks of this process start warm.

    The local scheduler's agent calls this once, then forks children from it.
    """
    from . import plugins, tier, wrapper  # noqa: F401

    plugins.plugin_manager()


def _install_stop_handlers(stop: Any) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stop, f"received {signal.Signals(sig).name}")


async def _run_job(job: Job, welcome: Welcome, link: Any, url: str, token: str, key: str) -> int:
    from .wrapper import Wrapper

    run = RunConfig.from_dict(welcome.config["run"])
    node = NodeConfig.from_dict(welcome.config["node"])
    wrapper = Wrapper(job, node, run, key=key)
    uplink = UpLink(link, url=url, token=token, key=key, interval=run.interval,
                    snapshot=wrapper.snapshot, on_stop=wrapper.stop)
    wrapper.uplink = uplink
    _install_stop_handlers(wrapper.stop)
    uplink.start()
    try:
        summary = await wrapper.run()
        if uplink.parent_lost:
            wrapper.message(40, f"finished without a parent: {uplink.parent_lost}")
            wrapper.flush()
            return 3
        ok = await uplink.complete(summary, [], {})
        return 0 if ok else 3
    finally:
        wrapper.close()
        await uplink.close()


async def _run_tier(spec: Any, welcome: Welcome, link: Any, url: str, token: str, key: str) -> int:
    from .plugins import scheduler_class
    from .tier import Tier

    run = RunConfig.from_dict(welcome.config["run"])
    node = NodeConfig.from_dict(welcome.config["node"])
    tier = Tier(spec, node, run, key=key, token=token)
    uplink = UpLink(link, url=url, token=token, key=key, interval=run.interval,
                    snapshot=tier.snapshot, on_stop=tier.stop)
    tier.poke = uplink.poke
    _install_stop_handlers(tier.stop)
    uplink.start()
    try:
        cls = scheduler_class(run.scheduler)
        async with cls(run.sched_options, tier.scheduler_context()) as scheduler:
            summary = await tier.run(scheduler)
        if uplink.parent_lost:
            return 3
        summary, changes, watched = tier.snapshot()
        summary.update(result=tier.summary["result"])
        ok = await uplink.complete(summary, changes, watched)
        return 0 if ok else 3
    finally:
        tier.close()
        await uplink.close()


async def _child(url: str, token: str, key: str) -> int:
    link = await connect_parent(url, token, timeout=CONNECT_TIMEOUT)
    await link.send(Hello(key, pid=os.getpid(), host=socket.gethostname()))
    try:
        welcome = await asyncio.wait_for(link.receive(), CONNECT_TIMEOUT)
    except (ConnectionClosed, asyncio.TimeoutError) as exc:
        raise ChildError(f"parent at {url} did not send the spec: {exc or 'timed out'}") from None
    if isinstance(welcome, Refuse):
        raise ChildError(f"parent refused child '{key}': {welcome.reason}")
    assert isinstance(welcome, Welcome)
    spec = from_dict(welcome.spec)
    if isinstance(spec, Job):
        return await _run_job(spec, welcome, link, url, token, key)
    return await _run_tier(spec, welcome, link, url, token, key)


def main() -> int:
    """Run this process as a child of a Gator tier.  Returns the exit status."""
    missing = [name for name in (PARENT_URL, TOKEN, CHILD_KEY) if not os.environ.get(name)]
    if missing:
        print(f"gator child: {', '.join(missing)} not set; children are started by a Gator tier",
              file=sys.stderr)
        return 2
    url, token, key = os.environ[PARENT_URL], os.environ[TOKEN], os.environ[CHILD_KEY]
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(_child(url, token, key))
    except (GatorError, ProtocolError) as exc:
        print(f"gator child '{key}': {exc}", file=sys.stderr)
        return 2
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main())
