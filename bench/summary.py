"""The short table for the README: one row per query and concurrency, peers side by side.

    python -m bench.summary bench/results/2026-11-25.json

Reads a results file (the suite's JSON) and prints a markdown table and the machine
line, so the README's table always comes from a recorded run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

PEERS = ("ordergraph x1", "ordergraph x2", "postgraphile", "floor")


def _rps(rows: dict[tuple[str, str, int], dict[str, Any]], key: tuple[str, str, int]) -> str:
    row = rows.get(key)
    return f"{row['rps']:,.0f}" if row else "n/a"


def summary(results: list[dict[str, Any]]) -> str:
    """req/s of each peer, ordergraph x1 against PostGraphile, x1's latency and SQL."""
    rows = {(r["query"], r["peer"], r["concurrency"]): r for r in results}
    order: list[tuple[str, int]] = []
    for r in results:
        if (r["query"], r["concurrency"]) not in order:
            order.append((r["query"], r["concurrency"]))
    lines = [
        "| query | c | ordergraph x1 | x2 | PostGraphile | floor | x1 / PostGraphile "
        "| x1 p50 / p99 ms | x1 SQL stmts/req |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for query, concurrency in order:
        ours = rows.get((query, "ordergraph x1", concurrency))
        peer = rows.get((query, "postgraphile", concurrency))
        versus = f"{ours['rps'] / peer['rps']:.2f}x" if ours and peer and peer["rps"] else "n/a"
        latency = f"{ours['p50_ms']:.1f} / {ours['p99_ms']:.1f}" if ours else "n/a"
        statements = ours.get("statements_per_request") if ours else None
        cells = [_rps(rows, (query, name, concurrency)) for name in PEERS]
        cold = rows.get((query, "ordergraph x1 cold", concurrency))
        if cold:
            cells[0] += f" (cold {cold['rps']:,.0f})"
        sql = f"{statements:.2f}" if statements is not None else "n/a"
        lines.append(
            f"| {query} | {concurrency} | "
            + " | ".join(cells)
            + f" | {versus} | {latency} | {sql} |"
        )
    return "\n".join(lines)


def machine_line(machine: dict[str, Any]) -> str:
    return (
        f"{machine.get('cpus')} x {machine.get('cpu')}, {machine.get('memory_gib')} GiB, "
        f"Python {machine.get('python')}, Node {machine.get('node')}, PostgreSQL "
        f"{str(machine.get('postgresql', '')).split(' ')[0]}, Redis "
        f"{'on' if machine.get('redis') else 'off'}, commit {machine.get('commit')}"
    )


def main() -> None:
    data = json.loads(Path(sys.argv[1]).read_text())
    print(machine_line(data["machine"]) + "\n")
    print(summary(data["results"]))


if __name__ == "__main__":
    main()
