"""Closed-loop HTTP load from a separate process: wrk with a POST body from a Lua script."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class WrkRun:
    rps: float
    p50_ms: float
    p99_ms: float
    output: str


def run(
    url: str, body: dict[str, Any], headers: dict[str, str], *, connections: int, seconds: int
) -> WrkRun:
    lines = ['wrk.method = "POST"', 'wrk.headers["Content-Type"] = "application/json"']
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    lines.append(f"wrk.body = {json.dumps(json.dumps(body))}")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lines) + "\n")
    try:
        output = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "30s",
                "--latency",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        Path(script.name).unlink()
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    assert rps is not None, output
    return WrkRun(float(rps[1]), _latency(output, "50"), _latency(output, "99"), output)


def _latency(output: str, percent: str) -> float:
    found = re.search(rf"{percent}%\s+([\d.]+)(us|ms|s)\b", output)
    if found is None:
        return float("nan")
    value, unit = found.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
