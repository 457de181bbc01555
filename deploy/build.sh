#!/usr/bin/env bash
# Builds the orders pipeline's container image (deploy/Dockerfile) with the versions the local
# stack runs: Flink and its connector jars from infra/stack.env (through infra/flink/flink.sh, the
# same cached, checksummed files), Python at the project venv's exact version, the project's jars
# compiled as `lakehouse submit` compiles them.
#
# Usage: deploy/build.sh [--context-only DIR] [TAG]
#   --context-only DIR   stage the build context in DIR and print the build arguments; no Docker
#   TAG                  image tag (default lakehouse/flink:<FLINK_VERSION>-<git commit>)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../infra/stack.env
. "$repo/infra/stack.env"

context_only=""
if [[ ${1:-} == --context-only ]]; then
  context_only=${2:?--context-only needs a directory}
  shift 2
elif [[ ${1:-} == -h || ${1:-} == --help ]]; then
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

env_run() { "$repo/scripts/with-env.sh" "$@"; }

# The build arguments, each from its one source. deploy/Dockerfile declares exactly these.
python_version=$(env_run python -c 'import platform; print(platform.python_version())')
declare -A build_args=(
  [FLINK_VERSION]=$FLINK_VERSION
  [PYTHON_VERSION]=$python_version
)

ctx=${context_only:-$(mktemp -d "${TMPDIR:-/tmp}/lakehouse-image.XXXXXX")}
rm -rf "$ctx" && mkdir -p "$ctx/flink/lib" "$ctx/lakehouse/jars" "$ctx/lakehouse/app"
cp "$repo/requirements.lock" "$ctx/"
while IFS= read -r item; do
  if [[ $item == plugin:* ]]; then
    item=${item#plugin:}
    mkdir -p "$ctx/flink/plugins/${FLINK_S3_PLUGIN#flink-}"
    cp "$item" "$ctx/flink/plugins/${FLINK_S3_PLUGIN#flink-}/"
  else
    cp "$item" "$ctx/flink/lib/"
  fi
done < <(env_run infra/flink/flink.sh artifacts)
env_run python - "$ctx/lakehouse/jars" <<'PY'
import shutil, sys
from lakehouse.pipeline import packaging
shutil.copy(packaging.udf_jar(), f"{sys.argv[1]}/lakehouse-udfs.jar")
shutil.copy(packaging.connector_jar(), f"{sys.argv[1]}/lakehouse-delta-connector.jar")
PY
# The app tree: the code and what the job reads (lakehouse/pipeline/release.py's APP_DIRS and APP_DATA).
(cd "$repo" && git ls-files -z -- lakehouse udfs jobs config sql | grep -zv '\.java$' |
  xargs -0 cp --parents -t "$ctx/lakehouse/app")

args=()
for name in "${!build_args[@]}"; do args+=(--build-arg "$name=${build_args[$name]}"); done
if [[ -n $context_only ]]; then
  printf '%s\n' "${args[@]}"
  exit 0
fi
tag=${1:-lakehouse/flink:$FLINK_VERSION-$(git -C "$repo" rev-parse --short HEAD)}
docker build "${args[@]}" -f "$repo/deploy/Dockerfile" -t "$tag" "$ctx"
rm -rf "$ctx"
echo "$tag"
