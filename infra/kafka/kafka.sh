#!/usr/bin/env bash
# Single-node KRaft Kafka (broker + controller in one JVM) for the local stack,
# run straight from Maven Central jars: no tarball (archive.apache.org is not
# reachable from here) and no Docker.
set -euo pipefail
# shellcheck disable=SC2034  # read by log() in lib.sh
LH_SERVICE=kafka
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib.sh"

HERE=$INFRA_DIR/kafka
KAFKA_HOME_DIR=$STATE_DIR/kafka
export KAFKA_DATA_DIR=$KAFKA_HOME_DIR/data
CONF=$KAFKA_HOME_DIR/server.properties
BOOTSTRAP=$LAKEHOUSE_BIND_HOST:$KAFKA_BROKER_PORT

usage() {
  cat <<EOF
Usage: $(basename "$0") COMMAND [ARGS]

Single-node KRaft Kafka $KAFKA_VERSION on $BOOTSTRAP (controller port $KAFKA_CONTROLLER_PORT).

Commands:
  install                      resolve kafka_$KAFKA_SCALA_VERSION $KAFKA_VERSION and its runtime jars
                               from Maven Central into the cache (once; later runs print "cached")
  start                        format storage on first use, start the broker, wait until it serves
  stop                         stop the broker (SIGTERM, then SIGKILL after 30 s)
  status                       print state, pid, RSS; exit 0 healthy, 3 stopped, 1 unhealthy
  create-topic NAME PARTITIONS create a topic (replication 1) unless it exists
  topics                       list topics
  produce TOPIC                send stdin lines as messages (ConsoleProducer)
  consume TOPIC [N]            print N messages (default 1) from the beginning, 20 s timeout
  tool CLASS [ARGS...]         run any Kafka tool class with the broker's classpath,
                               e.g. org.apache.kafka.tools.ConsumerGroupCommand --list
                               (remember --bootstrap-server $BOOTSTRAP)

State: $KAFKA_HOME_DIR   Log: $(log_file kafka)
Ports and versions: infra/stack.env (override with environment variables).
EOF
}

closure_dir() {
  maven_closure kafka \
    "org.apache.kafka:kafka_$KAFKA_SCALA_VERSION:$KAFKA_VERSION" \
    "org.apache.kafka:kafka-tools:$KAFKA_VERSION" \
    "org.apache.logging.log4j:log4j-slf4j-impl:$KAFKA_LOG4J_VERSION"
}

# Run a Kafka class (tools, StorageTool) with a small heap and quiet logging.
kafka_java() { # CLASS ARGS...
  local dir
  dir=$(LH_QUIET=1 closure_dir)
  "$LAKEHOUSE_JAVA" -Xmx256m -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$HERE/tools-log4j2.properties" \
    -cp "$dir/jars/*" "$@"
}

cmd_install() {
  require_java17
  local t0 dir
  t0=$(date +%s.%N)
  dir=$(closure_dir)
  log "install done in $(elapsed_since "$t0")s ($(du -sh "$dir/jars" | cut -f1) of jars in $dir)"
}

healthy() { port_open "$LAKEHOUSE_BIND_HOST" "$KAFKA_BROKER_PORT"; }

cmd_start() {
  local t0 dir log_path
  t0=$(date +%s.%N)
  already_running kafka "$BOOTSTRAP does not answer" healthy && return 0
  require_java17
  require_port_free "$KAFKA_BROKER_PORT" "Kafka broker"
  require_port_free "$KAFKA_CONTROLLER_PORT" "Kafka controller"
  dir=$(closure_dir)
  mkdir -p "$KAFKA_DATA_DIR" "$KAFKA_HOME_DIR/logs"
  render_template "$HERE/server.properties.template" "$CONF"

  # KRaft storage must be formatted once with a cluster id; keep the id so a
  # re-format (after deleting data) does not need a new one.
  if [[ ! -f $KAFKA_DATA_DIR/meta.properties ]]; then
    [[ -s $KAFKA_HOME_DIR/cluster.id ]] ||
      kafka_java kafka.tools.StorageTool random-uuid >"$KAFKA_HOME_DIR/cluster.id"
    log "formatting KRaft storage in $KAFKA_DATA_DIR"
    kafka_java kafka.tools.StorageTool format --ignore-formatted \
      -t "$(<"$KAFKA_HOME_DIR/cluster.id")" -c "$CONF" >&2
  fi

  log_path=$(log_file kafka)
  # shellcheck disable=SC2086  # KAFKA_HEAP_OPTS holds several options
  start_bg kafka "$LAKEHOUSE_JAVA" $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$HERE/log4j2.properties" \
    -Dkafka.logs.dir="$KAFKA_HOME_DIR/logs" \
    -cp "$dir/jars/*" kafka.Kafka "$CONF"
  # The broker logs this line once it has joined the (single-voter) quorum
  # and opened its listeners; an open port alone can come slightly earlier.
  started_line() { grep -q 'Kafka Server started' "$log_path"; }
  if ! wait_until kafka "$KAFKA_START_TIMEOUT" "the broker to start" started_line ||
    ! wait_for_port kafka "$LAKEHOUSE_BIND_HOST" "$KAFKA_BROKER_PORT" 10; then
    show_log_tail "$log_path"
    die "Kafka did not become healthy (log: $log_path)"
  fi
  log "healthy on $BOOTSTRAP, started in $(elapsed_since "$t0")s"
}

cmd_stop() { stop_service kafka 30; }

cmd_status() { status_of kafka "broker $BOOTSTRAP" "$BOOTSTRAP does not answer" healthy; }

cmd_create_topic() { # NAME PARTITIONS
  (($# == 2)) || die "usage: create-topic NAME PARTITIONS"
  local name=$1 partitions=$2 current
  [[ $partitions =~ ^[1-9][0-9]*$ ]] || die "PARTITIONS must be a positive integer"
  kafka_java org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" \
    --create --if-not-exists --topic "$name" --partitions "$partitions" --replication-factor 1 >&2
  # --if-not-exists keeps an existing topic as it is: say so if it differs.
  current=$(kafka_java org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" \
    --describe --topic "$name" | grep -o 'PartitionCount: *[0-9]*' | grep -o '[0-9]*$' || true)
  if [[ $current != "$partitions" ]]; then
    log "warning: topic $name exists with ${current:-?} partitions (asked for $partitions); left unchanged"
  else
    log "topic $name has $partitions partition(s)"
  fi
}

main() {
  local cmd=${1:-}
  (($#)) && shift
  case $cmd in
  create-topic) cmd_create_topic "$@" ;;
  topics) kafka_java org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" --list ;;
  produce)
    (($# == 1)) || die "usage: produce TOPIC"
    kafka_java org.apache.kafka.tools.ConsoleProducer --bootstrap-server "$BOOTSTRAP" --topic "$1"
    ;;
  consume)
    (($# >= 1)) || die "usage: consume TOPIC [N]"
    kafka_java org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$BOOTSTRAP" \
      --topic "$1" --from-beginning --max-messages "${2:-1}" --timeout-ms 20000
    ;;
  tool)
    (($# >= 1)) || die "usage: tool CLASS [ARGS...]"
    kafka_java "$@"
    ;;
  *) service_command "$cmd" ;;
  esac
}

main "$@"
