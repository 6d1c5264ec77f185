"""The hub end to end: a real `gator run`, pushed with `gator hub push` to a real
`gator hub serve` process, read back over HTTP; and the command line's errors."""

from __future__ import annotations

import os
import socket
import stat
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from helpers import run_spec
from hubtools import TOKEN, get_json, hub_command

SPEC = """\
!JobGroup
  id: nightly
  jobs:
  - !Job {id: hello, command: echo, args: [hello]}
  - !Job {id: broken, command: sh, args: [-c, "echo it broke >&2; exit 3"]}
  - !JobArray
      id: sweep
      repeats: 3
      jobs:
      - !Job {id: sim, command: sh, args: [-c, "echo $GATOR_ARRAY_INDEX"]}
"""


def status_of(url: str, token: str | None = None) -> int:
    try:
        get_json(url, token)
    except urllib.error.HTTPError as exc:
        return exc.code
    return 200


@pytest.mark.slow
def test_a_pushed_run_reads_back_as_gator_show_json(tmp_path: Path, server_for: Any, token_file: Path) -> None:
    _, tracking, shown = run_spec(tmp_path, SPEC, check=1)
    server = server_for(token_file)
    for _ in range(2):  # pushing twice gives one run
        pushed = hub_command("push", tracking, "--hub", server.url, "--hub-token-file", token_file)
        assert pushed.returncode == 0, pushed.stderr
        assert "pushed run" in pushed.stdout and "7 nodes" in pushed.stdout
    runs = get_json(f"{server.url}/api/runs")["runs"]
    assert len(runs) == 1
    run = runs[0]
    assert (run["spec_name"], run["state"], run["result"]) == ("nightly", "finished", "fail")
    assert run["jobs"] == shown["jobs"] and run["started"] == shown["started"]
    assert run["stopped"] == shown["stopped"] and run["spec_file"].endswith("spec.yaml")
    assert get_json(f"{server.url}/api/runs/{run['id']}") == shown
    # the first error of the failed job is kept with it
    record = get_json(f"{server.url}/api/runs/{run['id']}?with=run")
    assert record["run"]["argv"][1:3] == ["run", str(tmp_path / "spec.yaml")]
    assert record["run"]["scheduler"] == "local" and record["run"]["seed"] == shown["seed"]


@pytest.mark.slow
def test_push_errors_are_one_clear_line(tmp_path: Path, server_for: Any, token_file: Path) -> None:
    _, tracking, _ = run_spec(tmp_path, "!Job {id: one, command: 'true'}")
    server = server_for(token_file)
    wrong = hub_command("push", tracking, "--hub", server.url, env={"GATOR_HUB_TOKEN": "wrong"})
    assert wrong.returncode == 1 and "refused the token (401)" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    assert get_json(f"{server.url}/api/runs")["runs"] == []  # still serving, nothing stored
    gone = hub_command("push", tracking, "--hub", "http://127.0.0.1:9", env={"GATOR_HUB_TOKEN": TOKEN})
    assert gone.returncode == 1 and "unreachable" in gone.stderr and "Traceback" not in gone.stderr
    bad = hub_command("push", tmp_path / "nothing", "--hub", server.url, env={"GATOR_HUB_TOKEN": TOKEN})
    assert bad.returncode == 2 and "not a directory" in bad.stderr
    plain = hub_command("push", tmp_path, "--hub", server.url, env={"GATOR_HUB_TOKEN": TOKEN})
    assert plain.returncode == 2 and "not a Gator tracking directory" in plain.stderr
    notoken = hub_command("push", tracking, "--hub", server.url, env={"GATOR_HUB_TOKEN": ""})
    assert notoken.returncode == 2 and "GATOR_HUB_TOKEN" in notoken.stderr
    ok = hub_command("push", tracking, "--hub", server.url, env={"GATOR_HUB_TOKEN": TOKEN})
    assert ok.returncode == 0, ok.stderr
    assert len(get_json(f"{server.url}/api/runs")["runs"]) == 1


def test_serve_creates_a_token_file_with_mode_0600_and_enforces_a_read_token(tmp_path: Path,
                                                                            server_for: Any) -> None:
    token_file, read_file = tmp_path / "new" / "hub.token", tmp_path / "read.token"
    server = server_for(token_file, "--read-token-file", str(read_file))
    for path in (token_file, read_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert len(path.read_text().strip()) >= 32
    token, read_token = token_file.read_text().strip(), read_file.read_text().strip()
    assert token != read_token
    assert status_of(f"{server.url}/api/runs") == 401
    assert status_of(f"{server.url}/api/runs", "wrong") == 401
    assert get_json(f"{server.url}/api/runs", read_token)["runs"] == []
    # a second start reads the same token back rather than making a new one
    server.stop()
    again = server_for(token_file)
    assert token_file.read_text().strip() == token
    assert get_json(f"{again.url}/api/runs")["runs"] == []


def test_prune_on_the_command_line(db_url: str, store: Any) -> None:
    store.register_run("old", {"started": 1.0})
    store.finish_run("old", {"result": "pass", "stopped": 2.0})
    store.register_run("new", {})
    store.finish_run("new", {"result": "pass"})
    pruned = hub_command("prune", "--older-than", "90d", env={"GATOR_HUB_DB": db_url})
    assert pruned.returncode == 0, pruned.stderr
    assert "removed 1 run " in pruned.stdout
    assert [run["id"] for run in store.list_runs()] == ["new"]
    bad = hub_command("prune", "--older-than", "soon", env={"GATOR_HUB_DB": db_url})
    assert bad.returncode == 2 and "cannot read the age" in bad.stderr and "Traceback" not in bad.stderr


def test_hub_without_a_command_shows_help_and_errors_are_usage_errors(tmp_path: Path) -> None:
    shown = hub_command()
    assert shown.returncode == 0 and "serve" in shown.stdout and "push" in shown.stdout
    assert "prune" in shown.stdout
    env = {"GATOR_HUB_DB": f"sqlite:///{tmp_path / 'h.sqlite'}"}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        busy = hub_command("serve", "--port", str(taken.getsockname()[1]), "--token-file", tmp_path / "t", env=env)
    assert busy.returncode == 2 and "cannot listen" in busy.stderr and "Traceback" not in busy.stderr
    out_of_range = hub_command("serve", "--port", "99999", "--token-file", tmp_path / "t", env=env)
    assert out_of_range.returncode == 2 and "65535" in out_of_range.stderr
    baddb = hub_command("prune", "--older-than", "1d", env={"GATOR_HUB_DB": "nosuchdb://x"})
    assert baddb.returncode == 2 and "cannot open the database" in baddb.stderr


def test_the_default_database_and_token_live_under_xdg_data_home(tmp_path: Path) -> None:
    from gator_hub import settings

    old = os.environ.get("XDG_DATA_HOME")
    os.environ["XDG_DATA_HOME"] = str(tmp_path)
    try:
        assert settings.default_db_url() == f"sqlite:///{tmp_path / 'gator' / 'hub.sqlite'}"
        assert settings.default_token_file() == tmp_path / "gator" / "hub.token"
    finally:
        if old is None:
            del os.environ["XDG_DATA_HOME"]
        else:
            os.environ["XDG_DATA_HOME"] = old
    assert settings.parse_age("90d") == 90 * 86400 and settings.parse_age("2h") == 7200
    assert settings.parse_age("30m") == 1800 and settings.parse_age("45s") == 45 == settings.parse_age("45")
