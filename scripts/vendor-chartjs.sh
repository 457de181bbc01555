#!/usr/bin/env bash
# Re-vendors the dashboard's chart library (Chart.js, MIT) from npm at the pinned version, checking
# the tarball against npm's recorded integrity. Usage: scripts/vendor-chartjs.sh [VERSION]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
version=${1:-4.5.1}
dest=$repo/lakehouse/serve/static/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "chart.js@$version" >/dev/null
expected=$(npm view "chart.js@$version" dist.integrity)
actual="sha512-$(openssl dgst -sha512 -binary "chart.js-$version.tgz" | base64 -w0)"
[[ $expected == "$actual" ]] || { echo "integrity mismatch for chart.js $version" >&2; exit 1; }
tar xzf "chart.js-$version.tgz"
rm -f "$dest"/chart-*.umd.min.js "$dest"/chart-*.LICENSE.md
cp package/dist/chart.umd.min.js "$dest/chart-$version.umd.min.js"
cp package/LICENSE.md "$dest/chart-$version.LICENSE.md"
echo "vendored chart.js $version into $dest (update CHART_JS in lakehouse/serve/app.py if the version changed)"
