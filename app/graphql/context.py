"""What every resolver sees: who asks, this request's loaders, and where to write."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.types import Info as StrawberryInfo

from app.auth.authenticate import Authenticator
from app.auth.viewer import RequestMeta, Viewer
from app.cache.fields import FieldCache, Reads
from app.loaders import Loaders
from app.settings import Settings


@dataclass(slots=True)
class Context:
    request: Request | WebSocket
    loaders: Loaders
    settings: Settings
    viewer: Viewer
    meta: RequestMeta
    writer: AsyncEngine
    authenticator: Authenticator
    # Look-ahead answers for this request's document (app.graphql.lookahead).
    lookahead: dict[tuple[object, ...], bool] = field(default_factory=dict)
    # WebSocket only: connection_init's payload, and a bad Authorization header.
    connection_params: dict[str, object] | None = None
    header_auth_error: str | None = None
    # The bearer credential the viewer came from, to check it again on long connections.
    credential: str | None = None
    # Set once the document passed validation and the operation is about to run: single
    # connection SSE answers 202 then, and the errors before it as the POST's answer.
    validated: asyncio.Event | None = None
    _cache_reads: Reads | None = None
    # What the field cache did for this operation (see app.graphql.caching.CacheTrace).
    cache_trace: list[dict[str, object]] = field(default_factory=list)
    # Nodes built for this operation that many parents share (a product on many order
    # lines), by (type, primary key): built once, not per parent.
    shared_nodes: dict[tuple[str, object], object] = field(default_factory=dict)
    # The primary's WAL position after this request's last commit (read-your-writes on
    # replicas: app.db.replicas); None when it wrote nothing or there are no replicas.
    commit_lsn: int | None = None
    # This operation's static cost (app.graphql.cost), once its document is validated.
    cost: int | None = None

    @property
    def request_id(self) -> str:
        return self.meta.request_id or ""

    @property
    def field_cache(self) -> FieldCache:
        cache: FieldCache = self.request.app.state.field_cache
        return cache

    @property
    def cache_reads(self) -> Reads:
        """This operation's batched cache reads (made on first use)."""
        if self._cache_reads is None:
            self._cache_reads = Reads(self.field_cache.store)
        return self._cache_reads

    def for_operation(self) -> Context:
        """A copy for one operation on a long connection (a WebSocket runs many, some at
        once): its own loaders and memos, so operations never share cached rows or clear
        each other's, and its own viewer to check the credential again without touching
        the others'."""
        return dataclasses.replace(
            self,
            loaders=Loaders(self.loaders.engine),
            lookahead={},
            cache_trace=[],
            shared_nodes={},
            _cache_reads=None,
        )

    def fresh_reads(self) -> None:
        """Forget what this operation read: each event of a subscription shows the data
        as it is when the event is delivered, not as an earlier event found it."""
        self.loaders = Loaders(self.loaders.engine)
        self.shared_nodes = {}
        self.cache_trace = []

    def relay_kick(self) -> None:
        """After a commit: let this process's relay publish the change at once."""
        relay = getattr(self.request.app.state, "relay", None)
        if relay is not None:
            relay.kick()


Info = StrawberryInfo[Context, None]
