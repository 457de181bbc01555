#!/usr/bin/env bash
# PostgreSQL 15 (Debian's package) for change data capture: our own cluster in
# the state dir on 127.0.0.1, logical WAL for Debezium, the backoffice schema
# from infra/postgres/migrations, a writer role and a replication role whose
# passwords come from the environment.
set -euo pipefail
# shellcheck disable=SC2034  # read by log() in lib.sh
LH_SERVICE=postgres
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib.sh"

HERE=$INFRA_DIR/postgres
PG_BIN=/usr/lib/postgresql/$POSTGRES_VERSION/bin
PG_HOME_DIR=$STATE_DIR/postgres
# As root, the server runs as the postgres user, who cannot enter a state dir under /root: then the
# cluster lives in that user's home instead, one directory per state dir.
if ((EUID == 0)) && id postgres >/dev/null 2>&1 &&
  ! setpriv --reuid=postgres --regid=postgres --init-groups -- test -x "$STATE_DIR" 2>/dev/null; then
  PG_HOME_DIR=$(getent passwd postgres | cut -d: -f6)/lakehouse-$(printf '%s' "$STATE_DIR" | sha1sum | cut -c1-12)
fi
PGDATA=$PG_HOME_DIR/data
SOCKET_DIR=$PG_HOME_DIR/run

usage() {
  cat <<USAGE
Usage: $(basename "$0") COMMAND

PostgreSQL $POSTGRES_VERSION on $LAKEHOUSE_BIND_HOST:$POSTGRES_PORT, database $POSTGRES_DB (wal_level logical).

Commands:
  install   apt-get install postgresql-$POSTGRES_VERSION (as root) unless it is installed
  start     initdb on first use, start, wait until ready, create the roles, run the migrations
  stop      fast shutdown (clients such as Debezium are disconnected), SIGKILL after 30 s
  restart   stop then start (failure drills: Debezium must resume from its replication slot)
  migrate   create $POSTGRES_DB and grant the roles if needed, apply the migrations not applied yet
  status    print state, pid, RSS; exit 0 healthy, 3 stopped, 1 unhealthy
  psql      an admin psql on the local socket (extra arguments are passed on)

Passwords: POSTGRES_APP_PASSWORD (role $POSTGRES_APP_USER, the backoffice writer) and
POSTGRES_CDC_PASSWORD (role $POSTGRES_CDC_USER, Debezium) from the environment or infra/.env.
State: $PG_HOME_DIR   Log: $(log_file postgres)
USAGE
}

# PostgreSQL refuses to run as root: as root, run its programs as the Debian
# package's postgres user (who must be able to reach the state dir).
# Prints nothing; sets OWNER_CMD to the prefix that runs a command as that user.
# setpriv and env exec, so a service started through them keeps its PID.
if ((EUID == 0)); then
  OWNER_CMD=(setpriv --reuid=postgres --regid=postgres --init-groups -- env PATH="$PG_BIN:/usr/bin:/bin" LANG=C.UTF-8)
else
  OWNER_CMD=(env PATH="$PG_BIN:$PATH")
fi
# From /: the postgres user may not be allowed into the caller's directory (psql then complains).
as_owner() { (cd / && "${OWNER_CMD[@]}" "$@"); }

pg_credentials() {
  local defaulted=()
  if [[ -z ${POSTGRES_APP_PASSWORD:-} ]]; then POSTGRES_APP_PASSWORD=local-dev-only-backoffice; defaulted+=(POSTGRES_APP_PASSWORD); fi
  if [[ -z ${POSTGRES_CDC_PASSWORD:-} ]]; then POSTGRES_CDC_PASSWORD=local-dev-only-debezium; defaulted+=(POSTGRES_CDC_PASSWORD); fi
  export POSTGRES_APP_PASSWORD POSTGRES_CDC_PASSWORD
  ((${#defaulted[@]} == 0)) || log "notice: ${defaulted[*]} not set: using throwaway local-dev defaults (see infra/.env.example)"
}

cmd_install() {
  if [[ -x $PG_BIN/postgres ]]; then
    log "postgresql-$POSTGRES_VERSION is installed ($($PG_BIN/postgres --version))"
    return 0
  fi
  ((EUID == 0)) || die "postgresql-$POSTGRES_VERSION is missing: run this as root, or apt-get install -y postgresql-$POSTGRES_VERSION"
  log "installing postgresql-$POSTGRES_VERSION from Debian"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "postgresql-$POSTGRES_VERSION" >&2
  # The package starts a cluster of its own on 5432 on some systems; ours is separate.
  log "installed $($PG_BIN/postgres --version)"
}

# Admin psql over the private socket (trust for the socket's owner only).
admin_psql() { as_owner psql -X -q -v ON_ERROR_STOP=1 -h "$SOCKET_DIR" -p "$POSTGRES_PORT" -U postgres "$@"; }

healthy() { as_owner pg_isready -q -h "$SOCKET_DIR" -p "$POSTGRES_PORT" -U postgres; }

cmd_start() {
  local t0 pid log_path
  t0=$(date +%s.%N)
  cmd_install
  pg_credentials
  if pid=$(service_pid postgres); then
    if healthy; then
      log "already running (pid $pid)"
      ensure_roles
      cmd_migrate
      return 0
    fi
    die "pid $pid is running but does not accept connections: run '$0 stop' then start again (log: $(log_file postgres))"
  fi
  require_port_free "$POSTGRES_PORT" "PostgreSQL"
  mkdir -p "$PG_HOME_DIR"
  if ((EUID == 0)); then
    chown postgres:postgres "$PG_HOME_DIR"
    chmod 700 "$PG_HOME_DIR"
    as_owner test -w "$PG_HOME_DIR" || die "the postgres user cannot write $PG_HOME_DIR: set LAKEHOUSE_STATE_DIR to a directory it can reach"
  fi
  as_owner mkdir -p "$SOCKET_DIR"
  chmod 700 "$SOCKET_DIR"
  if [[ ! -s $PGDATA/PG_VERSION ]]; then
    log "initdb in $PGDATA"
    as_owner initdb -D "$PGDATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >&2
  fi
  log_path=$(log_file postgres)
  # Settings on the command line, so the generated config never drifts from stack.env.
  # Logical WAL, a few slots and senders: what Debezium's pgoutput plugin needs.
  start_bg postgres "${OWNER_CMD[@]}" postgres -D "$PGDATA" \
    -c listen_addresses="$LAKEHOUSE_BIND_HOST" -c port="$POSTGRES_PORT" \
    -c unix_socket_directories="$SOCKET_DIR" -c unix_socket_permissions=0700 \
    -c wal_level=logical -c max_wal_senders=4 -c max_replication_slots=4 \
    -c shared_buffers=64MB -c max_connections=40 -c logging_collector=off
  if ! wait_until postgres "$POSTGRES_START_TIMEOUT" "PostgreSQL to accept connections" healthy; then
    show_log_tail "$log_path"
    die "PostgreSQL did not become ready (log: $log_path)"
  fi
  ensure_roles
  cmd_migrate
  log "ready on $LAKEHOUSE_BIND_HOST:$POSTGRES_PORT, started in $(elapsed_since "$t0")s"
}

# The database, the writer role and Debezium's role. Passwords go through
# psql's \getenv, never through argv.
ensure_roles() {
  if ! admin_psql -d postgres -tAc "select 1 from pg_database where datname = '$POSTGRES_DB'" | grep -q 1; then
    admin_psql -d postgres -c "create database \"$POSTGRES_DB\""
  fi
  as_owner env POSTGRES_APP_PASSWORD="$POSTGRES_APP_PASSWORD" POSTGRES_CDC_PASSWORD="$POSTGRES_CDC_PASSWORD" \
    POSTGRES_APP_USER="$POSTGRES_APP_USER" POSTGRES_CDC_USER="$POSTGRES_CDC_USER" \
    psql -X -q -v ON_ERROR_STOP=1 -h "$SOCKET_DIR" -p "$POSTGRES_PORT" -U postgres -d "$POSTGRES_DB" \
    -f - <"$HERE/roles.sql" >&2
  # (on stdin: the postgres user may not be able to read a checkout under a private directory,
  # e.g. /root or a mktemp dir; this shell, not psql, opens the file, as for the migrations)
}

cmd_migrate() {
  local file version
  admin_psql -d "$POSTGRES_DB" -c \
    "create table if not exists schema_migrations (version text primary key, applied_at timestamptz not null default now())"
  for file in "$HERE"/migrations/*.sql; do
    version=$(basename "$file" .sql)
    if admin_psql -d "$POSTGRES_DB" -tAc "select 1 from schema_migrations where version = '$version'" | grep -q 1; then
      continue
    fi
    log "migration $version"
    # One transaction per migration, recorded in the same transaction.
    { cat "$file"; printf "\ninsert into schema_migrations (version) values ('%s');\n" "$version"; } |
      admin_psql -1 -d "$POSTGRES_DB" -v app_user="$POSTGRES_APP_USER" -v cdc_user="$POSTGRES_CDC_USER" -f - >&2
  done
}

cmd_stop() {
  local pid
  pid=$(service_pid postgres) || { log "not running"; return 0; }
  # SIGINT is PostgreSQL's fast shutdown; SIGTERM (smart) would wait for Debezium to disconnect.
  kill -INT "$pid" 2>/dev/null || true
  stop_service postgres 30
}

cmd_status() {
  status_of postgres "$LAKEHOUSE_BIND_HOST:$POSTGRES_PORT db $POSTGRES_DB" "not accepting connections" healthy
}

main() {
  local cmd=${1:-}
  (($#)) && shift
  case $cmd in
  restart) cmd_stop; cmd_start ;;
  migrate) pg_credentials; ensure_roles; cmd_migrate ;;
  psql) admin_psql -d "$POSTGRES_DB" "$@" ;;
  *) service_command "$cmd" ;;
  esac
}

main "$@"
