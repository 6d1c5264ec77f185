"""The run-observer seam: the root tier's sink tells the console, then each observer,
and an observer that fails is reported once and never stops the run."""

from __future__ import annotations

from typing import Any

from gator_core.runtime.observers import Tee


class Console:
    def __init__(self) -> None:
        self.changes: list[Any] = []
        self.ticks: list[Any] = []
        self.alerts: list[str] = []

    def change(self, change: Any) -> None:
        self.changes.append(change)

    def tick(self, summary: Any) -> None:
        self.ticks.append(summary)

    def alert(self, text: str) -> None:
        self.alerts.append(text)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def run_started(self, run: Any) -> None:
        self.calls.append(("started", run))

    def change(self, change: Any) -> None:
        self.calls.append(("change", change))

    def tick(self, summary: Any) -> None:
        self.calls.append(("tick", summary))

    def run_finished(self, run: Any, summary: Any, interrupted: bool) -> None:
        self.calls.append(("finished", interrupted))


class Broken(Recorder):
    def change(self, change: Any) -> None:
        raise RuntimeError("boom")


def test_the_console_and_every_observer_hear_the_same_events() -> None:
    console, first, second = Console(), Recorder(), Recorder()
    said: list[str] = []
    tee = Tee(console, [first, second], said.append)
    tee.started("run")
    tee.change({"event": "start", "path": "top.a"})
    tee.tick({"jobs": {"total": 1}})
    tee.finished("run", {"result": "pass"}, False)
    assert console.changes == [{"event": "start", "path": "top.a"}] and console.ticks == [{"jobs": {"total": 1}}]
    for observer in (first, second):
        assert [name for name, _ in observer.calls] == ["started", "change", "tick", "finished"]
    assert said == []
    tee.alert("hello")  # what only the console has passes through to it
    assert console.alerts == ["hello"]


def test_a_failing_observer_is_reported_once_and_the_others_go_on() -> None:
    console, broken, fine = Console(), Broken(), Recorder()
    said: list[str] = []
    tee = Tee(console, [broken, fine], said.append)
    for index in range(3):
        tee.change({"event": "finish", "path": f"top.{index}"})
    assert len(console.changes) == 3 and len([c for c in fine.calls if c[0] == "change"]) == 3
    assert len(said) == 1 and "Broken failed in change: RuntimeError: boom" in said[0]


def test_without_a_console_observers_still_hear_everything() -> None:
    observer = Recorder()
    tee = Tee(None, [observer], print)
    tee.change({"event": "start", "path": "top.a"})
    tee.tick({})
    assert [name for name, _ in observer.calls] == ["change", "tick"]
    assert getattr(tee, "alert", None) is None  # so the runner prints its alerts itself
