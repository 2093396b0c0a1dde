"""The `ordergraph` command: serve, migrate, seed, token, import, retention, schema, backup,
restore."""

from __future__ import annotations

import argparse
import asyncio
import logging
import logging.config
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from app.auth.api_tokens import ApiTokenRecord, find_token
from app.backup.crypto import new_key, parse_key
from app.backup.dump import take_backup
from app.backup.restore import restore_backup
from app.db import migrate as migrations
from app.db.embedded import start_embedded_postgres
from app.db.engine import create_engine, transaction
from app.db.seed import ADMIN_EMAIL, DatabaseNotEmpty, SeedSpec, is_empty, seed
from app.db.users import users
from app.errors import BackupError, InvalidInput
from app.observability.logs import logging_config
from app.retention.runner import RunResult, run_retention
from app.services.audit import CLI
from app.services.tokens import NewToken, create_api_token
from app.services.validation import validate
from app.settings import Settings, asyncpg_url, get_settings

log = logging.getLogger("ordergraph")

# `serve --demo-data` keeps the admin's token here and shows it again while it is good
# for at least REUSE_MARGIN more, rather than minting another on every start.
ADMIN_TOKEN_FILE = "admin-token"
REUSE_MARGIN = timedelta(hours=1)
UNDEFINED_TABLE = "42P01"  # PostgreSQL's SQLSTATE: a command ran before the migrations


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = get_settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc'])).upper()}: {error['msg']}" for error in exc.errors()
        )
        sys.stderr.write(f"ordergraph: bad setting: {problems}\n")
        return 2
    logging.config.dictConfig(logging_config(settings))
    if args.command == "schema":
        from app.graphql.schema import print_schema

        sys.stdout.write(print_schema(settings))
        return 0
    if args.command == "backup" and args.action == "keygen":
        sys.stdout.write(new_key() + "\n")
        return 0
    if args.command == "restore" and args.into:
        try:
            url = asyncpg_url(args.into, name="--into")
        except ValueError as exc:
            sys.stderr.write(f"ordergraph: restore: {exc}\n")
            return 2
    else:
        url = database_url(settings)
    try:
        return _run(args, settings, url)
    except (OSError, DBAPIError) as exc:
        where = make_url(url).render_as_string(hide_password=True)
        if getattr(getattr(exc, "orig", None), "sqlstate", None) == UNDEFINED_TABLE:
            log.error(
                "the database at %s has no tables yet: run `make run` or `make migrate` first",
                where,
            )
        else:
            log.error("cannot reach PostgreSQL at %s: %s", where, exc.__cause__ or exc)
        return 1


def _run(args: argparse.Namespace, settings: Settings, url: str) -> int:
    if args.command == "migrate":
        if args.action == "down":
            migrations.downgrade(url, args.revision or "-1")
        else:
            migrations.upgrade(url, args.revision or "head")
        return 0
    if args.command == "token":
        try:
            secret, _ = asyncio.run(_create_token(url, args.email, args.name, args.expires_in))
        except InvalidInput as exc:
            log.error("token: %s", exc.message)
            return 2
        sys.stdout.write(secret + "\n")
        return 0
    if args.command == "import":
        from app.imports.command import run_import

        return run_import(settings, url, args)
    if args.command == "seed":
        spec = SeedSpec(
            args.users, args.orders_per_user, args.items_per_order, args.products, args.seed
        )
        try:
            asyncio.run(_seed(url, spec, truncate=args.truncate))
        except (DatabaseNotEmpty, ValueError) as exc:
            log.error("seed: %s", exc)
            return 2
        return 0
    if args.command == "retention":
        return asyncio.run(_retention(settings, url, dry_run=args.dry_run))
    if args.command in ("backup", "restore"):
        try:
            return (
                _backup(args, settings, url)
                if args.command == "backup"
                else _restore(args, settings, url)
            )
        except BackupError as exc:
            log.error("%s: %s: %s", args.command, exc.code, exc.message)
            return 1
    return _serve(settings, url, args)


def _backup_key(settings: Settings) -> bytes | None:
    if settings.backup_key is None:
        return None
    return parse_key(settings.backup_key.get_secret_value())


def _backup(args: argparse.Namespace, settings: Settings, url: str) -> int:
    key = _backup_key(settings)
    if args.encrypt and key is None:
        raise BackupError(
            "BACKUP_KEY_MISSING",
            "--encrypt needs BACKUP_KEY (32 bytes, base64): make one with "
            "`ordergraph backup keygen` and keep it apart from the backups",
        )
    out, manifest = asyncio.run(
        take_backup(
            url, out=args.out, key=key if args.encrypt else None, bin_dir=settings.pg_bin_dir
        )
    )
    log.info(
        "Backed up %s (revision %s, %d rows in %d tables, pg_dump %s%s)",
        manifest.database,
        manifest.schema_revision,
        sum(manifest.row_counts.values()),
        len(manifest.row_counts),
        manifest.pg_dump_version,
        ", encrypted" if manifest.encryption else "",
    )
    sys.stdout.write(f"{out}\n")
    return 0


def _restore(args: argparse.Namespace, settings: Settings, url: str) -> int:
    live = settings.database_url.get_secret_value() if settings.database_url else None
    restored = asyncio.run(
        restore_backup(
            args.file,
            url=url,
            key=_backup_key(settings),
            force=args.force,
            bin_dir=settings.pg_bin_dir,
            ledger_urls=[live] if live and live != url else [],
        )
    )
    manifest = restored.manifest
    log.info(
        "Restored %s taken %s (revision %s) into %s with pg_restore %s: %d rows in %d tables "
        "checked%s; %d erasure(s) re-applied",
        manifest.database,
        manifest.taken_at.isoformat(),
        manifest.schema_revision,
        make_url(url).render_as_string(hide_password=True),
        restored.pg_restore.version,
        sum(manifest.row_counts.values()),
        len(manifest.row_counts),
        f", replacing {len(restored.replaced)} objects" if restored.replaced else "",
        len(restored.reapplied),
    )
    return 0


def database_url(settings: Settings) -> str:
    """DATABASE_URL, or an embedded PostgreSQL under DATA_DIR when it is unset."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    url = start_embedded_postgres(settings.data_dir)
    # The app (and each worker process) reads settings afresh: hand it this address.
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    return url


def _serve(settings: Settings, url: str, args: argparse.Namespace) -> int:
    import uvicorn

    if args.migrate:
        migrations.upgrade(url)
    if args.demo_data:
        asyncio.run(_seed(url, SeedSpec(), truncate=False, only_if_empty=True))
        secret, expires_at, reused = _demo_admin_token(url, settings.data_dir / ADMIN_TOKEN_FILE)
        # Printed for the developer at the console, deliberately not logged.
        print(
            f"Admin token for {ADMIN_EMAIL} ({'the same as last time' if reused else 'new'}, "
            f"valid until {expires_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC; another: make token):\n"
            f"  Authorization: Bearer {secret}",
            flush=True,
        )
    host = args.host or settings.host
    port = args.port or settings.port
    workers = args.workers or settings.web_concurrency
    # Worker processes read settings afresh: they must know how many of them there are.
    os.environ["WEB_CONCURRENCY"] = str(workers)
    log.info(
        "GraphiQL on http://%s:%s/graphql (%d worker%s)", host, port, workers, "s"[: workers > 1]
    )
    if settings.console:
        log.info("Console on http://%s:%s/admin (sign in with `make token`)", host, port)
    # uvicorn re-raises SIGTERM after its graceful shutdown; exit normally instead, so
    # atexit handlers run and an embedded PostgreSQL stops with us.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    from app.metrics import multiprocess

    # Before any worker starts: one metrics directory per run (app.metrics.multiprocess).
    with multiprocess.prepared(settings) as directory:
        get_settings.cache_clear()  # the app, in this process with one worker, reads it too
        settings = get_settings()
        if settings.metrics_port is not None:
            multiprocess.serve_port(settings, directory, url)
            log.info("Metrics on http://%s:%s/metrics", settings.host, settings.metrics_port)
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=settings.log_level,
            log_config=logging_config(settings),
            access_log=settings.log_level == "debug",
            ws_per_message_deflate=settings.ws_per_message_deflate,
            # uvicorn kills a worker not started (imports, lifespan) within 5 s and starts
            # another, which on a busy machine never ends: give a worker a minute.
            timeout_worker_healthcheck=60,
            # After the app's own drain (app.web.draining): what requests in flight get.
            timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        )
    return 0


def _demo_admin_token(url: str, token_file: Path) -> tuple[str, datetime, bool]:
    """The demo admin's token kept in token_file while it is known here, unrevoked and
    good for REUSE_MARGIN more, else a new one for a day, kept there (mode 0600):
    (secret, expires_at, reused)."""
    try:
        kept = token_file.read_text().strip()
    except FileNotFoundError:
        kept = ""
    if kept:
        expires_at = asyncio.run(_usable_admin_token(url, kept))
        if expires_at is not None:
            return kept, expires_at, True
    secret, record = asyncio.run(_create_token(url, ADMIN_EMAIL, "make run", 1))
    assert record.expires_at is not None
    token_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        os.fchmod(fd, 0o600)  # a file that was there keeps its mode through O_CREAT
        out.write(secret + "\n")
    return secret, record.expires_at, False


async def _usable_admin_token(url: str, secret: str) -> datetime | None:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            admin_id = await conn.scalar(select(users.c.id).where(users.c.email == ADMIN_EMAIL))
            record = await find_token(conn, secret)
    finally:
        await engine.dispose()
    if record is None or record.user_id != admin_id or record.role != "admin":
        return None
    if record.revoked_at is not None or record.expires_at is None:
        return None
    return record.expires_at if record.expires_at > datetime.now(UTC) + REUSE_MARGIN else None


async def _create_token(
    url: str, email: str, name: str, expires_in: int | None
) -> tuple[str, ApiTokenRecord]:
    engine = create_async_engine(url)
    try:
        async with transaction(engine) as conn:
            user_id = await conn.scalar(select(users.c.id).where(users.c.email == email.lower()))
            if user_id is None:
                raise InvalidInput.one("email", "NOT_FOUND", f"no user with email {email}")
            data = validate(NewToken, name=name, expires_in_days=expires_in)
            return await create_api_token(conn, actor=CLI, user_id=user_id, data=data)
    finally:
        await engine.dispose()


async def _retention(settings: Settings, url: str, *, dry_run: bool) -> int:
    engine = create_engine(settings, url)
    try:
        result = await run_retention(engine, settings, dry_run=dry_run, actor_kind="cli")
    finally:
        await engine.dispose()
    if result is None:
        sys.stdout.write("retention: another runner holds the lock; nothing done this time\n")
        return 0
    sys.stdout.write(format_retention(result))
    return 0


def format_retention(result: RunResult) -> str:
    """One line per class: what was (or, dry, would be) deleted, and by which setting."""
    verb = "would delete" if result.dry_run else "deleted"
    lines = [f"retention{' (dry run: nothing deleted)' if result.dry_run else ''}:"]
    for item in result.results:
        name = item.cls.name
        if item.skipped is not None:
            lines.append(f"  {name:<16} skipped: {item.skipped}")
            continue
        assert item.cutoff is not None
        cutoff = f"{item.cutoff.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
        setting = f"{item.cls.variable}={item.days:g}"
        lines.append(f"  {name:<16} {verb} {item.rows} older than {cutoff} ({setting})")
    lines.append(f"  took {result.seconds:.2f} s")
    return "\n".join(lines) + "\n"


async def _seed(url: str, spec: SeedSpec, *, truncate: bool, only_if_empty: bool = False) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            if only_if_empty and not await is_empty(conn):
                log.info("Database has data; not seeding demo data")
                return
            await seed(conn, spec, truncate=truncate, progress=sys.stderr.isatty())
            log.info(
                "Seeded %d users x %d orders x %d items, %d products (seed %d)",
                spec.users,
                spec.orders_per_user,
                spec.items_per_order,
                spec.products,
                spec.seed,
            )
    finally:
        await engine.dispose()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ordergraph", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the API (GraphiQL at /graphql)")
    serve.add_argument("--host", help="default: HOST or 127.0.0.1")
    serve.add_argument("--port", type=int, help="default: PORT or 8000")
    serve.add_argument("--workers", type=int, help="default: WEB_CONCURRENCY or 1")
    serve.add_argument("--migrate", action="store_true", help="migrate to head first")
    serve.add_argument("--demo-data", action="store_true", help="seed demo data if empty")

    migrate = commands.add_parser("migrate", help="apply or revert migrations")
    migrate.add_argument("action", nargs="?", choices=["up", "down"], default="up")
    migrate.add_argument("revision", nargs="?", help="up: default head; down: default -1")

    seed_cmd = commands.add_parser("seed", help="load deterministic data with COPY")
    seed_cmd.add_argument("--users", type=int, default=200)
    seed_cmd.add_argument("--orders-per-user", type=int, default=5)
    seed_cmd.add_argument("--items-per-order", type=int, default=3)
    seed_cmd.add_argument("--products", type=int, default=100)
    seed_cmd.add_argument("--seed", type=int, default=1)
    seed_cmd.add_argument("--truncate", action="store_true", help="replace existing data")

    token = commands.add_parser("token", help="API tokens")
    token_commands = token.add_subparsers(dest="action", required=True)
    create = token_commands.add_parser("create", help="print a new token for a user")
    create.add_argument("--email", required=True)
    create.add_argument("--name", default="CLI token")
    create.add_argument("--expires-in", type=int, metavar="DAYS", help="default: never")

    retention = commands.add_parser("retention", help="forget what is past its age")
    retention_commands = retention.add_subparsers(dest="action", required=True)
    run = retention_commands.add_parser(
        "run", help="delete, class by class, what the *_RETENTION_DAYS settings no longer keep"
    )
    run.add_argument("--dry-run", action="store_true", help="count only; delete nothing")
    imports = commands.add_parser("import", help="import products or users from a CSV file")
    imports.add_argument("entity", choices=["products", "users"])
    imports.add_argument("file", type=Path, help="CSV, UTF-8, header first (see README)")
    imports.add_argument("--mode", choices=["insert", "upsert"], default="insert")
    imports.add_argument(
        "--policy",
        choices=["REJECT_EVERYTHING", "REJECT_FAILED_ROWS", "IGNORE_FAILED"],
        default="REJECT_EVERYTHING",
    )
    imports.add_argument("--dry-run", action="store_true", help="check and count; write nothing")
    imports.add_argument(
        "--as",
        dest="as_email",
        default=ADMIN_EMAIL,
        metavar="EMAIL",
        help=f"the admin the audit trail names (default {ADMIN_EMAIL})",
    )

    commands.add_parser("schema", help="print the GraphQL schema (SDL)")

    backup = commands.add_parser(
        "backup", help="pg_dump the database into one checked file; `backup keygen`: a key"
    )
    backup.add_argument("action", nargs="?", choices=["keygen"], help="print a new BACKUP_KEY")
    backup.add_argument("--out", type=Path, help="default: ordergraph-<db>-<time>.ogbackup")
    backup.add_argument("--encrypt", action="store_true", help="seal it with BACKUP_KEY")

    restore = commands.add_parser("restore", help="check a backup and restore it")
    restore.add_argument("file", type=Path)
    restore.add_argument("--into", metavar="URL", help="default: DATABASE_URL")
    restore.add_argument("--force", action="store_true", help="replace a non-empty database")
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
