"""Pure logic of issue 3: line classification, the UVM parser, the API records, seeds, rates."""

from __future__ import annotations

import pytest

from gator_core.config import job_seed
from gator_core.job.api import check_metric, parse_record
from gator_core.job.classify import Classified, Classifier, LogParser
from gator_core.parsers.uvm import UvmParser
from gator_core.report.progress import Rate
from gator_core.states import Severity


@pytest.mark.parametrize("line, expected", [
    ("UVM_INFO @ 0: reporter [RNTST] Running test", Classified("info")),
    ("UVM_WARNING tb/env.sv(40) @ 10: env [CFG] x", Classified("warning", "tb/env.sv", 40)),
    ("  UVM_ERROR /a/b.sv(118) @ 2250: env.sb [SCB] mismatch", Classified("error", "/a/b.sv", 118)),
    ("UVM_FATAL top.sv(9) @ 3: top [DIE] bye", Classified("critical", "top.sv", 9)),
    ("UVM_ERROR :    0", None),  # the report summary
    ("** Report counts by severity", None),
    ("the UVM_ERROR count is fine", None),
])
def test_uvm_parser(line, expected):
    assert UvmParser().classify(line, "stdout") == expected


class _Everything(LogParser):
    name = "everything"

    def classify(self, text, stream):
        return Classified("warning", "x.c", 1)


def test_rules_win_over_parsers_which_win_over_the_default():
    classifier = Classifier([["^ERR", "error", "both"], ["noise", "debug", "stderr"]], [UvmParser()])
    assert classifier.classify("ERR here", "stdout") == (Severity.ERROR, None, None)
    assert classifier.classify("noise", "stderr") == (Severity.DEBUG, None, None)
    assert classifier.classify("noise", "stdout") == (Severity.INFO, None, None)  # rule is stderr only
    assert classifier.classify("UVM_ERROR f.sv(3) @ 1: r [I] m", "stdout") == (Severity.ERROR, "f.sv", 3)
    assert classifier.classify("plain", "stderr") == (Severity.ERROR, None, None)
    everything = Classifier([], [_Everything(), UvmParser()])
    assert everything.classify("UVM_ERROR f.sv(3) @ 1: r [I] m", "stdout") == (Severity.WARNING, "x.c", 1)


def test_the_per_line_path_hands_out_plain_ints():
    """Every line's severity goes into SQLite: an IntEnum there costs the adaptation path
    (bench/log_throughput lost a fifth of its lines per second to it)."""
    classifier = Classifier([["^ERR", "error", "both"]], [_Everything()])
    for text, stream in [("ERR here", "stdout"), ("plain", "stdout"), ("plain", "stderr")]:
        assert type(classifier.classify(text, stream)[0]) is int
    assert type(Classifier([], []).classify("plain", "stderr")[0]) is int


@pytest.mark.parametrize("line, expected", [
    (b'["log", "error", "boom"]', ("log", "error", "boom")),
    (b'["metric", "cov", 87]', ("metric", "cov", 87.0)),
])
def test_api_records(line, expected):
    assert parse_record(line) == expected


@pytest.mark.parametrize("line, reason", [
    (b"nope", "not JSON"),
    (b'{"log": 1}', "a JSON array of three items"),
    (b'["log", "loud", "x"]', "unknown severity 'loud'"),
    (b'["log", "info", 5]', "a log message must be a string"),
    (b'["metric", "msg_error", 1]', "reserved"),
    (b'["poke", 1, 2]', "unknown record type 'poke'"),
])
def test_bad_api_records(line, reason):
    with pytest.raises((ValueError, TypeError), match=reason):
        parse_record(line)


def test_check_metric():
    assert check_metric("a.b-c:d_1", 2) == 2.0
    with pytest.raises(TypeError):
        check_metric("x", "3")
    with pytest.raises(ValueError):
        check_metric("x", float("inf"))


def test_job_seed_is_stable_positive_and_spread():
    assert job_seed(1, "top.a") == job_seed(1, "top.a")
    seeds = {job_seed(1, f"top.a_{i}") for i in range(1000)}
    assert len(seeds) == 1000 and all(0 <= s < 2**31 for s in seeds)
    assert job_seed(2, "top.a") != job_seed(1, "top.a")


def test_rate_and_time_left():
    rate = Rate(window=10)
    rate.started = 0.0
    for when in (1, 2, 3, 4):
        rate.add(when)
    assert rate.per_second(now=4) == pytest.approx(1.0)
    assert rate.eta(10, now=4) == pytest.approx(10.0)
    assert rate.per_second(now=100) == 0 and rate.eta(10, now=100) is None
