#!/usr/bin/env bash
# Runs a command inside the project's environment (bootstrapped on first use), from the repo root.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
venv=$("$repo/scripts/bootstrap.sh" | tail -n 1)
export PATH="$venv/bin:$PATH" PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" LAKEHOUSE_PYTHON="$venv/bin/python"
cd "$repo"
exec "$@"
