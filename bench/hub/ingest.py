"""How fast a hub takes nodes: batches of 1,000 node objects (the shape gator_hub/tracking.py
sends) POSTed to ``/api/ingest/runs/{id}/nodes`` after ``PUT /api/ingest/runs/{id}``,
first as new nodes, then the same batches again (a live run sends each node more than
once: started, finished, then the whole tree at its end)."""

from __future__ import annotations

import json
import random
import time
from typing import Any

from common import Hub, median, say
from shapes import nightly


def one_round(hub: Hub, rng: random.Random, nodes: int, batch: int) -> dict[str, Any]:
    run_id = f"{rng.getrandbits(128):032x}"
    jobs = max(1, nodes - 12)  # the top node, "regress" and ten arrays make up the rest
    run = nightly(rng, run_id, time.time() - 3600, jobs, fail_rate=0.03)
    bodies = [json.dumps(run.nodes[start:start + batch]).encode() for start in range(0, len(run.nodes), batch)]
    base = f"/api/ingest/runs/{run_id}"
    hub.json("PUT", base, run.record)
    out: dict[str, Any] = {"nodes": len(run.nodes), "requests": len(bodies),
                           "bytes_per_request": sum(map(len, bodies)) / len(bodies)}
    for phase in ("insert", "update"):
        latencies = []
        start = time.perf_counter()
        for body in bodies:
            status, answer, seconds = hub.request("POST", f"{base}/nodes", body)
            if status != 200:
                raise SystemExit(f"POST {base}/nodes: {status} {answer[:300]!r}")
            latencies.append(seconds)
        elapsed = time.perf_counter() - start
        out[phase] = {"seconds": elapsed, "nodes_per_s": len(run.nodes) / elapsed,
                      "median_request_ms": median(latencies) * 1000}
    hub.json("POST", f"{base}/finish", run.end)
    return out


def measure(hub: Hub, nodes: int, rounds: int, batch: int = 1000, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    one_round(hub, rng, min(nodes, 2 * batch), batch)  # warm-up, not counted
    results = []
    for round_ in range(rounds):
        result = one_round(hub, rng, nodes, batch)
        results.append(result)
        say(f"  round {round_ + 1} {hub.name}: new {result['insert']['nodes_per_s']:8,.0f} nodes/s, "
            f"again {result['update']['nodes_per_s']:8,.0f} nodes/s "
            f"({result['requests']} requests of {result['bytes_per_request'] / 1024:.0f} KiB)")
    return {
        "nodes": results[0]["nodes"], "batch": batch, "rounds": rounds,
        "bytes_per_request": results[0]["bytes_per_request"],
        "insert_nodes_per_s": [r["insert"]["nodes_per_s"] for r in results],
        "update_nodes_per_s": [r["update"]["nodes_per_s"] for r in results],
        "insert_median_nodes_per_s": median([r["insert"]["nodes_per_s"] for r in results]),
        "update_median_nodes_per_s": median([r["update"]["nodes_per_s"] for r in results]),
        "insert_median_request_ms": median([r["insert"]["median_request_ms"] for r in results]),
        "update_median_request_ms": median([r["update"]["median_request_ms"] for r in results]),
    }


def report(results: dict[str, dict[str, Any]]) -> list[str]:
    lines = []
    for label, result in results.items():
        if not lines:
            lines.append(f"Ingest rate: {result['nodes']:,} nodes a run in requests of {result['batch']:,} "
                         f"({result['bytes_per_request'] / 1024:.0f} KiB of JSON), median of {result['rounds']} "
                         "runs:")
        lines.append(f"  {label:<11} new nodes {result['insert_median_nodes_per_s']:9,.0f} nodes/s "
                     f"({result['insert_median_request_ms']:.0f} ms a request); the same nodes again "
                     f"{result['update_median_nodes_per_s']:9,.0f} nodes/s "
                     f"({result['update_median_request_ms']:.0f} ms a request)")
    return lines
