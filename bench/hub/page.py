"""When a run page becomes usable in a browser: headless Chromium (Debian's, driven by
Playwright) opens ``/runs/{run_id}`` in a fresh context each time (nothing cached) and
we take, from navigation start, the later of DOMContentLoaded's end and the first
frame in which the tree's first row is laid out and visible (an init script checks
in every animation frame, which runs just before a frame is painted)."""

from __future__ import annotations

import shutil
import time
from typing import Any

from common import median

BAR_MS = 1000.0
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu"]
ROWS = "section.tree ul.nodes > li"  # the run page's tree: its first rows (gator_hub/web/templates/run.html)

INIT = """
(() => {
  const check = () => {
    const row = document.querySelector(%r);
    if (row) {
      const box = row.getBoundingClientRect();
      if (box.width > 0 && box.height > 0) { window.__benchRowsVisible = performance.now(); return; }
    }
    requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
})();
"""


def _nav(page: Any) -> dict[str, float]:
    return page.evaluate("() => performance.getEntriesByType('navigation')[0].toJSON()")


def one_load(browser: Any, url: str, selector: str) -> dict[str, Any]:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.add_init_script(INIT % selector)
        start = time.perf_counter()
        response = page.goto(url, wait_until="domcontentloaded", timeout=120_000)
        if response is None or response.status != 200:
            return {"error": f"GET {url} answered {response.status if response else 'nothing'}"}
        try:
            page.wait_for_function("() => window.__benchRowsVisible !== undefined", timeout=30_000)
            rows_ms: float | None = page.evaluate("() => window.__benchRowsVisible")
        except Exception:  # noqa: BLE001 - Playwright's TimeoutError: no rows, fall back to `load`
            rows_ms = None
            page.wait_for_load_state("load", timeout=60_000)
        wall_ms = (time.perf_counter() - start) * 1000
        nav = _nav(page)
        paints = page.evaluate("() => performance.getEntriesByType('paint').map(p => [p.name, p.startTime])")
        rows = page.locator(selector).count()
        dcl = nav["domContentLoadedEventEnd"]
        usable = max(dcl, rows_ms) if rows_ms is not None else nav["loadEventEnd"]
        return {"usable_ms": usable, "dcl_ms": dcl, "rows_visible_ms": rows_ms, "load_ms": nav["loadEventEnd"],
                "ttfb_ms": nav["responseStart"], "response_end_ms": nav["responseEnd"],
                "fcp_ms": dict(paints).get("first-contentful-paint"), "html_bytes": nav.get("decodedBodySize"),
                "rows_in_page": rows, "driver_wall_ms": wall_ms,
                "measured_to": "rows" if rows_ms is not None else "load (no tree rows found)"}
    finally:
        context.close()


def measure(url: str, loads: int, selector: str = ROWS) -> dict[str, Any]:
    """A first load (the hub's templates and queries warm up; reported, not counted),
    then ``loads`` loads: their median."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {"error": "Playwright is not installed (.venv/bin/pip install playwright)"}
    executable = CHROMIUM if shutil.which(CHROMIUM) else None
    if executable is None:
        return {"error": f"no {CHROMIUM} (apt-get install chromium)"}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=ARGS)
        try:
            first = one_load(browser, url, selector)
            if "error" in first:
                return first
            results = [one_load(browser, url, selector) for _ in range(loads)]
        finally:
            browser.close()
    errors = [r["error"] for r in results if "error" in r]
    if errors:
        return {"error": errors[0]}
    usable = [r["usable_ms"] for r in results]
    out = {"url": url, "loads": results, "first_load": first, "usable_ms": usable, "median_usable_ms": median(usable),
           "bar_ms": BAR_MS, "pass": median(usable) < BAR_MS}
    for key in ("dcl_ms", "rows_visible_ms", "ttfb_ms", "response_end_ms", "fcp_ms", "driver_wall_ms"):
        values = [r[key] for r in results if r.get(key) is not None]
        out[f"median_{key}"] = median(values) if values else None
    out["measured_to"] = results[0]["measured_to"]
    out["rows_in_page"] = results[0]["rows_in_page"]
    out["html_bytes"] = results[0]["html_bytes"]
    return out


def report(label: str, result: dict[str, Any]) -> list[str]:
    if "error" in result:
        return [f"  {label}: not measured: {result['error']}"]
    loads = " ".join(f"{value:.0f}" for value in result["usable_ms"])

    def ms(key: str) -> str:
        value = result.get(f"median_{key}")
        return "-" if value is None else f"{value:.0f} ms"

    return [f"  {label}: usable after {result['median_usable_ms']:.0f} ms (median of {len(result['usable_ms'])}: "
            f"{loads}; first load after the hub started {result['first_load']['usable_ms']:.0f} ms)",
            f"      first byte {ms('ttfb_ms')}, HTML received {ms('response_end_ms')}, DOMContentLoaded "
            f"{ms('dcl_ms')}, first rows visible {ms('rows_visible_ms')}, first paint {ms('fcp_ms')}; "
            f"{result['html_bytes'] or 0:,} bytes of HTML, {result['rows_in_page']} tree rows; measured to "
            f"{result['measured_to']}",
            *_keep_alive(result.get("keep_alive")),
            f"      bar: usable in under {BAR_MS:.0f} ms: {'PASS' if result['pass'] else 'MISS'}"]


def _keep_alive(probe: dict[str, float] | None) -> list[str]:
    if not probe:
        return []
    late = probe["kept_alive_ms"] - probe["new_connection_ms"]
    note = ""
    if late > 20:  # every client that keeps its connection (a script's session) waits for it
        note = (f": {late:.0f} ms late, as when Nagle's algorithm meets delayed ACK (no TCP_NODELAY on the "
                "hub's connections)")
    return [f"      GET /api/health: {probe['new_connection_ms']:.1f} ms on a new connection, "
            f"{probe['kept_alive_ms']:.1f} ms on a kept-alive one{note}"]
