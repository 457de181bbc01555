#!/usr/bin/env bash
# Redis for the serving side (`lakehouse serve`): Debian's redis-server, run as our own process
# with a generated config under the state dir (not the system service), bound to loopback, with
# the password from the environment (REDIS_PASSWORD).
set -euo pipefail
# shellcheck disable=SC2034  # read by log() in lib.sh
LH_SERVICE=redis
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib.sh"
REDIS_HOME_DIR=$STATE_DIR/redis
CONF=$REDIS_HOME_DIR/redis.conf

usage() {
  cat <<EOF2
Usage: $(basename "$0") COMMAND
Redis (Debian's redis-server) on $LAKEHOUSE_BIND_HOST:$REDIS_PORT for the serving side.

Commands:
  install   apt-get install redis-server when it is absent (needs root)
  start     write $CONF (mode 600: it holds the password) and start redis-server; wait for PING
  stop      stop it (SIGTERM, then SIGKILL)
  status    exit 0 when it answers PING
The password is REDIS_PASSWORD (infra/.env.example); unset: a throwaway local-dev value.
EOF2
}

redis_password() {
  if [[ -z ${REDIS_PASSWORD:-} ]]; then
    REDIS_PASSWORD=local-dev-only-redis-secret
    log "notice: REDIS_PASSWORD not set: using a throwaway local-dev default (see infra/.env.example)"
  fi
  export REDIS_PASSWORD
}

cmd_install() {
  if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
    log "redis-server present: $(redis-server --version | cut -d' ' -f3)"
    return 0
  fi
  [[ $(id -u) == 0 ]] || die "redis-server is absent; install Debian's package as root: apt-get install -y redis-server"
  log "installing Debian's redis-server"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server >&2 ||
    { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server >&2; }
}

# The password goes to redis-cli through its environment variable, never argv.
ping() { REDISCLI_AUTH=$REDIS_PASSWORD redis-cli -h "$LAKEHOUSE_BIND_HOST" -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

cmd_start() {
  local pid t0
  t0=$(date +%s.%N)
  redis_password
  if pid=$(service_pid redis); then
    ping && { log "already running (pid $pid)"; return 0; }
    die "pid $pid is running but does not answer PING with this password: '$0 stop' then start again"
  fi
  cmd_install
  require_port_free "$REDIS_PORT" "Redis"
  mkdir -p "$REDIS_HOME_DIR"
  (
    umask 077
    cat >"$CONF" <<EOF2
bind $LAKEHOUSE_BIND_HOST
port $REDIS_PORT
protected-mode yes
daemonize no
dir $REDIS_HOME_DIR
# The serving side rebuilds its keys from the Kafka topics after a restart: no snapshots.
save ""
appendonly no
maxmemory $REDIS_MAXMEMORY
maxmemory-policy volatile-ttl
requirepass $REDIS_PASSWORD
EOF2
  )
  start_bg redis redis-server "$CONF"
  wait_until redis "$REDIS_START_TIMEOUT" "PING" ping || { show_log_tail "$(log_file redis)"; die "Redis did not answer"; }
  log "healthy on $LAKEHOUSE_BIND_HOST:$REDIS_PORT, started in $(elapsed_since "$t0")s"
}

cmd_status() {
  redis_password 2>/dev/null
  status_of redis "$LAKEHOUSE_BIND_HOST:$REDIS_PORT" "does not answer PING" ping
}

case ${1:-} in
install) cmd_install ;;
start) cmd_start ;;
stop) stop_service redis 10 ;;
status) cmd_status ;;
-h | --help | help) usage ;;
*) usage >&2; exit 2 ;;
esac
