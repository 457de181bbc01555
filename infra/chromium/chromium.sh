#!/usr/bin/env bash
# Headless Chromium for the dashboard's browser test: Debian's chromium and chromium-driver.
set -euo pipefail
# shellcheck disable=SC2034  # read by log() in lib.sh
LH_SERVICE=chromium
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib.sh"

cmd_install() {
  if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    log "present: $(chromium --version 2>/dev/null | head -n 1)"
    return 0
  fi
  [[ $(id -u) == 0 ]] || die "chromium is absent; install Debian's packages as root: apt-get install -y chromium chromium-driver"
  log "installing Debian's chromium and chromium-driver"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver >&2 ||
    { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver >&2; }
}

case ${1:-} in
install) cmd_install ;;
-h | --help | help) echo "Usage: $(basename "$0") install   (Debian's chromium + chromium-driver, when absent)" ;;
*) echo "Usage: $(basename "$0") install" >&2; exit 2 ;;
esac
