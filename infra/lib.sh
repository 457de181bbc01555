# shellcheck shell=bash
# Shared helpers for the infra/*.sh scripts. Source it, do not run it:
#   . "$(dirname "$0")/../lib.sh"
#
# It loads the optional env file and stack.env, and provides:
#   - cached, checksummed downloads from Maven Central (single artifacts and
#     dependency closures resolved by Maven),
#   - waiting for ports / health checks with a timeout,
#   - the start, status and command-dispatch steps every service script shares,
#   - starting a service in the background with a pid file and a log file
#     under the state dir, and stopping it by PID (TERM, wait, then KILL).
set -euo pipefail

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# ---------------------------------------------------------------- messages
# Messages go to stderr so that functions can return values on stdout.
log() { printf '[%s] %s\n' "${LH_SERVICE:-infra}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ------------------------------------------------------------ configuration
# Read KEY=VALUE lines from infra/.env (or $LAKEHOUSE_ENV_FILE) for variables
# that are NOT already set: the real environment always wins, so CI or a
# developer can override one value without editing the file. Values are taken
# literally (no $VAR or ~ expansion); one pair of surrounding quotes is removed.
load_env_file() {
  local f="${LAKEHOUSE_ENV_FILE:-$INFRA_DIR/.env}" line key val
  [[ -f $f ]] || return 0
  while IFS= read -r line || [[ -n $line ]]; do
    line="${line%$'\r'}"
    [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
    line="${line#export }"
    if [[ ! $line =~ ^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]]; then
      log "ignoring a malformed line in $f"
      continue
    fi
    key=${BASH_REMATCH[1]} val=${BASH_REMATCH[2]}
    if [[ $val =~ ^\"(.*)\"$ || $val =~ ^\'(.*)\'$ ]]; then val=${BASH_REMATCH[1]}; fi
    [[ -n ${!key+x} ]] && continue
    export "$key=$val"
  done <"$f"
}

load_env_file
# set -a exports every variable stack.env defines, so child processes (java,
# weed, Flink's own scripts) and render_template see them.
set -a
# shellcheck source=stack.env
. "$INFRA_DIR/stack.env"
set +a

CACHE_DIR=$LAKEHOUSE_CACHE_DIR
STATE_DIR=$LAKEHOUSE_STATE_DIR
RUN_DIR=$STATE_DIR/run   # pid files
LOG_DIR=$STATE_DIR/log   # one log per started process
mkdir -p "$CACHE_DIR" "$RUN_DIR" "$LOG_DIR"

# Fill ${VAR} placeholders of a template from the environment; an unset
# variable is an error (a silently empty port or path is worse).
render_template() { # IN OUT
  perl -pe 's/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/exists $ENV{$1} ? $ENV{$1} : die "unset variable $1\n"/ge' \
    "$1" >"$2.tmp" || { rm -f "$2.tmp"; die "cannot render $1"; }
  mv "$2.tmp" "$2"
}

# S3 credentials: taken from the environment (or infra/.env). When unset, use
# throwaway values that only make sense on this loopback-only dev stack, and
# say so once -- without ever printing a secret.
s3_credentials() {
  local defaulted=()
  if [[ -z ${S3_WRITER_ACCESS_KEY:-} ]]; then S3_WRITER_ACCESS_KEY=lakehouse-writer; defaulted+=(S3_WRITER_ACCESS_KEY); fi
  if [[ -z ${S3_WRITER_SECRET_KEY:-} ]]; then S3_WRITER_SECRET_KEY=local-dev-only-writer-secret; defaulted+=(S3_WRITER_SECRET_KEY); fi
  if [[ -z ${S3_READER_ACCESS_KEY:-} ]]; then S3_READER_ACCESS_KEY=lakehouse-reader; defaulted+=(S3_READER_ACCESS_KEY); fi
  if [[ -z ${S3_READER_SECRET_KEY:-} ]]; then S3_READER_SECRET_KEY=local-dev-only-reader-secret; defaulted+=(S3_READER_SECRET_KEY); fi
  export S3_WRITER_ACCESS_KEY S3_WRITER_SECRET_KEY S3_READER_ACCESS_KEY S3_READER_SECRET_KEY
  if ((${#defaulted[@]})) && [[ -z ${LH_S3_NOTICE_SHOWN:-} ]]; then
    log "notice: ${defaulted[*]} not set: using throwaway local-dev defaults (see infra/.env.example)"
    export LH_S3_NOTICE_SHOWN=1
  fi
}

# A request to $S3_ENDPOINT signed as one of the two identities. curl signs
# with SigV4 itself (curl >= 7.75). The key pair goes through a config file
# on stdin (-K -), not argv, so `ps` never shows the secret.
s3_curl_as() { # writer|reader METHOD URL [CURL ARGS...]
  local who=$1 method=$2 url=$3 user
  shift 3
  s3_credentials
  case $who in
  writer) user="$S3_WRITER_ACCESS_KEY:$S3_WRITER_SECRET_KEY" ;;
  reader) user="$S3_READER_ACCESS_KEY:$S3_READER_SECRET_KEY" ;;
  *) die "s3_curl_as: unknown identity $who" ;;
  esac
  user=${user//\\/\\\\} # curl config strings: escape \ and "
  user=${user//\"/\\\"}
  printf 'user = "%s"\n' "$user" |
    curl -s -K - --aws-sigv4 "aws:amz:$S3_REGION:s3" -X "$method" "$@" "$url"
}

require_cmd() { # CMD HINT
  command -v "$1" >/dev/null 2>&1 || die "'$1' not found on PATH. $2"
}

# ------------------------------------------------------ Maven Central cache
# maven_fetch and maven_closure say "cached ..." when they reuse the cache,
# unless LH_QUIET is set (callers that only need the path).
# Relative repository path of group:artifact:version[:classifier][@ext].
maven_path() { # GROUP ARTIFACT VERSION [CLASSIFIER] [EXT]
  local g=${1//.//} a=$2 v=$3 c=${4:-} e=${5:-jar}
  printf '%s/%s/%s/%s-%s%s.%s\n' "$g" "$a" "$v" "$a" "$v" "${c:+-$c}" "$e"
}

# Maven's .sha1 files hold the hex digest, sometimes followed by a file name.
_sha1_matches() { # FILE SHA1FILE
  local want got
  want=$(tr -d '\r' <"$2" | awk 'NR==1{print tolower($1)}')
  got=$(sha1sum "$1" | awk '{print $1}')
  [[ -n $want && $want == "$got" ]]
}

# Download one artifact and its .sha1 into $CACHE_DIR/maven/<repo layout>,
# verify it, and print its local path on stdout. A cached copy is re-verified
# and reused, so a second install downloads nothing.
maven_fetch() { # GROUP ARTIFACT VERSION [CLASSIFIER] [EXT]
  local rel dest url tmp
  rel=$(maven_path "$@")
  dest=$CACHE_DIR/maven/$rel
  url=$MAVEN_REPO_URL/$rel
  if [[ -f $dest && -f $dest.sha1 ]] && _sha1_matches "$dest" "$dest.sha1"; then
    [[ -n ${LH_QUIET:-} ]] || log "cached $(basename "$dest")"
    printf '%s\n' "$dest"
    return 0
  fi
  mkdir -p "$(dirname "$dest")"
  # Download beside the target and rename only once verified, so an
  # interrupted download never looks like a cached artifact.
  tmp=$(mktemp "$dest.part.XXXXXX")
  log "downloading $url"
  if ! curl -fsSL --retry 3 --connect-timeout 20 -o "$tmp.sha1" "$url.sha1" ||
    ! curl -fsSL --retry 3 --connect-timeout 20 -o "$tmp" "$url"; then
    rm -f "$tmp" "$tmp.sha1"
    die "cannot download $url (or its .sha1)"
  fi
  if ! _sha1_matches "$tmp" "$tmp.sha1"; then
    rm -f "$tmp" "$tmp.sha1"
    die "sha1 mismatch for $url"
  fi
  mv "$tmp.sha1" "$dest.sha1"
  mv "$tmp" "$dest"
  printf '%s\n' "$dest"
}

# Resolve the runtime dependency closure of some Maven coordinates ONCE, with
# Maven itself (it knows version mediation, exclusions, BOMs; reading poms by
# hand does not). Jars land flat in $CACHE_DIR/closures/NAME-<hash>/jars, with
# manifest.sha1 listing them. The hash covers the coordinates, so a version
# bump in stack.env resolves a new closure instead of reusing a stale one.
#   maven_closure NAME [--exclude group:artifact]... group:artifact:version...
# Exclusions apply to every listed dependency (artifact may be '*').
# Prints the closure directory on stdout.
maven_closure() {
  local name=$1
  shift
  local excludes=() coords=() key dir
  while (($#)); do
    case $1 in
    --exclude) excludes+=("$2"); shift 2 ;;
    *) coords+=("$1"); shift ;;
    esac
  done
  key=$(printf '%s\n' "${coords[@]}" "${excludes[@]/#/!}" | sha1sum | cut -c1-12)
  dir=$CACHE_DIR/closures/$name-$key
  if [[ -s $dir/manifest.sha1 ]] && (cd "$dir/jars" && sha1sum --quiet -c ../manifest.sha1 >/dev/null 2>&1); then
    [[ -n ${LH_QUIET:-} ]] || log "cached $name closure ($(wc -l <"$dir/manifest.sha1") jars, $dir)"
    printf '%s\n' "$dir"
    return 0
  fi
  require_cmd mvn "Install Maven (Debian: apt-get install -y maven); it resolves the jar closures once."
  local work c g a v excl_xml="" deps_xml="" e
  work=$(mktemp -d "${TMPDIR:-/tmp}/lakehouse-mvn.XXXXXX")
  for e in ${excludes[@]+"${excludes[@]}"}; do
    excl_xml+="<exclusion><groupId>${e%%:*}</groupId><artifactId>${e#*:}</artifactId></exclusion>"
  done
  for c in "${coords[@]}"; do
    IFS=: read -r g a v <<<"$c"
    deps_xml+="<dependency><groupId>$g</groupId><artifactId>$a</artifactId><version>$v</version><exclusions>$excl_xml</exclusions></dependency>"
  done
  cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.lakehouse</groupId><artifactId>closure-$name</artifactId><version>0</version>
  <packaging>pom</packaging>
  <repositories><repository><id>central</id><url>$MAVEN_REPO_URL</url></repository></repositories>
  <pluginRepositories><pluginRepository><id>central</id><url>$MAVEN_REPO_URL</url></pluginRepository></pluginRepositories>
  <dependencies>$deps_xml</dependencies>
</project>
EOF
  log "resolving $name closure with Maven: ${coords[*]} (log: $work/mvn.log)"
  rm -rf "$dir"
  mkdir -p "$dir/jars"
  # -C: fail on a checksum mismatch instead of warning.
  if ! (cd "$work" && mvn -B -C -Dmaven.repo.local="$CACHE_DIR/m2-repo" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$dir/jars" >"$work/mvn.log" 2>&1); then
    tail -n 30 "$work/mvn.log" >&2
    rm -rf "$dir"
    die "Maven could not resolve the $name closure (full log: $work/mvn.log)"
  fi
  printf '%s\n' "${coords[@]}" >"$dir/coordinates.txt"
  (cd "$dir/jars" && sha1sum -- *.jar >../manifest.sha1)
  rm -rf "$work"
  log "resolved $name closure: $(wc -l <"$dir/manifest.sha1") jars"
  printf '%s\n' "$dir"
}

# ----------------------------------------------------------------- processes
# A pid file holds "PID STARTTIME": the kernel start time of the process
# (field 22 of /proc/PID/stat) guards against a recycled PID being mistaken
# for ours, so stop never signals a stranger.
_proc_starttime() { # PID
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) } # drop "pid (comm) ": comm may hold spaces
  awk '{print $20}' <<<"$stat"
}

pid_file() { printf '%s/%s.pid\n' "$RUN_DIR" "$1"; }
log_file() { printf '%s/%s.log\n' "$LOG_DIR" "$1"; }

# Print the PID of a running service started by start_bg, or return 1.
service_pid() { # NAME
  local f pid st
  f=$(pid_file "$1")
  [[ -f $f ]] || return 1
  read -r pid st <"$f" || return 1
  [[ -n ${pid:-} && $(_proc_starttime "$pid" || true) == "${st:-x}" ]] || return 1
  printf '%s\n' "$pid"
}

# Start COMMAND in its own session (setsid): it outlives this script, does not
# get the terminal's SIGHUP, and all its children share a session id equal to
# its PID, which lets stop_service find and end them. Output is appended to
# the log file. No-op when already running.
start_bg() { # NAME COMMAND...
  local name=$1 f log pid i
  shift
  f=$(pid_file "$name")
  log=$(log_file "$name")
  if pid=$(service_pid "$name"); then
    log "$name already running (pid $pid)"
    return 0
  fi
  rm -f "$f" "$f.tmp"
  # One log per run (the previous one kept as .1), so a log tail after a
  # failed start shows this run only.
  [[ -f $log ]] && mv -f "$log" "$log.1"
  printf '===== %s starting %s: %s\n' "$(date -Is)" "$name" "$*" >"$log"
  # The inner shell writes its own PID, closes every inherited descriptor
  # above 2, then execs the command: that PID is the service's, whatever
  # setsid had to do to become a session leader. Closing matters: a daemon
  # holding stack.sh's lock (fd 9) or a caller's pipe would keep the lock
  # taken, or the caller waiting for EOF, for as long as it runs.
  # shellcheck disable=SC2016  # $$ and $@ belong to the inner shell
  setsid bash -c 'echo $$ >"$0"
    for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done
    exec "$@"' "$f.tmp" "$@" >>"$log" 2>&1 </dev/null &
  for ((i = 0; i < 100; i++)); do
    [[ -s $f.tmp ]] && break
    sleep 0.05
  done
  [[ -s $f.tmp ]] || die "$name did not start (see $log)"
  pid=$(<"$f.tmp")
  printf '%s %s\n' "$pid" "$(_proc_starttime "$pid" || echo 0)" >"$f"
  rm -f "$f.tmp"
  log "$name started (pid $pid, log $log)"
}

_alive() { kill -0 "$1" 2>/dev/null; }

# Stop a service by PID: SIGTERM, wait up to TIMEOUT seconds, then SIGKILL.
# Leftover members of its session (e.g. Python workers of a TaskManager) are
# ended the same way, so nothing we started outlives `stop`.
stop_service() { # NAME TIMEOUT
  local name=$1 timeout=$2 f pid i others
  f=$(pid_file "$name")
  if ! pid=$(service_pid "$name"); then
    rm -f "$f"
    log "$name not running"
    return 0
  fi
  log "stopping $name (pid $pid, SIGTERM, up to ${timeout}s)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 10; i++)); do
    _alive "$pid" || break
    sleep 0.1
  done
  if _alive "$pid"; then
    log "$name ignored SIGTERM for ${timeout}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do _alive "$pid" || break; sleep 0.1; done
  fi
  # pgrep -s: processes whose session id is the service's PID, i.e. its
  # descendants (start_bg made it a session leader).
  others=$(pgrep -s "$pid" 2>/dev/null | tr '\n' ' ' || true)
  if [[ -n ${others// /} ]]; then
    log "ending leftover processes of $name's session: $others"
    # shellcheck disable=SC2086
    kill -TERM $others 2>/dev/null || true
    sleep 2
    others=$(pgrep -s "$pid" 2>/dev/null | tr '\n' ' ' || true)
    # shellcheck disable=SC2086
    [[ -z ${others// /} ]] || kill -KILL $others 2>/dev/null || true
  fi
  rm -f "$f"
  log "$name stopped"
}

# Resident memory in MiB of a PID plus every process of its session.
session_rss_mb() { # PID
  local pids
  pids=$( (echo "$1"; pgrep -s "$1" 2>/dev/null || true) | sort -u | paste -sd, -)
  ps -o rss= -p "$pids" 2>/dev/null | awk '{s+=$1} END {printf "%d\n", s/1024}'
}

# One status line for a service: state, pid, uptime, RSS.
service_status_line() { # NAME [EXTRA]
  local pid
  if pid=$(service_pid "$1"); then
    printf '%-22s running  pid %-7s up %-9s rss %5s MiB  %s\n' "$1" "$pid" \
      "$(ps -o etime= -p "$pid" | tr -d ' ')" "$(session_rss_mb "$pid")" "${2:-}"
  else
    printf '%-22s stopped\n' "$1"
  fi
}

# ------------------------------------------------------------ ports, health
port_open() { # HOST PORT
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# Fail early, with the owner if ss can tell, when a port we need is taken by
# a process that is not ours (a second stack, Trino, a notebook...).
require_port_free() { # PORT WHAT
  if port_open "$LAKEHOUSE_BIND_HOST" "$1"; then
    die "port $1 ($2) is already in use: $(ss -ltnpH "sport = :$1" 2>/dev/null | awk '{print $NF}' | head -1). Free it or override the port (see infra/stack.env)."
  fi
}

# Run CHECK... every half second until it succeeds; fail after TIMEOUT
# seconds, or at once if the service NAME has exited (no point waiting).
wait_until() { # NAME TIMEOUT DESCRIPTION CHECK...
  local name=$1 timeout=$2 what=$3 deadline
  shift 3
  deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if [[ -n $name ]] && ! service_pid "$name" >/dev/null; then
      log "$name exited while waiting for $what"
      return 1
    fi
    sleep 0.5
  done
  log "timed out after ${timeout}s waiting for $what"
  return 1
}

# For cmd_start: succeed when NAME is running and CHECK... passes (nothing to
# start), fail when it is not running; die when it runs but CHECK fails, since
# starting a second copy would only collide with the first.
already_running() { # NAME PROBLEM CHECK...
  local name=$1 problem=$2 pid
  shift 2
  pid=$(service_pid "$name") || return 1
  if "$@"; then
    log "already running (pid $pid)"
    return 0
  fi
  die "pid $pid is running but $problem: run '$0 stop' then start again (log: $(log_file "$name"))"
}

# For cmd_status: one status line; 3 when NAME is stopped, 1 (saying PROBLEM)
# when it runs but CHECK... fails.
status_of() { # NAME DETAILS PROBLEM CHECK...
  local name=$1 details=$2 problem=$3
  shift 3
  service_status_line "$name" "$details"
  service_pid "$name" >/dev/null || return 3
  "$@" || { log "running but $problem"; return 1; }
}

# True when WRITE would now produce another file than CURRENT, the one a
# running service read at its start (S3 keys, ports... changed since): WRITE
# is called with a candidate path, compared, and the candidate removed.
rendered_differs() { # CURRENT CANDIDATE WRITE...
  local current=$1 candidate=$2 rc=1
  shift 2
  [[ -f $current ]] || return 0
  "$@" "$candidate"
  cmp -s "$candidate" "$current" || rc=0
  rm -f "$candidate"
  return $rc
}

wait_for_port() { # NAME HOST PORT TIMEOUT
  wait_until "$1" "$4" "$2:$3 to accept connections" port_open "$2" "$3"
}

# The commands every service script answers the same way; a script's main()
# handles its own commands first and hands the rest here.
service_command() { # COMMAND
  case ${1:-} in
  install | start | stop | status) "cmd_$1" ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
  esac
}

# Print the tail of a service log to stderr, e.g. after a failed start.
show_log_tail() { # LOGFILE [LINES]
  [[ -f $1 ]] || return 0
  log "last ${2:-40} lines of $1:"
  tail -n "${2:-40}" "$1" | sed 's/^/    /' >&2
}

# Seconds since EPOCH_START with one decimal, for start-up timings.
elapsed_since() { # EPOCH_START(from date +%s.%N)
  awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}'
}

java_major() {
  "$LAKEHOUSE_JAVA" -XshowSettings:properties -version 2>&1 |
    awk -F' = ' '/java.specification.version/ {print $2; exit}'
}

require_java17() {
  local v
  v=$(java_major) || true
  [[ -n $v && ${v%%.*} -ge 17 ]] || die "Java 17+ needed (LAKEHOUSE_JAVA=$LAKEHOUSE_JAVA gives '${v:-nothing}')."
}
