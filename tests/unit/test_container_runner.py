"""The example container runner (examples/container_runner): the argv it builds.
Containers cannot run on the test machine (no registry, no Apptainer), so the
argv is what is checked; see examples/container_runner/README.md."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "container_runner"))
from gator_container_runner import ContainerRunner  # noqa: E402

from gator_core import JobCommand  # noqa: E402

JOB = JobCommand(command="$SIM_HOME/run", args=["--seed", "$GATOR_SEED"], cwd="/proj/work",
                 env={"SIM_HOME": "/opt/sim", "GATOR_SEED": "7", "LICENSE_TOKEN": "s3cret"})


def test_podman_binds_the_working_directory_and_passes_variables_by_name() -> None:
    argv = ContainerRunner({"image": "sim:4.2", "mounts": ["/proj/libs"]}).prepare(JOB).argv
    assert argv[:5] == ["podman", "run", "--rm", "--network=host", "--workdir"]
    assert "--volume" in argv and "/proj/work:/proj/work" in argv and "/proj/libs:/proj/libs" in argv
    assert argv[-4:] == ["sim:4.2", "/opt/sim/run", "--seed", "7"]
    names = [argv[i + 1] for i, part in enumerate(argv) if part == "--env"]
    assert names == ["GATOR_SEED", "LICENSE_TOKEN", "SIM_HOME"]
    assert not any("s3cret" in part for part in argv)  # a secret's value never on a command line


def test_apptainer_execs_in_the_image_with_binds() -> None:
    argv = ContainerRunner({"image": "/images/sim.sif", "engine": "apptainer"}).prepare(JOB).argv
    assert argv == ["apptainer", "exec", "--pwd", "/proj/work", "--bind", "/proj/work", "/images/sim.sif",
                    "/opt/sim/run", "--seed", "7"]


@pytest.mark.parametrize(("args", "message"), [
    ({}, "needs runner_args: {image: NAME}"),
    ({"image": "x", "engine": "docker"}, "engine must be one of podman, apptainer"),
    ({"image": "x", "mounts": ["relative"]}, "mounts must be a list of absolute paths"),
    ({"image": "x", "gpu": True}, "does not take gpu (it takes: image, engine, mounts)"),
])
def test_bad_runner_args_are_refused_with_a_reason(args: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("{", r"\{")
                       .replace("}", r"\}")):
        ContainerRunner(args)
