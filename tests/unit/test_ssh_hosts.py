"""Unit tests of the SSH scheduler's pure parts: hosts files, the inline form, routing.

Real connections are exercised in tests/cluster/test_ssh.py against real sshd.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gator_core import UsageError
from gator_sched_ssh.hosts import load_hosts, parse_inline
from gator_sched_ssh.link import parse_route, route_path, shell_path


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_hosts_file_with_every_field(tmp_path: Path) -> None:
    hosts = load_hosts(write(tmp_path / "hosts.yaml", """
known_hosts: kh
shared_filesystem: true
hosts:
  - name: b1
    address: 10.0.0.1
    port: 2200
    user: alice
    key: keys/id
    slots: 8
    memory: 64GB
    python: /opt/py/bin/python
    workdir: /scratch/alice
    shared: false
  - address: b2.example.com
"""))
    first, second = hosts.hosts
    assert (first.name, first.address, first.port, first.user, first.slots) == ("b1", "10.0.0.1", 2200, "alice", 8)
    assert first.key == str(tmp_path / "keys/id")  # relative to the hosts file
    assert first.memory == 64 << 30 and first.shared is False and first.python == "/opt/py/bin/python"
    assert second.name == "b2.example.com" and second.slots == 1 and second.shared is True
    assert second.key is None  # the ssh agent
    assert hosts.known_hosts == str(tmp_path / "kh")


@pytest.mark.parametrize("text,message", [
    ("hosts:\n  - {address: a, password: hunter2}\n", "never holds passwords"),
    ("hosts:\n  - {address: a, slot: 2}\n", "unknown field 'slot'"),
    ("hosts:\n  - {name: a}\n", "'address' is required"),
    ("hosts:\n  - {address: a, slots: 0}\n", "'slots' must be at least 1"),
    ("hosts:\n  - {address: a, port: 70000}\n", "'port' must be 1-65535"),
    ("hosts:\n  - {address: a}\n  - {address: a}\n", "two hosts are named 'a'"),
    ("hosts: []\n", "non-empty 'hosts' list"),
    ("hosts:\n  - {address: a}\nknownhosts: x\n", "unknown field 'knownhosts'"),
    ("hosts:\n  - {address: a\n", "not valid YAML"),
])
def test_hosts_file_errors_name_the_file_and_the_host(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "h.yaml", text)
    with pytest.raises(UsageError, match=message) as caught:
        load_hosts(path)
    assert str(path) in str(caught.value)


def test_yaml_errors_give_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "h.yaml", "hosts:\n  - address: a\n    slots: [\n")
    with pytest.raises(UsageError, match=rf"{path}:\d+:\d+: not valid YAML"):
        load_hosts(path)


def test_a_missing_hosts_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="hosts file .*nope.yaml"):
        load_hosts(tmp_path / "nope.yaml")


@pytest.mark.parametrize("text,expected", [
    ("10.0.0.5", ("10.0.0.5", 22, None, 1)),
    ("bob@build:2222", ("build", 2222, "bob", 1)),
    ("bob@build:2222,slots=4,python=/p/python,workdir=/w", ("build", 2222, "bob", 4)),
    ("[fe80::1]:2022,slots=2", ("fe80::1", 2022, None, 2)),
])
def test_the_inline_form(text: str, expected: tuple) -> None:
    (host,) = parse_inline(text, "/kh").hosts
    address, port, user, slots = expected
    assert (host.address, host.port, host.slots) == (address, port, slots)
    if user:
        assert host.user == user
    assert host.name == address


def test_the_inline_form_refuses_passwords_and_nonsense() -> None:
    with pytest.raises(UsageError, match="never holds passwords"):
        parse_inline("bob@build,password=x")
    with pytest.raises(UsageError, match="expected NAME=VALUE"):
        parse_inline("bob@build,slots")


@pytest.mark.parametrize("path", ["~", "~/gator work", "~/", "/opt/py thon/bin/python3", "python3", "~user/x", "$HOME/x"])
def test_remote_paths_keep_their_meaning_in_the_hosts_shell(tmp_path: Path, path: str) -> None:
    home = str(tmp_path)
    got = subprocess.run(["sh", "-c", f"printf %s {shell_path(path)}"], env={"HOME": home, "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, check=True).stdout
    # Only a leading ~ or ~/ means the home directory; anything else, $ included, is literal.
    expected = home + path[1:] if path == "~" or path.startswith("~/") else path
    assert got == expected


def test_forwarded_connections_are_routed_by_their_path_only_to_known_ports() -> None:
    assert route_path(41234) == "/via/41234"
    assert parse_route(b"GET /via/41234 HTTP/1.1\r\nHost: x\r\n") == 41234
    assert parse_route(b"GET /via/41234/ HTTP/1.1\r\n") == 41234
    for head in (b"GET / HTTP/1.1\r\n", b"POST /via/1 HTTP/1.1\r\n", b"GET /via/x HTTP/1.1\r\n",
                 b"\x16\x03\x01 tls"):
        assert parse_route(head) is None


def test_a_finished_childs_tracking_data_is_collected_inline_or_left_for_sftp(tmp_path: Path) -> None:
    import base64

    from gator_core.runtime.hostserver import collect

    job = tmp_path / "job"
    (job / "sub").mkdir(parents=True)
    (job / "db.sqlite").write_bytes(b"x" * 100)
    (job / "db.sqlite-shm").write_bytes(b"y" * 100)  # only meaningful on that host
    (job / "sub" / "messages.log").write_text("hello\n")
    (job / "sub" / "sim.exe").write_text("#!/bin/sh\n")
    (job / "sub" / "sim.exe").chmod(0o750)  # a built program kept as an artefact: still one there
    files = collect(str(job), limit=1000)
    assert files is not None and set(files) == {"db.sqlite", "sub/messages.log", "sub/sim.exe"}
    assert base64.b64decode(files["sub/messages.log"][0]) == b"hello\n"
    assert files["sub/sim.exe"][1] == 0o750
    assert not job.exists()  # sent back: removed on the host
    big = tmp_path / "big"
    big.mkdir()
    (big / "db.sqlite").write_bytes(b"z" * 2000)
    assert collect(str(big), limit=1000) is None
    assert (big / "db.sqlite").exists()  # left for SFTP
