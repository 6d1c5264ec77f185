"""The hub's pages in a real browser (Debian's Chromium through Playwright): real runs
of one spec, pushed to a real hub, clicked through from the runs page to a failed job,
its failure buckets and the comparison with the run before; what jobs print stays text;
and a running job's messages appear on its page without a reload.

Each page is saved as a screenshot (see the `screenshots` fixture for where)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from browsertools import command
from helpers import units, wait_for, write
from hubtools import AUTH, TOKEN, Server

pytestmark = pytest.mark.slow

# One spec, run twice: the second run fixes uart, breaks spi, and two more of the sweep.
SPEC = """\
!JobGroup
  id: regress
  jobs:
  - !Job {{id: smoke, command: echo, args: [smoke ok]}}
  - !Job {{id: uart, command: sh, args: [-c, "{uart}"]}}
  - !Job {{id: spi, command: sh, args: [-c, "{spi}"]}}
  - !Job {{id: xss, command: sh, args: [-c, "echo '<script>alert(1)</script>'; echo '<img src=x onerror=alert(1)>' >&2; exit 2"]}}
  - !JobArray
      id: sweep
      repeats: 6
      jobs:
      - !Job {{id: sim, command: sh, args: [-c, "echo seed $GATOR_ARRAY_INDEX; [ $GATOR_ARRAY_INDEX -lt {passing} ] || {{ echo ERROR: timeout after $((GATOR_ARRAY_INDEX * 100 + 7)) cycles >&2; exit 3; }}"]}}
"""
FAIL_UART = "echo UVM_ERROR @ 120ns: uart scoreboard mismatch expected 0x1f got 0x2e >&2; exit 1"
FAIL_SPI = "echo UVM_FATAL @ 99ns: spi clock stuck >&2; exit 1"
PASS = "echo fine"
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


def api(hub: Any, path: str) -> Any:
    request = urllib.request.Request(f"{hub.url}{path}", headers=AUTH)
    with urllib.request.urlopen(request, timeout=units(10)) as answer:
        return json.loads(answer.read())


@pytest.fixture(scope="module")
def two_runs(hub: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """Two runs of the same spec pushed with `gator hub push`: (earlier id, later id)."""
    root = tmp_path_factory.mktemp("runs")
    for number, (uart, spi, passing) in enumerate(((FAIL_UART, PASS, 4), (PASS, FAIL_SPI, 2))):
        write(root / "regress.yaml", SPEC.format(uart=uart, spi=spi, passing=passing))
        tracking = root / f"tracking-{number}"
        command("-m", "gator_core.cli", "run", "regress.yaml", "--tracking", tracking, "-q", cwd=root, check=1)
        command("-m", "gator_hub", "push", tracking, "--hub", hub.url, cwd=root, check=0)
    runs = api(hub, "/api/runs")["runs"]
    assert [run["spec_name"] for run in runs] == ["regress", "regress"]
    return runs[1]["id"], runs[0]["id"]


def shot(page: Any, screenshots: Path, name: str) -> None:
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)


def test_click_through_a_run_to_a_failed_job_its_buckets_and_the_comparison(
        page: Any, hub: Any, two_runs: tuple[str, str], screenshots: Path) -> None:
    earlier, later = two_runs
    page.goto(f"{hub.url}/")
    rows = page.locator("#run-rows tr[data-run]")
    assert rows.count() == 2 and rows.first.get_attribute("data-run") == later
    assert rows.first.locator('[data-field="failed"]').inner_text() == "6"  # spi, sim_2..5, xss
    shot(page, screenshots, "runs")

    rows.first.locator("a[data-link]").first.click()
    page.wait_for_url(f"**/runs/{later}")
    failures = page.locator("#failure-list li")
    assert failures.locator("a").all_inner_texts() == [
        "regress.spi", "regress.sweep.sim_2", "regress.sweep.sim_3", "regress.sweep.sim_4", "regress.sweep.sim_5",
        "regress.xss"]
    assert "UVM_FATAL @ 99ns: spi clock stuck" in failures.first.inner_text()
    # the sweep is open (it failed) and lists its failures first
    sweep = page.locator("details", has=page.locator('summary a:text-is("sweep")'))
    assert sweep.get_attribute("open") is not None
    assert sweep.locator("ul.inner a").all_inner_texts()[:2] == ["sim_2", "sim_3"]
    shot(page, screenshots, "run")

    page.locator("#failure-list a", has_text="regress.xss").click()
    page.wait_for_url("**/jobs/regress.xss")
    texts = page.locator("#messages td.text").all_inner_texts()
    assert sorted(texts) == sorted([SCRIPT, IMG])
    assert page.locator('[data-field="exit_code"]').inner_text() == "2"
    assert "gator rerun" in page.locator("pre.command").last.inner_text()
    page.select_option("select[name=severity]", "error")
    page.locator("section.messages button").click()
    page.wait_for_url("**severity=error**")
    assert page.locator("#messages td.text").all_inner_texts() == [IMG]  # stderr: an error
    shot(page, screenshots, "job")

    page.goto(f"{hub.url}/runs/{later}")
    page.get_by_role("link", name="Failure buckets").click()
    page.wait_for_url("**/buckets")
    buckets = page.locator("tr.bucket")
    counts = buckets.locator("td.count").all_inner_texts()
    assert counts == ["4", "1", "1"]  # the sweep's timeouts, masked alike; spi; xss
    assert "timeout after <N> cycles" in buckets.first.locator("pre.signature").inner_text()
    shot(page, screenshots, "buckets")

    page.goto(f"{hub.url}/runs/{later}")
    page.get_by_role("link", name="Compare with the previous run").click()
    page.wait_for_url("**/compare")
    assert page.locator("input[name=with]").input_value() == earlier

    def listed(section: str) -> list[str]:
        return page.locator(f"section.{section} li a.mono").all_inner_texts()

    assert listed("newly_failing") == ["regress.spi", "regress.sweep.sim_2", "regress.sweep.sim_3"]
    assert listed("newly_passing") == ["regress.uart"]
    assert listed("still_failing") == ["regress.sweep.sim_4", "regress.sweep.sim_5", "regress.xss"]
    assert page.locator("section.durations tbody tr").count() >= 5
    shot(page, screenshots, "compare")

    page.goto(f"{hub.url}/history?spec=regress&path=regress.sweep.sim_2")
    assert page.locator("svg.chart circle.mark.pass").count() == 1
    assert page.locator("svg.chart circle.mark.fail").count() == 1
    shot(page, screenshots, "history")
    assert page.dialogs == []


def test_what_a_job_prints_is_text_in_the_browser(page: Any, hub: Any, two_runs: tuple[str, str]) -> None:
    _, later = two_runs
    # stdout is info, stderr an error: the first error (run page, buckets) is the <img>
    for url, shown in ((f"/runs/{later}/jobs/regress.xss", (SCRIPT, IMG)), (f"/runs/{later}", (IMG,)),
                       (f"/runs/{later}/buckets", (IMG,))):
        page.goto(f"{hub.url}{url}")
        page.wait_for_load_state("load")
        for text in shown:
            assert page.get_by_text(text, exact=True).first.is_visible(), (url, text)
        # nothing a job printed became an element: no image, and only the hub's own script
        assert page.locator("main img").count() == 0, url
        assert page.evaluate("Array.from(document.scripts).map(s => s.getAttribute('src'))") == ["/static/hub.js"]
    page.wait_for_timeout(300)
    assert page.dialogs == []


def gator_run_has_hub() -> bool:
    shown = subprocess.run([sys.executable, "-m", "gator_core.cli", "run", "--help"], capture_output=True,
                           text=True, timeout=units(60), env={**os.environ, "COLUMNS": "200"})
    return "--hub" in shown.stdout


LIVE_SPEC = """\
!JobGroup
  id: live
  jobs:
  - !Job {id: talker, command: sh, args: [-c, "echo first line; while [ ! -e go ]; do sleep 0.05; done; echo '<b>second</b> line'; while [ ! -e end ]; do sleep 0.05; done; echo last line"]}
"""


@pytest.mark.parametrize("hub_sees", ["tracking", "nothing"])
def test_a_running_jobs_messages_appear_on_its_page_without_a_reload(
        page: Any, hub: Any, tmp_path: Path, screenshots: Path, hub_sees: str) -> None:
    """The hub reads the job's store itself, or (a hub on another machine, as a mount
    namespace hides the directory from it) the run sends what the page follows."""
    if not gator_run_has_hub():
        pytest.skip("needs `gator run --hub URL` (not listed by `gator run --help`)")
    workdir = tmp_path
    if hub_sees == "nothing":
        if os.geteuid() != 0 or shutil.which("unshare") is None:
            pytest.skip("needs root and unshare, to hide the run from the hub as another machine would")
        workdir = tmp_path / "private"
        workdir.mkdir()
        write(tmp_path / "hub.token", TOKEN)
        hub = Server(f"sqlite:///{tmp_path / 'hub.sqlite'}", tmp_path / "hub.token", hide=workdir)
    write(workdir / "live.yaml", LIVE_SPEC)
    proc = subprocess.Popen([sys.executable, "-m", "gator_core.cli", "run", "live.yaml", "--tracking",
                             str(workdir / "tracking"), "--hub", hub.url, "-q"], cwd=workdir,
                            env={**os.environ, "GATOR_HUB_TOKEN": TOKEN}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        def running_job() -> str | None:
            runs = [run for run in api(hub, "/api/runs")["runs"] if run["spec_name"] == "live"]
            try:
                job = api(hub, f"/api/runs/{runs[0]['id']}/jobs/live.talker") if runs else None
            except urllib.error.HTTPError:  # 404 until the job's node arrives
                return None
            return runs[0]["id"] if job and job["node"]["result"] == "running" else None

        run_id = wait_for(running_job, 30, "the running job at the hub")
        loads: list[str] = []
        page.on("load", lambda: loads.append(page.url))
        page.goto(f"{hub.url}/runs/{run_id}/jobs/live.talker")
        messages = page.locator("#messages td.text")
        messages.filter(has_text="first line").wait_for()
        assert page.locator('[data-field="result"]').inner_text() == "running"
        started = time.monotonic()
        (workdir / "go").touch()
        messages.filter(has_text="<b>second</b> line").wait_for(timeout=units(5) * 1000)
        took = time.monotonic() - started
        assert page.locator("#messages b").count() == 0  # text, not markup
        assert ("from the job's store" in page.inner_text("section.messages h2")) == (hub_sees == "tracking")
        shot(page, screenshots, f"job-live-{hub_sees}")
        (workdir / "end").touch()
        messages.filter(has_text="last line").wait_for(timeout=units(5) * 1000)
        page.locator('[data-field="result"]', has_text="pass").wait_for(timeout=units(10) * 1000)
        assert loads == [loads[0]] and len(loads) == 1, loads  # one load: everything else came live
        assert took < 3.0, f"the message took {took:.1f} s to appear"
        assert page.dialogs == []
    finally:
        (workdir / "go").touch()
        (workdir / "end").touch()
        out, _ = proc.communicate(timeout=units(60))
        if hub_sees == "nothing":
            hub.stop()
    assert proc.returncode == 0, out
