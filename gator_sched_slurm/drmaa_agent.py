"""The process that holds a tier's DRMAA session (``python -m gator_sched_slurm.drmaa_agent``).

Why a process of its own: Grid Engine's DRMAA library is C code that must be
loaded by a process started with the right ``GLIBC_TUNABLES`` (see
docs/batch.md), that blocks in its calls, and that may crash; the tier
stays an ordinary asyncio process and talks to the agent over pipes.

Protocol: one JSON object a line on stdin, one answer a line on stdout, in
order.  Requests are ``{"op": "submit", "template": {...}}``,
``{"op": "query", "ids": [...]}``, ``{"op": "cancel", "ids": [...]}`` and
``{"op": "exit"}``.  Answers are ``{"ok": true, ...}`` or ``{"ok": false,
"error": TEXT, "transient": BOOL}``.  The first line the agent writes is
``{"ok": true, "ready": CONTACT}``, or the error that stopped it.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

__all__ = ["main"]

# DRMAA errors worth trying again: the qmaster is busy or out of reach.
TRANSIENT_ERRORS = ("DrmCommunicationException", "TryLaterException", "ExitTimeoutException")


def _answer(stream: Any, payload: dict[str, Any]) -> None:
    stream.write(json.dumps(payload) + "\n")
    stream.flush()


def _error(exc: BaseException) -> dict[str, Any]:
    name = type(exc).__name__
    text = str(exc).strip() or name
    return {"ok": False, "error": f"{name}: {text}", "transient": name in TRANSIENT_ERRORS}


class Agent:
    def __init__(self, drmaa: Any) -> None:
        self.drmaa = drmaa
        self.session = drmaa.Session()
        self.session.initialize()
        self.ended: dict[str, dict[str, Any]] = {}  # reaped with wait(), not yet asked about

    def submit(self, template: dict[str, Any]) -> dict[str, Any]:
        jt = self.session.createJobTemplate()
        try:
            jt.remoteCommand = template["remoteCommand"]
            jt.args = template["args"]
            jt.workingDirectory = template["workingDirectory"]
            jt.outputPath = ":" + template["outputPath"]
            jt.joinFiles = bool(template.get("joinFiles", True))
            jt.jobName = template["jobName"]
            jt.nativeSpecification = template["nativeSpecification"]
            bulk = template.get("bulk")
            # The job takes this process's environment (-V): set it for the call.
            saved = dict(os.environ)
            os.environ.update(template["environment"])
            try:
                if bulk:
                    ids = list(self.session.runBulkJobs(jt, int(bulk[0]), int(bulk[1]), 1))
                else:
                    ids = [self.session.runJob(jt)]
            finally:
                os.environ.clear()
                os.environ.update(saved)
        finally:
            self.session.deleteJobTemplate(jt)
        return {"ok": True, "ids": [str(i) for i in ids]}

    def _reap(self) -> None:
        """Collect the end of every job of the session that has ended, without blocking."""
        drmaa = self.drmaa
        while True:
            try:
                info = self.session.wait(drmaa.Session.JOB_IDS_SESSION_ANY, drmaa.Session.TIMEOUT_NO_WAIT)
            except (drmaa.errors.ExitTimeoutException, drmaa.errors.InvalidJobException):
                return  # nothing ended since last time / no jobs left
            self.ended[str(info.jobId)] = self._info(info)

    @staticmethod
    def _info(info: Any) -> dict[str, Any]:
        signum = None
        name = info.terminatedSignal if info.hasSignal else None
        if name:
            try:
                signum = -int(getattr(signal, str(name)))
            except (AttributeError, ValueError):
                signum = None
        return {"aborted": bool(info.wasAborted), "signal": name, "signum": signum,
                "exit_status": int(info.exitStatus) if info.hasExited else None,
                "wallclock": Agent._wallclock(info)}

    @staticmethod
    def _wallclock(info: Any) -> float | None:
        """Seconds the job ran, from wait()'s resource usage (which Grid Engine gives as
        strings such as "4.0000"): how a kill at the h_rt limit is told from others."""
        usage = dict(info.resourceUsage or {})
        try:
            if "ru_wallclock" in usage:
                return float(usage["ru_wallclock"])
            start, end = float(usage["start_time"]), float(usage["end_time"])
        except (KeyError, TypeError, ValueError):
            return None
        return end - start if start > 0 and end >= start else None

    def query(self, ids: list[str], probe: list[str]) -> dict[str, Any]:
        """Every id of ``ids`` that has ended, and the state of each id of ``probe``
        (one qmaster request each, hence a bounded list)."""
        drmaa = self.drmaa
        self._reap()
        statuses: dict[str, Any] = {}
        for native_id in ids:
            if native_id in self.ended:  # told once: the tier settles the child on it
                statuses[native_id] = {"ended": self.ended.pop(native_id)}
        for native_id in probe:
            if native_id in statuses:
                continue
            try:
                state = self.session.jobStatus(native_id)
            except drmaa.errors.InvalidJobException:
                continue  # unknown to Grid Engine: gone
            if str(state) in ("done", "failed"):  # ended since _reap: collect how
                try:
                    info = self.session.wait(native_id, drmaa.Session.TIMEOUT_NO_WAIT)
                    statuses[native_id] = {"ended": self._info(info)}
                    continue
                except drmaa.errors.DrmaaException:
                    pass
            statuses[native_id] = {"state": str(state)}
        return {"ok": True, "statuses": statuses}

    def cancel(self, ids: list[str]) -> dict[str, Any]:
        drmaa = self.drmaa
        failed = []
        for native_id in ids:
            try:
                self.session.control(native_id, drmaa.JobControlAction.TERMINATE)
            except drmaa.errors.InvalidJobException:
                pass  # already gone
            except drmaa.errors.DrmaaException as exc:
                failed.append(f"{native_id}: {exc}")
        if failed:
            return {"ok": False, "error": "; ".join(failed[:5]), "transient": False}
        return {"ok": True}

    def close(self) -> None:
        try:
            self.session.exit()
        except Exception:  # noqa: BLE001 - exiting anyway
            pass


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the tier decides when the agent stops
    out = sys.stdout
    try:
        import drmaa  # noqa: PLC0415 - loads the C library: only here, in this process
    except (ImportError, RuntimeError, OSError) as exc:
        _answer(out, {"ok": False, "error": f"cannot load the DRMAA library: {exc}", "transient": False})
        return 1
    try:
        agent = Agent(drmaa)
    except Exception as exc:  # noqa: BLE001 - reported to the tier, which quotes it
        _answer(out, _error(exc))
        return 1
    _answer(out, {"ok": True, "ready": str(agent.session.contact)})
    try:
        for line in sys.stdin:
            request = json.loads(line)
            op = request.get("op")
            try:
                if op == "submit":
                    answer = agent.submit(request["template"])
                elif op == "query":
                    answer = agent.query(list(request["ids"]), list(request.get("probe", request["ids"])))
                elif op == "cancel":
                    answer = agent.cancel(list(request["ids"]))
                elif op == "exit":
                    _answer(out, {"ok": True})
                    break
                else:
                    answer = {"ok": False, "error": f"unknown request {op!r}", "transient": False}
            except Exception as exc:  # noqa: BLE001 - every failure goes back as an answer
                answer = _error(exc)
            _answer(out, answer)
    finally:
        agent.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
