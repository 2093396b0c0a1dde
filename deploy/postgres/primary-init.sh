#!/bin/sh
# Runs once, when the primary's data directory is first made (docker-entrypoint-initdb.d):
# a role the replica streams WAL with, the pg_hba line that lets it, and the API's
# statement timeout on the role (PgBouncer does not pass it as a startup parameter).
set -e
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD '${REPLICATION_PASSWORD}';
ALTER ROLE ${POSTGRES_USER} SET statement_timeout = '15s';
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
