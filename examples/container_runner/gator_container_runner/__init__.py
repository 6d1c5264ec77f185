"""``runner: container``: a job's command run inside a container, by podman or Apptainer.

A spec::

    - !Job
        id: sim
        command: /opt/sim/bin/run
        args: [--seed, "$GATOR_SEED"]
        runner: container
        runner_args: {image: registry.example.com/sim:4.2, engine: podman, mounts: [/proj/libs]}

``image`` is required; ``engine`` is ``podman`` (the default) or ``apptainer``;
``mounts`` lists more host directories to bind at the same path (the working
directory always is).  The job's variables reach the container by name only
(``--env NAME`` for podman, which takes the value from its own environment; Apptainer
passes the environment through): values, secrets among them, never appear on a
command line.  The network is the host's, so that the job API and the wrapper's
socket stay reachable.
"""

from __future__ import annotations

from dataclasses import replace

from gator_core import JobCommand, Runner, hookimpl
from gator_core.envvars import expand

__all__ = ["ContainerRunner", "gator_runners"]

ENGINES = ("podman", "apptainer")


class ContainerRunner(Runner):
    name = "container"
    description = "the command inside a container (podman or apptainer; runner_args: image, engine, mounts)"
    options = ("image", "engine", "mounts")

    def __init__(self, runner_args: dict | None = None) -> None:
        super().__init__(runner_args)
        image = self.runner_args.get("image")
        if not isinstance(image, str) or not image:
            raise ValueError("runner 'container' needs runner_args: {image: NAME}")
        engine = self.runner_args.get("engine", "podman")
        if engine not in ENGINES:
            raise ValueError(f"runner 'container': engine must be one of {', '.join(ENGINES)}, not {engine!r}")
        mounts = self.runner_args.get("mounts", [])
        if not isinstance(mounts, list) or not all(isinstance(path, str) and path.startswith("/") for path in mounts):
            raise ValueError("runner 'container': mounts must be a list of absolute paths")
        self.image, self.engine, self.mounts = image, engine, mounts

    def prepare(self, job: JobCommand) -> JobCommand:
        inner = [expand(job.command, job.env), *(expand(arg, job.env) for arg in job.args)]
        binds = [job.cwd, *(path for path in self.mounts if path != job.cwd)]
        if self.engine == "podman":
            argv = ["podman", "run", "--rm", "--network=host", "--workdir", job.cwd]
            for path in binds:
                argv += ["--volume", f"{path}:{path}"]
            for name in sorted(job.env):
                argv += ["--env", name]  # the value comes from podman's environment, not from argv
            argv.append(self.image)
        else:
            argv = ["apptainer", "exec", "--pwd", job.cwd]
            for path in binds:
                argv += ["--bind", path]
            argv.append(self.image)
        return replace(job, argv=argv + inner)


@hookimpl
def gator_runners() -> list[type[Runner]]:
    return [ContainerRunner]
