#!/usr/bin/env bash
# Flink session cluster for the local stack, run from the pip-installed
# pyflink (apache-flink wheel): the wheel ships lib/ and bin/ of a Flink
# distribution, so the cluster and `python job.py` use the very same jars.
# What the wheel lacks (Kafka connector, Parquet, S3 filesystem plugin) comes
# from Maven Central. site-packages is never modified: FLINK_HOME is an
# overlay in the state dir made of symlinks plus a generated conf/.
set -euo pipefail
# shellcheck disable=SC2034  # read by log() in lib.sh
LH_SERVICE=flink
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib.sh"

FLINK_STATE=$STATE_DIR/flink
FLINK_HOME_DIR=$FLINK_STATE/home
FLINK_CONF=$FLINK_HOME_DIR/conf/config.yaml
REST_URL=http://$LAKEHOUSE_BIND_HOST:$FLINK_REST_PORT
JM=flink-jobmanager
TM_PREFIX=flink-taskmanager-
APP_STATE=$FLINK_STATE/app
APP_HOME=$APP_STATE/home
APP_REST_URL=http://$LAKEHOUSE_BIND_HOST:$FLINK_APP_REST_PORT
APP_JM=flink-app-jobmanager
APP_TM=flink-app-taskmanager

usage() {
  # shellcheck disable=SC2153  # FLINK_VERSION comes from stack.env
  cat <<EOF
Usage: $(basename "$0") COMMAND [ARGS]

Flink $FLINK_VERSION session cluster from pyflink (python: \$LAKEHOUSE_PYTHON=$LAKEHOUSE_PYTHON),
REST $REST_URL, JobManager RPC $FLINK_JM_RPC_PORT.

Commands:
  install                 fetch Kafka connector $FLINK_KAFKA_CONNECTOR_VERSION, Parquet ($FLINK_MAVEN_VERSION + Hadoop
                          client $FLINK_HADOOP_VERSION) and the $FLINK_S3_PLUGIN plugin from Maven Central (once)
  start                   build FLINK_HOME, write conf/config.yaml, start a JobManager and one
                          TaskManager ($FLINK_TM_SLOTS slots), wait until REST /overview shows it
  stop                    stop every TaskManager, then the JobManager
  status                  processes, RSS, TaskManagers/slots/jobs from REST; exit 0 healthy,
                          3 stopped, 1 unhealthy
  start-taskmanager       start one more TaskManager, wait until it registers
  stop-taskmanager [N]    stop TaskManager N (default: the newest one)
  home                    print FLINK_HOME (bin/flink, conf/, lib/ for \`flink run -py\`)
  connector-deps          print the jars the Delta connector needs beside Flink (Parquet, Hadoop client)
  artifacts               fetch (once) and print what this cluster adds to Flink: one jar per line for lib/,
                          then plugin:<jar> for plugins/ (deploy/build.sh puts the same files in the image)
  cli ARGS...             run FLINK_HOME/bin/flink ARGS... against this cluster,
                          e.g. cli run -d -py jobs/x.py ; cli list ; cli stop --savepointPath s3://...
  app-start RELEASE SLOTS -- ARGS...
                          an application cluster for one job (standalone application mode, what the
                          Kubernetes operator runs): a FLINK_HOME of the distribution plus RELEASE's
                          cluster/lib and cluster/plugins (an unpacked \`lakehouse package\`), a JobManager
                          running bin/standalone-job.sh ARGS on REST $FLINK_APP_REST_PORT / RPC $FLINK_APP_JM_RPC_PORT,
                          one TaskManager with SLOTS slots; waits until REST answers
  app-stop                stop the application cluster's TaskManager and JobManager
  app-status              its processes; exit 0 when its REST API answers, 3 stopped, 1 unhealthy
  app-rest                print its REST URL

Memory: JobManager $FLINK_JM_MEMORY, TaskManager $FLINK_TM_MEMORY (process sizes). State backend RocksDB,
checkpoints s3://$LAKEHOUSE_BUCKET/flink/checkpoints, savepoints s3://$LAKEHOUSE_BUCKET/flink/savepoints
on $S3_ENDPOINT (writer identity). conf/config.yaml holds those keys: it lives in the state dir
($FLINK_CONF), mode 600, never in the repo.
Logs: $(log_file $JM), $(log_file "${TM_PREFIX}1") (console, WARN+);
      full Flink logs in $FLINK_STATE/log
EOF
}

# --- pyflink ----------------------------------------------------------------
# Sets PYTHON_BIN (absolute, venv symlink kept: resolving it would leave the
# venv), PYFLINK_DIR and PYFLINK_VERSION, or fails with a clear message.
find_pyflink() {
  local py out
  py=$(command -v "$LAKEHOUSE_PYTHON" 2>/dev/null) ||
    die "LAKEHOUSE_PYTHON=$LAKEHOUSE_PYTHON is not an executable. Point it at the Python that has apache-flink installed."
  PYTHON_BIN=$(realpath -s "$py")
  if ! out=$("$PYTHON_BIN" -c 'import os, pyflink, pyflink.version as v; print(os.path.dirname(pyflink.__file__)); print(v.__version__)' 2>&1); then
    die "pyflink is not importable by $PYTHON_BIN (LAKEHOUSE_PYTHON). Install apache-flink==$FLINK_VERSION into that environment, or set LAKEHOUSE_PYTHON. ($(tail -n 1 <<<"$out"))"
  fi
  PYFLINK_DIR=$(sed -n 1p <<<"$out")
  PYFLINK_VERSION=$(sed -n 2p <<<"$out")
  [[ -f $PYFLINK_DIR/bin/config.sh && -d $PYFLINK_DIR/lib ]] ||
    die "$PYFLINK_DIR has no bin/ and lib/ (a pyflink without its Flink distribution?)"
  # The Maven artifacts in stack.env are matched to one Flink release.
  [[ $PYFLINK_VERSION == "$FLINK_VERSION" ]] ||
    die "pyflink at $PYTHON_BIN is $PYFLINK_VERSION but stack.env expects FLINK_VERSION=$FLINK_VERSION; install apache-flink==$FLINK_VERSION, or set FLINK_VERSION/FLINK_MAVEN_VERSION/FLINK_KAFKA_CONNECTOR_VERSION for $PYFLINK_VERSION"
}

# --- artifacts ----------------------------------------------------------------
# The Parquet closure: the filesystem sink's format, and what the project's
# Delta connector (connectors/delta) compiles and runs against. Prints its dir.
parquet_closure() {
  maven_closure flink-parquet \
    --exclude 'org.apache.flink:*' --exclude 'org.slf4j:*' --exclude 'com.google.protobuf:*' \
    "org.apache.flink:flink-parquet:$FLINK_MAVEN_VERSION" \
    "org.apache.hadoop:hadoop-client-api:$FLINK_HADOOP_VERSION" \
    "org.apache.hadoop:hadoop-client-runtime:$FLINK_HADOOP_VERSION"
}

# Prints one path per line: jars for lib/, then "plugin:<jar>" for plugins/.
fetch_artifacts() {
  local dir j
  maven_fetch org.apache.flink flink-sql-connector-kafka "$FLINK_KAFKA_CONNECTOR_VERSION"
  # Parquet for the filesystem sink: flink-sql-parquet exists on Maven Central
  # only for 2.3.0, so take flink-parquet of our minor with its parquet-*
  # closure. Flink's own jars (provided by flink-dist) and logging are
  # excluded; the shaded Hadoop client supplies the Configuration classes
  # Parquet's writer needs.
  dir=$(parquet_closure)
  for j in "$dir"/jars/*.jar; do printf '%s\n' "$j"; done
  printf 'plugin:%s\n' "$(maven_fetch org.apache.flink "$FLINK_S3_PLUGIN" "$FLINK_MAVEN_VERSION")"
}

cmd_install() {
  local t0
  t0=$(date +%s.%N)
  require_java17
  fetch_artifacts >/dev/null
  log "install done in $(elapsed_since "$t0")s"
}

# --- FLINK_HOME overlay ---------------------------------------------------------
# bin/ is copied (Flink's scripts derive FLINK_HOME from their own resolved
# location, so symlinked scripts would point back into site-packages); jars
# are symlinked. Built in home.new and swapped in, never while running.
build_home() {
  local new=$FLINK_STATE/home.new item plugin_dir
  rm -rf "$new"
  mkdir -p "$new/lib" "$new/opt" "$new/conf" "$new/plugins"
  cp -R "$PYFLINK_DIR/bin" "$new/bin"
  for item in "$PYFLINK_DIR"/lib/*.jar; do ln -s "$item" "$new/lib/"; done
  # opt/ keeps flink-python: `flink run -py` ships it with each Python job,
  # as in Flink's own distribution.
  for item in "$PYFLINK_DIR"/opt/*; do ln -s "$item" "$new/opt/"; done
  cp "$PYFLINK_DIR"/conf/log4j*.properties "$PYFLINK_DIR"/conf/logback*.xml "$new/conf/"
  # Benign warnings at every start, caused by Hadoop classes (for Parquet) on
  # the classpath without a Hadoop cluster config: keep them out of the logs.
  cat >>"$new/conf/log4j-console.properties" <<'EOF'

# Added by infra/flink/flink.sh: no Hadoop cluster here, by design.
logger.lh_hadoop_native.name = org.apache.hadoop.util.NativeCodeLoader
logger.lh_hadoop_native.level = ERROR
logger.lh_hadoop_utils.name = org.apache.flink.runtime.util.HadoopUtils
logger.lh_hadoop_utils.level = ERROR
logger.lh_tokens.name = org.apache.flink.runtime.security.token.DefaultDelegationTokenManager
logger.lh_tokens.level = ERROR
EOF
  while IFS= read -r item; do
    if [[ $item == plugin:* ]]; then
      item=${item#plugin:}
      # Plugins load in their own class loader from plugins/<name>/.
      plugin_dir=$new/plugins/${FLINK_S3_PLUGIN#flink-}
      mkdir -p "$plugin_dir"
      ln -s "$item" "$plugin_dir/"
    else
      ln -s "$item" "$new/lib/"
    fi
  done < <(LH_QUIET=1 fetch_artifacts)
  rm -rf "$FLINK_HOME_DIR"
  mv "$new" "$FLINK_HOME_DIR"
}

# conf/config.yaml: pyflink's shipped defaults (they carry the --add-opens
# flags Java 17 needs) with our settings on top, written flat ("a.b.c: v",
# which Flink 2 reads) by PyYAML so any secret is quoted correctly.
write_config() { # [OUT]
  local out=${1:-$FLINK_CONF}
  s3_credentials
  mkdir -p "$FLINK_STATE/tmp" "$FLINK_STATE/log" "$FLINK_STATE/run" "$FLINK_STATE/web-upload"
  (
    umask 077
    export FLINK_DEFAULT_CONF=$PYFLINK_DIR/conf/config.yaml OUT=$out.tmp
    export PYTHON_BIN FLINK_STATE
    "$PYTHON_BIN" - <<'EOF'
import os
import yaml  # PyYAML: a dependency of apache-beam, hence of apache-flink

e = os.environ
def flatten(d, prefix=""):
    out = {}
    for k, v in (d or {}).items():
        key = f"{prefix}{k}"
        out.update(flatten(v, key + ".") if isinstance(v, dict) else {key: v})
    return out

with open(e["FLINK_DEFAULT_CONF"]) as f:
    conf = flatten(yaml.safe_load(f))
host, state, bucket = e["LAKEHOUSE_BIND_HOST"], e["FLINK_STATE"], e["LAKEHOUSE_BUCKET"]
conf.update({
    # Loopback only, fixed ports from stack.env.
    "jobmanager.rpc.address": host,
    "jobmanager.rpc.port": int(e["FLINK_JM_RPC_PORT"]),
    "jobmanager.bind-host": host,
    "taskmanager.bind-host": host,
    "taskmanager.host": host,
    "taskmanager.rpc.port": e["FLINK_TM_RPC_PORTS"],
    "blob.server.port": e["FLINK_BLOB_PORT"],
    "rest.address": host,
    "rest.bind-address": host,
    "rest.port": int(e["FLINK_REST_PORT"]),
    # Sizes for a 2-core / 24 GiB dev machine shared with Kafka, S3, Trino.
    "jobmanager.memory.process.size": e["FLINK_JM_MEMORY"],
    "taskmanager.memory.process.size": e["FLINK_TM_MEMORY"],
    # Every job loads its own copy of flink-python (Beam), the UDF and connector jars into
    # metaspace; the 256m default ran out after about seven pipeline submissions on one
    # TaskManager ("OutOfMemoryError: Metaspace", the TaskManager exits).
    "taskmanager.memory.jvm-metaspace.size": e["FLINK_TM_METASPACE"],
    "taskmanager.numberOfTaskSlots": int(e["FLINK_TM_SLOTS"]),
    # The throughput collector on the TaskManager: 6-29 % less CPU per event than G1 in four of
    # five alternated 1,000,000-record runs, a tie in the fifth (BENCHMARKS.md, "The TaskManager's
    # garbage collector"). Its pauses stop every task, for 7 ms typically and 0.4 s at most there,
    # far inside the 5 s checkpoints and watermark delay. FLINK_TM_JAVA_OPTS replaces it
    # (e.g. "-XX:+UseG1GC" for G1 again).
    "env.java.opts.taskmanager": e["FLINK_TM_JAVA_OPTS"],
    # The S3 plugin's upload threads outlive the job that started them and keep its class
    # loader as their context loader; once that job has ended, commons-logging (lib/, from
    # the Parquet closure) asks the closed loader for its config and Flink's leak check
    # throws, failing a later job's checkpoint ("Trying to access closed classloader") and
    # restarting that job. Flink's own message names this switch for third-party leaks.
    "classloader.check-leaked-classloader": False,
    "parallelism.default": 1,
    # State and fault tolerance: RocksDB, incremental checkpoints on S3, and
    # checkpoints kept on cancel so a job can be restored after a fix.
    "state.backend.type": "rocksdb",
    "execution.checkpointing.incremental": True,
    "execution.checkpointing.dir": f"s3://{bucket}/flink/checkpoints",
    "execution.checkpointing.savepoint-dir": f"s3://{bucket}/flink/savepoints",
    "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
    # State files under 1 MiB (most of RocksDB's new SST files at a 2-5 s interval) travel
    # inside the checkpoint's _metadata instead of one S3 PUT each: silver freshness p99
    # 0.46-0.68 of the 20 KiB default in paired runs (BENCHMARKS.md). 1 MiB is Flink's maximum.
    "state.storage.fs.memory-threshold": "1mb",
    # A failed job restarts from its last checkpoint, waiting 1 s, then 1.5 times longer at
    # each failed attempt up to 60 s, for as long as it takes: an outage of S3 (checkpoints and
    # tables) or Kafka ends without anyone resubmitting the job (tests/integration/test_outages.py).
    # These are Flink's defaults with checkpointing on, written out so they do not change unseen.
    "restart-strategy.type": "exponential-delay",
    "restart-strategy.exponential-delay.initial-backoff": "1 s",
    "restart-strategy.exponential-delay.max-backoff": "60 s",
    "restart-strategy.exponential-delay.backoff-multiplier": 1.5,
    "restart-strategy.exponential-delay.jitter-factor": 0.1,
    # Operator metrics on the REST API refresh every second instead of every 10 s:
    # the benchmark's clocks and `lakehouse jobs` progress read them.
    "metrics.fetcher.update-interval": 1000,
    # A killed TaskManager is noticed in seconds rather than the 50 s default
    # (failure tests kill TaskManagers on purpose).
    "heartbeat.interval": 5000,
    "heartbeat.timeout": 30000,
    # S3 (flink-s3-fs-hadoop reads s3.* as fs.s3a.*): path-style, so
    # SeaweedFS/MinIO endpoints work without bucket DNS names.
    "s3.endpoint": e["S3_ENDPOINT"],
    "s3.endpoint.region": e["S3_REGION"],
    "s3.path.style.access": True,
    "s3.access-key": e["S3_WRITER_ACCESS_KEY"],
    "s3.secret-key": e["S3_WRITER_SECRET_KEY"],
    # Python UDF workers and `flink run -py` use the env that has pyflink.
    "python.executable": e["PYTHON_BIN"],
    "python.client.executable": e["PYTHON_BIN"],
    # Temp files, uploads, logs and pid files in the state dir, not /tmp.
    "io.tmp.dirs": f"{state}/tmp",
    "web.tmpdir": f"{state}/tmp",
    "web.upload.dir": f"{state}/web-upload",
    "blob.storage.directory": f"{state}/tmp",
    "env.log.dir": f"{state}/log",
    "env.pid.dir": f"{state}/run",
})
conf["env.java.opts.all"] = f'{conf.get("env.java.opts.all", "")} -Djava.io.tmpdir={state}/tmp'.strip()
with open(e["OUT"], "w") as f:
    f.write("# GENERATED by infra/flink/flink.sh at each start; holds S3 keys: do not commit.\n")
    yaml.safe_dump(conf, f, default_flow_style=False, sort_keys=True, width=10**6)
EOF
  )
  mv "$out.tmp" "$out"
  [[ $out == "$FLINK_CONF" ]] || return 0
  printf '%s\n' "$LAKEHOUSE_BIND_HOST:$FLINK_REST_PORT" >"$FLINK_HOME_DIR/conf/masters"
  printf '%s\n' "$LAKEHOUSE_BIND_HOST" >"$FLINK_HOME_DIR/conf/workers"
}

# True when the running cluster was started with another configuration than
# the one the environment gives now (S3 keys, LAKEHOUSE_PYTHON, ports...).
config_changed() { rendered_differs "$FLINK_CONF" "$FLINK_STATE/config.candidate.yaml" write_config; }

# Environment for Flink's bin/ scripts.
flink_env() {
  # A caller that ran pyflink in-process (an embedded job in a test session) carries FLINK_LIB_DIR,
  # FLINK_OPT_DIR, ... of pyflink's bundled distribution and a JVM_ARGS heap: inherited, they
  # would start the cluster without the Kafka connector. Everything Flink reads is set here.
  export FLINK_HOME=$FLINK_HOME_DIR FLINK_CONF_DIR=$FLINK_HOME_DIR/conf
  export FLINK_LIB_DIR=$FLINK_HOME_DIR/lib FLINK_OPT_DIR=$FLINK_HOME_DIR/opt
  export FLINK_PLUGINS_DIR=$FLINK_HOME_DIR/plugins FLINK_BIN_DIR=$FLINK_HOME_DIR/bin
  unset PYFLINK_GATEWAY_PORT JVM_ARGS
  export FLINK_LOG_DIR=$FLINK_STATE/log FLINK_PID_DIR=$FLINK_STATE/run
  export PYFLINK_CLIENT_EXECUTABLE=$PYTHON_BIN
  # Names Flink's log files (flink-lakehouse-taskexecutor-0-HOST.log); it
  # falls back to $USER, which is empty under CI and cron.
  export FLINK_IDENT_STRING=lakehouse
  # config.sh finds java through JAVA_HOME, else PATH: pin it to LAKEHOUSE_JAVA.
  if [[ -z ${JAVA_HOME:-} ]]; then
    JAVA_HOME=$(dirname "$(dirname "$(readlink -f "$(command -v "$LAKEHOUSE_JAVA")")")")
    export JAVA_HOME
  fi
  # Console (= our service log) gets WARN and above; Flink's own log file in
  # $FLINK_LOG_DIR keeps everything at INFO.
  export JVM_ARGS="${LAKEHOUSE_FLINK_JVM_ARGS:-} -Dconsole.log.level=WARN"
}

# --- REST ------------------------------------------------------------------------
rest() { curl -fsS -m 5 "$REST_URL$1"; }
tm_count() { rest /overview | jq -r '.taskmanagers'; }
# Resource ids of registered TaskManagers, one per line.
tm_ids() { rest /taskmanagers | jq -r '.taskmanagers[].id'; }

rest_ready() { rest /overview >/dev/null; }
tm_registered() { # RESOURCE_ID (captured first: `| grep -q` + pipefail can trip on SIGPIPE)
  local ids
  ids=$(tm_ids) || return 1
  [[ $'\n'$ids$'\n' == *$'\n'"$1"$'\n'* ]]
}

tm_names() { # running TaskManager service names, oldest index first
  local f
  for f in "$RUN_DIR/$TM_PREFIX"*.pid; do
    [[ -e $f ]] || continue
    f=$(basename "$f" .pid)
    service_pid "$f" >/dev/null && printf '%s\n' "$f"
  done | sort -t- -k3 -n
}

# The RPC port of the next TaskManager: the range's next free port after the one handed out last,
# so a TaskManager started right after one was killed never takes over its address. (Flink alone
# takes the range's first free port; the JobManager's RPC layer can then keep treating the new
# TaskManager as the dead one, and it never registers: seen after two kills in a row.)
next_tm_port() {
  local range=$FLINK_TM_RPC_PORTS last_file=$RUN_DIR/flink-taskmanager.last-port lo hi last n i p
  if [[ ! $range =~ ^([0-9]+)-([0-9]+)$ ]]; then
    printf '%s\n' "$range" # one port, or 0 (any free port)
    return 0
  fi
  lo=${BASH_REMATCH[1]} hi=${BASH_REMATCH[2]} n=$((hi - lo + 1))
  last=$(cat "$last_file" 2>/dev/null || true)
  [[ $last =~ ^[0-9]+$ ]] && ((last >= lo && last <= hi)) || last=$hi
  for ((i = 1; i <= n; i++)); do
    p=$((lo + (last - lo + i) % n))
    if ! port_open "$LAKEHOUSE_BIND_HOST" "$p"; then
      printf '%s\n' "$p" >"$last_file"
      printf '%s\n' "$p"
      return 0
    fi
  done
  die "no free TaskManager RPC port in $range (FLINK_TM_RPC_PORTS in infra/stack.env)"
}

# Launch TaskManager number N with a resource id that is unique per start, so
# that waiting for "it registered" cannot be fooled by a dead predecessor the
# JobManager still lists. Sets TM_RID.
launch_tm() { # N
  local port
  port=$(next_tm_port)
  TM_RID=lakehouse-tm-$1-$(date +%s)
  start_bg "$TM_PREFIX$1" "$FLINK_HOME_DIR/bin/taskmanager.sh" start-foreground \
    -D "taskmanager.resource-id=$TM_RID" -D "taskmanager.rpc.port=$port"
}

wait_tm() { # N RESOURCE_ID
  local name=$TM_PREFIX$1
  if ! wait_until "$name" "$FLINK_START_TIMEOUT" "TaskManager $1 ($2) to register" tm_registered "$2"; then
    show_log_tail "$(log_file "$name")"
    die "TaskManager $1 did not register (log: $(log_file "$name"), full logs: $FLINK_STATE/log)"
  fi
  log "TaskManager $1 registered as $2"
}

start_tm() { # N
  launch_tm "$1"
  wait_tm "$1" "$TM_RID"
}

next_tm_index() {
  local n=1
  while service_pid "$TM_PREFIX$n" >/dev/null; do n=$((n + 1)); done
  printf '%s\n' "$n"
}

# --- commands --------------------------------------------------------------------
cmd_start() {
  local t0 pid p
  t0=$(date +%s.%N)
  find_pyflink
  require_cmd jq "Install jq (Debian: apt-get install -y jq); status reads Flink's REST answers with it."
  if pid=$(service_pid $JM) && config_changed; then
    # The configuration is only read at start (and holds the S3 keys).
    log "running with another configuration than the environment gives now (S3 keys, python, ports?): restarting;" \
      "$(rest /overview 2>/dev/null | jq -r '.["jobs-running"]' || echo '?') running job(s) stop (restore them from retained checkpoints or savepoints)"
    cmd_stop
  fi
  if pid=$(service_pid $JM); then
    if rest_ready; then
      if [[ -n $(tm_names) ]]; then
        log "already running (JobManager pid $pid, $(tm_count) TaskManager(s))"
        return 0
      fi
      log "JobManager running without a TaskManager: starting one"
      flink_env
      start_tm "$(next_tm_index)"
      return 0
    fi
    die "JobManager pid $pid is running but $REST_URL does not answer: run '$0 stop' then start again (log: $(log_file $JM))"
  fi
  require_java17
  for p in "$FLINK_REST_PORT" "$FLINK_JM_RPC_PORT" "$FLINK_BLOB_PORT"; do
    require_port_free "$p" "Flink"
  done
  build_home
  # Nothing runs: leftovers of earlier processes (tm_* dirs, distributed
  # caches, RocksDB working dirs; checkpoints are on S3) can go.
  rm -rf "$FLINK_STATE/tmp"
  write_config
  flink_env
  start_bg $JM "$FLINK_HOME_DIR/bin/jobmanager.sh" start-foreground
  # The TaskManager starts right away, not after the JobManager is up: each
  # spends ~10 s in Flink's launcher scripts and JVM start-up, and a
  # TaskManager simply retries until the JobManager answers.
  launch_tm 1
  if ! wait_until $JM "$FLINK_START_TIMEOUT" "REST $REST_URL/overview" rest_ready; then
    show_log_tail "$(log_file $JM)"
    stop_service "${TM_PREFIX}1" "$FLINK_STOP_TIMEOUT"
    stop_service $JM "$FLINK_STOP_TIMEOUT"
    die "JobManager did not come up (log: $(log_file $JM), full logs: $FLINK_STATE/log)"
  fi
  log "JobManager up after $(elapsed_since "$t0")s"
  wait_tm 1 "$TM_RID"
  log "healthy on $REST_URL ($(tm_count) TaskManager), started in $(elapsed_since "$t0")s"
}

cmd_stop() {
  local name
  # TaskManagers first: the JobManager then sees an orderly disconnect.
  for name in $(tm_names); do stop_service "$name" "$FLINK_STOP_TIMEOUT"; done
  stop_service $JM "$FLINK_STOP_TIMEOUT"
}

cmd_status() {
  local name overview rc=0
  service_status_line $JM "rest $REST_URL"
  for name in $(tm_names); do service_status_line "$name"; done
  service_pid $JM >/dev/null || return 3
  if ! overview=$(rest /overview 2>/dev/null); then
    log "JobManager running but $REST_URL does not answer"
    return 1
  fi
  jq -r '"  taskmanagers \(.taskmanagers), slots \(.["slots-available"])/\(.["slots-total"]) free, jobs running \(.["jobs-running"]), finished \(.["jobs-finished"]), failed \(.["jobs-failed"]), cancelled \(.["jobs-cancelled"]) (Flink \(.["flink-version"]))"' <<<"$overview"
  [[ $(jq -r .taskmanagers <<<"$overview") -ge 1 ]] || { log "no TaskManager registered"; rc=1; }
  return $rc
}

cmd_start_taskmanager() {
  find_pyflink
  if ! service_pid $JM >/dev/null || ! rest_ready; then
    die "the JobManager is not running: use '$0 start'"
  fi
  flink_env
  start_tm "$(next_tm_index)"
}

cmd_stop_taskmanager() {
  local name
  if (($#)); then
    name=$TM_PREFIX$1
  else
    name=$(tm_names | tail -n 1)
    [[ -n $name ]] || { log "no TaskManager running"; return 0; }
  fi
  stop_service "$name" "$FLINK_STOP_TIMEOUT"
}

# --- application cluster ----------------------------------------------------------
# FLINK_HOME for one release: bin/ and opt/ (flink-python) of the distribution, lib/ of the
# distribution plus the release's cluster/lib, plugins/ from the release: the jars come with the
# release, as in the container image of deploy/.
build_app_home() { # RELEASE
  local release=$1 new=$APP_STATE/home.new item
  [[ -d $release/cluster/lib && -d $release/cluster/plugins ]] ||
    die "$release is not an unpacked release (no cluster/lib, cluster/plugins): see \`lakehouse package\`"
  rm -rf "$new"
  mkdir -p "$new/lib" "$new/opt" "$new/conf" "$new/plugins"
  cp -R "$PYFLINK_DIR/bin" "$new/bin"
  for item in "$PYFLINK_DIR"/lib/*.jar "$release"/cluster/lib/*.jar; do ln -s "$item" "$new/lib/"; done
  for item in "$PYFLINK_DIR"/opt/*; do ln -s "$item" "$new/opt/"; done
  for item in "$release"/cluster/plugins/*; do ln -s "$item" "$new/plugins/"; done
  cp "$FLINK_HOME_DIR"/conf/log4j*.properties "$FLINK_HOME_DIR"/conf/logback*.xml "$new/conf/"
  rm -rf "$APP_HOME"
  mv "$new" "$APP_HOME"
}

# The session cluster's configuration (write_config) on the application cluster's ports, with
# its own state directories and SLOTS task slots, and no Python interpreter: the job names the
# release's (-pyexec, -pyclientexec), nothing falls back to this machine's venv.
write_app_config() { # SLOTS
  local out=$APP_HOME/conf/config.yaml
  FLINK_STATE=$APP_STATE FLINK_REST_PORT=$FLINK_APP_REST_PORT FLINK_JM_RPC_PORT=$FLINK_APP_JM_RPC_PORT \
    FLINK_BLOB_PORT=0 FLINK_TM_RPC_PORTS=0 FLINK_TM_SLOTS=$1 write_config "$out"
  sed -i -E '/^python\.(client\.)?executable:/d' "$out"
}

app_env() {
  flink_env
  export FLINK_HOME=$APP_HOME FLINK_CONF_DIR=$APP_HOME/conf FLINK_LIB_DIR=$APP_HOME/lib
  export FLINK_OPT_DIR=$APP_HOME/opt FLINK_PLUGINS_DIR=$APP_HOME/plugins FLINK_BIN_DIR=$APP_HOME/bin
  export FLINK_LOG_DIR=$APP_STATE/log FLINK_PID_DIR=$APP_STATE/run FLINK_IDENT_STRING=lakehouse-app
}

app_rest_ready() { curl -fsS -m 5 "$APP_REST_URL/overview" >/dev/null; }

cmd_app_start() { # RELEASE SLOTS -- ARGS...
  local release=${1:-} slots=${2:-} t0 p
  (($# >= 3)) && [[ $3 == -- ]] || die "usage: $0 app-start RELEASE SLOTS -- ARGS..."
  shift 3
  t0=$(date +%s.%N)
  find_pyflink
  require_java17
  if service_pid $APP_JM >/dev/null; then
    die "an application cluster is running already ($APP_REST_URL): stop it first ('$0 app-stop')"
  fi
  stop_service $APP_TM "$FLINK_STOP_TIMEOUT" # a TaskManager left from a cluster that shut down
  for p in "$FLINK_APP_REST_PORT" "$FLINK_APP_JM_RPC_PORT"; do
    require_port_free "$p" "the Flink application cluster"
  done
  [[ -f $FLINK_CONF ]] || die "no session cluster configuration yet ($FLINK_CONF): run '$0 install' or start first"
  build_app_home "$release"
  rm -rf "$APP_STATE/tmp"
  write_app_config "$slots"
  app_env
  start_bg $APP_JM "$APP_HOME/bin/standalone-job.sh" start-foreground "$@"
  start_bg $APP_TM "$APP_HOME/bin/taskmanager.sh" start-foreground -D "taskmanager.resource-id=lakehouse-app-tm-$(date +%s)"
  if ! wait_until $APP_JM "$FLINK_START_TIMEOUT" "REST $APP_REST_URL/overview" app_rest_ready; then
    show_log_tail "$(log_file $APP_JM)"
    cmd_app_stop
    die "the application cluster's JobManager did not come up (log: $(log_file $APP_JM), full logs: $APP_STATE/log)"
  fi
  log "application cluster up on $APP_REST_URL in $(elapsed_since "$t0")s"
}

cmd_app_stop() {
  stop_service $APP_TM "$FLINK_STOP_TIMEOUT"
  stop_service $APP_JM "$FLINK_STOP_TIMEOUT"
}

cmd_app_status() {
  service_status_line $APP_JM "rest $APP_REST_URL"
  service_status_line $APP_TM
  service_pid $APP_JM >/dev/null || return 3
  app_rest_ready || { log "JobManager running but $APP_REST_URL does not answer"; return 1; }
}

cmd_cli() {
  find_pyflink
  [[ -x $FLINK_HOME_DIR/bin/flink ]] || die "no FLINK_HOME yet: run '$0 start' (or install) first"
  flink_env
  exec "$FLINK_HOME_DIR/bin/flink" "$@"
}

main() {
  local cmd=${1:-}
  (($#)) && shift
  case $cmd in
  install)
    find_pyflink
    cmd_install
    # Refresh the overlay too, unless a running cluster is using it, so
    # `flink.sh cli` works before the first start.
    if ! service_pid $JM >/dev/null; then
      build_home
      write_config
    fi
    log "FLINK_HOME: $FLINK_HOME_DIR"
    ;;
  start-taskmanager) cmd_start_taskmanager ;;
  stop-taskmanager) cmd_stop_taskmanager "$@" ;;
  home) printf '%s\n' "$FLINK_HOME_DIR" ;;
  connector-deps)
    # The jars the Delta connector needs beside Flink's own (a session
    # cluster has them in lib/; the embedded mini-cluster takes them as
    # pipeline.jars). One path per line.
    local dir
    dir=$(LH_QUIET=1 parquet_closure)
    for j in "$dir"/jars/*.jar; do
      [[ $(basename "$j") == flink-parquet-* ]] || printf '%s\n' "$j"
    done
    ;;
  artifacts) LH_QUIET=1 fetch_artifacts ;;
  cli) cmd_cli "$@" ;;
  app-start) cmd_app_start "$@" ;;
  app-stop) cmd_app_stop ;;
  app-status) cmd_app_status ;;
  app-rest) printf '%s\n' "$APP_REST_URL" ;;
  *) service_command "$cmd" ;;
  esac
}

main "$@"
