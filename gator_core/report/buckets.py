"""Failure buckets: the failed jobs of a run grouped by the cause of their first error.

A regression of 300 failures often has three causes.  Each failed or lost job
is reduced to its first error message (or, without one, its reason), the
message to a *signature* in which what varies from job to job is masked, and
the jobs with the same signature form a bucket::

    UVM_ERROR @ 1250ns: uvm_test_top.env.sb [SCB] mismatch: expected 0x1f got 0x2e
    UVM_ERROR @ <N>ns: uvm_test_top.env.sb [SCB] mismatch: expected <HEX> got <HEX>

Masked, in this order: terminal colour codes (removed); paths (``<PATH>``:
``/a/b/c.sv``, ``./x/y``, ``../x``, ``~/x``, and ``dir/file.ext``);
timestamps (``<TIME>``: ``2024-05-01T12:30:00``, ``12:30:00.5``); seeds
(``seed=<SEED>``: the value after a word ending in ``seed`` and ``=``, ``:``
or a space, as in ``+ntb_random_seed=7`` or ``seed 42``); hexadecimal
(``<HEX>``: ``0x7ffd1234``, Verilog's ``8'h1f``, UUIDs, and words of 16 or
more hex digits, such as hashes); numbers (``<N>``: integers and decimals
with their sign, Verilog's ``4'b1010``, digits inside words, so that
``1250ns`` is ``<N>ns`` and ``run_3`` is ``run_<N>``, and shorter words of
hex digits with a digit in them (or of 8 or more), such as ``2e``: a value
printed in hex without ``0x`` cannot be told from a decimal one, so both
are ``<N>``).
Then runs of white space become one space and the signature is cut to 200
characters.  Words and quoted strings are kept: two messages that differ in
a word stay in different buckets.

``gator show TRACKING --buckets`` prints the buckets of a run; the hub
imports :func:`error_signature` and :func:`bucket_failures` from
``gator_core``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gator_core.exceptions import StoreError
from gator_core.states import FAILURES, Severity
from gator_core.store.nodestore import StoreReader
from gator_core.store.readback import NodeResult

__all__ = ["SIGNATURE_LIMIT", "EXAMPLES", "LONG_HEX", "NO_MESSAGE", "FAILED_RESULTS", "error_signature",
           "FailureBucket", "bucket_failures", "first_error", "job_buckets", "run_buckets"]

SIGNATURE_LIMIT = 200  # characters of a signature, "…" included when it is cut
EXAMPLES = 5  # examples kept per bucket by default
LONG_HEX = 16  # digits of a word of hex digits (without 0x) masked as <HEX> rather than <N>
NO_MESSAGE = "failed without a message"  # the text of a failed job with neither an error nor a reason
FAILED_RESULTS = FAILURES

# Digits and letters, which a word of hex digits may not touch.
_ALNUM = "0-9A-Za-z"
_PATH_CHARS = r"[\w.+~@%-]"
_SIGN = r"(?:(?<![\w)\]>.])[-+])?"  # a sign belongs to a number unless it follows a word or a value

_MASKS: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    # colour and cursor codes of terminals: not part of the message
    (re.compile(r"\x1b\[[0-9;?]*[A-Za-z]"), ""),
    # paths: anything rooted (/a, ./a, ../a, ~/a), or relative ones whose last part has an extension
    (re.compile(rf"(?<![\w.~/-])(?:~|\.{{1,2}})?(?:/+{_PATH_CHARS}+)+/?"), "<PATH>"),
    (re.compile(rf"(?<![\w.~/-]){_PATH_CHARS}+(?:/{_PATH_CHARS}+)*/[\w+@%-][\w.+@%-]*\.[A-Za-z]\w*"), "<PATH>"),
    # timestamps: ISO dates with an optional time, and times of day
    (re.compile(r"(?<!\d)\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?)?"
                r"(?:Z|[+-]\d{2}:?\d{2}(?!\d))?"), "<TIME>"),
    (re.compile(r"(?<![\d:])\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?(?![\d:])"), "<TIME>"),
    # seeds: the value, after a word ending in "seed" (seed=1, +ntb_random_seed=2, seed 3, Seed: 4)
    (re.compile(r"(?i)(\b\w*seed(?:\s*[=:]\s*|\s+))[-+]?(?:0x[0-9a-f]+|\d+)\b"), r"\1<SEED>"),
    # hexadecimal: UUIDs, 0x..., Verilog literals (8'h1f; 4'b1010 is a number)
    (re.compile(r"(?i)(?<![0-9a-z])[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![0-9a-z])"),
     "<HEX>"),
    (re.compile(r"(?<![\w.])0[xX][0-9a-fA-F_]+"), "<HEX>"),
    (re.compile(r"(?<![\w'])\d+'[sS]?[hH][0-9a-fA-F_xXzZ?]+(?!\w)"), "<HEX>"),
    (re.compile(r"(?<![\w'])\d+'[sS]?[bBdDoO][0-9a-fA-F_xXzZ?]+(?!\w)"), "<N>"),
    # decimals (1.5, 2.5e-3, 1e+05)
    (re.compile(rf"{_SIGN}(?:\d+\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]\d+)"), "<N>"),
    # words of hex digits with a digit, or of 8 or more (no word is spelt with a-f alone at that
    # length): long ones are hashes or addresses, short ones values printed in hex or decimal
    # (2e, 27, 1e5), which no rule can tell apart: both are numbers
    (re.compile(rf"{_SIGN}(?<![{_ALNUM}])(?<!\d\.)(?=[0-9a-fA-F]*\d|[0-9a-fA-F]{{8}})[0-9a-fA-F]+"
                rf"(?![{_ALNUM}])(?!\.\d)"),
     lambda match: "<HEX>" if len(match[0].lstrip("+-")) >= LONG_HEX else "<N>"),
    # numbers, also inside words (run_3, 1250ns)
    (re.compile(rf"{_SIGN}\d+"), "<N>"),
    (re.compile(r"\s+"), " "),
]
_HALF_MASK = re.compile(r"<[A-Z]*$")


def error_signature(text: str) -> str:
    """The signature of an error message: ``text`` with what varies between runs of the
    same failure (numbers, hex, paths, seeds, timestamps) masked as ``<N>``, ``<HEX>``,
    ``<PATH>``, ``<SEED>`` and ``<TIME>``, white space collapsed, and at most
    200 characters long (``SIGNATURE_LIMIT``).  Words are kept.  What is masked:

    * paths (``/a/b/c.sv``, ``./x/y``, ``dir/file.ext``) as ``<PATH>``;
    * timestamps (``2024-05-01T12:30:00``, ``12:30:00``) as ``<TIME>``;
    * seeds (``seed=7``, ``seed 7``, ``+ntb_random_seed=7``) as ``seed=<SEED>``;
    * ``0x1f``, ``8'h1f``, UUIDs and words of 16 or more hex digits as ``<HEX>``;
    * numbers, also inside words (``1250ns``, ``run_3``), and shorter words of hex
      digits with a digit in them or of 8 or more (``2e``, which cannot be told from
      a decimal, or ``deadbeef``), as ``<N>``.

    >>> error_signature("ERROR: seed=83291 timeout after 500000 cycles")
    'ERROR: seed=<SEED> timeout after <N> cycles'
    """
    # A line of megabytes costs regex time for nothing: only the start can be shown.
    signature = text[:SIGNATURE_LIMIT * 10]
    for pattern, mask in _MASKS:
        signature = pattern.sub(mask, signature)
    signature = signature.strip()
    if len(signature) > SIGNATURE_LIMIT:
        cut = signature[:SIGNATURE_LIMIT - 1]
        cut = _HALF_MASK.sub("", cut)  # do not leave half a mask
        signature = cut.rstrip() + "…"
    return signature


@dataclass
class FailureBucket:
    """The failed jobs that share one :func:`error_signature`: how many, and the first
    few as ``(job path, raw message)`` in the order they were given."""

    signature: str
    count: int = 0
    examples: list[tuple[str, str]] = field(default_factory=list)

    @property
    def sample(self) -> str:
        """The raw message of the first job in the bucket ("" when no example is kept)."""
        return self.examples[0][1] if self.examples else ""

    def to_json(self) -> dict[str, Any]:
        """``{"signature": str, "count": int, "examples": [{"path": str, "text": str}, ...]}``."""
        return {"signature": self.signature, "count": self.count,
                "examples": [{"path": path, "text": text} for path, text in self.examples]}


def bucket_failures(items: Iterable[tuple[str, str]], examples: int = EXAMPLES) -> list[FailureBucket]:
    """Group ``(job path, first error text)`` pairs by the signature of the text.

    Each bucket keeps its first ``examples`` pairs.  The buckets come largest first,
    and buckets of the same size by signature.  Only the buckets are held, so
    ``items`` may be a generator over a large run.
    """
    if examples < 0:
        raise ValueError(f"examples must be 0 or more, not {examples}")
    buckets: dict[str, FailureBucket] = {}
    for path, text in items:
        signature = error_signature(text)
        bucket = buckets.get(signature)
        if bucket is None:
            bucket = buckets[signature] = FailureBucket(signature)
        bucket.count += 1
        if len(bucket.examples) < examples:
            bucket.examples.append((path, text))
    return sorted(buckets.values(), key=lambda bucket: (-bucket.count, bucket.signature))


def first_error(node: NodeResult) -> str:
    """What a failed or lost job has to say for itself: its first message of severity
    error or worse (read from its store), else its reason (``"exit code 1"``), else
    ``"failed without a message"``.  A job without a store (it never started) or with one that
    cannot be read falls back to its reason."""
    if node.tracking:
        try:
            with StoreReader(Path(node.tracking)) as store:
                for row in store.messages(Severity.ERROR):
                    text = row[3]
                    if isinstance(text, str) and text.strip():
                        return text
        except (StoreError, OSError):
            pass
    return node.reason or NO_MESSAGE


def job_buckets(jobs: Iterable[NodeResult], examples: int = EXAMPLES) -> list[FailureBucket]:
    """The failed and lost jobs among ``jobs`` (other nodes are passed over), bucketed by
    their :func:`first_error`.  ``jobs`` may be a stream, such as ``iter_jobs(tracking)``."""
    failed = (node for node in jobs if node.kind == "job" and node.result in FAILED_RESULTS)
    return bucket_failures(((node.path, first_error(node)) for node in failed), examples)


def run_buckets(root: NodeResult) -> list[FailureBucket]:
    """Every failed or lost job of the tree under ``root`` (itself included), bucketed."""
    return job_buckets(root.walk())
