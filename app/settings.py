"""Settings: the only module that reads the environment. Read once, then frozen."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.backup.crypto import parse_key


class Settings(BaseSettings):
    """Every setting ordergraph reads; each maps to the upper-case environment variable."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    database_url: SecretStr | None = Field(
        default=None,
        description="postgresql+asyncpg://user:pass@host:port/db; unset starts an embedded "
        "PostgreSQL under DATA_DIR.",
    )
    data_dir: Path = Field(default=Path(".data"), description="Where embedded servers keep data.")
    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port to listen on.")
    web_concurrency: int = Field(default=1, ge=1, description="Worker processes for serve.")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    db_pool_size: int = Field(default=10, ge=1, description="Connections kept per worker.")
    db_max_overflow: int = Field(default=10, ge=0, description="Extra connections under load.")
    db_statement_timeout_ms: int = Field(
        default=15_000, ge=0, description="PostgreSQL statement_timeout; 0 disables it."
    )
    db_connect_timeout_s: float = Field(default=5.0, gt=0, description="Connect timeout.")
    database_replica_urls: tuple[SecretStr, ...] = Field(
        default=(),
        description='Read replicas of DATABASE_URL, JSON list: ["postgresql+asyncpg://..."]. '
        "Queries read from them; mutations, subscriptions, the relay and reads that carry "
        "X-Ordergraph-LSN ahead of a replica go to the primary.",
    )
    replica_max_lag_ms: int = Field(
        default=5_000,
        ge=0,
        description="A replica further behind the primary than this is skipped.",
    )
    replica_check_seconds: float = Field(
        default=1.0, gt=0, description="How often each replica's position and lag are read."
    )
    db_pgbouncer: bool = Field(
        default=False,
        description="DATABASE_URL goes through PgBouncer in transaction pooling mode: no "
        "prepared statement cache (asyncpg statement_cache_size=0), no session settings "
        "at connect (set statement_timeout on the role), no LISTEN (the relay polls).",
    )
    shutdown_drain_seconds: float = Field(
        default=5.0,
        ge=0,
        description="On SIGTERM, how long /readyz answers 503 while the server still serves, "
        "before WebSockets close (1001) and streams end; a load balancer's check interval.",
    )
    shutdown_grace_seconds: int = Field(
        default=30,
        ge=0,
        description="On SIGTERM, how long requests in flight get to finish after the drain.",
    )
    default_page_size: int = Field(default=20, ge=1, description="Page size without first/last.")
    max_page_size: int = Field(default=100, ge=1, description="Largest first/last accepted.")
    max_query_depth: int = Field(default=12, ge=2, description="Deepest selection accepted.")
    max_query_tokens: int = Field(default=5_000, ge=100, description="Largest document.")
    max_query_aliases: int = Field(
        default=15, ge=0, description="Most aliases a document may use (each can be a query)."
    )
    max_query_nesting: int = Field(
        default=64,
        ge=2,
        le=200,  # graphql-core aborts validation beyond 200, with no word on why
        description="Most selection sets, inline fragments and fragment spreads a document "
        "may nest within one another.",
    )
    max_query_fields: int = Field(
        default=20_000,
        ge=1,
        description="Most fields a document may select, counting each spread of a fragment.",
    )
    max_query_cost: int = Field(
        default=50_000,
        ge=0,
        description="Most an operation may cost (IBM cost directives: @cost, @listSize in "
        "schema.graphql); dearer ones are refused with COST_LIMIT_EXCEEDED. 0: no cost "
        "is computed (nor reported in extensions.cost).",
    )
    rate_limit_token_cost_per_minute: int = Field(
        default=0,
        ge=0,
        description="Query cost one API token or JWT may spend per minute, across instances "
        "through Redis (a minute's worth at once at most); over it: 429 RATE_LIMITED. 0: off.",
    )
    rate_limit_address_cost_per_minute: int = Field(
        default=0,
        ge=0,
        description="Query cost one client address may spend per minute (behind a proxy, "
        "run uvicorn with --proxy-headers so the address is the client's). 0: off.",
    )
    rate_limit_sync_ms: float = Field(
        default=100,
        ge=0,
        description="How often each process sends what it charged to Redis and reads the "
        "shared budgets back (an instance may overspend by what it admits in between); 0: "
        "ask Redis on every request.",
    )
    persisted_queries: bool = Field(
        default=True,
        description="Automatic persisted queries (Apollo's link): a request may name its "
        "document by extensions.persistedQuery.sha256Hash, also over GET.",
    )
    persisted_query_ttl_seconds: int = Field(
        default=7 * 86_400,
        ge=1,
        description="How long a registered persisted query is kept (in Redis, else memory).",
    )
    get_cache_max_age_seconds: int = Field(
        default=0,
        ge=0,
        description="Cache-Control max-age of a GET query's answer without errors: public "
        "when anonymous, private with a token (Vary: Authorization); 0: no-cache.",
    )
    trusted_documents_path: Path | None = Field(
        default=None,
        description='A trusted documents manifest, {"<id>": "<document>"} as Relay\'s '
        "persisted queries and GraphQL Codegen's persisted-documents.json write it; clients "
        "may send an id (documentId or persistedQuery.sha256Hash).",
    )
    trusted_documents_only: bool = Field(
        default=False,
        description="Run only the documents in TRUSTED_DOCUMENTS_PATH; any other is "
        "refused with TRUSTED_DOCUMENT_REQUIRED.",
    )
    introspection: bool | None = Field(
        default=None,
        description="Answer introspection (__schema, __type); unset: on, except when "
        "ENVIRONMENT=production.",
    )
    document_cache_bytes: int = Field(
        default=64 * 2**20,
        ge=2**20,
        description="Memory each of the parsed and the validated document caches may hold, "
        "per worker.",
    )
    read_path: Literal["auto", "executor"] = Field(
        default="auto",
        description="auto: queries the read plan covers run as a plan compiled once per "
        "document (app.graphql.plan), the rest through graphql-core's executor; executor: "
        "every query through the executor.",
    )
    graphiql: bool = Field(
        default=True, description="Serve GraphiQL on GET /graphql (from the console's build)."
    )
    console: bool = Field(default=True, description="Serve the console at /admin.")
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest request body accepted (413 beyond)."
    )
    max_import_bytes: int = Field(
        default=104_857_600,
        ge=1024,
        description="Largest multipart upload (importProducts, importUsers) accepted (413 beyond).",
    )
    jwt_secret: SecretStr | None = Field(
        default=None, description="Accept HS256 JWTs signed with this secret."
    )
    jwt_public_key: str | None = Field(
        default=None, description="Accept RS256 JWTs verified with this PEM public key."
    )
    jwt_audience: str | None = Field(default=None, description="Required JWT `aud`.")
    jwt_issuer: str | None = Field(default=None, description="Required JWT `iss`.")
    jwt_email_claim: str = Field(
        default="email",
        description="JWT claim whose email binds a new (iss, sub) to the user with it.",
    )
    jwt_require_email_verified: bool = Field(
        default=True,
        description="A JWT without `email_verified` binds nothing; false trusts its email "
        "when the claim is absent (an explicit false is always refused).",
    )
    auth_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long a process trusts a checked token before asking the database "
        "again (revocation elsewhere takes effect within this time); 0 disables.",
    )
    redis_url: SecretStr | None = Field(
        default=None,
        description="redis://host:port/db carries events between instances; unset: "
        "in-process (instances still meet through PostgreSQL, within EVENTS_POLL_SECONDS).",
    )
    events_retention_days: float = Field(
        default=7, gt=0, description="How long the event log keeps events for `after`."
    )
    audit_retention_days: float = Field(
        default=365,
        gt=0,
        description="How long audit events are kept before retention purges them.",
    )
    idempotency_retention_days: float = Field(
        default=30,
        gt=0,
        description="How long placeOrder remembers an idempotency key; a retry after this "
        "places a new order.",
    )
    tokens_retention_days: float = Field(
        default=30,
        gt=0,
        description="How long an expired or revoked API token is kept after it expired or was "
        "revoked (until then it is refused by name: expired, revoked).",
    )
    signed_links_retention_days: float = Field(
        default=1, gt=0, description="How long an export link is kept after it expired."
    )
    retention_every_seconds: float = Field(
        default=3600,
        ge=0,
        description="How often the server runs retention (one instance at a time); 0: never, "
        "run `ordergraph retention run` from cron instead.",
    )
    retention_batch_size: int = Field(
        default=5000,
        ge=1,
        le=100_000,
        description="Rows retention deletes per transaction.",
    )
    events_poll_seconds: float = Field(
        default=1.0, gt=0, description="How often relays and brokers check PostgreSQL."
    )
    subscriber_queue_size: int = Field(
        default=1000, ge=1, description="Events a subscriber may fall behind before it is cut."
    )
    ws_max_subscriptions: int = Field(
        default=20, ge=1, description="Subscriptions one WebSocket connection may hold."
    )
    ws_keepalive_seconds: float = Field(default=15, gt=0, description="WebSocket ping interval.")
    ws_per_message_deflate: bool = Field(
        default=False,
        description="Accept permessage-deflate on WebSockets. Off by default: event frames "
        "are small, and compressing each costs a fifth of fan-out's CPU and doubles the "
        "memory a subscriber holds.",
    )
    ws_init_timeout_seconds: float = Field(
        default=10, gt=0, description="Time a WebSocket client has to send connection_init."
    )
    sse_max_streams: int = Field(
        default=20, ge=1, description="Server-Sent Event streams one caller may hold per worker."
    )
    sse_keepalive_seconds: float = Field(
        default=15, gt=0, description="How often an idle event stream gets a comment line."
    )
    sse_max_operations: int = Field(
        default=20,
        ge=1,
        description="Operations one reserved event stream (single connection mode) may run "
        "at once.",
    )
    sse_reservation_seconds: float = Field(
        default=30,
        gt=0,
        description="How long a reservation (single connection mode) waits for its event "
        "stream before it expires, with any operations posted to it.",
    )
    multipart_max_streams: int = Field(
        default=10,
        ge=1,
        description="Multipart HTTP subscriptions (Apollo) one viewer may hold open at once, "
        "per server process.",
    )
    multipart_heartbeat_seconds: float = Field(
        default=5, gt=0, description="Interval of the empty `{}` part on a multipart stream."
    )
    field_cache: bool = Field(
        default=True,
        description="Serve @cached fields from Redis (or, with one worker and no Redis, memory); "
        "false: every read computes its own value.",
    )
    environment: Literal["development", "production"] = Field(
        default="development",
        description="production hides debugging aids (the X-Cache-Debug extension) and, unless "
        "INTROSPECTION says otherwise, introspection.",
    )
    cors_origins: tuple[str, ...] = Field(
        default=(), description='Browser origins allowed to call the API, JSON list: ["https://a"].'
    )
    backup_key: SecretStr | None = Field(
        default=None,
        description="32 bytes in base64 (`ordergraph backup keygen`): the key of "
        "`backup --encrypt` and of restoring encrypted backups.",
    )
    pg_bin_dir: Path | None = Field(
        default=None,
        description="Directory whose pg_dump and pg_restore backup and restore use; unset: "
        "the best suited of Debian's, the embedded server's and PATH's.",
    )

    signing_secret: SecretStr | None = Field(
        default=None,
        description="Key for signed download links (HMAC-SHA256); unset: a random key made "
        "once and kept in the database, so every instance on it verifies every link.",
    )
    export_link_seconds: int = Field(
        default=300,
        ge=1,
        le=86_400,
        description="How long a download link (createExportLink, createInvoiceLink) is good.",
    )
    export_batch_rows: int = Field(
        default=2000, ge=1, le=100_000, description="Rows an export reads per statement."
    )

    seller_name: str = Field(
        default="Ordergraph Demo Shop", min_length=1, description="The seller on invoices."
    )
    seller_address: str = Field(
        default="1 Example Street; 12345 Example City",
        description="The seller's address on invoices: lines separated by `;` or newlines.",
    )
    seller_tax_id: str | None = Field(
        default=None, description="The seller's tax or VAT number on invoices, if any."
    )
    pdf_max_rows: int = Field(
        default=5_000,
        ge=1,
        description="Most orders a PDF report lists; more is TOO_MANY_ROWS (export CSV instead).",
    )

    webhook_allow_private: bool = Field(
        default=False,
        description="Let webhooks reach loopback, private, link-local and other non-public "
        "addresses (tests, private networks); logged at start-up when on.",
    )
    webhook_dispatch: bool = Field(
        default=True, description="This instance delivers webhooks (instances share the work)."
    )
    webhook_concurrency: int = Field(
        default=32, ge=1, description="Endpoints one instance delivers to at once."
    )
    webhook_batch: int = Field(
        default=50, ge=1, description="Messages sent to one endpoint per turn before others."
    )
    webhook_poll_seconds: float = Field(
        default=1.0, gt=0, description="How often the dispatcher looks for due deliveries."
    )
    webhook_connect_timeout_seconds: float = Field(
        default=5, gt=0, description="Time to connect to a webhook endpoint."
    )
    webhook_timeout_seconds: float = Field(
        default=15, gt=0, description="Time an endpoint has to answer a delivery in all."
    )
    webhook_lease_seconds: float = Field(
        default=60,
        gt=0,
        description="How long an instance holds an endpoint's queue between messages; after "
        "a crash another instance resumes after this (must exceed WEBHOOK_TIMEOUT_SECONDS).",
    )
    webhook_response_bytes: int = Field(
        default=1024, ge=0, le=65_536, description="Bytes of each answer kept in the log."
    )
    webhook_backoff_base_seconds: float = Field(
        default=5, gt=0, description="Delay before the first retry; doubled each attempt."
    )
    webhook_backoff_max_seconds: float = Field(
        default=3600, gt=0, description="Longest delay between two attempts."
    )
    webhook_disable_after_seconds: float = Field(
        default=86_400,
        gt=0,
        description="An endpoint failing without a success for this long is disabled (its "
        "message marked failed); resumeWebhook starts it again.",
    )
    webhook_breaker_failures: int = Field(
        default=5, ge=1, description="Consecutive failures that open an endpoint's breaker."
    )
    webhook_breaker_open_seconds: float = Field(
        default=60, gt=0, description="How long an open breaker holds before one trial."
    )
    webhook_secret_grace_seconds: float = Field(
        default=86_400,
        ge=0,
        description="How long the old secret still signs after rotateWebhookSecret.",
    )
    webhook_deliveries_retention_days: float = Field(
        default=30, gt=0, description="How long finished webhook deliveries are kept."
    )

    @property
    def introspection_enabled(self) -> bool:
        if self.introspection is not None:
            return self.introspection
        return self.environment != "production"

    @model_validator(mode="after")
    def _trusted_documents(self) -> Settings:
        if self.trusted_documents_only and self.trusted_documents_path is None:
            raise ValueError("TRUSTED_DOCUMENTS_ONLY needs TRUSTED_DOCUMENTS_PATH (the manifest)")
        return self

    metrics_token: SecretStr | None = Field(
        default=None,
        description="When set, GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>`.",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Serve /metrics on this port of HOST instead of the API's (from serve's "
        "own process, for every worker); unset: on the API's port.",
    )
    prometheus_multiproc_dir: Path | None = Field(
        default=None,
        description="Where workers keep their metric files; `serve` empties it on start, or "
        "unset makes a fresh one per run (and removes it at exit).",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="json: one JSON object per log line (request id, operation, viewer id, "
        "duration, statements, error codes); text: readable lines.",
    )
    slow_query_ms: float = Field(
        default=0,
        ge=0,
        description="Log a SQL statement slower than this, with its operation and its plan "
        "(EXPLAIN (FORMAT JSON), SELECTs only); 0: off.",
    )
    slow_query_plans_per_minute: int = Field(
        default=6,
        ge=0,
        description="Most slow-query plans each worker asks PostgreSQL for per minute (the "
        "rest are logged without one).",
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP collector (http://host:4318): traces of requests, GraphQL "
        "operations, loader batches, SQL and Redis calls go there; unset: no tracing.",
    )
    otel_service_name: str = Field(default="ordergraph", description="service.name of the traces.")

    @field_validator("database_url")
    @classmethod
    def _asyncpg_driver(cls, value: SecretStr | None) -> SecretStr | None:
        """Accept postgres:// and postgresql:// too, and point them at asyncpg."""
        if value is None or not value.get_secret_value():
            return None
        return SecretStr(asyncpg_url(value.get_secret_value(), name="DATABASE_URL"))

    @field_validator("database_replica_urls")
    @classmethod
    def _replicas_asyncpg(cls, value: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        return tuple(
            SecretStr(asyncpg_url(url.get_secret_value(), name="DATABASE_REPLICA_URLS"))
            for url in value
            if url.get_secret_value()
        )

    @field_validator("backup_key")
    @classmethod
    def _backup_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        parse_key(value.get_secret_value())
        return value

    @model_validator(mode="after")
    def _webhook_lease(self) -> Settings:
        if self.webhook_lease_seconds <= self.webhook_timeout_seconds:
            raise ValueError("WEBHOOK_LEASE_SECONDS must exceed WEBHOOK_TIMEOUT_SECONDS")
        return self


def asyncpg_url(url: str, *, name: str) -> str:
    """url with a postgres:// or postgresql:// scheme pointed at asyncpg; ValueError
    naming `name` for any other scheme."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+asyncpg://" + url[len(prefix) :]
    if not url.startswith("postgresql+asyncpg://"):
        raise ValueError(f"{name} must start with postgresql+asyncpg://")
    return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
