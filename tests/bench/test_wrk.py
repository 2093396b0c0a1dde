"""Reading wrk's report, and the Lua script it runs."""

from __future__ import annotations

import math

import pytest

from bench import wrk

REPORT = """Running 5s test @ http://127.0.0.1:8011/graphql
  2 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.10ms    1.20ms  25.41ms   90.00%
    Req/Sec   512.00     40.00   600.00     70.00%
  Latency Distribution
     50%    2.85ms
     75%    3.40ms
     90%    4.10ms
     99%  812.00us
  5110 requests in 5.00s, 10.20MB read
  Socket errors: connect 0, read 0, write 0, timeout 2
  Non-2xx or 3xx responses: 3
Requests/sec:   1021.83
Transfer/sec:      2.04MB
bench: failed 3 errored 4
"""


def test_parse_reads_rate_latencies_and_failures() -> None:
    run = wrk.parse(REPORT)
    assert run.rps == pytest.approx(1021.83)
    assert run.p50_ms == pytest.approx(2.85)
    assert run.p99_ms == pytest.approx(0.812)
    assert run.requests == 5110
    assert run.failed == 3 + 4 + 2


def test_parse_reads_seconds() -> None:
    run = wrk.parse(REPORT.replace("2.85ms", "1.50s").replace("bench: failed 3 errored 4", ""))
    assert run.p50_ms == pytest.approx(1500.0)
    assert run.failed == 2


def test_parse_without_a_distribution_gives_nan() -> None:
    run = wrk.parse("  0 requests in 1.00s, 0B read\nRequests/sec:      0.00\n")
    assert run.requests == 0
    assert math.isnan(run.p50_ms)


def test_parse_refuses_what_is_not_a_report() -> None:
    with pytest.raises(ValueError, match="not a wrk report"):
        wrk.parse("unable to connect to 127.0.0.1:1 Connection refused")


def test_script_embeds_every_body_and_header() -> None:
    lua = wrk.script(
        [{"query": 'query { user(id: "a") { name } }'}, {"query": "{ b }"}],
        {"authorization": "Bearer t"},
    )
    assert r'"{\"query\": \"query { user(id: \\\"a\\\") { name } }\"}"' in lua
    assert r'"{\"query\": \"{ b }\"}"' in lua
    assert '["authorization"] = "Bearer t"' in lua
    assert "string.find(body, '\"errors\"', 1, true)" in lua
