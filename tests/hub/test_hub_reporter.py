"""Pure parts of the live reporter: the seed's host:port form, and a root tier's
changes as the partial nodes the hub keeps."""

from __future__ import annotations

import pytest

from gator_hub.plugin import hub_url
from gator_hub.reporter import node_of_change


@pytest.mark.parametrize(("given", "url"), [
    ("farmhub:8080", "http://farmhub:8080"),
    ("http://farmhub:8080/", "http://farmhub:8080"),
    ("https://hub.example.com", "https://hub.example.com"),
    (" 127.0.0.1:9 ", "http://127.0.0.1:9"),
])
def test_the_seeds_host_port_form_is_a_url(given: str, url: str) -> None:
    assert hub_url(given) == url


def test_a_start_is_a_running_node_under_its_parent() -> None:
    node = node_of_change({"event": "start", "path": "top.grp.sim", "kind": "job", "time": 5.0,
                           "log": "/t/grp/sim/messages.log"})
    assert node == {"id": "sim", "path": "top.grp.sim", "parent": "top.grp", "kind": "job", "result": "running",
                    "started": 5.0, "log": "/t/grp/sim/messages.log", "tracking": "/t/grp/sim"}


def test_a_finish_carries_the_result_and_keeps_no_start_time_it_does_not_know() -> None:
    node = node_of_change({"event": "finish", "path": "top.sim", "kind": "job", "result": "fail", "exit_code": 3,
                           "reason": "exit code 3", "duration": None, "messages": {"error": 1}})
    assert node is not None
    assert (node["result"], node["exit_code"], node["reason"], node["messages"]) == ("fail", 3, "exit code 3",
                                                                                     {"error": 1})
    assert "started" not in node and node["stopped"] > 0  # a partial update must not erase the start


def test_messages_and_changes_without_a_path_are_not_nodes() -> None:
    assert node_of_change({"event": "message", "path": "top", "severity": "error", "text": "x"}) is None
    assert node_of_change({"event": "finish"}) is None
