"""The local scheduler: one limit for the whole tree, cores, memory and licences."""

from __future__ import annotations

from pathlib import Path

from helpers import gator, node, run_spec, write


def overlap(tree: dict, paths: list[str]) -> int:
    """Most jobs (of ``paths``) that were running at the same moment."""
    events = []
    for path in paths:
        job = node(tree, path)
        events += [(job["started"], 1), (job["stopped"], -1)]
    running = peak = 0
    for _, step in sorted(events, key=lambda e: (e[0], e[1])):
        running += step
        peak = max(peak, running)
    return peak


def group(name: str, count: int, resources: str = "") -> str:
    jobs = "".join(f"      - !Job {{id: j{i}, command: sleep, args: [0.4]{resources}}}\n" for i in range(count))
    return f"  - !JobGroup\n      id: {name}\n      jobs:\n{jobs}"


def test_one_concurrency_limit_covers_the_whole_tree(tmp_path: Path):
    spec = "!JobGroup\n  id: top\n  jobs:\n" + group("a", 4) + group("b", 4) + group("c", 4)
    _, _, tree = run_spec(tmp_path, spec, "--sched-arg", "concurrency=3")
    paths = [f"top.{g}.j{i}" for g in "abc" for i in range(4)]
    assert all(node(tree, p)["result"] == "pass" for p in paths)
    assert overlap(tree, paths) <= 3
    assert overlap(tree, paths) >= 2  # and it did run things side by side


def test_cores_count_against_the_limit(tmp_path: Path):
    spec = "!JobGroup\n  id: top\n  jobs:\n" + group("big", 3, ", resources: [!Cores [2]]")
    _, _, tree = run_spec(tmp_path, spec, "--sched-arg", "concurrency=3")
    assert overlap(tree, [f"top.big.j{i}" for i in range(3)]) == 1


def test_memory_counts_against_the_limit(tmp_path: Path):
    spec = "!JobGroup\n  id: top\n  jobs:\n" + group("m", 3, ", resources: [!Memory [60, MB]]")
    _, _, tree = run_spec(tmp_path, spec, "--sched-arg", "concurrency=8", "--sched-arg", "memory=100MB")
    assert overlap(tree, [f"top.m.j{i}" for i in range(3)]) == 1


def test_licences_hold_across_groups(tmp_path: Path):
    spec = ("!JobGroup\n  id: top\n  jobs:\n" + group("a", 2, ", resources: [!License [vcs]]")
            + group("b", 2, ", resources: [!License [vcs]]"))
    _, _, tree = run_spec(tmp_path, spec, "--sched-arg", "concurrency=8", "--sched-arg", "license.vcs=1")
    assert overlap(tree, [f"top.{g}.j{i}" for g in "ab" for i in range(2)]) == 1


def test_a_request_that_can_never_fit_names_the_job_and_runs_nothing(tmp_path: Path):
    spec = write(tmp_path / "spec.yaml", "!JobGroup\n  id: top\n  jobs:\n"
                 "  - !Job {id: fine, command: 'true'}\n"
                 "  - !Job {id: huge, command: 'true', resources: [!Cores [8]]}\n"
                 "  - !Job {id: greedy, command: 'true', resources: [!License [vcs, 3]]}\n")
    proc = gator("run", spec, "--tracking", tmp_path / "t", "-a", "concurrency=2", "-a", "license.vcs=2",
                 cwd=tmp_path, check=2)
    assert "spec.yaml:5:5: error: top.huge: asks for 8 cores but at most 2 run at once here" in proc.stderr
    assert "spec.yaml:6:5: error: top.greedy: asks for 3 of licence 'vcs' but the limit is 2" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "t" / "fine").exists()


def test_unknown_scheduler_option_is_a_usage_error(tmp_path: Path):
    spec = write(tmp_path / "spec.yaml", "!Job {command: 'true'}")
    proc = gator("run", spec, "--sched-arg", "concurency=2", cwd=tmp_path, check=2)
    assert "unknown option 'concurency' for scheduler 'local'; did you mean 'concurrency'?" in proc.stderr
    proc = gator("run", spec, "--sched-arg", "concurrency", cwd=tmp_path, check=2)
    assert "--sched-arg takes KEY=VALUE" in proc.stderr


def test_an_array_larger_than_the_launch_window_runs_every_job(tmp_path: Path):
    # The tier holds at most WINDOW children launched at once (256 with one slot) and
    # hands over the rest as jobs end; jobs of the array also wait on each other's ends.
    from gator_sched_local.scheduler import WINDOW

    count = WINDOW + 44
    spec = (f"!JobGroup\n  id: top\n  jobs:\n  - !JobArray\n      id: arr\n      repeats: {count}\n"
            "      jobs:\n      - !Job {id: t, command: 'true'}\n"
            "  - !Job {id: after, command: 'true', on_pass: [arr]}\n")
    _, _, tree = run_spec(tmp_path, spec, "--sched-arg", "concurrency=1", timeout=180)
    arr = node(tree, "top.arr")
    assert arr["result"] == "pass" and len(arr["children"]) == count
    assert all(child["result"] == "pass" for child in arr["children"])
    assert node(tree, "top.after")["result"] == "pass"
