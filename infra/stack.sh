#!/usr/bin/env bash
# The whole local stack in dependency order: S3 (SeaweedFS) first, because
# Flink keeps checkpoints there; Kafka next; the Flink session cluster, then
# Trino (it only reads the Delta tables on S3).
set -euo pipefail
# shellcheck disable=SC2034  # read by log() in lib.sh
LH_SERVICE=stack
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

SERVICES=(s3 kafka flink trino)
# Opt-in (--with-cdc, or LAKEHOUSE_WITH_CDC=1): PostgreSQL and Kafka Connect with Debezium, after
# Kafka's dependants, so the default stack starts no slower for those who do not need them.
CDC_SERVICES=(postgres connect)

usage() {
  cat <<EOF
Usage: $(basename "$0") COMMAND [--with-cdc]

Local lakehouse stack on $LAKEHOUSE_BIND_HOST: S3 (SeaweedFS) -> Kafka -> Flink session cluster -> Trino.

Commands:
  install   download everything once into $CACHE_DIR
            (a second run downloads nothing and prints "cached" lines)
  up        start S3, create bucket '$LAKEHOUSE_BUCKET', start Kafka, Flink, then Trino; each
            must be healthy before the next starts. A service already up is left alone.
            On failure: which service, its log path and the log's tail.
  down      stop Trino, Flink, Kafka, then S3 (only the processes these scripts started)
  status    one line per process (pid, uptime, RSS) and health; exit 0 when all healthy
  --with-cdc  also PostgreSQL $POSTGRES_VERSION (backoffice database, logical WAL) and Kafka Connect
            with Debezium $DEBEZIUM_VERSION (after Trino on up, first on down); see docs/CDC.md
  env       print client settings as shell assignments, no secrets:
            eval "\$($0 env)"

Flink needs pyflink: \$LAKEHOUSE_PYTHON (now: $LAKEHOUSE_PYTHON) must import it.
Versions and ports: infra/stack.env (each overridable from the environment).
Keys: infra/.env.example. State: $STATE_DIR. Logs: $LOG_DIR.
Per-service scripts: infra/s3/s3.sh, infra/kafka/kafka.sh, infra/flink/flink.sh, infra/trino/trino.sh,
infra/postgres/postgres.sh, infra/connect/connect.sh (each has -h).
EOF
}

script_of() { printf '%s/%s/%s.sh\n' "$INFRA_DIR" "$1" "$1"; }

logs_of() {
  case $1 in
  flink) printf '%s %s (full Flink logs: %s)\n' "$(log_file flink-jobmanager)" "$(log_file flink-taskmanager-1)" "$STATE_DIR/flink/log" ;;
  *) log_file "$1" ;;
  esac
}

# The service script has already printed its log tail (when there was one);
# end with one line naming the service and where to look.
fail_service() { # SERVICE WHAT
  log "FAILED: $1 ($2). Log: $(logs_of "$1")"
  log "services already up stay up (inspect them, or: $0 down)"
  exit 1
}

# Fail before starting anything when Flink could not start anyway.
preflight_python() {
  local out
  out=$("$LAKEHOUSE_PYTHON" -c 'import pyflink.version as v; print(v.__version__)' 2>&1) ||
    die "Flink needs pyflink, but LAKEHOUSE_PYTHON=$LAKEHOUSE_PYTHON cannot import it ($(tail -n 1 <<<"$out")). Install apache-flink==$FLINK_VERSION there (e.g. into the project's venv) and export LAKEHOUSE_PYTHON=/path/to/venv/bin/python."
}

cmd_install() {
  local svc t0
  t0=$(date +%s.%N)
  preflight_python
  s3_credentials # once here (exported), not once per service script
  for svc in "${SERVICES[@]}"; do
    "$(script_of "$svc")" install || fail_service "$svc" "install"
  done
  log "install done in $(elapsed_since "$t0")s"
}

cmd_up() {
  local svc t0 t_all summary=()
  t_all=$(date +%s.%N)
  preflight_python
  s3_credentials
  for svc in "${SERVICES[@]}"; do
    # `start` is idempotent: a healthy service is left alone, one started
    # with other keys or settings than the environment's now is restarted.
    t0=$(date +%s.%N)
    "$(script_of "$svc")" start || fail_service "$svc" "start"
    summary+=("$svc: ready after $(elapsed_since "$t0")s")
    # Flink's checkpoints and the jobs' tables need the bucket before Flink runs.
    if [[ $svc == s3 ]]; then
      "$(script_of s3)" create-bucket || fail_service s3 "create-bucket $LAKEHOUSE_BUCKET"
    fi
  done
  log "stack up in $(elapsed_since "$t_all")s ($(printf '%s; ' "${summary[@]}" | sed 's/; $//'))"
  cmd_status
}

cmd_down() {
  local i rc=0
  # Reverse order: Flink may still be writing to Kafka and S3.
  for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do
    "$(script_of "${SERVICES[i]}")" stop || rc=1
  done
  return $rc
}

cmd_status() {
  local svc rc=0 r
  s3_credentials
  for svc in "${SERVICES[@]}"; do
    r=0
    "$(script_of "$svc")" status || r=$?
    ((r == 0)) || rc=1
  done
  return $rc
}

# Client settings for jobs, tests and notebooks. Secrets are left out on
# purpose: clients read S3_*_ACCESS_KEY/S3_*_SECRET_KEY from the environment.
cmd_env() {
  cat <<EOF
LAKEHOUSE_STATE_DIR=$(printf %q "$STATE_DIR")
LAKEHOUSE_CACHE_DIR=$(printf %q "$CACHE_DIR")
LAKEHOUSE_BUCKET=$(printf %q "$LAKEHOUSE_BUCKET")
KAFKA_BOOTSTRAP_SERVERS=$LAKEHOUSE_BIND_HOST:$KAFKA_BROKER_PORT
S3_ENDPOINT=$(printf %q "$S3_ENDPOINT")
S3_REGION=$(printf %q "$S3_REGION")
FLINK_REST_URL=http://$LAKEHOUSE_BIND_HOST:$FLINK_REST_PORT
FLINK_HOME=$(printf %q "$STATE_DIR/flink/home")
TRINO_URL=http://$LAKEHOUSE_BIND_HOST:$TRINO_HTTP_PORT
POSTGRES_PORT=$POSTGRES_PORT
CONNECT_REST_PORT=$CONNECT_REST_PORT
EOF
}

# One stack command at a time (two concurrent `up`s would race for ports and
# pid files); status and env only read, so they do not wait.
lock() {
  # fd 9 is closed for the services start_bg launches (see lib.sh).
  exec 9>"$RUN_DIR/stack.lock"
  if ! flock -n 9; then
    log "waiting for another stack.sh command to finish (lock: $RUN_DIR/stack.lock)"
    flock -w 600 9 || die "gave up after 600 s: $(lsof -t "$RUN_DIR/stack.lock" 2>/dev/null | paste -sd' ' - | sed 's/^/pids holding the lock: /')"
  fi
}

command=${1:-}
(($#)) && shift
for arg in "$@"; do
  case $arg in
  --with-cdc) LAKEHOUSE_WITH_CDC=1 ;;
  *) usage >&2; exit 2 ;;
  esac
done
if [[ ${LAKEHOUSE_WITH_CDC:-0} == 1 ]]; then
  SERVICES+=("${CDC_SERVICES[@]}")
fi
case $command in
install | up | down) lock ;;
esac
case $command in
install) cmd_install ;;
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
env) cmd_env ;;
-h | --help | help) usage ;;
*) usage >&2; exit 2 ;;
esac
