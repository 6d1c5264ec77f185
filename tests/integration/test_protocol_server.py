"""A tier's websocket server refuses strangers and nonsense, says so, and keeps serving."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psutil
from helpers import gator, logs, node, units, wait_for, write
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus


def run_in_background(tmp_path: Path, marker: str) -> tuple[subprocess.Popen[str], Path]:
    spec = write(tmp_path / "s.yaml", f"!JobGroup\n  id: top\n  jobs:\n"
                 f"  - !Job {{id: waiter, command: sleep, args: ['{marker}']}}\n")
    tracking = tmp_path / "t"
    # Children started from scratch through another name of the interpreter (not forked
    # from the agent) carry the token in the environment they were exec'd with, where
    # this test can read it, as any process of the same user could.
    python = write(tmp_path / "python", f"#!/bin/sh\nexec {sys.executable} \"$@\"\n")
    python.chmod(0o755)
    proc = subprocess.Popen([sys.executable, "-m", "gator_core.cli", "run", str(spec), "-t", str(tracking),
                             "--sched-arg", f"python={python}"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, tracking


def root_url(tracking: Path) -> str:
    from gator_core.store.nodestore import StoreReader

    def read() -> str | None:
        try:
            with StoreReader(tracking) as store:
                return store.attrs().get("url")
        except Exception:
            return None
    return wait_for(read, 30, "the root tier's URL")


def token_of_a_child(marker: str) -> str:
    def look() -> str | None:
        for proc in psutil.process_iter(["cmdline"]):
            if marker in " ".join(proc.info["cmdline"] or []):
                return proc.parent().environ().get("GATOR_TOKEN")  # the wrapper's environment
        return None
    return wait_for(look, 30, "a wrapper's token")


async def attempt(url: str, headers: dict[str, str], send: list[str]) -> tuple[str, list[str]]:
    try:
        async with connect(url, additional_headers=headers, open_timeout=10) as ws:
            for text in send:
                await ws.send(text)
            replies = []
            try:
                while True:
                    replies.append(await asyncio.wait_for(ws.recv(), 10))
            except ConnectionClosed as closed:
                return f"closed {closed.rcvd.code if closed.rcvd else None}", replies
    except InvalidStatus as exc:
        return f"http {exc.response.status_code}", []


def test_strangers_and_nonsense_are_refused_and_logged_while_the_run_goes_on(tmp_path: Path):
    marker = f"{5 + uuid.uuid4().int % 5}.{os.getpid() % 1000}"
    proc, tracking = run_in_background(tmp_path, marker)
    try:
        url = root_url(tracking)
        assert url.startswith("ws://127.0.0.1:"), "tiers bind to loopback for the local scheduler"
        token = token_of_a_child(marker)
        auth = {"Authorization": f"Bearer {token}"}

        async def all_attempts() -> list[tuple[str, list[str]]]:
            return await asyncio.wait_for(asyncio.gather(
                attempt(url, {}, []),
                attempt(url, {"Authorization": "Bearer wrong"}, []),
                attempt(url, auth, ["this is not json"]),
                attempt(url, auth, [json.dumps({"type": "hello", "key": "nobody", "version": 1})]),
                attempt(url, auth, [json.dumps({"type": "launch_missiles"})]),
                attempt(url, auth, [json.dumps({"type": "hello", "key": "waiter", "version": 1})]),
            ), 60)

        outcomes = asyncio.run(all_attempts())
    finally:
        code = proc.wait(timeout=units(60))
    assert outcomes[0] == ("http 401", [])
    assert outcomes[1] == ("http 401", [])
    for outcome, reason in zip(outcomes[2:], ["message is not JSON", "no child 'nobody' here",
                                             "unknown message type 'launch_missiles'",
                                             "child 'waiter' is already connected"], strict=True):
        status, replies = outcome
        assert status == "closed 1008", outcome
        refusal = json.loads(replies[-1])
        assert refusal["type"] == "refuse" and reason in refusal["reason"], refusal
    assert code == 0, "the run was not disturbed"
    tree = json.loads(gator("show", tracking, "--json", check=0).stdout)
    assert node(tree, "top.waiter")["result"] == "pass"
    messages = logs(tracking, "top")
    assert sum("refused a connection" in m for m in messages) == 2
    assert sum("refused a peer" in m for m in messages) == 4
