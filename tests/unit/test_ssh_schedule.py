"""The SSH agent's queue: placing in order with the same bounded look-ahead as the local agent.

No host is contacted: links are marked up by hand and starting is recorded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from gator_core import Resources
from gator_sched_ssh.agent import LOOKAHEAD, Client, Request, SshAgent
from gator_sched_ssh.hosts import Host, HostsConfig


class Writer:
    """Stands in for a client's stream: keeps what the agent tells the client."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.lines.append(data)

    def is_closing(self) -> bool:
        return False


def make_agent(slots: tuple[int, ...]) -> tuple[SshAgent, Client, list[tuple[str, str]]]:
    hosts = HostsConfig(tuple(Host(name=f"h{i}", address=f"10.0.0.{i}", slots=n) for i, n in enumerate(slots)),
                        known_hosts="/dev/null")
    agent = SshAgent({"token": "t", "socket": "/nonexistent", "grace": 1, "run_id": "r" * 16,
                      "tracking_root": "/tmp", "close_wait": 1, "hosts": hosts.to_dict(), "reconnect": 1,
                      "licenses": {}, "features": {}, "connect_timeout": 1, "keepalive": 1, "dead_after": 3})
    for link in agent.links.values():
        link.up = True
    started: list[tuple[str, str]] = []
    agent.start_remote = lambda request, link: started.append((request.key, link.host.name))  # type: ignore[method-assign]

    async def run_local(request: Request) -> None:
        started.append((request.key, "here"))
    agent.run_local = run_local  # type: ignore[method-assign]
    client = Client(Writer())  # type: ignore[arg-type]
    client.authenticated = True
    agent.clients.append(client)
    return agent, client, started


def queue(agent: SshAgent, client: Client, key: str, *, kind: str = "job", cores: int = 1) -> Request:
    request = Request(client, key, key, kind, ["python"], {}, "/", "/tmp/" + key, "/tmp/log",
                      Resources(cores=cores))
    client.requests[key] = request
    agent.queue.append(request)
    return request


def run(body: Callable[[], Any]) -> Any:
    """Run ``body`` in an event loop (the agent needs one), then let the tiers' tasks run."""
    async def main() -> Any:
        result = body()
        await asyncio.sleep(0)
        return result
    return asyncio.run(main())


def test_jobs_are_placed_in_order_and_small_ones_backfill() -> None:
    def body() -> None:
        agent, client, started = make_agent((2, 1))
        for key, cores in (("a", 1), ("big", 2), ("b", 1), ("c", 1), ("d", 1)):
            queue(agent, client, key, cores=cores)
        agent.schedule()
        # a and b take h0 (the roomiest first) and c takes h1: big (2 cores) waits, d too.
        assert started == [("a", "h0"), ("b", "h0"), ("c", "h1")]
        assert [r.key for r in agent.queue] == ["big", "d"]
        assert agent.pools["h0"].slots == 2 and agent.pools["h1"].slots == 1
    run(body)


def test_nothing_past_the_look_ahead_is_examined_not_even_a_tier() -> None:
    def body() -> None:
        agent, client, started = make_agent((1,))
        for index in range(LOOKAHEAD + 2):
            queue(agent, client, f"j{index}")
        queue(agent, client, "tier", kind="tier")
        places = []
        place = agent.place
        agent.place = lambda request: places.append(request.key) or place(request)  # type: ignore[method-assign]
        agent.schedule()
        assert started == [("j0", "h0")]
        assert places == [f"j{index}" for index in range(LOOKAHEAD + 2)]  # j0, then 65 misses
        assert [r.key for r in agent.queue][-1] == "tier" and len(agent.queue) == LOOKAHEAD + 2
    run(body)


def test_tiers_start_here_and_terminated_requests_are_dropped() -> None:
    def body() -> list[tuple[str, str]]:
        agent, client, started = make_agent((1,))
        queue(agent, client, "j0")
        gone = queue(agent, client, "gone")
        queue(agent, client, "tier", kind="tier")
        del client.requests[gone.key]  # terminated while queued
        agent.schedule()
        assert list(agent.queue) == []
        assert {r.key for r in agent.live} == {"j0", "tier"}
        return started
    assert run(body) == [("j0", "h0"), ("tier", "here")]


def test_a_job_no_host_left_can_run_fails_after_the_scan() -> None:
    def body() -> None:
        agent, client, started = make_agent((1, 4))
        agent.given_up["h1"] = "unreachable"
        agent.links["h1"].up = False
        queue(agent, client, "wide", cores=3)  # only h1 was wide enough
        queue(agent, client, "narrow")
        agent.schedule()
        assert started == [("narrow", "h0")]
        assert "wide" not in client.requests and list(agent.queue) == []
        failed = [line for line in client.writer.lines if b'"failed"' in line]  # type: ignore[attr-defined]
        assert len(failed) == 1 and b"no host left to run it: h1: unreachable" in failed[0]
    run(body)
