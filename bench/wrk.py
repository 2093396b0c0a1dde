"""Closed-loop HTTP load from a separate process: wrk, with the bodies in a Lua script.

The script picks one of the request bodies at random for each request (point lookups
with random ids) and counts responses that are not 200 or that carry GraphQL errors, so
a server that fails fast cannot pass for a fast one.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Any

_LUA = """
bodies = {%(bodies)s}
headers = {%(headers)s}
failed = 0
errored = 0
threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  requests = {}
  for i, body in ipairs(bodies) do
    requests[i] = wrk.format("POST", nil, headers, body)
  end
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function request()
  return requests[math.random(#requests)]
end

function response(status, response_headers, body)
  if status ~= 200 then
    failed = failed + 1
  elseif string.find(body, '"errors"', 1, true) then
    errored = errored + 1
  end
end

function done(summary, latency, requests)
  local f, e = 0, 0
  for _, thread in ipairs(threads) do
    f = f + thread:get("failed")
    e = e + thread:get("errored")
  end
  io.write(string.format("bench: failed %%d errored %%d\\n", f, e))
end
"""


@dataclass(frozen=True)
class WrkRun:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    failed: int
    """Responses that were not 200, GraphQL errors, or timed out."""
    output: str


def ensure_installed() -> None:
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed and apt-get could not install it")


def script(bodies: list[dict[str, Any]], headers: dict[str, str]) -> str:
    def lua_string(value: str) -> str:
        # A JSON string literal is a Lua string literal as long as it is ASCII.
        return json.dumps(value, ensure_ascii=True)

    all_headers = {"Content-Type": "application/json", **headers}
    return _LUA % {
        "bodies": ", ".join(lua_string(json.dumps(body)) for body in bodies),
        "headers": ", ".join(
            f"[{lua_string(k)}] = {lua_string(v)}" for k, v in all_headers.items()
        ),
    }


async def run(
    url: str,
    bodies: list[dict[str, Any]],
    headers: dict[str, str],
    *,
    connections: int,
    seconds: int,
) -> WrkRun:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script(bodies, headers))
    try:
        process = await asyncio.create_subprocess_exec(
            "wrk",
            f"-t{min(2, connections)}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "30s",
            "--latency",
            "-s",
            file.name,
            url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
    finally:
        os.unlink(file.name)
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed: {err.decode()}")
    return parse(out.decode())


def parse(output: str) -> WrkRun:
    """Read wrk's --latency report and the script's failure count."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    if rps is None or total is None:
        raise ValueError(f"not a wrk report: {output[:500]}")
    counted = re.search(r"bench: failed (\d+) errored (\d+)", output)
    failed = int(counted[1]) + int(counted[2]) if counted else 0
    timeouts = re.search(r"Socket errors:.*timeout (\d+)", output)
    failed += int(timeouts[1]) if timeouts else 0
    return WrkRun(
        rps=float(rps[1]),
        p50_ms=_latency(output, "50"),
        p99_ms=_latency(output, "99"),
        requests=int(total[1]),
        failed=failed,
        output=output,
    )


def _latency(output: str, percent: str) -> float:
    found = re.search(rf"^\s*{percent}(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\b", output, re.MULTILINE)
    if found is None:
        return float("nan")
    value, unit = found.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]
