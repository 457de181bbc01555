#!/usr/bin/env bash
# End-to-end check of a running local stack (start it with `stack.sh up`):
# Kafka round trip on a 3-partition topic, S3 writer/reader permissions, Flink
# REST, and with --with-job a PyFlink job through Kafka -> Python UDF ->
# Parquet on S3 with checkpoints on S3. Cleans up what it creates.
set -euo pipefail
# shellcheck disable=SC2034  # read by log() in lib.sh
LH_SERVICE=smoke
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

usage() {
  cat <<EOF
Usage: $(basename "$0") [--with-job]

Checks a running stack (infra/stack.sh up) and ends with "N passed, M failed".
  --with-job   also submit infra/flink/smoke_job.py to the session cluster (~30-40 s)
Exit 0 only when every check passed.
EOF
}

WITH_JOB=false
case ${1:-} in
"") ;;
--with-job) WITH_JOB=true ;;
-h | --help) usage; exit 0 ;;
*) usage >&2; exit 2 ;;
esac

KAFKA=$INFRA_DIR/kafka/kafka.sh
FLINK=$INFRA_DIR/flink/flink.sh
RUN_ID=$(date +%s)-$$
TOPIC=infra-smoke-$RUN_ID
BUCKET_URL=$S3_ENDPOINT/$LAKEHOUSE_BUCKET
PREFIX=tmp/infra-smoke/$RUN_ID
# For query strings: curl's SigV4 signs the query as written, and S3 wants
# "/" percent-encoded there, so encode it ourselves.
PREFIX_Q=${PREFIX//\//%2F}%2F
passed=0 failed=0

check() { # DESCRIPTION COMMAND...
  local what=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
    printf 'PASS  %s\n' "$what"
  else
    failed=$((failed + 1))
    printf 'FAIL  %s\n' "$what"
  fi
}

s3_code() { # IDENTITY METHOD KEY [CURL ARGS...] -> HTTP status
  local who=$1 method=$2 key=$3
  shift 3
  s3_curl_as "$who" "$method" "$BUCKET_URL/$key" -o /dev/null -w '%{http_code}' "$@"
}

cleanup() {
  local key
  "$KAFKA" tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$LAKEHOUSE_BIND_HOST:$KAFKA_BROKER_PORT" \
    --delete --if-exists --topic "$TOPIC" >/dev/null 2>&1 || true
  for key in $(s3_curl_as writer GET "$BUCKET_URL?list-type=2&prefix=$PREFIX_Q" | grep -o '<Key>[^<]*</Key>' | sed 's/<[^>]*>//g'); do
    s3_curl_as writer DELETE "$BUCKET_URL/$key" -o /dev/null || true
  done
}
trap cleanup EXIT

s3_credentials
stack_healthy() { "$INFRA_DIR/stack.sh" status >/dev/null 2>&1; }
check "stack status healthy" stack_healthy

# --- Kafka ---------------------------------------------------------------------
msg="smoke-$RUN_ID"
check "kafka: create topic $TOPIC with 3 partitions" "$KAFKA" create-topic "$TOPIC" 3
partitions_are_3() {
  [[ $("$KAFKA" tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$LAKEHOUSE_BIND_HOST:$KAFKA_BROKER_PORT" \
    --describe --topic "$TOPIC" 2>/dev/null) == *"PartitionCount: 3"* ]]
}
check "kafka: topic has 3 partitions" partitions_are_3
produce() { printf '%s\n' "$@" | "$KAFKA" produce "$TOPIC"; }
check "kafka: produce one message" produce "$msg"
consumed_matches() { [[ $("$KAFKA" consume "$TOPIC" 1 2>/dev/null) == "$msg" ]]; }
check "kafka: consume it back" consumed_matches

# --- S3 ---------------------------------------------------------------------------
body=$(mktemp)
printf 'hello %s\n' "$RUN_ID" >"$body"
check "s3: writer put" test "$(s3_code writer PUT "$PREFIX/hello.txt" -T "$body")" = 200
check "s3: writer get" test "$(s3_curl_as writer GET "$BUCKET_URL/$PREFIX/hello.txt")" = "hello $RUN_ID"
check "s3: reader get" test "$(s3_curl_as reader GET "$BUCKET_URL/$PREFIX/hello.txt")" = "hello $RUN_ID"
# Responses are captured before matching: `curl | grep -q` can fail under
# pipefail when grep exits early and curl gets SIGPIPE.
reader_lists() { [[ $(s3_curl_as reader GET "$BUCKET_URL?list-type=2&prefix=$PREFIX_Q") == *"<Key>$PREFIX/hello.txt</Key>"* ]]; }
check "s3: reader list" reader_lists
reader_put_denied() { [[ $(s3_curl_as reader PUT "$BUCKET_URL/$PREFIX/denied.txt" -T "$body") == *"<Code>AccessDenied</Code>"* ]]; }
check "s3: reader put is AccessDenied" reader_put_denied
reader_delete_denied() { [[ $(s3_curl_as reader DELETE "$BUCKET_URL/$PREFIX/hello.txt") == *"<Code>AccessDenied</Code>"* ]]; }
check "s3: reader delete is AccessDenied" reader_delete_denied
check "s3: conditional put (If-None-Match: *) on an existing key is refused (412)" \
  test "$(s3_code writer PUT "$PREFIX/hello.txt" -T "$body" -H 'If-None-Match: *')" = 412
rm -f "$body"

# --- Flink ------------------------------------------------------------------------
rest_has_tm() { [[ $(curl -fsS -m 5 "http://$LAKEHOUSE_BIND_HOST:$FLINK_REST_PORT/overview" | jq -r .taskmanagers) -ge 1 ]]; }
check "flink: REST /overview lists a TaskManager" rest_has_tm

if $WITH_JOB; then
  check "flink job: produce 3 more messages" produce a b c
  check "flink job: Kafka -> Python UDF -> Parquet on S3 finishes" \
    "$FLINK" cli run -py "$INFRA_DIR/flink/smoke_job.py" "$TOPIC" \
    "$LAKEHOUSE_BIND_HOST:$KAFKA_BROKER_PORT" "s3://$LAKEHOUSE_BUCKET/$PREFIX/parquet"
  # Read the part files back as the reader, with pyarrow (a pyflink dependency).
  parquet_rows_ok() {
    "$LAKEHOUSE_PYTHON" - "$LAKEHOUSE_BUCKET/$PREFIX/parquet" <<'EOF'
import os, sys
import pyarrow.fs as fs
import pyarrow.parquet as pq
endpoint = os.environ["S3_ENDPOINT"]
s3 = fs.S3FileSystem(access_key=os.environ["S3_READER_ACCESS_KEY"], secret_key=os.environ["S3_READER_SECRET_KEY"],
                     endpoint_override=endpoint.split("://", 1)[1], scheme=endpoint.split("://", 1)[0],
                     region=os.environ["S3_REGION"])
rows = []
for info in s3.get_file_info(fs.FileSelector(sys.argv[1])):
    rows += pq.read_table(info.path, filesystem=s3).to_pylist()
loud = sorted(r["loud"] for r in rows)
print(f"  parquet rows: {len(rows)} {loud}")
sys.exit(0 if len(rows) == 4 and all(r["loud"] == r["msg"].upper() for r in rows) else 1)
EOF
  }
  check "flink job: 4 rows in Parquet, upper-cased by the UDF" parquet_rows_ok
fi

printf '%d passed, %d failed\n' "$passed" "$failed"
((failed == 0))
