"""Failure buckets: error signatures mask what varies between jobs, and failures with
the same cause land in one bucket."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import gator_core
from gator_core import FailureBucket, Result, Severity, bucket_failures, error_signature
from gator_core.report.buckets import NO_MESSAGE, SIGNATURE_LIMIT, first_error, job_buckets, run_buckets
from gator_core.store.nodestore import Store
from gator_core.store.readback import NodeResult

# -- signatures ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    # the typical lines
    ("UVM_ERROR @ 1250ns: uvm_test_top.env.sb [SCB] mismatch: expected 0x1f got 0x2e",
     "UVM_ERROR @ <N>ns: uvm_test_top.env.sb [SCB] mismatch: expected <HEX> got <HEX>"),
    ("Error: /proj/build/run_3/sim.log:42: assertion failed", "Error: <PATH>:<N>: assertion failed"),
    ("Segmentation fault (core dumped) at 0x7ffd1234", "Segmentation fault (core dumped) at <HEX>"),
    ("ERROR: seed=83291 timeout after 500000 cycles", "ERROR: seed=<SEED> timeout after <N> cycles"),
    ("UVM_ERROR /home/u/tb/sb.sv(123) @ 1250: uvm_test_top.env.sb [SCB] expected 1f got 2e",
     "UVM_ERROR <PATH>(<N>) @ <N>: uvm_test_top.env.sb [SCB] expected <N> got <N>"),
    # numbers: integers, signs, decimals, exponents, units, inside words
    ("x=-5 y=+3.5 z=1e+05 w=2.5e-3 after 12ns in run_7 core0", "x=<N> y=<N> z=<N> w=<N> after <N>ns in run_<N> core<N>"),
    ("range 1-5, 95.5% done", "range <N>-<N>, <N>% done"),
    # hex: 0x, Verilog literals, UUIDs, words of 16 or more hex digits (hashes, addresses)
    ("wrote 0xDEAD_BEEF and 32'hCAFE_f00d, read 4'b1010", "wrote <HEX> and <HEX>, read <N>"),
    ("commit 3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39 job 123e4567-e89b-12d3-a456-426614174000",
     "commit <HEX> job <HEX>"),
    ("pc 00007ffd12345678, build 1234567890123456", "pc <HEX>, build <HEX>"),
    # shorter words of hex digits with a digit are numbers (2e cannot be told from 27); words stay
    ("expected 1f got 2e at run_7ffd1234 in a1, not 0xcafe but deadbeef (a bad face)",
     "expected <N> got <N> at run_<N> in <N>, not <HEX> but <N> (a bad face)"),
    # paths: rooted, relative with an extension; words with a slash are not paths
    ("cannot open ./x/y, ../up/z.txt, ~/rc and dir/file.ext", "cannot open <PATH>, <PATH>, <PATH> and <PATH>"),
    ("read/write I/O error on 3/4 of N/A", "read/write I/O error on <N>/<N> of N/A"),
    ("see http://host/a/b and file:///tmp/x", "see http:<PATH> and file:<PATH>"),
    # seeds, in the forms simulators and scripts print them
    ("+ntb_random_seed=12345 Seed: 42 seed 7 GATOR_SEED=0x1f sv_seed=-3",
     "+ntb_random_seed=<SEED> Seed: <SEED> seed <SEED> GATOR_SEED=<SEED> sv_seed=<SEED>"),
    # timestamps
    ("at 2024-05-01T12:30:00.123Z, 2024-05-01 12:30:00+02:00 and [12:30:05]", "at <TIME>, <TIME> and [<TIME>]"),
    # colour codes go, white space collapses, words and quotes stay
    ("\x1b[31mERROR\x1b[0m:   no  such\tsignal 'clk'\n", "ERROR: no such signal 'clk'"),
    ("can't open 'bad' file", "can't open 'bad' file"),
    ("", ""),
])
def test_signature_masks(text: str, expected: str):
    assert error_signature(text) == expected


def test_masks_are_not_masked_again():
    once = error_signature("ERROR: seed=1 at 0x10 in /a/b.sv after 2024-01-01 3ns")
    assert once == "ERROR: seed=<SEED> at <HEX> in <PATH> after <TIME> <N>ns"
    assert error_signature(once) == once


def test_a_signature_is_cut_to_the_limit_without_half_a_mask():
    long = "ERROR: " + "word " * 200
    signature = error_signature(long)
    assert len(signature) == SIGNATURE_LIMIT and signature.endswith("…")
    assert signature.startswith("ERROR: word word")
    hexes = error_signature("E " + "0x1 " * 100)  # "<HEX> " repeats: the cut falls inside one
    assert len(hexes) <= SIGNATURE_LIMIT and hexes.endswith("<HEX>…")
    huge = error_signature("x" * 10**6)  # a line of a megabyte is cut before it is masked
    assert len(huge) == SIGNATURE_LIMIT
    assert len(error_signature("short")) == 5


def test_values_in_hex_without_0x_and_in_decimal_mask_alike():
    assert error_signature("expected 1f got 27") == error_signature("expected 3 got 4") == "expected <N> got <N>"


def test_messages_that_differ_in_words_stay_apart():
    a = error_signature("ERROR: mismatch at 0x10 on port a")
    assert a == error_signature("ERROR: mismatch at 0xff3 on port a")
    assert a != error_signature("ERROR: mismatch at 0x10 on port b")
    assert a != error_signature("ERROR: timeout at 0x10 on port a")
    assert error_signature("UVM_ERROR x") != error_signature("UVM_FATAL x")


# -- buckets ------------------------------------------------------------------------------------

def _three_causes(rng: random.Random) -> list[tuple[str, str, int]]:
    """300 (path, message, cause) built from 3 causes whose numbers, hex values, paths,
    seeds and timestamps vary from job to job, shuffled."""
    causes = [
        lambda i: (f"UVM_ERROR @ {rng.randint(1, 10**6)}ns: uvm_test_top.env.sb [SCB] mismatch: "
                   f"expected 0x{rng.getrandbits(32):x} got 0x{rng.getrandbits(16):X}"),
        lambda i: (f"Error: /proj/build/run_{i}/{rng.choice(['sim', 'wave', 'x'])}.log:{rng.randint(1, 999)}: "
                   f"assertion failed at {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"),
        lambda i: (f"ERROR: seed={rng.randint(0, 2**31)}   timeout after {rng.randint(1, 10**7)} cycles "
                   f"(+ntb_random_seed={rng.randint(0, 99)}, build {rng.getrandbits(40):010x}, "
                   f"pc {rng.getrandbits(64):016x})"),
    ]
    items = [(f"top.tests.t_{cause}_{i}", causes[cause](i), cause) for cause in range(3) for i in range(100)]
    rng.shuffle(items)
    return items


def test_300_failures_with_3_causes_make_3_buckets_of_100():
    items = _three_causes(random.Random(7))
    buckets = bucket_failures((path, text) for path, text, _ in items)
    assert [bucket.count for bucket in buckets] == [100, 100, 100]
    assert sorted(bucket.signature for bucket in buckets) == [
        "ERROR: seed=<SEED> timeout after <N> cycles (+ntb_random_seed=<SEED>, build <N>, pc <HEX>)",
        "Error: <PATH>:<N>: assertion failed at <TIME>",
        "UVM_ERROR @ <N>ns: uvm_test_top.env.sb [SCB] mismatch: expected <HEX> got <HEX>",
    ]
    assert [bucket.signature for bucket in buckets] == sorted(bucket.signature for bucket in buckets)
    for bucket in buckets:
        mine = [(path, text) for path, text, _ in items if error_signature(text) == bucket.signature]
        causes = {cause for path, text, cause in items if (path, text) in mine}
        assert len(causes) == 1  # one cause per bucket
        assert bucket.examples == mine[:5]  # the first five, in the order given, with the raw text
        assert bucket.sample == mine[0][1]


def test_buckets_are_sorted_by_count_then_signature_and_keep_the_examples_asked_for():
    items = [("a", "ERROR b 1"), ("b", "ERROR a 2"), ("c", "ERROR c 3"), ("d", "ERROR c 4"), ("e", "ERROR b 5")]
    buckets = bucket_failures(items, examples=1)
    assert [(b.signature, b.count, b.examples) for b in buckets] == [
        ("ERROR b <N>", 2, [("a", "ERROR b 1")]),
        ("ERROR c <N>", 2, [("c", "ERROR c 3")]),
        ("ERROR a <N>", 1, [("b", "ERROR a 2")]),
    ]
    assert bucket_failures(items, examples=0)[0].examples == []
    assert bucket_failures([]) == []
    with pytest.raises(ValueError):
        bucket_failures(items, examples=-1)


def test_bucket_json():
    bucket = bucket_failures([("top.a", "ERROR: 0x1"), ("top.b", "ERROR: 0x2")])[0]
    assert bucket.to_json() == {"signature": "ERROR: <HEX>", "count": 2,
                                "examples": [{"path": "top.a", "text": "ERROR: 0x1"},
                                             {"path": "top.b", "text": "ERROR: 0x2"}]}
    assert FailureBucket("x").to_json() == {"signature": "x", "count": 0, "examples": []}


def test_the_names_are_exported():
    assert {"error_signature", "bucket_failures", "FailureBucket"} <= set(gator_core.__all__)
    assert gator_core.bucket_failures is bucket_failures


# -- first errors of jobs and runs ------------------------------------------------------------

def _job(tmp_path: Path, path: str, result: Result, messages: list[tuple[int, str]] | None = None,
         reason: str | None = None) -> NodeResult:
    directory = tmp_path / path
    if messages is not None:
        store = Store(directory)
        for severity, text in messages:
            store.add_message(severity, text)
        store.close()
    return NodeResult(id=path.rsplit(".", 1)[-1], path=path, kind="job", result=result, reason=reason,
                      tracking=str(directory))


def test_first_error_is_the_first_error_or_worse_message_else_the_reason(tmp_path: Path):
    job = _job(tmp_path, "top.a", Result.FAIL, [(Severity.INFO, "starting 1"), (Severity.WARNING, "hmm"),
                                                (Severity.ERROR, "   "), (Severity.CRITICAL, "CRIT: 0x1"),
                                                (Severity.ERROR, "ERROR: later")], reason="exit code 1")
    assert first_error(job) == "CRIT: 0x1"
    quiet = _job(tmp_path, "top.b", Result.FAIL, [(Severity.INFO, "fine")], reason="exit code 3")
    assert first_error(quiet) == "exit code 3"
    never_started = _job(tmp_path, "top.c", Result.LOST, None, reason="heartbeat lost")
    assert first_error(never_started) == "heartbeat lost"
    broken = _job(tmp_path, "top.d", Result.FAIL, None)
    Path(broken.tracking).mkdir()
    (Path(broken.tracking) / "db.sqlite").write_bytes(b"not a database at all" * 100)
    assert first_error(broken) == NO_MESSAGE


def test_run_buckets_takes_the_failed_and_lost_jobs_of_the_tree(tmp_path: Path):
    jobs = [
        _job(tmp_path, "top.g.a", Result.FAIL, [(Severity.ERROR, "ERROR: mismatch at 0x1f")]),
        _job(tmp_path, "top.g.b", Result.FAIL, [(Severity.ERROR, "ERROR: mismatch at 0x2e")]),
        _job(tmp_path, "top.g.c", Result.LOST, None, reason="heartbeat lost"),
        _job(tmp_path, "top.g.d", Result.PASS, [(Severity.ERROR, "ERROR: mismatch at 0x3")]),
        _job(tmp_path, "top.g.e", Result.SKIPPED, None, reason="on_pass: 'x' failed"),
        _job(tmp_path, "top.f", Result.CANCELLED, None),
    ]
    group = NodeResult(id="g", path="top.g", kind="group", result=Result.FAIL, reason="failed",
                       children=jobs[:5], tracking=str(tmp_path / "top.g"))
    root = NodeResult(id="top", path="top", kind="group", result=Result.FAIL, children=[group, jobs[5]],
                      tracking=str(tmp_path / "top"))
    buckets = run_buckets(root)
    assert [(b.signature, b.count, [path for path, _ in b.examples]) for b in buckets] == [
        ("ERROR: mismatch at <HEX>", 2, ["top.g.a", "top.g.b"]),
        ("heartbeat lost", 1, ["top.g.c"]),
    ]
    assert job_buckets(iter(jobs), examples=1)[0].examples == [("top.g.a", "ERROR: mismatch at 0x1f")]
    alone = _job(tmp_path, "solo", Result.FAIL, None, reason="exit code 1")  # a run of one job
    assert [b.to_json()["signature"] for b in run_buckets(alone)] == ["exit code <N>"]


# -- the text of gator show --buckets -----------------------------------------------------------

def test_print_buckets_shows_counts_signatures_three_examples_and_the_total():
    import io

    from gator_core.report.show import print_buckets

    items = [(f"top.t_{i}", f"ERROR: bad value 0x{i:x}") for i in range(5)] + [("top.z", "\x1b[1mCRASH\x1b[0m\tat 7")]
    out = io.StringIO()
    print_buckets(bucket_failures(items), out)
    assert out.getvalue().splitlines() == [
        "COUNT  SIGNATURE",
        "    5  ERROR: bad value <HEX>",
        "         top.t_0  ERROR: bad value 0x0",
        "         top.t_1  ERROR: bad value 0x1",
        "         top.t_2  ERROR: bad value 0x2",
        "         ... and 2 more jobs",
        "    1  CRASH at <N>",
        "         top.z  \\x1b[1mCRASH\\x1b[0m\\tat 7",
        "6 failed jobs in 2 buckets",
    ]
    empty = io.StringIO()
    print_buckets([], empty)
    assert empty.getvalue() == "no failed jobs\n"


def test_printable_escapes_control_characters_and_cuts():
    from gator_core.report.show import printable

    assert printable("plain [b]text[/b] é") == "plain [b]text[/b] é"
    assert printable("a\nb\x1b[0m\x07") == "a\\nb\\x1b[0m\\x07"
    assert printable("x" * 10, 5) == "xxxx…"
