#!/usr/bin/env bash
# Browser tests of the app (app/): headless Debian Chromium driven by
# playwright-core under node's test runner, against `dropship serve`.
# Installs what it needs when missing: Debian chromium (as root, via apt-get)
# and playwright-core from browser-tests/package-lock.json into
# target/browser-tests/node_modules (cached while the lock file is unchanged).
# Screenshots are left in target/browser-tests/screenshots/.
# `scripts/browser-tests.sh --install` installs those only, runs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work="$root/target/browser-tests"
mkdir -p "$work"

if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian chromium (browser tests)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y chromium chromium-driver
fi

command -v node >/dev/null || { echo "node is required for the browser tests" >&2; exit 1; }
if [ ! -f "$work/node_modules/playwright-core/package.json" ] \
  || ! cmp -s browser-tests/package-lock.json "$work/package-lock.json"; then
  cp browser-tests/package.json browser-tests/package-lock.json "$work/"
  (cd "$work" && npm ci --ignore-scripts --no-audit --no-fund)
fi
[ "${1:-}" != --install ] || exit 0

scripts/debug-build.sh --quiet
rm -rf "$work/screenshots"
export DROPSHIP_BIN="$root/target/debug/dropship"
export PLAYWRIGHT_MODULES="$work/node_modules"
export SCREENSHOTS="$work/screenshots"
node --test --test-reporter=spec browser-tests/*.test.mjs
