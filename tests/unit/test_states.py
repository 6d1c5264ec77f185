"""The vocabulary: severities, results and child states, and the string forms they keep."""

from __future__ import annotations

import json
import logging

import pytest

from gator_core import ChildState, Result, Severity
from gator_core.states import FAILURES, SEVERITY_KEYS
from gator_core.store.summary import FINAL_RESULTS, JOB_COUNT_KEYS, job_counts


def test_severities_are_loggings_levels_and_are_counted_by_name() -> None:
    assert [int(s) for s in Severity] == [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR,
                                          logging.CRITICAL]
    assert Severity.WARNING == logging.WARNING and Severity.ERROR.key == "error"
    assert SEVERITY_KEYS == ("debug", "info", "warning", "error", "critical")
    assert Severity.parse(" Critical ") is Severity.CRITICAL
    with pytest.raises(ValueError, match="unknown severity 'loud'; use one of debug, info, warning"):
        Severity.parse("loud")


@pytest.mark.parametrize("number, expected", [(0, Severity.DEBUG), (10, Severity.DEBUG), (25, Severity.INFO),
                                              (30, Severity.WARNING), (49, Severity.ERROR), (99, Severity.CRITICAL)])
def test_a_stored_number_between_levels_counts_as_the_level_below(number: int, expected: Severity) -> None:
    assert Severity.of(number) is expected


def test_results_keep_their_strings_and_say_whether_they_are_final() -> None:
    assert json.dumps({"result": Result.CANCELLED}) == '{"result": "cancelled"}'
    assert Result("pass") is Result.PASS and Result.PASS == "pass"
    assert {r for r in Result if r.final} == FINAL_RESULTS == {"pass", "fail", "skipped", "lost", "cancelled",
                                                                "timeout"}
    assert JOB_COUNT_KEYS == ("total", "passed", "failed", "skipped", "lost", "cancelled", "running", "pending")
    assert job_counts(Result.LOST) == {**dict.fromkeys(JOB_COUNT_KEYS, 0), "total": 1, "lost": 1}


def test_a_timeout_is_a_failure_counted_among_the_failed() -> None:
    assert {r.value for r in Result if r.failed} == {"fail", "lost", "timeout"}
    assert "timeout" in FAILURES and "skipped" not in FAILURES
    assert job_counts(Result.TIMEOUT) == {**dict.fromkeys(JOB_COUNT_KEYS, 0), "total": 1, "failed": 1}


def test_only_a_done_child_is_final() -> None:
    assert [state.value for state in ChildState if state.final] == ["done"]
    assert ChildState("launched") is ChildState.LAUNCHED
