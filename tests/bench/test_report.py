"""Medians, ratios and the issue's targets, from made-up runs."""

from __future__ import annotations

import pytest

from bench.report import COLD, FLOOR, OURS, PEER, Result, Wire, limits_ratio, ratio, targets
from bench.servers import LIMITS_OFF, LIMITS_ON
from bench.wrk import WrkRun


def result(
    query: str,
    peer: str,
    c: int,
    rps: list[float],
    p50: float = 2.0,
    p99: float = 3.0,
    **kw: object,
) -> Result:
    runs = [WrkRun(r, p50, p99, int(r), 0, "") for r in rps]
    return Result(query, peer, c, runs=runs, **kw)  # type: ignore[arg-type]


def test_figures_are_medians_over_repeats() -> None:
    r = result("heavy", OURS, 4, [100.0, 300.0, 120.0])
    assert r.rps == 120.0


def test_ratios_compare_within_the_same_query_and_concurrency() -> None:
    ours = result("heavy", OURS, 4, [50.0])
    results = [
        ours,
        result("heavy", PEER, 4, [100.0]),
        result("heavy", PEER, 32, [1000.0]),
        result("heavy", FLOOR, 4, [200.0]),
    ]
    assert ratio(results, ours, PEER) == pytest.approx(0.5)
    assert ratio(results, ours, FLOOR) == pytest.approx(0.25)
    assert ratio(results, result("other", OURS, 4, [1.0]), PEER) is None


def by_name(results: list[Result]) -> dict[str, bool]:
    return {t.name: t.met for t in targets(results, moderate=4)}


def test_targets_met() -> None:
    found = by_name(
        [
            result("heavy", OURS, 4, [60.0], wire=Wire(4, 2, 600)),
            result("heavy", PEER, 4, [100.0]),
            result("user(id)", OURS, 4, [2000.0]),
            result("user(id)", PEER, 4, [1900.0]),
            result("cached fields", OURS, 4, [1000.0], wire=Wire(0, 0, 0)),
            result("cached fields", COLD, 4, [100.0]),
        ]
    )
    assert found == {
        "heavy: SQL statements per request <= 5": True,
        f"user(id) c=4: {OURS} >= 1x {PEER} req/s": True,
        f"heavy c=4: {OURS} >= 0.5x {PEER} req/s": True,
        "cached fields c=4: warm >= 5x cold req/s": True,
        "cached fields: 0 SQL statements per warm request": True,
        "heavy c=4: p99 <= 2x p50": True,
        "user(id) c=4: p99 <= 2x p50": True,
        "cached fields c=4: p99 <= 2x p50": True,
    }


def test_targets_missed() -> None:
    found = by_name(
        [
            result("heavy", OURS, 4, [40.0], p50=10.0, p99=25.0, wire=Wire(6, 0, 600)),
            result("heavy", PEER, 4, [100.0]),
            result("products(first: 50)", OURS, 32, [900.0]),
            result("products(first: 50)", PEER, 32, [1000.0]),
            result("cached fields", OURS, 4, [400.0], p99=9.0, wire=Wire(1, 0, 10)),
            result("cached fields", COLD, 4, [100.0]),
        ]
    )
    assert not any(found.values())
    assert f"products(first: 50) c=32: {OURS} >= 1x {PEER} req/s" in found


def test_limits_verdict_is_the_median_of_paired_ratios() -> None:
    # Taken in turn: the second pair fell on a busy moment for both alike. The ratio of
    # the medians (1100 / 1000 against 1000 / 1100) would be unfair either way.
    off = result("user(id)", LIMITS_OFF, 4, [1000.0, 500.0, 1100.0])
    on = result("user(id)", LIMITS_ON, 4, [980.0, 490.0, 1000.0])
    text = limits_ratio([off, on])
    assert "ratio 0.980 (pairs 0.91-0.98, n=3)  within 5%" in text
    slower = result("user(id)", LIMITS_ON, 4, [900.0, 450.0, 1000.0])
    assert "ratio 0.900" in limits_ratio([off, slower])
    assert "MORE THAN 5% SLOWER" in limits_ratio([off, slower])
