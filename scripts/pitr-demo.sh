#!/usr/bin/env bash
# Point-in-time recovery with WAL archiving, shown end to end on a throwaway cluster.
#
#   scripts/pitr-demo.sh            (PG_BIN_DIR=/usr/lib/postgresql/15/bin by default)
#
# 1. initdb a cluster in a temporary directory, on a free port of 127.0.0.1, with
#    wal_level=replica, archive_mode=on and an archive_command that copies each finished
#    WAL segment into <tmp>/archive (never overwriting one).
# 2. Take a base backup with pg_basebackup.
# 3. Commit change 1, note the time, commit change 2; switch WAL so both are archived.
# 4. Stop the cluster (the disaster), copy the base backup into a new data directory,
#    set restore_command and recovery_target_time to the noted time, create
#    recovery.signal, and start it: PostgreSQL replays the archive up to that time, then
#    promotes.
# 5. Show that change 1 is there and change 2 is not.
#
# Run as root, the server runs as the `postgres` system user (initdb refuses root).
# Exit status: 0 proven, 1 not, 3 the binaries are missing. KEEP=1 keeps the directory.
set -euo pipefail

BIN=${PG_BIN_DIR:-/usr/lib/postgresql/15/bin}
for tool in initdb pg_ctl pg_basebackup psql; do
    if [ ! -x "$BIN/$tool" ]; then
        echo "SKIP: $BIN/$tool is missing (install postgresql-15 or set PG_BIN_DIR)"
        exit 3
    fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ordergraph-pitr.XXXXXX")
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
cleanup() {
    for data in "$WORK/primary" "$WORK/restored"; do
        if [ -f "$data/postmaster.pid" ]; then as_pg "$BIN/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true; fi
    done
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
if [ "$(id -u)" = 0 ]; then chown postgres: "$WORK"; fi
chmod 700 "$WORK"
if ! as_pg test -w "$WORK"; then
    echo "FAIL: the postgres user cannot reach $WORK: set TMPDIR to a directory it can traverse"
    exit 1
fi
sql() { as_pg "$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -c "$1"; }

echo "== 1. a cluster on 127.0.0.1:$PORT archiving WAL to $WORK/archive"
as_pg mkdir "$WORK/archive"
as_pg "$BIN/initdb" -D "$WORK/primary" -U postgres --auth=trust >/dev/null
cat >>"$WORK/primary/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
wal_level = replica
archive_mode = on
archive_command = 'test ! -f $WORK/archive/%f && cp %p $WORK/archive/%f'
CONF
as_pg "$BIN/pg_ctl" -D "$WORK/primary" -l "$WORK/primary.log" -w start >/dev/null
sql "CREATE TABLE demo (id int PRIMARY KEY, note text NOT NULL)"
sql "INSERT INTO demo VALUES (0, 'before the base backup')"

echo "== 2. base backup with pg_basebackup"
as_pg "$BIN/pg_basebackup" -h 127.0.0.1 -p "$PORT" -U postgres -D "$WORK/base" --checkpoint=fast

echo "== 3. change 1, a time between, change 2"
sql "INSERT INTO demo VALUES (1, 'change 1')"
sleep 1
TARGET=$(sql "SELECT clock_timestamp()")
sleep 1
sql "INSERT INTO demo VALUES (2, 'change 2')"
SEGMENT=$(sql "SELECT pg_walfile_name(pg_switch_wal())")
for _ in $(seq 1 100); do
    [ -f "$WORK/archive/$SEGMENT" ] && break
    sleep 0.2
done
[ -f "$WORK/archive/$SEGMENT" ] || { echo "FAIL: $SEGMENT was not archived"; exit 1; }
echo "recovery target: $TARGET (archived up to $SEGMENT)"

echo "== 4. the disaster: stop it; recover the base backup to $TARGET"
as_pg "$BIN/pg_ctl" -D "$WORK/primary" -m fast -w stop >/dev/null
as_pg cp -a "$WORK/base" "$WORK/restored"
cat >>"$WORK/restored/postgresql.conf" <<CONF
archive_mode = off
restore_command = 'cp $WORK/archive/%f %p'
recovery_target_time = '$TARGET'
recovery_target_action = 'promote'
CONF
as_pg touch "$WORK/restored/recovery.signal"
as_pg "$BIN/pg_ctl" -D "$WORK/restored" -l "$WORK/restored.log" -w start >/dev/null
for _ in $(seq 1 150); do
    [ "$(sql "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ] && break
    sleep 0.2
done
[ "$(sql "SELECT pg_is_in_recovery()")" = f ] || { echo "FAIL: still in recovery"; cat "$WORK/restored.log"; exit 1; }
grep -o "recovery stopping before commit.*" "$WORK/restored.log" || true

echo "== 5. what the recovered cluster holds"
ROWS=$(sql "SELECT string_agg(note, ' | ' ORDER BY id) FROM demo")
echo "restored rows: $ROWS"
if [ "$ROWS" = "before the base backup | change 1" ]; then
    echo "PITR OK: change 1 is there, change 2 is not"
else
    echo "FAIL: expected 'before the base backup | change 1'"
    exit 1
fi
