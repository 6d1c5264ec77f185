"""The run hooks' runner: each plugin's calls in order on its own thread, a failing
hook reported once with its plugin's name, a slow one abandoned, and a bounded end."""

from __future__ import annotations

import threading
import time
from typing import Any

import pluggy

from gator_core import hookimpl, hookspecs
from gator_core.runtime import hooks
from gator_core.runtime.hooks import hook_observer


def manager(*plugins: tuple[str, Any]) -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name, plugin in plugins:
        pm.register(plugin, name=name)
    return pm


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.done = threading.Event()

    @hookimpl
    def gator_run_started(self, run: Any) -> None:
        self.calls.append(("run_started", run))

    @hookimpl
    def gator_node_finished(self, path: str, summary: Any) -> None:  # fewer arguments than the spec: fine
        self.calls.append(("node_finished", (path, summary["result"])))

    @hookimpl
    def gator_run_finished(self, result: Any, interrupted: bool) -> None:
        self.calls.append(("run_finished", (result, interrupted)))
        self.done.set()


class Crashes:
    @hookimpl
    def gator_node_finished(self, path: str) -> None:
        raise RuntimeError(f"cannot handle {path}")


class Hangs:
    def __init__(self) -> None:
        self.release = threading.Event()

    @hookimpl
    def gator_node_finished(self, path: str) -> None:
        self.release.wait(30)


def test_no_plugin_with_run_hooks_means_no_observer() -> None:
    assert hook_observer(manager(), print) is None


def test_calls_arrive_in_order_with_only_the_arguments_a_hook_takes() -> None:
    recorder = Recorder()
    observer = hook_observer(manager(("rec", recorder)), print)
    observer.run_started("RUN")
    for index in range(3):
        observer.change({"event": "finish", "path": f"top.{index}", "kind": "job", "result": "pass"})
    observer.change({"event": "start", "path": "top.x", "kind": "job", "time": 1.0})  # no such hook: skipped
    observer._post("gator_run_finished", run="RUN", summary={}, interrupted=False,
                   result=hooks._Later(lambda: "TREE"))
    assert observer.close(5) == []
    assert recorder.calls == [("run_started", "RUN"), *[("node_finished", (f"top.{i}", "pass")) for i in range(3)],
                              ("run_finished", ("TREE", False))]


def test_a_crashing_hook_is_reported_once_by_plugin_name_and_others_go_on() -> None:
    said: list[str] = []
    recorder = Recorder()
    observer = hook_observer(manager(("broken", Crashes()), ("rec", recorder)), said.append)
    for index in range(5):
        observer.change({"event": "finish", "path": f"top.{index}", "kind": "job", "result": "fail"})
    observer.close(5)
    assert len([c for c in recorder.calls if c[0] == "node_finished"]) == 5
    assert said == ["gator: the broken plugin's gator_node_finished hook failed: RuntimeError: cannot handle "
                    "top.0 (the run goes on)"]


def test_a_hook_past_the_time_limit_is_abandoned_and_the_end_does_not_wait_for_it(monkeypatch: Any) -> None:
    monkeypatch.setattr(hooks, "HOOK_TIME_LIMIT", 0.3)
    said: list[str] = []
    hanging = Hangs()
    observer = hook_observer(manager(("stuck", hanging)), said.append)
    observer.change({"event": "finish", "path": "top.a", "kind": "job", "result": "pass"})
    time.sleep(0.5)
    observer.change({"event": "finish", "path": "top.b", "kind": "job", "result": "pass"})  # dropped
    started = time.monotonic()
    observer.close(60)
    assert time.monotonic() - started < 1.0  # bounded by the limit, not by the hook
    assert said == ["gator: the stuck plugin's gator_node_finished hook has taken more than 0.3 s; its later "
                    "hooks are skipped (the run goes on)"]
    hanging.release.set()
