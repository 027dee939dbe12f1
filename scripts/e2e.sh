#!/usr/bin/env bash
# Browser end-to-end tests of the storefront: headless Chromium (Debian package) driven by
# playwright-core through Node's built-in test runner. Installs what it needs only when it
# is missing, builds the `stampede` binary, and leaves screenshots of every page at phone
# and desktop width in artifacts/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "chromium"
if [ ! -x /usr/bin/chromium ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver
fi

step "playwright-core (npm ci)"
# Reinstall only when node_modules is missing or the lock file changed since the last install.
stamp=e2e/node_modules/.package-lock.sha256
want=$(sha256sum e2e/package-lock.json | cut -d' ' -f1)
if [ ! -d e2e/node_modules ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    (cd e2e && npm ci --no-audit --no-fund)
    echo "$want" > "$stamp"
fi

step "build the binary"
cargo build --locked -p stampede
# The analytics page has no auth of its own; its browser test runs it in this test-only server.
cargo build --locked -p stampede-web --example analytics_preview

step "browser tests"
rm -rf artifacts/screenshots
(cd e2e && node --test --test-concurrency=1 tests/)
echo "screenshots: artifacts/screenshots/"
