"""What every resolver sees: the request, this request's loaders and the settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.types import Info as StrawberryInfo

from app.loaders import Loaders
from app.settings import Settings


@dataclass(slots=True)
class Context:
    request: Request | WebSocket
    loaders: Loaders
    settings: Settings
    request_id: str = field(default="")
    # Look-ahead answers for this request's document (app.graphql.lookahead).
    lookahead: dict[tuple[object, ...], bool] = field(default_factory=dict)


Info = StrawberryInfo[Context, None]
