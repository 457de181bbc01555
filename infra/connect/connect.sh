#!/usr/bin/env bash
# Kafka Connect (one distributed worker) with the Debezium PostgreSQL connector,
# run straight from Maven Central jars. Offsets, configs and status live in
# Kafka topics, so a restarted worker resumes where its connector left off;
# the connector itself is registered by `lakehouse cdc register` (REST).
set -euo pipefail
# shellcheck disable=SC2034  # read by log() in lib.sh
LH_SERVICE=connect
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib.sh"

HERE=$INFRA_DIR/connect
CONNECT_HOME_DIR=$STATE_DIR/connect
CONF=$CONNECT_HOME_DIR/connect-distributed.properties
export CONNECT_PLUGIN_DIR=$CONNECT_HOME_DIR/plugins
REST=http://$LAKEHOUSE_BIND_HOST:$CONNECT_REST_PORT

usage() {
  cat <<USAGE
Usage: $(basename "$0") COMMAND

Kafka Connect $CONNECT_VERSION (distributed, group $CONNECT_GROUP_ID) on $REST with
Debezium $DEBEZIUM_VERSION (PostgreSQL connector), against Kafka on $LAKEHOUSE_BIND_HOST:$KAFKA_BROKER_PORT.

Commands:
  install   resolve connect-runtime and the Debezium connector closures from Maven Central (cached)
  start     start the worker and wait until its REST API lists the Debezium connector plugin
  stop      stop the worker (SIGTERM, then SIGKILL after 30 s)
  kill      SIGKILL the worker (failure drills: it must resume from its offsets and slot)
  status    print state, pid, RSS; exit 0 healthy, 3 stopped, 1 unhealthy

State: $CONNECT_HOME_DIR   Log: $(log_file connect)
USAGE
}

runtime_dir() {
  maven_closure connect \
    "org.apache.kafka:connect-runtime:$CONNECT_VERSION" \
    "org.apache.kafka:connect-json:$CONNECT_VERSION" \
    "org.apache.logging.log4j:log4j-slf4j-impl:$KAFKA_LOG4J_VERSION"
}

# The connector's own closure, without what the worker provides (Kafka's jars):
# Connect loads it in its own class loader from plugin.path.
debezium_dir() {
  maven_closure debezium-postgres --exclude 'org.apache.kafka:*' \
    "io.debezium:debezium-connector-postgres:$DEBEZIUM_VERSION"
}

cmd_install() {
  require_java17
  local t0 rt dbz
  t0=$(date +%s.%N)
  rt=$(runtime_dir)
  dbz=$(debezium_dir)
  log "install done in $(elapsed_since "$t0")s (runtime $(du -sh "$rt/jars" | cut -f1), debezium $(du -sh "$dbz/jars" | cut -f1))"
}

plugin_listed() { curl -fsS "$REST/connector-plugins" 2>/dev/null | grep -q 'PostgresConnector'; }

cmd_start() {
  local t0 rt dbz log_path
  t0=$(date +%s.%N)
  already_running connect "$REST does not answer" plugin_listed && return 0
  require_java17
  require_port_free "$CONNECT_REST_PORT" "Kafka Connect REST"
  port_open "$LAKEHOUSE_BIND_HOST" "$KAFKA_BROKER_PORT" ||
    die "Kafka is not up on $LAKEHOUSE_BIND_HOST:$KAFKA_BROKER_PORT (start it first: infra/kafka/kafka.sh start)"
  rt=$(runtime_dir)
  dbz=$(debezium_dir)
  mkdir -p "$CONNECT_HOME_DIR"
  # One plugin directory holding a link to the cached Debezium closure.
  rm -rf "$CONNECT_PLUGIN_DIR"
  mkdir -p "$CONNECT_PLUGIN_DIR"
  ln -s "$dbz/jars" "$CONNECT_PLUGIN_DIR/debezium-connector-postgres"
  render_template "$HERE/connect-distributed.properties.template" "$CONF"
  log_path=$(log_file connect)
  # shellcheck disable=SC2086  # CONNECT_HEAP_OPTS holds several options
  start_bg connect "$LAKEHOUSE_JAVA" $CONNECT_HEAP_OPTS -XX:+UseG1GC -XX:TieredStopAtLevel=1 \
    -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$HERE/log4j2.properties" \
    -cp "$rt/jars/*" org.apache.kafka.connect.cli.ConnectDistributed "$CONF"
  if ! wait_until connect "$CONNECT_START_TIMEOUT" "the worker to list the Debezium plugin" plugin_listed; then
    show_log_tail "$log_path"
    die "Kafka Connect did not become healthy (log: $log_path)"
  fi
  log "healthy on $REST, started in $(elapsed_since "$t0")s"
}

cmd_stop() { stop_service connect 30; }

cmd_kill() {
  local pid i state
  pid=$(service_pid connect) || die "not running"
  kill -KILL "$pid"
  log "sent SIGKILL to pid $pid"
  # Wait until it is gone (or a zombie awaiting its reaper), so a `start` right after does not
  # take it for a running worker.
  for ((i = 0; i < 150; i++)); do
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || break
    [[ $state == Z ]] && break
    sleep 0.1
  done
  rm -f "$(pid_file connect)"
}

cmd_status() { status_of connect "REST $REST" "$REST does not list the Debezium plugin" plugin_listed; }

main() {
  case ${1:-} in
  kill) cmd_kill ;;
  *) service_command "$@" ;;
  esac
}

main "$@"
