"""`--scheduler ssh` against real sshd: two hosts in network namespaces (h1, h2) that
cannot reach this machine's loopback, and one on 127.0.0.1 (tests/cluster/up.sh).

The hosts are other users (gatortest) without this machine's files, so every
test here also checks that tracking data comes back over SFTP.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from batchruns import finish, run_attr, show, shown_node
from helpers import gator, jobs_of, need_cluster, node, units, wait_for, write
from killed_run import kill_and_check, killed_run

pytestmark = pytest.mark.cluster


@pytest.fixture(autouse=True)
def runs(runs_on: Any) -> Any:
    need_cluster("ssh")
    return runs_on("ssh")


def hosts_args() -> tuple[str, str]:
    return "--sched-arg", f"hosts={os.environ['GATOR_TEST_SSH_HOSTS']}"


def remote_processes(marker: str) -> list[str]:
    """Processes of the test user that mention ``marker`` (the hosts share this kernel)."""
    found = []
    for proc in psutil.process_iter(["username", "cmdline"]):
        try:
            if proc.info["username"] == "gatortest" and marker in " ".join(proc.info["cmdline"] or []):
                found.append(" ".join(proc.info["cmdline"]))
        except psutil.Error:
            continue
    return found


def test_a_tree_runs_across_hosts_and_its_data_comes_back(runs: Any) -> None:
    _, tracking, tree = runs.run("""
!JobGroup
  id: top
  jobs:
  - !JobArray
    id: spread
    repeats: 8
    jobs:
    - !Job {id: j, command: sh, args: [-c, 'echo "on $(hostname) in $PWD"; sleep 1']}
  - !JobGroup
    id: later
    on_pass: [spread]
    jobs:
    - !Job {id: last, command: sh, args: [-c, 'echo done; exit 3']}
""", *hosts_args(), check=1)
    spread = [node(tree, f"top.spread.j_{i}") for i in range(8)]
    assert all(item["result"] == "pass" for item in spread)
    assert {item["host"] for item in spread} == {"h1", "h2"}  # spread by free slots
    last = node(tree, "top.later.last")
    assert (last["result"], last["exit_code"]) == ("fail", 3)
    # Tiers ran here; every job's store, messages and output are here after the run.
    assert node(tree, "top.spread")["host"] not in ("h1", "h2")
    for item in spread:
        job_dir = Path(item["tracking"])
        assert (job_dir / "db.sqlite").exists() and (job_dir / "messages.log").exists()
        out = gator("logs", tracking, item["path"], check=0).stdout
        assert f"on {item['host']} in /home/gatortest/work-{item['host']}" in out
    # Nothing of the run is left in the hosts' work directories.
    run8 = run_attr(tracking, "run_id")[:8]
    for name in ("h1", "h2"):
        left = Path(f"/home/gatortest/work-{name}/{run8}")
        assert not left.exists() or not any(path.is_file() for path in left.rglob("*")), left


def test_the_token_never_appears_on_a_command_line(runs: Any) -> None:
    marker = f"m{os.getpid()}x{time.monotonic_ns() % 10**6}"
    proc, tracking = runs.start(f"""
!JobGroup
  id: top
  jobs:
  - !JobGroup
    id: g
    jobs:
    - !Job {{id: j, command: sleep, args: ['30'], env: {{MARK: {marker}}}}}
""", *hosts_args())
    wait_for(lambda: (n := shown_node(tracking, "top.g.j")) and n["result"] == "running", 60, "the job to run")
    tokens = set()
    for candidate in psutil.process_iter(["cmdline", "environ"]):
        try:
            if "gator_core.child" in " ".join(candidate.info["cmdline"] or []):
                token = (candidate.info["environ"] or {}).get("GATOR_TOKEN")
                if token:
                    tokens.add(token)
        except psutil.Error:
            continue
    assert tokens, "the local tier's token should be in its environment"
    for candidate in psutil.process_iter(["cmdline"]):
        try:
            line = " ".join(candidate.info["cmdline"] or [])
        except psutil.Error:
            continue
        assert not any(token in line for token in tokens), line
    proc.send_signal(signal.SIGINT)
    finish(proc)


def test_licences_hold_across_hosts_and_cores_take_slots(runs: Any) -> None:
    _, _, tree = runs.run("""
!JobGroup
  id: top
  jobs:
  - !JobArray
    id: lic
    repeats: 3
    jobs:
    - !Job {id: j, command: sleep, args: ['1'], resources: [!License simulator]}
  - !JobArray
    id: wide
    repeats: 2
    jobs:
    - !Job {id: w, command: sleep, args: ['1'], resources: [!Cores 4]}
""", *hosts_args(), "--sched-arg", "license.simulator=1", check=0)
    spans = sorted((n["started"], n["stopped"]) for n in (node(tree, f"top.lic.j_{i}") for i in range(3)))
    for (_, end), (begin, _) in zip(spans, spans[1:], strict=False):
        assert begin >= end - 0.3  # one licence: one at a time, whichever host
    wide = [node(tree, f"top.wide.w_{i}") for i in range(2)]
    if wide[0]["host"] == wide[1]["host"]:  # 4 cores fill a 4-slot host: not both at once there
        first, second = sorted(wide, key=lambda item: item["started"])
        assert second["started"] >= first["stopped"] - 0.3


def test_a_request_no_host_can_meet_is_refused_before_anything_runs(runs: Any) -> None:
    spec = write(runs.tmp_path / "big.yaml", "!Job {id: big, command: 'true', resources: [!Cores 16]}")
    out = gator("run", spec, "--scheduler", "ssh", *hosts_args(), cwd=runs.tmp_path, check=2)
    assert "asks for 16 cores but the largest host" in out.stderr and "has 4 slots" in out.stderr
    assert not (runs.tmp_path / "tracking").exists()


def test_unknown_host_keys_are_refused_unless_the_host_is_trusted_explicitly(runs: Any) -> None:
    known = runs.tmp_path / "known_hosts"
    known.write_text("")
    hosts = Path(os.environ["GATOR_TEST_SSH_HOSTS"]).read_text()
    lines = [line for line in hosts.splitlines() if not line.startswith("known_hosts:")]
    write(runs.tmp_path / "hosts.yaml", f"known_hosts: {known}\n" + "\n".join(lines) + "\n")
    spec = write(runs.tmp_path / "one.yaml", "!Job {id: one, command: 'true'}")
    out = gator("run", spec, "--scheduler", "ssh", "--sched-arg", f"hosts={runs.tmp_path / 'hosts.yaml'}",
                cwd=runs.tmp_path, check=2)
    assert "unknown host: its key is not in" in out.stderr and str(known) in out.stderr
    assert "h1 (gatortest@10.200.1.2:22)" in out.stderr and "accept_unknown_host_key" in out.stderr
    assert "Traceback" not in out.stderr
    # Opting in, for these hosts: they run, and their keys are recorded.
    trusted = "\n".join(lines).replace("    slots:", "    accept_unknown_host_key: true\n    slots:")
    write(runs.tmp_path / "trusted.yaml", f"known_hosts: {known}\n{trusted}\n")
    gator("run", spec, "--scheduler", "ssh", "--sched-arg", f"hosts={runs.tmp_path / 'trusted.yaml'}",
          "-t", runs.tmp_path / "t-trusted", cwd=runs.tmp_path, check=0)
    recorded = known.read_text()
    assert "10.200.1.2 ssh-ed25519" in recorded and "10.200.2.2 ssh-ed25519" in recorded
    # From then on the recorded key is checked: another key for h1 (h2's) is refused.
    keys = {line.split()[0]: line.split(None, 1)[1] for line in recorded.splitlines() if line.strip()}
    known.write_text(f"10.200.1.2 {keys['10.200.2.2']}\n10.200.2.2 {keys['10.200.2.2']}\n")
    out = gator("run", spec, "--scheduler", "ssh", "--sched-arg", f"hosts={runs.tmp_path / 'hosts.yaml'}",
                cwd=runs.tmp_path, check=2)
    assert "h1 (gatortest@10.200.1.2:22): its host key" in out.stderr and "is not the one" in out.stderr
    assert "h2" not in out.stderr.split("is not the one")[0].split("h1 (")[0]


def test_a_remote_interpreter_that_cannot_run_gator_is_named(runs: Any) -> None:
    hosts = Path(os.environ["GATOR_TEST_SSH_HOSTS"]).read_text()
    write(runs.tmp_path / "hosts.yaml", hosts.replace("/home/gatortest/venv/bin/python", "/usr/bin/python3"))
    spec = write(runs.tmp_path / "one.yaml", "!Job {id: one, command: 'true'}")
    out = gator("run", spec, "--scheduler", "ssh", "--sched-arg", f"hosts={runs.tmp_path / 'hosts.yaml'}",
                cwd=runs.tmp_path, check=2)
    assert "h1 (gatortest@10.200.1.2:22): /usr/bin/python3 cannot run gator" in out.stderr
    assert "No module named 'gator_core'" in out.stderr


def test_host_paths_may_start_with_the_remote_home(runs: Any) -> None:
    """``~/`` in python and workdir means the remote user's home; the rest stays literal."""
    hosts = Path(os.environ["GATOR_TEST_SSH_HOSTS"]).read_text().split("  - name: h2")[0]  # h1 alone
    write(runs.tmp_path / "hosts.yaml", hosts.replace("/home/gatortest/venv/bin/python", "~/venv/bin/python")
          .replace("/home/gatortest/work-h1", "'~/work tilde $X'"))
    gator("run", write(runs.tmp_path / "one.yaml", "!Job {id: one, command: pwd}"), "--scheduler", "ssh",
          "--sched-arg", f"hosts={runs.tmp_path / 'hosts.yaml'}", cwd=runs.tmp_path, check=0)
    assert node(show(runs.tmp_path / "tracking"), "root.one")["host"] == "h1"
    assert "/home/gatortest/work tilde $X\n" in gator("logs", runs.tmp_path / "tracking", "root.one").stdout


def test_ctrl_c_kills_the_remote_process_trees(runs: Any) -> None:
    marker = f"{300 + os.getpid() % 500}.{time.monotonic_ns() % 1000}"
    proc, tracking = runs.start(f"""
!JobArray
  id: arr
  repeats: 6
  jobs:
  - !Job {{id: s, command: sh, args: [-c, 'sleep {marker} & sleep {marker}; wait']}}
""", *hosts_args())
    wait_for(lambda: len(remote_processes(marker)) >= 12, 60, "the remote jobs and their children")
    proc.send_signal(signal.SIGINT)
    code, _, _ = finish(proc, timeout=60)
    assert code == 130
    wait_for(lambda: not remote_processes(marker), 15, "every remote process to end")
    assert all(item["result"] in ("fail", "lost") for item in jobs_of(show(tracking)))


def test_a_run_killed_hard_leaves_no_remote_job_and_keeps_what_they_printed(runs: Any) -> None:
    """kill -9 of `gator run`: the hosts stop its jobs, their messages come back, and the
    run shows as interrupted (tests/killed_run.py has the whole check)."""
    with killed_run(runs.tmp_path) as scenario:
        kill_and_check(scenario, ["--scheduler", "ssh", *hosts_args()], remote_processes)


@pytest.fixture
def h1_link() -> Any:
    """The host side of h1's network link; brought back up whatever the test does."""
    yield "gator-h1"
    subprocess.run(["ip", "link", "set", "gator-h1", "up"], check=False, timeout=units(10))


def test_a_host_cut_off_mid_run_loses_its_jobs_and_the_rest_completes(runs: Any, h1_link: str) -> None:
    proc, tracking = runs.start("""
!JobArray
  id: arr
  repeats: 6
  jobs:
  - !Job {id: s, command: sh, args: [-c, 'hostname; sleep 20']}
""", *hosts_args())
    wait_for(lambda: all((n := shown_node(tracking, f"arr.s_{i}")) and n["result"] == "running" and n["host"]
                         for i in range(6)), 60, "all six jobs to run")
    on_h1 = [f"arr.s_{i}" for i in range(6) if shown_node(tracking, f"arr.s_{i}")["host"] == "h1"]
    assert on_h1, "some jobs should run on h1"
    cut_at = time.monotonic()
    subprocess.run(["ip", "link", "set", h1_link, "down"], check=True, timeout=units(10))
    code, out, err = finish(proc, timeout=90)
    assert code == 1, out + err
    assert time.monotonic() - cut_at < units(60)  # bounded: the other host's jobs end at 20 s
    tree = show(tracking)
    for item in jobs_of(tree):
        if item["path"] in on_h1:
            assert item["result"] == "lost", item
            assert item["reason"].startswith("HOST_LOST: host h1"), item["reason"]
        else:
            assert item["result"] == "pass", item
    assert "host h1 (gatortest@10.200.1.2:22) lost" in gator("logs", tracking, "arr", check=0).stdout


def test_a_shared_filesystem_is_not_copied(runs: Any) -> None:
    """shared=true with the loopback host: the job writes its tracking data in place."""
    base = Path(tempfile.mkdtemp(prefix="gator-shared-", dir="/tmp"))
    try:
        base.chmod(0o777)
        (base / "t").mkdir(mode=0o777)
        os.chmod(base / "t", 0o777)
        spec = write(base / "s.yaml", "!Job {id: one, command: sh, args: [-c, 'echo $PWD; id -un']}")
        tracking = base / "t" / "run"
        # Here the remote user is another user: let it write what this one creates.
        proc = subprocess.run(["sh", "-c", 'umask 0 && exec "$@"', "sh", sys.executable, "-m", "gator_core.cli",
                               "run", str(spec), "--scheduler", "ssh", "--sched-arg",
                               f"hosts={os.environ['GATOR_TEST_SSH_LOCAL']}", "--sched-arg", "shared=true",
                               "-t", str(tracking)], cwd=base, capture_output=True, text=True, timeout=units(120))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        out = gator("logs", tracking, "root.one", check=0).stdout
        assert str(base) in out and "gatortest" in out  # it ran in the launch directory, as gatortest
        stored = tracking / "one" / "db.sqlite"
        assert stored.exists() and stored.stat().st_uid != 0  # written there by the remote user
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_tracking_data_too_big_to_come_inline_comes_over_sftp(runs: Any) -> None:
    """More than the child server sends back with the exit (1 MB): copied over SFTP."""
    _, tracking, tree = runs.run("""
!Job {id: chatty, command: python3, args: [-c, "for i in range(40000): print(f'line {i:06d} of a chatty job')"]}
""", *hosts_args(), check=0)
    chatty = node(tree, "root.chatty")
    job_dir = Path(chatty["tracking"])
    size = sum(path.stat().st_size for path in job_dir.iterdir() if not path.name.endswith("-shm"))
    assert size > 1 << 20
    lines = gator("logs", tracking, "root.chatty", "--json", check=0).stdout.splitlines()
    assert len(lines) == 40000 and "line 039999 of a chatty job" in lines[-1]
    run8 = run_attr(tracking, "run_id")[:8]
    assert not Path(f"/home/gatortest/work-{chatty['host']}/{run8}/chatty").exists()  # removed there


def test_artefacts_go_to_the_hosts_that_need_them_and_come_back(runs: Any) -> None:
    """Without a shared filesystem: a build's artefacts come back into the tracking
    directory here (a program, still executable, and data bigger than the inline limit),
    go to every host whose jobs need them, and are gone from the hosts after the run."""
    _, tracking, tree = runs.run("""
!JobGroup
  id: top
  jobs:
  - !Job
    id: build
    command: sh
    args: [-c, 'mkdir -p build out && printf "#!/bin/sh\\necho sim on \\$(hostname) seed \\$1\\n" > build/sim.exe
                && chmod +x build/sim.exe && head -c 1500000 /dev/zero > out/big.dat && echo small > out/small.dat']
    artefacts: {binary: build/sim.exe, data: "out/*.dat"}
  - !Job
    id: broken
    command: "true"
    artefacts: {binary: build/never.exe}
  - !Job {id: after_broken, needs: [broken.binary], command: "true"}
  - !JobArray
    id: sims
    needs: [build.binary, build.data]
    repeats: 4
    jobs:
    - !Job
      id: sim
      resources: [!Cores [3]]
      command: "{{ artefacts.build.binary }}"
      args: [$GATOR_ARRAY_INDEX]
      env: {DATA: "{{ artefacts.build.data }}"}
""", *hosts_args(), check=1)
    build = node(tree, "top.build")
    assert build["result"] == "pass"
    files = {name: info["files"] for name, info in build["artefacts"].items()}
    binary = Path(files["binary"][0]["path"])
    assert binary == Path(build["tracking"]) / "artefacts" / "binary" / "build" / "sim.exe"  # here, not on h1
    assert binary.exists() and os.access(binary, os.X_OK)
    import hashlib
    for item in files["binary"] + files["data"]:
        assert hashlib.sha256(Path(item["path"]).read_bytes()).hexdigest() == item["sha256"]
        assert Path(item["path"]).stat().st_size == item["size"]
    assert sorted(Path(item["path"]).name for item in files["data"]) == ["big.dat", "small.dat"]
    broken = node(tree, "top.broken")
    assert broken["result"] == "fail" and "artefact 'binary' (build/never.exe) was not produced" in broken["reason"]
    after = node(tree, "top.after_broken")
    assert after["result"] == "skipped" and "artefact 'broken.binary' was not produced" in after["reason"]
    sims = [node(tree, f"top.sims.sim_{i}") for i in range(4)]
    assert all(sim["result"] == "pass" for sim in sims), [sim["reason"] for sim in sims]
    assert {sim["host"] for sim in sims} == {"h1", "h2"}
    for i, sim in enumerate(sims):
        out = gator("logs", tracking, sim["path"], check=0).stdout
        assert f"seed {i}" in out  # the program the build made ran there
    run8 = run_attr(tracking, "run_id")[:8]
    for name in ("h1", "h2"):
        left = Path(f"/home/gatortest/work-{name}/{run8}")
        assert not left.exists() or not any(path.is_file() for path in left.rglob("*")), left


def test_a_job_sees_the_artefacts_it_needs_at_their_paths_on_its_host(runs: Any) -> None:
    _, tracking, tree = runs.run("""
!JobGroup
  id: top
  jobs:
  - !Job {id: make, command: sh, args: [-c, 'echo payload > thing.txt'], artefacts: {thing: thing.txt}}
  - !Job
    id: use
    needs: [make.thing]
    command: sh
    args: [-c, 'echo "path=$GATOR_ARTEFACT_MAKE_THING"; cat "$1"', sh, "{{ artefacts.make.thing }}"]
""", *hosts_args(), check=0)
    use = node(tree, "top.use")
    out = gator("logs", tracking, "top.use", check=0).stdout
    assert "payload" in out
    assert f"path=/home/gatortest/work-{use['host']}/" in out  # the host's copy, not this machine's path


def test_the_example_regression_passes_on_hosts_without_its_files(runs: Any) -> None:
    """examples/regression over SSH: the build's simulator and the tests' reports travel,
    and the licence failure is retried (its message is read once the job's data is back)."""
    regression = Path(__file__).resolve().parents[2] / "examples" / "regression" / "regression.yaml"
    _, tracking, tree = runs.run(regression.read_text(), *hosts_args(), check=0)
    busy = node(tree, "regression.tests.sim_cfg=large,seed=2")
    assert busy["result"] == "pass" and [a["result"] for a in busy["attempts"]] == ["fail"]
    assert Path(busy["attempts"][0]["tracking"]).name.endswith(".attempt-1")  # kept beside it, here
    assert Path(busy["attempts"][0]["tracking"], "db.sqlite").exists()
    assert "6 of 6 tests passed" in gator("logs", tracking, "regression.report", check=0).stdout
    run8 = run_attr(tracking, "run_id")[:8]
    for name in ("h1", "h2"):  # neither the artefacts copied there nor their directories stay
        assert not Path(f"/home/gatortest/work-{name}/{run8}").exists()


def test_a_rerun_elsewhere_hands_carried_artefacts_to_the_hosts(runs: Any, tmp_path: Path) -> None:
    """The earlier run's tracking directory lies outside this run's: its artefacts still
    reach the host that needs them (under .elsewhere/ there)."""
    spec = write(tmp_path / "s.yaml", """
!JobGroup
  id: top
  jobs:
  - !Job {id: build, command: sh, args: [-c, 'echo built > bin.out'], artefacts: {binary: bin.out}}
  - !Job {id: test, needs: [build.binary], command: sh, args: [-c, 'cat "$1"; test -n "$FIXED"', sh,
           "{{ artefacts.build.binary }}"]}
""")
    elsewhere = Path(tempfile.mkdtemp(prefix="gator-elsewhere-", dir="/tmp"))
    try:
        first, again = elsewhere / "t", elsewhere / "t2"
        gator("run", spec, "-t", first, "--scheduler", "ssh", *hosts_args(), cwd=tmp_path, check=1,
              timeout=units(120))
        gator("rerun", first, "--failed", "--env", "FIXED=1", "-t", again, cwd=tmp_path, check=0, timeout=units(120))
        tree = show(again)
        assert node(tree, "top.test")["result"] == "pass"
        assert gator("logs", again, "top.test", check=0).stdout.strip().endswith("built")
    finally:
        shutil.rmtree(elsewhere, ignore_errors=True)
