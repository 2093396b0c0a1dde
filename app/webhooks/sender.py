"""One HTTP POST to an endpoint, to the address the SSRF guard checked.

The request goes to the checked IP; the Host header and the TLS server name (SNI and
certificate check) are the URL's host. Connections are kept per (host, address), so a
connection made for one name never carries another's requests. Redirects are not
followed (a 3xx is a failure), proxies from the environment are not used, the answer is
read up to a cap, and the whole exchange has a deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass

import httpx

from app.webhooks.ssrf import Target

USER_AGENT = "ordergraph-webhooks/1"
MAX_CLIENTS = 256


@dataclass(frozen=True, slots=True)
class Answer:
    status_code: int | None
    latency_ms: int
    snippet: str | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Sender:
    def __init__(self, *, connect_timeout: float, timeout: float, keep_bytes: int) -> None:
        self.timeout = timeout
        self.keep_bytes = keep_bytes
        self._timeouts = httpx.Timeout(timeout, connect=connect_timeout)
        self._closing: set[asyncio.Future[None]] = set()
        self._clients: OrderedDict[tuple[str, str, str, int], httpx.AsyncClient] = OrderedDict()

    def _client(self, target: Target, address: str) -> httpx.AsyncClient:
        key = (target.scheme, target.host, address, target.port)
        client = self._clients.get(key)
        if client is None:
            client = httpx.AsyncClient(
                timeout=self._timeouts,
                follow_redirects=False,
                trust_env=False,
                limits=httpx.Limits(max_connections=4, max_keepalive_connections=2),
            )
            self._clients[key] = client
            if len(self._clients) > MAX_CLIENTS:
                _, oldest = self._clients.popitem(last=False)
                closing = asyncio.ensure_future(oldest.aclose())
                self._closing.add(closing)
                closing.add_done_callback(self._closing.discard)
        self._clients.move_to_end(key)
        return client

    async def post(
        self, target: Target, address: str, *, headers: dict[str, str], body: bytes
    ) -> Answer:
        host = f"[{address}]" if ":" in address else address
        url = f"{target.scheme}://{host}:{target.port}{target.path}"
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                async with self._client(target, address).stream(
                    "POST",
                    url,
                    content=body,
                    headers={
                        **headers,
                        "host": target.host_header,
                        "content-type": "application/json",
                        "user-agent": USER_AGENT,
                        "accept-encoding": "identity",
                    },
                    extensions=extensions,
                ) as response:
                    kept = bytearray()
                    async for chunk in response.aiter_raw():
                        kept += chunk
                        if len(kept) >= self.keep_bytes:
                            break
                    snippet = bytes(kept[: self.keep_bytes]).decode("utf-8", "replace")
                    return Answer(response.status_code, _since(started), snippet, None)
        except TimeoutError:
            return Answer(None, _since(started), None, f"no answer within {self.timeout:g} s")
        except httpx.HTTPError as exc:
            return Answer(None, _since(started), None, f"{type(exc).__name__}: {exc}"[:500])

    async def close(self) -> None:
        clients = list(self._clients.values())
        self._clients.clear()
        await asyncio.gather(*(client.aclose() for client in clients))


def _since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
