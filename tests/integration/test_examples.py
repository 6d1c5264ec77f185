"""The seed system's files run unchanged, with the results their authors meant, and
the regression example passes: on this machine, and on the real Slurm and Grid
Engine test clusters."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
from helpers import ROOT, gator, logs, need_cluster, node

SEED = ROOT / "examples" / "seed"
REGRESSION = ROOT / "examples" / "regression" / "regression.yaml"


@pytest.fixture(params=["local", pytest.param("slurm", marks=pytest.mark.cluster),
                        pytest.param("sge", marks=pytest.mark.cluster)])
def sched(request: pytest.FixtureRequest) -> list[str]:
    """``gator run`` arguments choosing each scheduler in turn."""
    if request.param != "local":
        need_cluster(request.param)
    return ["--scheduler", request.param]


@pytest.mark.parametrize("name", ["readme_tree_id.yaml", "readme_tree_ident.yaml"])
def test_seed_readme_tree(tmp_path: Path, name: str, sched: list[str]):
    """The README tree runs: say_hi first, then the counting array, then say_bye."""
    tracking = tmp_path / "t"
    proc = gator("run", SEED / name, "--tracking", tracking, *sched, check=0)
    assert "resolves to 'inner.say_hi'" in proc.stderr
    import json

    tree = json.loads(gator("show", tracking, "--json", check=0).stdout)
    assert tree["result"] == "pass"
    assert tree["jobs"]["total"] == 6 and tree["jobs"]["passed"] == 6
    assert [logs(tracking, f"top.counting.echo_count_{i}") for i in range(4)] == [["0"], ["1"], ["2"], ["3"]]
    hi, bye = node(tree, "top.inner.say_hi"), node(tree, "top.say_bye")
    counts = [node(tree, f"top.counting.echo_count_{i}") for i in range(4)]
    assert hi["stopped"] <= min(c["started"] for c in counts)
    assert max(c["stopped"] for c in counts) <= bye["started"]


@pytest.mark.parametrize("name", ["job_id.yaml", "job_ident.yaml"])
def test_seed_single_job(tmp_path: Path, name: str, sched: list[str]):
    tracking = tmp_path / "t"
    gator("run", SEED / name, "--tracking", tracking, *sched, check=0)
    assert logs(tracking, "root.test_job") == ["hey there you"]


def test_seed_style_tree(tmp_path: Path, sched: list[str]):
    """Group env overlays, a repeated key, on_fail, and nested arrays keep both indices."""
    tracking = tmp_path / "t"
    spec = shutil.copy(SEED / "job_tree.yaml", tmp_path / "job_tree.yaml")
    gator("run", spec, "--tracking", tracking, *sched, check=1)  # say_bye exits 1 on purpose
    assert logs(tracking, "tree.inner.say_hi") == ["hi hello_inner goodbye innermost"]
    assert logs(tracking, "tree.array.nested_2.nested_say_count_1") == ["inner count 1 of outer 2"]
    import json

    tree = json.loads(gator("show", tracking, "--json", check=0).stdout)
    assert node(tree, "tree.say_bye")["exit_code"] == 1
    assert node(tree, "tree.array")["result"] == "pass"  # ran because say_bye failed
    assert tree["jobs"] == {"total": 12, "passed": 11, "failed": 1, "skipped": 0, "lost": 0,
                            "cancelled": 0, "running": 0, "pending": 0}
    # Every node records the scheduler's own id and the host it ran on.
    stack, seen = [tree], 0
    while stack:
        item = stack.pop()
        stack.extend(item["children"])
        if item is not tree:
            assert item["native_id"] and item["host"], item["path"]
            seen += 1
    assert seen == 12 + 5  # jobs, and the tiers inner, array, nested_0..2


def test_the_regression_example(tmp_path: Path, sched: list[str]):
    """examples/regression: the build's binary reaches every test of the matrix, the
    licence failure is retried once and passes, and the report reads every test's report."""
    tracking = tmp_path / "t"
    gator("run", REGRESSION, "--tracking", tracking, *sched, cwd=tmp_path, check=0)
    tree = json_of(gator("show", tracking, "--json", check=0).stdout)
    assert tree["result"] == "pass"
    assert (tree["jobs"]["total"], tree["jobs"]["passed"]) == (8, 8)
    elements = [(cfg, seed) for cfg in ("small", "large") for seed in (1, 2, 3)]
    tests = node(tree, "regression.tests")["children"]
    assert [test["id"] for test in tests] == [f"sim_cfg={cfg},seed={seed}" for cfg, seed in elements]
    # Only the element with the busy licence ran twice: a failure, then the pass.
    for test in tests:
        if test["id"] != "sim_cfg=large,seed=2":
            assert (test["result"], test["attempts"]) == ("pass", None), test["id"]
    busy = node(tree, "regression.tests.sim_cfg=large,seed=2")
    assert busy["result"] == "pass" and len(busy["attempts"]) == 1
    first = busy["attempts"][0]
    assert (first["attempt"], first["result"], first["exit_code"]) == (1, "fail", 1)
    assert first["retried_for"] == "a message matched 'Unable to checkout license'"
    # The build's binary is recorded with the size and hash of the file it left.
    binary = node(tree, "regression.build")["artefacts"]["binary"]
    assert binary["pattern"] == "build/sim"
    [built] = binary["files"]
    assert built["path"] == str(tmp_path / "build" / "sim") and os.access(built["path"], os.X_OK)
    data = Path(built["path"]).read_bytes()
    assert (built["size"], built["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
    # Every test recorded its report; the report job printed each of them, in order.
    reports = []
    for test, (cfg, seed) in zip(tests, elements, strict=True):
        [report] = test["artefacts"]["report"]["files"]
        assert report["path"] == str(tmp_path / "out" / f"{cfg}-{seed}.txt")
        reports.append(Path(report["path"]).read_text().strip())
        assert reports[-1].startswith(f"{cfg} seed {seed}: pass, ")
    assert logs(tracking, "regression.report") == [*reports, "6 of 6 tests passed"]


@pytest.mark.slow
def test_the_quickstart_runs_the_readme_tree_against_a_hub_of_its_own(tmp_path: Path) -> None:
    """examples/quickstart.sh installs, starts a hub, runs the example reporting to it, and
    (not on a terminal) stops the hub and exits with the run's code."""
    import subprocess

    from helpers import units

    proc = subprocess.run(["bash", str(ROOT / "examples" / "quickstart.sh"), "--tracking", str(tmp_path / "t")],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=units(300))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "quickstart: a hub serves on http://127.0.0.1:" in proc.stdout
    assert "PASS: 6 jobs, 6 passed" in proc.stdout and "the run is on the hub" in proc.stdout
    assert "does not have the whole run" not in proc.stdout + proc.stderr  # the hub took all of it
    assert json_of(gator("show", tmp_path / "t", "--json", check=0).stdout)["result"] == "pass"


def json_of(text: str) -> dict:
    import json

    return json.loads(text)
