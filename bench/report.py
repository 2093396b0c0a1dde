"""Figures: medians over repeats, ratios within one run, the issue's targets, the table."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from bench.servers import LIMITS_OFF, LIMITS_ON
from bench.wrk import WrkRun

OURS = "ordergraph x1"
PEER = "postgraphile"
FLOOR = "floor"
COLD = "ordergraph x1 cold"


@dataclass(frozen=True)
class Wire:
    """What one request costs on the wire to PostgreSQL."""

    statements: float
    control: float
    rows: float


@dataclass
class Result:
    query: str
    peer: str
    concurrency: int
    runs: list[WrkRun] = field(default_factory=list)
    wire: Wire | None = None
    peak_rss_mib: float | None = None
    read_path: str | None = None
    """Which of ordergraph's read paths served it (its x-read-path header): plan, executor."""

    @property
    def rps(self) -> float:
        return median([r.rps for r in self.runs])

    @property
    def p50_ms(self) -> float:
        return median([r.p50_ms for r in self.runs])

    @property
    def p99_ms(self) -> float:
        return median([r.p99_ms for r in self.runs])

    def as_json(self) -> dict[str, object]:
        return {
            "query": self.query,
            "peer": self.peer,
            "concurrency": self.concurrency,
            "rps": self.rps,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "runs": [
                {"rps": r.rps, "p50_ms": r.p50_ms, "p99_ms": r.p99_ms, "requests": r.requests}
                for r in self.runs
            ],
            "statements_per_request": self.wire.statements if self.wire else None,
            "control_per_request": self.wire.control if self.wire else None,
            "rows_per_request": self.wire.rows if self.wire else None,
            "peak_rss_mib": self.peak_rss_mib,
            "read_path": self.read_path,
        }


@dataclass(frozen=True)
class Target:
    name: str
    met: bool
    detail: str


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ratio(results: list[Result], result: Result, against: str) -> float | None:
    """`result`'s req/s over `against`'s for the same query and concurrency."""
    other = find(results, result.query, against, result.concurrency)
    if other is None or not other.runs or other.rps == 0:
        return None
    return result.rps / other.rps


def find(results: list[Result], query: str, peer: str, concurrency: int) -> Result | None:
    for result in results:
        if (result.query, result.peer, result.concurrency) == (query, peer, concurrency):
            return result
    return None


def targets(results: list[Result], *, moderate: int) -> list[Target]:
    """The issue's targets that this run's results can decide."""
    found: list[Target] = []
    concurrencies = sorted({r.concurrency for r in results})
    for result in results:
        if result.peer == OURS and result.query == "heavy" and result.wire is not None:
            found.append(
                Target(
                    "heavy: SQL statements per request <= 5",
                    result.wire.statements <= 5,
                    f"{result.wire.statements:.1f}",
                )
            )
            break
    for query, least in (("user(id)", 1.0), ("products(first: 50)", 1.0), ("heavy", 0.5)):
        for c in concurrencies:
            ours, peer = find(results, query, OURS, c), find(results, query, PEER, c)
            if ours is None or peer is None:
                continue
            have = ours.rps / peer.rps
            found.append(
                Target(
                    f"{query} c={c}: {OURS} >= {least:g}x {PEER} req/s",
                    have >= least,
                    f"{ours.rps:.0f} vs {peer.rps:.0f} req/s ({have:.2f}x)",
                )
            )
    for c in concurrencies:
        warm, cold = (
            find(results, "cached fields", OURS, c),
            find(results, "cached fields", COLD, c),
        )
        if warm is None or cold is None:
            continue
        found.append(
            Target(
                f"cached fields c={c}: warm >= 5x cold req/s",
                warm.rps >= 5 * cold.rps,
                f"{warm.rps:.0f} vs {cold.rps:.0f} req/s ({warm.rps / cold.rps:.1f}x)",
            )
        )
        if warm.wire is not None and c == concurrencies[0]:
            found.append(
                Target(
                    "cached fields: 0 SQL statements per warm request",
                    warm.wire.statements == 0,
                    f"{warm.wire.statements:.2f}",
                )
            )
    for result in results:
        if result.peer == OURS and result.concurrency == moderate and result.runs:
            found.append(
                Target(
                    f"{result.query} c={moderate}: p99 <= 2x p50",
                    0 < result.p99_ms <= 2 * result.p50_ms,
                    f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms",
                )
            )
    return found


COLUMNS = (
    "query",
    "peer",
    "c",
    "req/s",
    "p50 ms",
    "p99 ms",
    "stmts/req",
    "ctl/req",
    "rows/req",
    "peak RSS MiB",
    "vs PostGraphile",
    "vs floor",
)


def rows(results: list[Result]) -> list[list[str]]:
    def number(value: float | None, digits: int = 1) -> str:
        return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"

    def times(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2f}x"

    table = []
    for r in results:
        wire = r.wire
        table.append(
            [
                r.query,
                r.peer,
                str(r.concurrency),
                number(r.rps, 0),
                number(r.p50_ms, 2),
                number(r.p99_ms, 2),
                number(wire.statements if wire else None, 2),
                number(wire.control if wire else None, 2),
                number(wire.rows if wire else None, 1),
                number(r.peak_rss_mib, 0),
                times(ratio(results, r, PEER)),
                times(ratio(results, r, FLOOR)),
            ]
        )
    return table


def text_table(results: list[Result]) -> str:
    body = rows(results)
    widths = [max(len(line[i]) for line in [list(COLUMNS), *body]) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True))
        for line in [list(COLUMNS), *body]
    ]
    return "\n".join(lines)


def markdown_table(results: list[Result]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(line) + " |" for line in rows(results)]
    return "\n".join(lines)


def targets_text(found: list[Target]) -> str:
    return "\n".join(f"{'met   ' if t.met else 'MISSED'}  {t.name}: {t.detail}" for t in found)


def limits_ratio(results: list[Result]) -> str:
    """Throughput with the cost and rate limits on over that with them off, per query
    and concurrency (issue 15: within 5%, a ratio of 0.95 or more). The runs were taken
    in turn (off, on, off, on, ...), so each pair shared the machine's load of its
    moment: the verdict is the median of the paired ratios, with their spread beside it."""
    lines = ["Limits on / off (req/s; ratio = median of the paired runs' ratios):"]
    for off in (r for r in results if r.peer == LIMITS_OFF):
        on = find(results, off.query, LIMITS_ON, off.concurrency)
        if on is None or not off.rps:
            continue
        pairs = [b.rps / a.rps for a, b in zip(off.runs, on.runs, strict=False) if a.rps]
        ratio = median(pairs) if pairs else on.rps / off.rps
        spread = f"{min(pairs):.2f}-{max(pairs):.2f}" if pairs else "-"
        verdict = "within 5%" if ratio >= 0.95 else "MORE THAN 5% SLOWER"
        lines.append(
            f"  {off.query:22} c={off.concurrency:<3} off {off.rps:8.0f}  on {on.rps:8.0f}"
            f"  ratio {ratio:.3f} (pairs {spread}, n={len(pairs)})  {verdict}"
        )
    return "\n".join(lines)
