"""GraphQL over HTTP: content negotiation, status codes, JSON errors, per-request context.

Follows the GraphQL-over-HTTP spec: GET for queries, POST for everything; a client
that accepts application/graphql-response+json gets it, with 400 for a request that
could not run (parse or validation errors); application/json always answers 200.
"""

from __future__ import annotations

import asyncio
import weakref
from functools import cached_property
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult, SubscriptionExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UnsetType

from app.auth.viewer import ANONYMOUS, RequestMeta
from app.console.pages import page_response
from app.db.replicas import LSN_HEADER, Replicas, format_lsn, parse_lsn
from app.errors import BadInput, ServiceUnavailable, Unauthenticated
from app.graphql import multipart, sse
from app.graphql.budget import RATE_LIMITED
from app.graphql.context import Context
from app.graphql.persisted import (
    GET_VARY,
    PersistedDocuments,
    document_id_of,
    get_cache_control,
)
from app.graphql.plan import serve as planned
from app.graphql.plan.run import Plans
from app.graphql.websocket import (
    LegacyWSHandler,
    TextFrameAdapter,
    TransportWSHandler,
    go_away,
    open_sockets,
)
from app.loaders import Loaders
from app.web.errors import domain_error_response, error_response
from app.web.requests import request_id as request_id_of

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
_MEDIA_TYPE = "og_media_type"


def negotiate(accept: str | None) -> str:
    """application/graphql-response+json when the client prefers it, else JSON."""
    if not accept:
        return JSON
    weights: dict[str, float] = {}
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        weights[media.strip().lower()] = quality
    preferred = weights.get(GRAPHQL_RESPONSE, 0.0)
    return GRAPHQL_RESPONSE if preferred > 0 and preferred >= weights.get(JSON, 0.0) else JSON


class AuthenticationFailed(HTTPException):
    """Bad credentials end the request before anything runs: 401, with the reason."""

    def __init__(self, error: Unauthenticated) -> None:
        super().__init__(401, error.message)


SUBSCRIPTION_TRANSPORTS = (
    "A subscription streams many results, which a plain JSON response cannot carry: "
    "subscribe over a WebSocket at this path, with the graphql-transport-ws or graphql-ws "
    "subprotocol; as Server-Sent Events (graphql-sse: POST here with Accept: "
    "text/event-stream); or as an Apollo multipart subscription, with "
    "'Accept: multipart/mixed;subscriptionSpec=\"1.0\"'."
)


class MethodNotAllowed(HTTPException):
    """405, with the methods that would have been allowed."""

    def __init__(self, reason: str, *, allow: str) -> None:
        super().__init__(405, reason)
        self.allow = allow


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is limited to {limit} bytes.")


class UploadTooLarge(BodyTooLarge):
    code = "PAYLOAD_TOO_LARGE"

    def __init__(self, limit: int) -> None:
        HTTPException.__init__(
            self,
            413,
            f"An upload is limited to {limit} bytes (MAX_IMPORT_BYTES); split the file, or "
            "run `ordergraph import` where the file is.",
        )


# A multipart body is a "simple" request a browser sends cross-site without asking, so a
# form on another site could post one with the admin's cookies or credentials. As Apollo
# Server's CSRF prevention: an upload must carry one of these headers, which no simple
# request may, so a browser asks the server first (CORS) and the server says no.
PREFLIGHT_HEADERS = ("apollo-require-preflight", "x-apollo-operation-name")
PREFLIGHT_REQUIRED = (
    "This multipart request was refused as a possible cross-site request forgery: send a "
    "non-empty Apollo-Require-Preflight (or x-apollo-operation-name) "
    "header with uploads."
)


class Refused(HTTPException):
    """An HTTP refusal with its own code."""

    def __init__(self, status: int, code: str, reason: str) -> None:
        super().__init__(status, reason)
        self.code = code


async def _check_upload(request: Request) -> None:
    """Uploads are admins' (the import mutations), behind a preflight header: refused
    before their body is read, so nobody else makes the server spool a large file."""
    if not any(request.headers.get(name) for name in PREFLIGHT_HEADERS):
        raise Refused(400, "PREFLIGHT_REQUIRED", PREFLIGHT_REQUIRED)
    try:
        viewer = await request.app.state.authenticator.viewer(request.headers.get("authorization"))
    except Unauthenticated as exc:
        raise AuthenticationFailed(exc) from None
    if not viewer.is_admin:
        raise Refused(
            401 if viewer.is_anonymous else 403,
            "UNAUTHENTICATED" if viewer.is_anonymous else "FORBIDDEN",
            "File uploads (importProducts, importUsers) are for admins: send an admin's "
            "Authorization: Bearer <token>.",
        )


def is_upload(request: Request) -> bool:
    return request.method == "POST" and request.headers.get("content-type", "").lower().startswith(
        "multipart/form-data"
    )


class LimitedBody:
    """The request body, refused with BodyTooLarge as soon as more than `limit` bytes
    arrive, whether it is sent with a Content-Length or in chunks."""

    def __init__(
        self, receive: Receive, limit: int, too_large: type[BodyTooLarge] = BodyTooLarge
    ) -> None:
        self._receive = receive
        self.limit = limit
        self.too_large = too_large
        self.received = 0
        self.complete = False

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            self.complete = not message.get("more_body", False)
            if self.received > self.limit:
                raise self.too_large(self.limit)
        elif message["type"] == "http.disconnect":
            self.complete = True
        return message

    async def drain(self) -> bool:
        """Read and drop the rest of a refused body, within bounds, so that a client
        that sends its whole body before reading the answer reads the 413 (closing with
        a body unread resets the connection, and the answer with it). True when the
        body was read to its end."""
        budget = _DRAIN_FACTOR * self.limit
        try:
            async with asyncio.timeout(_DRAIN_SECONDS):
                while not self.complete and budget > 0:
                    message = await self._receive()
                    if message["type"] != "http.request":
                        return False
                    budget -= len(message.get("body", b""))
                    self.complete = not message.get("more_body", False)
        except TimeoutError:
            return False
        return self.complete


# A refused body is read on for at most this many times the limit, and this long.
_DRAIN_FACTOR = 8
_DRAIN_SECONDS = 10.0


def _declared_length(request: Request) -> int:
    try:
        return int(request.headers.get("content-length") or 0)
    except ValueError:
        raise HTTPException(400, "Content-Length must be a number of bytes.") from None


async def _reader(request: Request | WebSocket) -> AsyncEngine:
    """Where this request's reads go: a replica for queries over plain HTTP when one is
    usable (and has the caller's X-Ordergraph-LSN), else the primary. WebSockets and
    HTTP event streams carry subscriptions, which stay on the primary."""
    state = request.app.state
    replicas: Replicas | None = state.replicas
    if replicas is None or isinstance(request, WebSocket) or _streams(request):
        return state.reader  # type: ignore[no-any-return]
    header = request.headers.get(LSN_HEADER)
    try:
        min_lsn = parse_lsn(header) if header else None
    except BadInput as exc:
        raise Refused(400, exc.code, exc.message) from None
    return await replicas.reader(min_lsn=min_lsn) or state.reader


def _streams(request: Request) -> bool:
    accept = request.headers.get("accept", "").lower()
    return "text/event-stream" in accept or "multipart/mixed" in accept


class GraphQLApp(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler
    websocket_adapter_class = TextFrameAdapter

    @cached_property
    def sse_streams(self) -> sse.StreamSlots:
        return sse.StreamSlots()

    @cached_property
    def open_sockets(self) -> weakref.WeakSet[TextFrameAdapter]:
        return open_sockets()

    async def close_sockets(self) -> None:
        """Graceful shutdown: every WebSocket closes with 1001 (going away)."""
        await go_away(self.open_sockets)

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        state = request.app.state
        request_id = request_id_of(request)
        if isinstance(response, Response):
            response.headers["x-request-id"] = request_id
        header_auth_error = None
        try:
            viewer = await state.authenticator.viewer(request.headers.get("authorization"))
        except Unauthenticated as exc:
            if not isinstance(request, WebSocket):
                raise AuthenticationFailed(exc) from None
            # A WebSocket is refused in on_ws_connect, with the protocol's close code.
            viewer, header_auth_error = ANONYMOUS, exc.message
        return Context(
            request=request,
            loaders=Loaders(await _reader(request)),
            settings=state.settings,
            viewer=viewer,
            meta=RequestMeta(
                request_id=request_id,
                client_addr=request.client.host if request.client else None,
                user_agent=request.headers.get("user-agent"),
            ),
            writer=state.engine,
            authenticator=state.authenticator,
            header_auth_error=header_auth_error,
            credential=request.headers.get("authorization") if header_auth_error is None else None,
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL from the console's build (app/console), not Strawberry's CDN page."""
        return page_response("graphiql.html")

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """connection_init: its `authorization` (else the handshake's header) names the
        viewer for the whole connection; bad credentials close it with 4403."""
        params = context.connection_params or {}
        credential = params.get("authorization") or params.get("Authorization")
        if credential is not None:
            try:
                context.viewer = await context.authenticator.viewer(str(credential))
            except Unauthenticated as exc:
                raise ConnectionRejectionError({"reason": exc.message}) from None
            context.credential = str(credential)
        elif context.header_auth_error is not None:
            raise ConnectionRejectionError({"reason": context.header_auth_error})
        return None

    @cached_property
    def plans(self) -> Plans:
        return Plans(self.schema._schema, self.schema.documents)  # type: ignore[attr-defined]

    @cached_property
    def multipart_streams(self) -> multipart.StreamSlots:
        return multipart.StreamSlots()

    async def execute_operation(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Response,
    ) -> ExecutionResult | list[ExecutionResult] | SubscriptionExecutionResult:
        if multipart.requested(request_data):
            # Refused (429) before the stream starts when the caller holds too many.
            self.multipart_streams.reserve(context, sub_response)
        try:
            result = await super().execute_operation(
                request, request_adapter, request_data, context, root_value, sub_response
            )
        except BaseException:
            multipart.release(sub_response)
            raise
        if context.commit_lsn is not None:
            sub_response.headers[LSN_HEADER] = format_lsn(context.commit_lsn)
        return result

    async def _create_streaming_response(
        self,
        request: Request,
        result: SubscriptionExecutionResult,
        protocol: Any,
        sub_response: Response,
    ) -> Response:
        if protocol == multipart.PROTOCOL:
            return multipart.respond(self, request, result, sub_response)
        return await super()._create_streaming_response(request, result, protocol, sub_response)

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """One result as plain JSON (GET or POST).

        A subscription is refused with the transports that carry it, instead of running
        it as a query (a null answer that looked like a bug on our side); streaming
        transports, once enabled, are answered before this, by strawberry's
        schema.stream. A mutation sent with GET is 405 with `Allow: POST`, as the
        GraphQL-over-HTTP spec asks."""
        method = request_adapter.method
        allowed = OperationType.from_http(method) - {OperationType.SUBSCRIPTION}
        if not self.allow_queries_via_get and method == "GET":
            allowed -= {OperationType.QUERY}
        try:
            result = await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            )
        except CannotGetOperationTypeError as exc:
            raise HTTPException(400, exc.as_http_error_reason()) from None
        except InvalidOperationTypeError as exc:
            if exc.operation_type is OperationType.SUBSCRIPTION:
                raise HTTPException(400, SUBSCRIPTION_TRANSPORTS) from None
            if method == "GET":
                raise MethodNotAllowed(exc.as_http_error_reason(method), allow="POST") from None
            raise HTTPException(400, exc.as_http_error_reason(method)) from None
        except MissingQueryError:
            raise HTTPException(400, "No GraphQL query found in the request") from None
        for error in result.errors or ():
            if (error.extensions or {}).get("code") == RATE_LIMITED:
                sub_response.status_code = 429
                sub_response.headers["retry-after"] = str(error.extensions["retryAfter"])  # type: ignore[index]
        if method == "GET":
            sub_response.headers["cache-control"] = get_cache_control(
                ok=not result.errors,
                anonymous=context.viewer.is_anonymous,
                max_age=context.settings.get_cache_max_age_seconds,
            )
            sub_response.headers["vary"] = GET_VARY
        return result

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        response = await super().get_sub_response(request)
        setattr(response, _MEDIA_TYPE, negotiate(request.headers.get("accept")))
        return response

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        processed = process_result(result)
        if result.data is None and result.errors and all(e.path is None for e in result.errors):
            # A request error: nothing ran, so the spec says there is no data key.
            processed.pop("data", None)
        return processed

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        media_type = getattr(sub_response, _MEDIA_TYPE, JSON)
        response.headers["content-type"] = f"{media_type}; charset=utf-8"
        if (
            media_type == GRAPHQL_RESPONSE
            and response.status_code == 200
            and isinstance(response_data, dict)
            and "data" not in response_data
        ):
            response.status_code = 400
        return response

    def encode_json(self, data: object) -> bytes:
        # HTTP bodies only: WebSocket messages are text frames (TextFrameAdapter).
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        # orjson refuses invalid UTF-8, lone surrogates and nesting deeper than 1024 with a
        # JSONDecodeError, which the view answers with a 400.
        return orjson.loads(data)

    def should_render_graphql_ide(self, request: Any) -> bool:
        """Not for a GET that names a persisted document: Apollo's link sends those with
        `Accept: */*`, which would otherwise be answered with GraphiQL."""
        params = request.query_params
        return (
            "extensions" not in params
            and "documentId" not in params
            and super().should_render_graphql_ide(request)
        )

    async def parse_http_body(self, request: Any) -> Any:
        try:
            data = await super().parse_http_body(request)
        except (AttributeError, TypeError):
            raise HTTPException(
                400, 'The request body must be a JSON object: {"query": "...", "variables": {}}.'
            ) from None
        if isinstance(data, GraphQLRequestData):
            persisted: PersistedDocuments = self.schema.persisted  # type: ignore[attr-defined]
            document_id = None
            if data.query is None and persisted.manifest:
                body = None if request.method == "GET" else await request.get_body()
                document_id = await document_id_of(request.method, request.query_params, body)
            if data.extensions or document_id is not None:
                data = await persisted.resolve(data, document_id=document_id)
        return data

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Like strawberry's, but a malformed HTTP request gets a JSON error body, and
        the body is limited to MAX_BODY_BYTES however it is sent (an upload: to
        MAX_IMPORT_BYTES, its other parts to Starlette's 1 MiB per part)."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        settings = scope["app"].state.settings
        upload = is_upload(Request(scope))
        limit = settings.max_import_bytes if upload else settings.max_body_bytes
        too_large = UploadTooLarge if upload else BodyTooLarge
        limited = LimitedBody(receive, limit, too_large)
        request = Request(scope, limited.receive)
        try:
            if upload:
                await _check_upload(request)
            if _declared_length(request) > limit:
                raise too_large(limit)
            if await sse.serve(self, request, limited.receive, send, slots=self.sse_streams):
                return
            response = None
            if settings.read_path == "auto" and not upload:
                response = await planned.serve(self, self.plans, request)
            try:
                if response is None:
                    response = await self.run(request)
                    response.headers.setdefault(planned.PATH_HEADER, "executor")
            finally:
                if upload:
                    await request.close()  # removes the upload's spooled temporary files
        except HTTPException as exc:
            code = (
                "UNAUTHENTICATED"
                if isinstance(exc, AuthenticationFailed)
                else getattr(exc, "code", "BAD_REQUEST")
            )
            # The body every route beside this one answers too (app.web.errors).
            response = error_response(code, exc.reason, exc.status_code)
            if exc.status_code == 405:
                response.headers["allow"] = getattr(exc, "allow", "GET, POST")
            if request.method == "GET":  # a miss above all: the next GET must reach us
                response.headers["cache-control"] = "no-store"
            # A client waiting for 100 Continue has sent nothing: reading would invite it.
            expects_continue = request.headers.get("expect", "").lower() == "100-continue"
            if isinstance(exc, BodyTooLarge) and (expects_continue or not await limited.drain()):
                response.headers["connection"] = "close"
        except ServiceUnavailable as exc:
            response = domain_error_response(exc)
        await response(scope, receive, send)


__all__ = ["PREFLIGHT_HEADERS", "GraphQLApp", "negotiate"]
