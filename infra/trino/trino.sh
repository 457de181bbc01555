#!/usr/bin/env bash
# Trino for the local stack: one JVM (coordinator + worker) serving SQL on the
# Delta tables in S3, run on the Temurin 25 JDK straight from the server
# tarball on Maven Central. It reads S3 with the READ-ONLY identity; table
# registrations (the file metastore) live on local disk in the state dir,
# because the reader may not write to S3 (see docs/trino.md).
set -euo pipefail
# shellcheck disable=SC2034  # read by log() in lib.sh
LH_SERVICE=trino
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib.sh"
# Trino's pins: infra/trino/trino.env until they move into stack.env (same
# `: "${VAR:=default}"` form, so sourcing both is harmless).
if [[ -f $INFRA_DIR/trino/trino.env ]]; then
  set -a
  # shellcheck source-path=SCRIPTDIR source=trino.env
  . "$INFRA_DIR/trino/trino.env"
  set +a
fi

TRINO_STATE=$STATE_DIR/trino
ETC=$TRINO_STATE/etc
CATALOG_FILE=$ETC/catalog/$TRINO_CATALOG.properties
# Root of Trino's local file system ("local:///..." locations); the file
# metastore is local:///metastore inside it.
LOCAL_FS_ROOT=$TRINO_STATE/fs
INSTALL_DIR=$CACHE_DIR/trino/$TRINO_VERSION
URL=http://$LAKEHOUSE_BIND_HOST:$TRINO_HTTP_PORT

usage() {
  cat <<EOF
Usage: $(basename "$0") COMMAND

Trino $TRINO_VERSION on $URL: catalog '$TRINO_CATALOG' (Delta Lake) over s3://$LAKEHOUSE_BUCKET
on $S3_ENDPOINT, read with the reader identity (S3_READER_ACCESS_KEY / S3_READER_SECRET_KEY).

Commands:
  install   fetch io.trino:trino-server:$TRINO_VERSION:tar.gz from Maven Central (sha1-checked,
            cached), keep lib/ and plugin/delta-lake in $INSTALL_DIR
  start     write etc/ (the catalog file holds the reader keys: state dir, mode 600), start the
            server on the Java $TRINO_JAVA_MIN+ JDK, wait until /v1/info says it is no longer starting
  stop      stop it (SIGTERM, SIGKILL after ${TRINO_STOP_TIMEOUT}s)
  status    print state, pid, RSS; exit 0 healthy, 3 stopped, 1 unhealthy
  java      print the java binary Trino runs on
  cli-jar   fetch Trino's own CLI (io.trino:trino-cli:$TRINO_VERSION:executable jar, sha1-checked,
            cached) and print its path
  shell [ARGS...]
            Trino's CLI on that JDK against $URL, catalog '$TRINO_CATALOG'; ARGS go to the CLI
            (e.g. --execute 'show schemas', --output-format CSV, --file q.sql)

Heap $TRINO_HEAP. Table registrations (file metastore): $LOCAL_FS_ROOT/metastore.
Register the lakehouse tables: python -m lakehouse trino register (see docs/trino.md).
State: $TRINO_STATE   Log: $(log_file trino)   Versions/ports: infra/trino/trino.env
EOF
}

# --- java -------------------------------------------------------------------------
java_major_of() { # JAVA
  "$1" -XshowSettings:properties -version 2>&1 |
    awk -F' = ' '/java.specification.version/ {print $2; exit}'
}

# The java binary: $TRINO_JAVA_HOME, else the newest JDK in /usr/lib/jvm that
# is new enough (Temurin 25 here). Prints its path.
find_java() {
  local home candidates=() j v best="" best_v=0
  if [[ -n $TRINO_JAVA_HOME ]]; then
    candidates=("$TRINO_JAVA_HOME/bin/java")
  else
    for home in /usr/lib/jvm/*/; do
      [[ -L ${home%/} ]] && continue # Debian's alias symlinks
      candidates+=("${home}bin/java")
    done
  fi
  for j in "${candidates[@]}"; do
    [[ -x $j ]] || continue
    v=$(java_major_of "$j" || true)
    [[ $v =~ ^[0-9]+$ ]] || continue
    if ((v >= TRINO_JAVA_MIN && v > best_v)); then best=$j best_v=$v; fi
  done
  [[ -n $best ]] || die "Trino $TRINO_VERSION needs Java $TRINO_JAVA_MIN+; none found (${TRINO_JAVA_HOME:-/usr/lib/jvm/*}). Set TRINO_JAVA_HOME to a JDK $TRINO_JAVA_MIN+ home."
  printf '%s\n' "$best"
}

# --- install ----------------------------------------------------------------------
# The tarball holds every plugin (about 900 MB unpacked, files shared across
# plugins as hard links), so it is unpacked whole into a scratch dir and only
# lib/ and plugin/delta-lake are kept. A marker with the tarball's sha1 says
# the install is complete and matches the pinned version.
cmd_install() {
  local t0 tarball sha tmp top
  t0=$(date +%s.%N)
  tarball=$CACHE_DIR/maven/$(maven_path io.trino trino-server "$TRINO_VERSION" "" tar.gz)
  # The marker is written only after a verified fetch and a complete unpack:
  # no need to hash 800 MB again at every start.
  if [[ -f $INSTALL_DIR/.installed && -f $tarball.sha1 ]] &&
    [[ $(<"$INSTALL_DIR/.installed") == "$(awk 'NR==1{print tolower($1)}' "$tarball.sha1")" ]]; then
    log "cached trino-server $TRINO_VERSION ($INSTALL_DIR)"
    return 0
  fi
  tarball=$(maven_fetch io.trino trino-server "$TRINO_VERSION" "" tar.gz)
  sha=$(awk 'NR==1{print tolower($1)}' "$tarball.sha1")
  mkdir -p "$(dirname "$INSTALL_DIR")"
  tmp=$(mktemp -d "$INSTALL_DIR.unpack.XXXXXX")
  log "unpacking $(basename "$tarball") (lib/ and plugin/delta-lake are kept)"
  if ! tar -xzf "$tarball" -C "$tmp"; then
    rm -rf "$tmp"
    die "cannot unpack $tarball"
  fi
  top=$tmp/trino-server-$TRINO_VERSION
  [[ -d $top/lib && -d $top/plugin/delta-lake ]] || { rm -rf "$tmp"; die "unexpected layout in $tarball"; }
  mkdir -p "$tmp/keep/plugin"
  mv "$top/lib" "$tmp/keep/lib"
  mv "$top/plugin/delta-lake" "$tmp/keep/plugin/delta-lake"
  mv "$top/bin/launcher.properties" "$tmp/keep/launcher.properties"
  printf '%s\n' "$sha" >"$tmp/keep/.installed"
  rm -rf "$INSTALL_DIR"
  mv "$tmp/keep" "$INSTALL_DIR"
  rm -rf "$tmp"
  log "installed trino-server $TRINO_VERSION in $(elapsed_since "$t0")s ($(du -sh "$INSTALL_DIR" | cut -f1), $INSTALL_DIR)"
}

# --- configuration ----------------------------------------------------------------
# Escape a value for a Java properties file (backslashes; a leading space).
prop_value() { local v=${1//\\/\\\\}; [[ $v == " "* ]] && v="\\$v"; printf '%s' "$v"; }

write_server_config() {
  mkdir -p "$ETC/catalog" "$TRINO_STATE/data" "$LOCAL_FS_ROOT/metastore"
  cat >"$ETC/config.properties" <<EOF
# GENERATED by infra/trino/trino.sh at each start.
node.environment=lakehouse_local
node.id=lakehouse-trino-1
node.bind-ip=$LAKEHOUSE_BIND_HOST
node.internal-address=$LAKEHOUSE_BIND_HOST
coordinator=true
node-scheduler.include-coordinator=true
http-server.http.port=$TRINO_HTTP_PORT
discovery.uri=$URL
http-server.log.enabled=false
plugin.dir=$INSTALL_DIR/plugin
catalog.config-dir=$ETC/catalog
query.max-memory=$TRINO_QUERY_MAX_MEMORY
query.max-memory-per-node=$TRINO_QUERY_MAX_MEMORY_PER_NODE
EOF
  cat >"$ETC/log.properties" <<EOF
io.trino=INFO
io.trino.server.PluginManager=WARN
io.airlift=WARN
Bootstrap=WARN
EOF
  # Trino's recommended JVM options (docs, deployment), a fixed modest heap,
  # and the Vector API module recent releases need.
  cat >"$ETC/jvm.config" <<EOF
-server
-Xmx$TRINO_HEAP
--add-modules=jdk.incubator.vector
-XX:+UseG1GC
-XX:G1HeapRegionSize=32M
-XX:+ExplicitGCInvokesConcurrent
-XX:+ExitOnOutOfMemoryError
-XX:-OmitStackTraceInFastThrow
-XX:ReservedCodeCacheSize=256M
-XX:PerMethodRecompilationCutoff=10000
-XX:PerBytecodeRecompilationCutoff=10000
-XX:+UnlockDiagnosticVMOptions
-XX:G1NumCollectionsKeepPinned=10000000
-XX:+EnableDynamicAgentLoading
-Djdk.attach.allowAttachSelf=true
-Djdk.nio.maxCachedBufferSize=2000000
-Dfile.encoding=UTF-8
-Djava.io.tmpdir=$TRINO_STATE/data/tmp
EOF
  mkdir -p "$TRINO_STATE/data/tmp"
}

# The Delta catalog. It holds the reader's keys, so it is written into the
# state dir with mode 600 at every start, never into the repo.
write_catalog() { # [OUT]
  local out=${1:-$CATALOG_FILE}
  s3_credentials
  mkdir -p "$(dirname "$out")"
  (
    umask 077
    cat >"$out.tmp" <<EOF
# GENERATED by infra/trino/trino.sh at each start; holds S3 keys: do not commit.
connector.name=delta_lake
# Table registrations: a file metastore on LOCAL disk. The reader identity
# cannot write to S3, and the file metastore writes when registering tables.
hive.metastore=file
hive.metastore.catalog.dir=local:///metastore
fs.native-local.enabled=true
local.location=$LOCAL_FS_ROOT
# Data: the Delta tables on S3, read with the read-only identity.
fs.native-s3.enabled=true
s3.endpoint=$S3_ENDPOINT
s3.region=$S3_REGION
s3.path-style-access=true
s3.aws-access-key=$(prop_value "$S3_READER_ACCESS_KEY")
s3.aws-secret-key=$(prop_value "$S3_READER_SECRET_KEY")
delta.register-table-procedure.enabled=true
EOF
  )
  mv "$out.tmp" "$out"
}

# True when the running server was started with another catalog (other S3
# keys or endpoint) than the environment gives now: keys are read at start.
catalog_changed() { rendered_differs "$CATALOG_FILE" "$TRINO_STATE/catalog.candidate.properties" write_catalog; }

# --- health -------------------------------------------------------------------------
info() { curl -fsS -m 3 "$URL/v1/info"; }
healthy() { [[ $(info | jq -r '.starting') == false ]]; }

cmd_start() {
  local t0 pid java opts=()
  t0=$(date +%s.%N)
  if pid=$(service_pid trino) && catalog_changed; then
    log "running (pid $pid) with other S3 settings than the environment's now: restarting"
    cmd_stop
  fi
  already_running trino "$URL/v1/info does not say it has started" healthy && return 0
  require_port_free "$TRINO_HTTP_PORT" "Trino HTTP"
  java=$(find_java)
  cmd_install
  write_server_config
  write_catalog
  mapfile -t opts < <(grep -v '^[[:space:]]*\(#\|$\)' "$ETC/jvm.config")
  # Trino's launcher does the same: chdir to the data dir, then java with
  # jvm.config's options, -Dconfig and the main class from launcher.properties.
  cd "$TRINO_STATE/data"
  start_bg trino "$java" "${opts[@]}" \
    -Dconfig="$ETC/config.properties" -Dlog.levels-file="$ETC/log.properties" \
    -cp "$INSTALL_DIR/lib/*" "$(awk -F= '$1=="main-class"{print $2}' "$INSTALL_DIR/launcher.properties")"
  if ! wait_until trino "$TRINO_START_TIMEOUT" "Trino on $URL" healthy; then
    show_log_tail "$(log_file trino)" 60
    die "Trino did not become healthy (log: $(log_file trino))"
  fi
  pid=$(service_pid trino)
  log "healthy on $URL (Java $(java_major_of "$java")), started in $(elapsed_since "$t0")s, rss $(session_rss_mb "$pid") MiB"
}

cmd_stop() { stop_service trino "$TRINO_STOP_TIMEOUT"; }

cmd_status() {
  status_of trino "sql $URL (catalog $TRINO_CATALOG)" "$URL/v1/info does not report it started (still starting?)" healthy
}

# --- Trino's own CLI ----------------------------------------------------------------
# The executable jar of the server's version, from the same Maven Central cache
# as every artifact (downloaded with its .sha1, verified, reused).
cli_jar() { LH_QUIET=1 maven_fetch io.trino trino-cli "$TRINO_VERSION" executable jar; }

cmd_shell() { # [CLI ARGS...]
  local jar java
  jar=$(cli_jar)
  java=$(find_java)
  # JLine, the CLI's line editor, loads a native library: allowed, so Java 24+ does not warn.
  exec "$java" --enable-native-access=ALL-UNNAMED -jar "$jar" --server "$URL" --catalog "$TRINO_CATALOG" "$@"
}

main() {
  case ${1:-} in
  java) find_java ;;
  cli-jar) cli_jar ;;
  shell) shift; cmd_shell "$@" ;;
  *) service_command "$@" ;;
  esac
}

main "$@"
