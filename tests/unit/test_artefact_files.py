"""Artefacts on disk: what a job produced (found, hashed, kept) and host paths."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from gator_core import HostPaths
from gator_core.job.artefacts import digest, find_artefacts, inputs_here

VALUES = {"build.binary": ["/w/sim.exe"], "build.reports": ["/w/a.xml", "/w/b.xml"]}


# -- host paths ------------------------------------------------------------------------------------
def test_host_paths_map_both_directories_both_ways():
    paths = HostPaths("/here/launch/.track", "/here/launch", "/h/work/abcd1234", "/h/work")
    assert paths.to_host("/here/launch/.track/build/artefacts/x") == "/h/work/abcd1234/build/artefacts/x"
    assert paths.to_host("/here/launch/build/sim.exe") == "/h/work/build/sim.exe"
    # Under neither (an earlier run's tracking directory): by its absolute path, and back.
    assert paths.to_host("/elsewhere/t/file") == "/h/work/abcd1234/.elsewhere/elsewhere/t/file"
    assert paths.to_local("/h/work/abcd1234/.elsewhere/elsewhere/t/file") == "/elsewhere/t/file"
    assert paths.to_host("/here/launchpad/file") == "/h/work/abcd1234/.elsewhere/here/launchpad/file"
    assert paths.to_local("/h/work/abcd1234/build/artefacts/x") == "/here/launch/.track/build/artefacts/x"
    assert paths.to_local("/h/work/out.txt") == "/here/launch/out.txt"
    assert inputs_here(VALUES, None) == VALUES
    mapped = inputs_here({"b.x": ["/here/launch/.track/b/artefacts/x/f"]}, paths)
    assert mapped == {"b.x": ["/h/work/abcd1234/b/artefacts/x/f"]}
    env = {"GATOR_HOST_TRACKING_ROOT": "/h/work/abcd1234", "GATOR_HOST_LAUNCH_DIR": "/h/work"}
    assert HostPaths.from_environment("/here/launch/.track", "/here/launch", env) == paths
    assert HostPaths.from_environment("/t", "/l", {}) is None


# -- finding what a job produced -------------------------------------------------------------------
def test_found_artefacts_are_hashed_and_missing_ones_named(tmp_path: Path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "b.xml").write_text("bee")
    (tmp_path / "out" / "a.xml").write_text("a")
    (tmp_path / "tree" / "sub").mkdir(parents=True)
    (tmp_path / "tree" / "sub" / "f").write_text("ff")
    declared = {"reports": "out/*.xml", "tree": "tree", "missing": "nothere/x", "env": "$OUT/a.xml"}
    record, problems = find_artefacts(declared, str(tmp_path), {"OUT": "out"})
    assert problems == ["artefact 'missing' (nothere/x) was not produced"]
    assert [item["path"] for item in record["reports"]["files"]] == [str(tmp_path / "out" / n) for n in ("a.xml", "b.xml")]
    assert record["reports"]["files"][1] == {"path": str(tmp_path / "out" / "b.xml"), "size": 3,
                                             "sha256": hashlib.sha256(b"bee").hexdigest()}
    assert record["tree"]["files"][0]["size"] == 2 and record["tree"]["files"][0]["sha256"] == digest(
        str(tmp_path / "tree"))[1]
    assert record["env"]["files"][0]["path"] == str(tmp_path / "out" / "a.xml")
    assert record["missing"] == {"pattern": "nothere/x", "files": []}
    # A directory's hash changes with what is in it.
    before = digest(str(tmp_path / "tree"))
    (tmp_path / "tree" / "sub" / "g").write_text("")
    assert digest(str(tmp_path / "tree")) != before


def test_on_a_host_without_the_files_artefacts_are_kept_with_the_tracking_data(tmp_path: Path):
    work, here = tmp_path / "work", tmp_path / "here"
    (work / "build").mkdir(parents=True)
    program = work / "build" / "sim.exe"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    job_there = work / "abcd1234" / "top" / "build"
    job_there.mkdir(parents=True)
    paths = HostPaths(str(here / "track"), str(here), str(work / "abcd1234"), str(work))
    record, problems = find_artefacts({"binary": "build/sim.exe"}, str(work), {}, keep_in=str(job_there),
                                      paths=paths)
    assert problems == []
    kept = job_there / "artefacts" / "binary" / "build" / "sim.exe"
    assert kept.exists() and os.access(kept, os.X_OK)
    assert record["binary"]["files"][0]["path"] == str(here / "track" / "top" / "build" / "artefacts" / "binary"
                                                       / "build" / "sim.exe")


def test_globs_name_each_file_once_and_the_cwd_is_taken_literally(tmp_path: Path):
    cwd = tmp_path / "run[1]"  # glob characters in the directory's own name
    (cwd / "out" / "a").mkdir(parents=True)
    (cwd / "out" / "a" / "x").write_text("x")
    (cwd / "out" / "a-b").write_text("ab")
    (cwd / "bin").write_text("b")
    record, problems = find_artefacts({"bin": "bin", "all": "out/**", "files": "out/*"}, str(cwd), {})
    assert problems == []
    assert [item["path"] for item in record["bin"]["files"]] == [str(cwd / "bin")]
    # out/** matches out/, out/a, out/a/x and out/a-b: out/ holds the rest, so it alone is kept.
    assert [item["path"] for item in record["all"]["files"]] == [str(cwd / "out")]
    assert [item["path"] for item in record["files"]["files"]] == [str(cwd / "out" / "a"), str(cwd / "out" / "a-b")]
