"""Unit tests of the batch schedulers' pure functions: command lines built, answers parsed.

The texts fed to the parsers have the shapes Slurm's and Grid Engine's
documentation give; the cluster tests check the same paths against the real
daemons.
"""

from __future__ import annotations

import shlex

import pytest

from gator_core import CHILD_KEY, NativeStatus, Submission
from gator_core.sched.batch import group_submissions
from gator_core.sched.contract import ArrayRef, LaunchRequest, Resources
from gator_sched_slurm import sge_native, slurm_commands
from gator_sched_slurm.sge import agent_environment, parse_qstat_xml

GiB = 1 << 30


def request(key: str, *, index: int | None = None, template: str = "t", resources: Resources | None = None,
            kind: str = "job", array_path: str = "top.arr") -> LaunchRequest:
    array = ArrayRef(array_path, index, 100, template) if index is not None else None
    parent = f"/track/{array_path.split('.', 1)[-1]}" if array else "/track"
    return LaunchRequest(
        key=key, path=(f"{array_path}.{key}" if array else f"top.{key}"), kind=kind,
        argv=("/usr/bin/python3", "-m", "gator_core.child"),
        env={"GATOR_PARENT_URL": "ws://10.0.0.1:5555", "GATOR_TOKEN": "s3cret", CHILD_KEY: key},
        cwd="/work", tracking=f"{parent}/{key}", resources=resources or Resources(), array=array)


def array_of(indices: list[int], template: str = "t", **kw: object) -> Submission:
    return Submission(tuple(request(f"{template}_{i}", index=i, template=template, **kw) for i in indices))


# -- grouping -----------------------------------------------------------------------------------

def test_array_elements_sharing_template_and_resources_form_one_submission() -> None:
    requests = [request(f"t_{i}", index=i) for i in range(5)] + [request("solo")]
    subs = group_submissions(requests, max_array=1000)
    assert sorted(len(s.requests) for s in subs) == [1, 5]
    array = next(s for s in subs if s.is_array)
    assert array.indices == [0, 1, 2, 3, 4]
    assert array.path == "top.arr.t"


def test_different_resources_or_templates_are_not_mixed_and_max_array_splits() -> None:
    big = Resources(cores=4)
    requests = ([request(f"t_{i}", index=i) for i in range(3)]
                + [request(f"t_{i}", index=i, resources=big) for i in range(3, 5)]
                + [request(f"u_{i}", index=i, template="u") for i in range(4)])
    subs = group_submissions(requests, max_array=3)
    sizes = sorted(len(s.requests) for s in subs)
    assert sizes == [1, 2, 3, 3]  # u: 3 + 1 (max_array), t: 3, t with 4 cores: 2
    for sub in subs:
        assert len({repr(r.resources) for r in sub.requests}) == 1
        assert len({r.array.template for r in sub.requests if r.array}) == 1


# -- Slurm ---------------------------------------------------------------------------------------

def test_sbatch_command_maps_options_and_resources() -> None:
    res = Resources(cores=4, memory=3 * GiB + 1, licenses={"vcs": 2, "xrun": 1}, features={"avx512": 1})
    sub = Submission((request("a", resources=res),))
    settings = {"partition": "batch", "account": "chip", "qos": "high", "time": "1:00:00",
                "sbatch_args": ["--exclusive", "--nice=10"], "array_throttle": None}
    argv = slurm_commands.sbatch_command(sub, settings, "gator.abcd.top.a")
    assert argv[:3] == ["sbatch", "--parsable", "--export=ALL"]
    for expected in ("--job-name=gator.abcd.top.a", "--chdir=/work", "--output=/track/a/gator.log",
                     "--partition=batch", "--account=chip", "--qos=high", "--time=1:00:00",
                     "--cpus-per-task=4", "--mem=3073M", "--licenses=vcs:2,xrun:1",
                     "--constraint=avx512", "--exclusive", "--nice=10"):
        assert expected in argv
    assert not any("s3cret" in part or "GATOR_TOKEN" in part for part in argv)


def test_sbatch_array_uses_indices_throttle_and_per_element_output() -> None:
    sub = array_of([0, 1, 2, 5])
    argv = slurm_commands.sbatch_command(sub, {"array_throttle": 3}, "n")
    assert "--array=0,1,2,5%3" in argv
    assert "--output=/track/arr/t_%a/gator.log" in argv
    assert "--cpus-per-task=1" in argv


def test_tiers_ask_for_one_cpu_and_nothing_else() -> None:
    sub = Submission((request("g", kind="group", resources=Resources(cores=0)),))
    argv = slurm_commands.sbatch_command(sub, {}, "n")
    assert "--cpus-per-task=1" in argv and not any(a.startswith("--mem") for a in argv)


def test_batch_script_sets_child_key_and_never_holds_the_secret() -> None:
    single = slurm_commands.batch_script(Submission((request("a b"),)),
                                         ["/usr/bin/python3", "-m", "gator_core.child"])
    assert f"{CHILD_KEY}='a b'" in single and "exec /usr/bin/python3 -m gator_core.child" in single
    array = slurm_commands.batch_script(array_of([0, 1]), ["/py", "-m", "gator_core.child"])
    assert f'{CHILD_KEY}=t_"$SLURM_ARRAY_TASK_ID"' in array
    for script in (single, array):
        assert "s3cret" not in script and "ws://" not in script


@pytest.mark.parametrize("text,expected", [("123\n", "123"), ("456;cluster\n", "456")])
def test_parse_sbatch(text: str, expected: str) -> None:
    assert slurm_commands.parse_sbatch(text) == expected


def test_parse_sbatch_without_an_id_says_what_it_got() -> None:
    with pytest.raises(ValueError, match="Submitted nothing"):
        slurm_commands.parse_sbatch("Submitted nothing\n")


def test_task_ids_and_base_ids() -> None:
    sub = array_of([3, 4, 9])
    assert slurm_commands.task_ids("77", sub) == ["77_3", "77_4", "77_9"]
    assert slurm_commands.task_ids("78", Submission((request("a"),))) == ["78"]
    assert slurm_commands.base_ids(["77_3", "100", "77_4", "9"]) == ["9", "77", "100"]
    argv = slurm_commands.squeue_command(["77_3", "100"])
    assert argv[argv.index("-j") + 1] == "77,100"


def test_parse_squeue_expands_pending_ranges_and_reads_reason_and_node() -> None:
    text = ("77_[5-7,9%2]|PENDING|JobArrayTaskLimit|\n"
            "77_3|RUNNING|None|node12\n"
            "80|CANCELLED by 1000|None|node3\n")
    got = slurm_commands.parse_squeue(text)
    assert set(got) == {"77_5", "77_6", "77_7", "77_9", "77_3", "80"}
    assert got["77_6"] == NativeStatus("77_6", "PENDING", "JobArrayTaskLimit", None)
    assert got["77_3"].host == "node12" and got["77_3"].reason is None
    assert got["80"].state == "CANCELLED"


def test_parse_sacct_states_exit_codes_and_signals() -> None:
    text = ("81|OUT_OF_MEMORY|0:125|None|node1\n"
            "82|CANCELLED by 0|0:15|None|node2\n"
            "83_[2-3]|PENDING|0:0|Resources|None assigned\n"
            "84|FAILED|3:0|NonZeroExitCode|node1\n"
            "85|TIMEOUT|0:0|TimeLimit|node1\n")
    got = slurm_commands.parse_sacct(text)
    assert got["81"].state == "OUT_OF_MEMORY" and got["81"].returncode == -125
    assert got["82"].state == "CANCELLED" and got["82"].returncode == -15
    assert got["83_2"].reason == "Resources" and got["83_3"].host is None
    assert got["84"].returncode == 3 and got["85"].state == "TIMEOUT"
    for state in ("OUT_OF_MEMORY", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "COMPLETED"):
        assert slurm_commands.STATES[state] == "finished"
    assert slurm_commands.STATES["PENDING"] == "pending" and slurm_commands.STATES["RUNNING"] == "running"


@pytest.mark.parametrize("message,transient", [
    ("sbatch: error: Batch job submission failed: Socket timed out on send/recv operation", True),
    ("sbatch: error: Slurm temporarily unable to accept job, sleeping and retrying", True),
    ("sbatch: error: Batch job submission failed: Invalid partition name specified", False),
    ("sbatch: error: Batch job submission failed: Requested node configuration is not available", False),
])
def test_transient_errors(message: str, transient: bool) -> None:
    assert slurm_commands.is_transient(message) is transient


def test_job_names_share_the_run_prefix() -> None:
    name = slurm_commands.job_name("0123456789abcdef", "top.arr.t")
    assert name == "gator.01234567.top.arr.t"
    assert name.startswith(slurm_commands.job_name("0123456789abcdef", ""))


# -- Grid Engine --------------------------------------------------------------------------------

def test_native_specification_maps_resources() -> None:
    res = Resources(cores=4, memory=8 * GiB, licenses={"vcs": 2}, features={"avx": 1})
    spec = sge_native.native_specification(res, "job", {"queue": "all.q", "project": "chip", "time": "1:00:00",
                                                        "pe": "smp", "native": ["-l", "arch=lx-amd64"]})
    parts = shlex.split(spec)
    assert parts[:3] == ["-b", "y", "-V"]
    assert parts[parts.index("-q") + 1] == "all.q" and parts[parts.index("-P") + 1] == "chip"
    assert parts[parts.index("-pe") + 1: parts.index("-pe") + 3] == ["smp", "4"]
    requests = parts[parts.index("-l") + 1].split(",")
    assert requests == ["h_rt=1:00:00", "h_vmem=2048M", "vcs=2", "avx=TRUE"]  # memory per slot
    assert parts[-2:] == ["-l", "arch=lx-amd64"]


def test_native_specification_single_core_has_no_pe_and_tiers_request_nothing() -> None:
    assert "-pe" not in sge_native.native_specification(Resources(memory=GiB), "job", {})
    assert sge_native.native_specification(Resources(cores=0), "group", {}) == "-b y -V"
    spec = sge_native.native_specification(Resources(memory=GiB), "job", {"memory_resource": "mem_free"})
    assert "mem_free=1024M" in spec


def test_contiguous_runs_and_bulk_split() -> None:
    assert sge_native.contiguous_runs([5, 0, 1, 2, 7, 8]) == [(0, 2), (5, 5), (7, 8)]
    parts = sge_native.split_for_bulk(array_of([0, 1, 2, 5, 7, 8]))
    assert [p.indices for p in parts] == [[0, 1, 2], [5], [7, 8]]
    assert sge_native.split_for_bulk(Submission((request("a"),)))[0].requests[0].key == "a"


def test_job_template_for_a_bulk_job_runs_each_task_as_its_element() -> None:
    sub = array_of([4, 5, 6])
    env = {"GATOR_TOKEN": "s3cret", "PATH": "/usr/bin"}
    template = sge_native.job_template(sub, ["/py", "-m", "gator_core.child"], env, {}, "gator.x.top.arr.t")
    assert template["bulk"] == [5, 7]  # task ids from 1: index = SGE_TASK_ID - 1
    assert template["remoteCommand"] == "/bin/sh" and template["args"][0] == "-c"
    script = template["args"][1]
    assert "s3cret" not in script and "s3cret" not in template["nativeSpecification"]
    assert template["environment"]["GATOR_TOKEN"] == "s3cret"
    # Run the script's first part with a task id to see which child and log it picks.
    import subprocess

    probe = script.split("; exec ")[0] + f'; echo "${CHILD_KEY}"'
    out = subprocess.run(["/bin/sh", "-c", probe], env={"SGE_TASK_ID": "6"}, capture_output=True, text=True)
    assert out.stdout.strip() == "t_5"
    assert "/track/arr/" in script and "/gator.log" in script


def test_status_from_wait_information() -> None:
    assert sge_native.status_from_info("7.1", {"aborted": True}).state == "ABORTED"
    killed = sge_native.status_from_info("7.2", {"signal": "SIGKILL", "signum": -9})
    assert (killed.state, killed.returncode, killed.reason) == ("KILLED", -9, None)
    exited = sge_native.status_from_info("8", {"exit_status": 3})
    assert (exited.state, exited.returncode) == ("EXITED", 3)
    for state in ("queued_active", "user_on_hold", "running", "done", "KILLED"):
        assert state in sge_native.STATES


def test_sge_job_names_have_no_characters_qsub_refuses() -> None:
    name = sge_native.job_name("0123456789", "top.a b/c:d")
    assert name == "gator.01234567.top.a_b_c_d"


def test_parse_qstat_xml() -> None:
    text = """<?xml version='1.0'?>
<job_info>
  <queue_info>
    <job_list state="running"><JB_job_number>12</JB_job_number><JB_name>gator.01234567.top.a</JB_name></job_list>
  </queue_info>
  <job_info>
    <job_list state="pending"><JB_job_number>13</JB_job_number><JB_name>other</JB_name></job_list>
  </job_info>
</job_info>"""
    assert parse_qstat_xml(text) == [("12", "gator.01234567.top.a", "running"), ("13", "other", "pending")]
    assert parse_qstat_xml("not xml") == []


def test_agent_environment_adds_the_tls_tunable_once() -> None:
    env = agent_environment({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"})
    assert env["GLIBC_TUNABLES"] == "glibc.malloc.arena_max=2:glibc.rtld.optional_static_tls=16384"
    assert agent_environment(env)["GLIBC_TUNABLES"] == env["GLIBC_TUNABLES"]


def test_memory_kill_is_read_from_what_slurmstepd_wrote() -> None:
    tail = ("working...\n"
            "slurmstepd-vm: error: StepId=25.batch exceeded memory limit (461590528 > 52428800), being killed\n"
            "slurmstepd-vm: error: Exceeded job memory limit\n"
            "slurmstepd-vm: error: *** JOB 25 ON vm CANCELLED AT 2026-11-21T21:41:55 ***\n")
    assert slurm_commands.memory_kill(tail) == \
        "StepId=25.batch exceeded memory limit (461590528 > 52428800), being killed"
    assert slurm_commands.memory_kill("my job printed: exceeded memory limit\n") is None
    assert slurm_commands.memory_kill("slurmstepd: error: *** JOB 3 CANCELLED ***\n") is None


def test_leftovers_are_the_jobs_of_this_run_or_subtree_still_queued_or_running() -> None:
    text = ("77_[3-9%2]|gator.01234567.top.arr.t|PENDING\n"
            "77_1|gator.01234567.top.arr.t|RUNNING\n"
            "80|gator.01234567.top.g|COMPLETING\n"
            "82|gator.01234567.top.h|COMPLETED\n"
            "83|gator.01234567.top.arrow|PENDING\n"
            "81|gator.89abcdef.top.x|PENDING\n")
    assert slurm_commands.leftovers(text, "gator.01234567.") == ["77_[3-9]", "77_1", "80", "83"]
    # A tier's subtree: its path and a dot, so that top.arrow is not top.arr's.
    assert slurm_commands.leftovers(text, slurm_commands.job_name("0123456789", "top.arr.")) == ["77_[3-9]", "77_1"]


def test_a_spec_timeout_becomes_the_farms_time_limit() -> None:
    from dataclasses import replace

    limited = replace(request("a"), time_limit=90 * 60 + 3 + 60)  # 90m, the grace and the margin
    argv = slurm_commands.sbatch_command(Submission((limited,)), {"time": "8:00:00"}, "gator.abcd.top.a")
    assert "--time=92" in argv and "--time=8:00:00" not in argv  # minutes, rounded up; the spec's wins
    spec = sge_native.native_specification(Resources(), "job", {"time": "8:00:00"}, limited.time_limit)
    assert "h_rt=5463" in spec and "8:00:00" not in spec
    plain = slurm_commands.sbatch_command(Submission((request("b"),)), {"time": "8:00:00"}, "gator.abcd.top.b")
    assert "--time=8:00:00" in plain  # without a timeout the site's option still applies
