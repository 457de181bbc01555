#!/usr/bin/env bash
# Creates (once) and prints the project's Python environment: a venv under the cache directory,
# named after the hash of requirements.lock, so a fresh clone reuses it and a changed lock builds a
# new one. Usage: scripts/bootstrap.sh  -> prints the venv path on the last line.
# Optional extras (pyproject.toml) are added to that venv on first use when LAKEHOUSE_EXTRAS names
# them (comma-separated, e.g. LAKEHOUSE_EXTRAS=spark): requirements-<extra>.lock pins each one,
# installed with requirements.lock as constraints so nothing the base needs moves.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${LAKEHOUSE_CACHE_DIR:-$HOME/.cache/lakehouse}
python=${LAKEHOUSE_BOOTSTRAP_PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
"$python" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' 2>/dev/null || {
  echo "bootstrap: Python 3.11 is required (tried $python)" >&2; exit 1; }
lock_hash=$(sha256sum "$repo/requirements.lock" | cut -c1-12)
venv="$cache/venv-py311-$lock_hash"
if [ ! -f "$venv/.complete" ]; then
  echo "bootstrap: creating $venv (first run on this machine: about 2 minutes, 1.3 GB)" >&2
  rm -rf "$venv"
  mkdir -p "$cache"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$repo/requirements.lock" >&2
  "$venv/bin/python" -c 'import pyflink, deltalake, pyarrow, pytest' >&2
  touch "$venv/.complete"
fi
extras=${LAKEHOUSE_EXTRAS:-}
for extra in ${extras//,/ }; do
  extra_lock="$repo/requirements-$extra.lock"
  [ -f "$extra_lock" ] || { echo "bootstrap: unknown extra '$extra' (no $extra_lock)" >&2; exit 1; }
  marker="$venv/.extra-$extra-$(sha256sum "$extra_lock" | cut -c1-12)"
  if [ ! -f "$marker" ]; then
    echo "bootstrap: installing the '$extra' extra into $venv (first use)" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -c "$repo/requirements.lock" -r "$extra_lock" >&2
    touch "$marker"
  fi
done
echo "$venv"
