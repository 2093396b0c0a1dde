"""The README's short table comes straight from a results file."""

from __future__ import annotations

from bench.summary import summary


def row(query: str, peer: str, concurrency: int, rps: float, **extra: object) -> dict[str, object]:
    return {
        "query": query,
        "peer": peer,
        "concurrency": concurrency,
        "rps": rps,
        "p50_ms": 2.0,
        "p99_ms": 5.0,
        **extra,
    }


def test_one_row_per_query_and_concurrency_with_peers_side_by_side() -> None:
    table = summary(
        [
            row("heavy", "ordergraph x1", 4, 25.0, statements_per_request=5.0),
            row("heavy", "ordergraph x2", 4, 45.0),
            row("heavy", "postgraphile", 4, 50.0),
            row("heavy", "floor", 4, 200.0),
            row("cached", "ordergraph x1", 4, 400.0),
            row("cached", "ordergraph x1 cold", 4, 20.0),
        ]
    )
    lines = table.splitlines()
    assert len(lines) == 4  # header, rule, two rows
    assert lines[2] == "| heavy | 4 | 25 | 45 | 50 | 200 | 0.50x | 2.0 / 5.0 | 5.00 |"
    assert lines[3] == "| cached | 4 | 400 (cold 20) | n/a | n/a | n/a | n/a | 2.0 / 5.0 | n/a |"
