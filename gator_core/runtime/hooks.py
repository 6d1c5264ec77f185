"""Run hooks: plugins told, in the root process, of the run's start and end and of
every node's start and end (the ``gator_run_*`` and ``gator_node_*`` hookspecs).

The run never waits for a plugin.  Each plugin gets a thread of its own and its
calls in order; the root tier only queues them.  A hook that raises is reported
once, with its plugin's name, and the plugin's later calls still happen.  A call
that runs past ``HOOK_TIME_LIMIT`` is reported once, and the plugin's later calls
are dropped (a Python thread cannot be stopped, so it is left to end on its own).
At the end of the run the hooks have at most ``HOOK_TIME_LIMIT`` seconds to finish.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from gator_core.runtime.observers import RunInfo
from gator_core.store.summary import Summary
from gator_core.wire.protocol import Change

__all__ = ["HOOKS", "HOOK_TIME_LIMIT", "HookObserver", "hook_observer"]

HOOKS = ("gator_run_started", "gator_node_started", "gator_node_finished", "gator_run_finished")
HOOK_TIME_LIMIT = 10.0  # seconds one hook call may take, and the hooks may take after the run
QUEUE_LIMIT = 100_000  # calls queued for one plugin before its later ones are dropped


class _Plugin:
    """One plugin's hook calls, made in order on its own thread."""

    def __init__(self, name: str, impls: dict[str, Any], say: Callable[[str], None]) -> None:
        self.name = name
        self.impls = impls  # hook name -> pluggy HookImpl
        self.say = say
        self._queue: deque[tuple[str, dict[str, Any]]] = deque()
        self._wake = threading.Condition()
        self._current: tuple[str, float] | None = None  # the hook being called, since when
        self._abandoned = False
        self._closing = False
        self._said: set[str] = set()
        self._thread = threading.Thread(target=self._loop, name=f"gator-hooks-{name}", daemon=True)
        self._thread.start()

    def post(self, hook: str, kwargs: dict[str, Any]) -> None:
        if hook not in self.impls or self._abandoned or self._overdue():
            return
        with self._wake:
            if len(self._queue) >= QUEUE_LIMIT:
                self._once("queue", f"gator: the {self.name} plugin's hooks fall behind; some of its "
                                    f"{hook} calls are dropped")
                return
            self._queue.append((hook, kwargs))
            self._wake.notify()

    def _once(self, key: str, text: str) -> None:
        if key not in self._said:
            self._said.add(key)
            self.say(text)

    def _overdue(self) -> bool:
        """A call past the time limit abandons the plugin (said once)."""
        current = self._current
        if current is not None and time.monotonic() - current[1] > HOOK_TIME_LIMIT:
            self._abandoned = True
            self._once("slow", f"gator: the {self.name} plugin's {current[0]} hook has taken more than "
                               f"{HOOK_TIME_LIMIT:g} s; its later hooks are skipped (the run goes on)")
        return self._abandoned

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._closing:
                    self._wake.wait()
                if not self._queue:
                    return
                hook, kwargs = self._queue.popleft()
            if self._abandoned:
                return
            impl = self.impls[hook]
            self._current = (hook, time.monotonic())
            try:
                impl.function(**{name: value() if isinstance(value, _Later) else value
                                 for name, value in kwargs.items() if name in impl.argnames})
            except Exception as exc:  # noqa: BLE001 - a plugin's bug never stops the run
                self._once(f"error:{hook}", f"gator: the {self.name} plugin's {hook} hook failed: "
                                            f"{type(exc).__name__}: {exc} (the run goes on)")
            finally:
                self._current = None

    def close(self, deadline: float) -> None:
        with self._wake:
            self._closing = True
            self._wake.notify()
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive() and not self._overdue():
            self._once("late", f"gator: the {self.name} plugin's hooks did not finish in time; the run "
                               "ends without waiting for them")


class _Later:
    """A value made once, on the first hook call that needs it (the result tree: read
    from the stores only if a plugin asks for it, and then off the root tier's loop)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._value: Any = None
        self._made = False

    def __call__(self) -> Any:
        with self._lock:
            if not self._made:
                self._value, self._made = self._make(), True
            return self._value


class HookObserver:
    """A :class:`gator_core.RunObserver` that calls the run hooks of every plugin."""

    def __init__(self, plugins: list[_Plugin]) -> None:
        self.plugins = plugins
        self._run: RunInfo | None = None

    def _post(self, hook: str, **kwargs: Any) -> None:
        for plugin in self.plugins:
            plugin.post(hook, kwargs)

    def run_started(self, run: RunInfo) -> None:
        self._run = run
        self._post("gator_run_started", run=run)

    def change(self, change: Change) -> None:
        event = change.get("event")
        if event == "start":
            self._post("gator_node_started", run=self._run, path=change.get("path"), kind=change.get("kind"),
                       time=change.get("time"))
        elif event == "finish":
            self._post("gator_node_finished", run=self._run, path=change.get("path"), kind=change.get("kind"),
                       summary=change)

    def tick(self, summary: Summary) -> None:
        pass

    def run_finished(self, run: RunInfo, summary: Summary, interrupted: bool) -> None:
        from gator_core.store.readback import load_results

        self._post("gator_run_finished", run=run, summary=summary, interrupted=interrupted,
                   result=_Later(lambda: load_results(run.tracking)))

    def close(self, timeout: float) -> list[str]:
        deadline = time.monotonic() + min(timeout, HOOK_TIME_LIMIT)
        for plugin in self.plugins:
            plugin.close(deadline)
        return []


def hook_observer(pm: Any, say: Callable[[str], None]) -> HookObserver | None:
    """An observer calling the run hooks that the plugins registered with ``pm``
    implement; None when none does (then nothing is queued at all)."""
    by_plugin: dict[str, dict[str, Any]] = {}
    for hook in HOOKS:
        for impl in getattr(pm.hook, hook).get_hookimpls():
            by_plugin.setdefault(impl.plugin_name, {})[hook] = impl
    if not by_plugin:
        return None
    return HookObserver([_Plugin(name, impls, say) for name, impls in sorted(by_plugin.items())])
