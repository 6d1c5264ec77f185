"""Pure logic: environment, line splitting, resource pools, child planning, rollups, options."""

from __future__ import annotations

import pytest

from gator_core import (
    Capacity,
    Cores,
    Job,
    JobArray,
    JobGroup,
    License,
    Memory,
    ResourcePool,
    Resources,
    UsageError,
    loads_spec,
)
from gator_core.envvars import array_variables, expand, job_environment, overlay
from gator_core.job.lines import LineSplitter
from gator_core.runtime.plan import count_jobs, plan_children
from gator_core.sched.contract import Scheduler, parse_size
from gator_core.store.summary import dependency_outcome, merge_stats, rollup

# -- environment ------------------------------------------------------------------------------

def test_overlay_keeps_what_it_does_not_touch_and_null_removes():
    """The seed system replaced the whole environment (PATH and HOME vanished)."""
    base = {"PATH": "/bin", "HOME": "/root", "A": "1"}
    env = overlay(base, {"A": "2", "B": "3"}, {"B": None, "C": "4"})
    assert env == {"PATH": "/bin", "HOME": "/root", "A": "2", "C": "4"}


@pytest.mark.parametrize("text, expected", [
    ("$A-${A}", "x-x"),
    ("$MISSING stays", "$MISSING stays"),
    ("cost $$5", "cost $5"),
    ("${A}b $Ab", "xb $Ab"),
    ("no vars", "no vars"),
    ("; rm -rf / $A", "; rm -rf / x"),
])
def test_expand_without_a_shell(text, expected):
    assert expand(text, {"A": "x"}) == expected


def test_nested_array_indices_are_all_kept():
    """The seed system overwrote the outer index with the inner one."""
    env = array_variables([("outer", 2), ("inner-x", 5)])
    assert env == {"GATOR_ARRAY_INDEX": "5", "GATOR_ARRAY_INDICES": "2,5",
                   "GATOR_ARRAY_INDEX_OUTER": "2", "GATOR_ARRAY_INDEX_INNER_X": "5"}


def test_job_environment_drops_the_run_token():
    env = job_environment({"GATOR_TOKEN": "secret", "GATOR_PARENT_URL": "ws://x", "PATH": "/bin"}, {"A": "1"})
    assert env == {"PATH": "/bin", "A": "1"}


# -- lines ------------------------------------------------------------------------------------

def split(chunks: list[bytes], max_line: int = 1 << 20) -> list[str]:
    out: list[str] = []
    splitter = LineSplitter(out.extend, max_line=max_line)
    for chunk in chunks:
        splitter.feed(chunk)
    splitter.close()
    return out


def test_lines_across_chunks_and_a_last_line_without_newline():
    assert split([b"a\nb", b"c\n", b"\n", b"d\r\n", b"tail"]) == ["a", "bc", "", "d", "tail"]


def test_invalid_utf8_is_replaced_not_fatal():
    assert split([b"ok \xff\xfe bad\n"]) == ["ok \ufffd\ufffd bad"]


def test_a_long_line_arriving_in_pieces_is_kept_whole():
    line = b"x" * (3 * 65536 + 7)
    pieces = [line[i:i + 4096] for i in range(0, len(line), 4096)]
    assert split(pieces + [b"\n"]) == [line.decode()]


def test_a_runaway_line_is_cut_at_the_limit_without_loss():
    out = split([b"y" * 25], max_line=10)
    assert out == ["y" * 10, "y" * 10, "y" * 5]


# -- resources --------------------------------------------------------------------------------

def test_pool_counts_slots_memory_and_licences():
    pool = ResourcePool(Capacity(slots=4, memory=1000, licenses={"vcs": 1}))
    big = Resources(cores=3, memory=600)
    lic = Resources(licenses={"vcs": 1})
    assert pool.fits(big)
    pool.take(big)
    assert not pool.fits(Resources(cores=2))  # 3 + 2 > 4
    assert not pool.fits(Resources(memory=500))  # 600 + 500 > 1000
    assert pool.fits(lic)
    pool.take(lic)
    assert not pool.fits(Resources(cores=0, licenses={"vcs": 1}))
    assert pool.fits(Resources(cores=0, licenses={"other": 9}))  # no limit set for it
    pool.give(big)
    pool.give(lic)
    assert (pool.slots, pool.memory, pool.licenses["vcs"]) == (0, 0, 0)


def test_requests_that_can_never_fit_say_why():
    cap = Capacity(slots=2, memory=1 << 30, licenses={"vcs": 2})
    assert "asks for 3 cores but at most 2" in cap.never_fits(Resources(cores=3))
    assert "but only 1.0 GB is available" in cap.never_fits(Resources(memory=2 << 30))
    assert "limit is 2" in cap.never_fits(Resources(licenses={"vcs": 3}))
    assert cap.never_fits(Resources(cores=2, licenses={"vcs": 2})) is None


def test_resources_from_spec():
    res = Resources.from_spec([Cores(2), Memory(1, "GB"), License("vcs", 3)])
    assert (res.cores, res.memory, dict(res.licenses)) == (2, 1 << 30, {"vcs": 3})


# -- planning children ------------------------------------------------------------------------

def test_array_children_are_named_like_the_seed_and_depend_within_a_repetition():
    array = loads_spec("!JobArray\n  id: arr\n  repeats: 2\n  jobs:\n"
                       "  - !Job {id: build, command: x}\n  - !Job {command: y, on_pass: [build]}\n")
    kids = plan_children(array)
    assert [k.key for k in kids] == ["build_0", "T1_0", "build_1", "T1_1"]
    assert [(k.decl, k.index) for k in kids] == [(0, 0), (1, 0), (0, 1), (1, 1)]
    assert kids[1].deps[0][1].sibling == 0


def test_count_jobs_multiplies_arrays():
    tree = JobGroup(jobs=[Job(command="a"), JobArray(repeats=3, jobs=[Job(command="b"),
                                                                    JobArray(repeats=2, jobs=[Job(command="c")])])])
    assert count_jobs(tree) == 1 + 3 * (1 + 2)


def test_nested_dependency_is_watched():
    tree = loads_spec("!JobGroup\n  jobs:\n  - !JobGroup {id: inner, jobs: [!Job {id: hi, command: x}]}\n"
                      "  - !Job {id: after, command: y, on_pass: [hi]}\n")
    kids = plan_children(tree)
    assert kids[0].watch == ["hi"]
    assert kids[1].deps[0][1].subpath == ("hi",)


# -- rollups ------------------------------------------------------------------------------------

def test_rollup_counts_jobs_not_tiers_and_merges_statistics():
    job_a = {"messages": {"error": 1}, "jobs": {"total": 1, "passed": 1}, "metrics": {"wall_time": 2.0}}
    job_b = {"messages": {"error": 2}, "jobs": {"total": 1, "failed": 1}, "metrics": {"wall_time": 4.0}}
    tier = {"messages": {"warning": 5}, "jobs": {"total": 2, "passed": 2},
            "metrics": {"wall_time": {"min": 1.0, "max": 1.0, "sum": 2.0, "count": 2}}}
    out = rollup([job_a, job_b, tier], ["job", "job", "group"])
    assert out["messages"]["error"] == 3 and out["messages"]["warning"] == 5
    assert out["jobs"]["total"] == 4 and out["jobs"]["passed"] == 3 and out["jobs"]["failed"] == 1
    assert out["metrics"]["wall_time"] == {"min": 1.0, "max": 4.0, "sum": 8.0, "count": 4, "mean": 2.0}


def test_merge_stats_of_plain_numbers():
    stats: dict = {}
    for value in (3, 1, 2):
        merge_stats(stats, value)
    assert stats == {"min": 1, "max": 3, "sum": 6, "count": 3, "mean": 2.0}


@pytest.mark.parametrize("summary, kind, outcome", [
    ({"result": "pass"}, "job", "pass"),
    ({"result": "lost"}, "job", "fail"),
    ({"result": "running"}, "job", None),
    ({"result": "pass", "jobs": {"passed": 3}}, "array", "pass"),
    ({"result": "pass", "jobs": {"passed": 2, "skipped": 1}}, "group", "skipped"),
    ({"result": "fail", "jobs": {"passed": 9, "failed": 1}}, "array", "fail"),
    ({"result": "pass", "jobs": {"lost": 1}}, "group", "fail"),
])
def test_dependency_outcome_looks_at_every_element(summary, kind, outcome):
    """The seed system looked only at an array's last element."""
    assert dependency_outcome(summary, kind) == outcome


# -- options ----------------------------------------------------------------------------------

class _Demo(Scheduler):
    name = "demo"
    from gator_core import Option, parse_positive_int
    options = (Option("slots", parse_positive_int, 1, "how many"),
               Option("license", int, None, "limits", prefix=True))

    async def launch(self, requests):  # pragma: no cover - not used
        pass

    async def terminate(self, keys):  # pragma: no cover
        pass

    async def close(self):  # pragma: no cover
        pass


def test_options_are_parsed_and_checked():
    settings = _Demo.parse_options({"slots": "3", "license.vcs": "4", "python": "/usr/bin/python3"})
    assert settings["slots"] == 3 and settings["license"] == {"vcs": 4}
    assert settings["python"] == "/usr/bin/python3"


@pytest.mark.parametrize("raw, fragment", [
    ({"slot": "3"}, "unknown option 'slot' for scheduler 'demo'; did you mean 'slots'?"),
    ({"slots": "0"}, "bad value '0' for 'slots': must be at least 1"),
    ({"license": "4"}, "unknown option 'license'"),
    ({"slots.x": "4"}, "unknown option 'slots.x'"),
])
def test_bad_options_are_usage_errors(raw, fragment):
    with pytest.raises(UsageError) as info:
        _Demo.parse_options(raw)
    assert fragment in str(info.value)


@pytest.mark.parametrize("text, value", [("512MB", 512 << 20), ("4 GB", 4 << 30), ("100", 100 << 20),
                                         ("1.5kb", 1536)])
def test_parse_size(text, value):
    assert parse_size(text) == value
