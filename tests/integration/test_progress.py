"""`--progress` on a real terminal draws a live display and still ends with the summary."""

from __future__ import annotations

from pathlib import Path

from helpers import on_terminal, write


def test_progress_on_a_terminal(tmp_path: Path):
    spec = write(tmp_path / "s.yaml", "!JobArray\n  id: arr\n  repeats: 6\n  jobs:\n"
                 "  - !Job {id: j, command: sh, args: [-c, 'sleep 0.6; test $GATOR_ARRAY_INDEX != 3']}\n")
    code, text = on_terminal(["run", str(spec), "-t", str(tmp_path / "t"), "--progress"], tmp_path)
    assert code == 1
    assert "gator" in text and "passed" in text and "pending" in text and "ETA" in text  # the live bar
    assert "Running" in text and "Failed" in text  # the two tables
    assert "arr.j_3" in text and str(tmp_path / "t" / "j_3" / "messages.log") in text
    assert "6 jobs, 5 passed, 1 failed" in text
