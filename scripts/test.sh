#!/usr/bin/env bash
# Runs every check and test Stampede has. Installs what the tests need first; every install
# step is idempotent, so running this twice costs nothing extra.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain components"
rustup component add rustfmt clippy >/dev/null 2>&1 || true

step "python test tools"
python3 -c 'import schemathesis' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check 'schemathesis>=4,<5'

step "format"
cargo fmt --all -- --check

step "lint"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
cargo test --workspace --locked

step "API fuzzing (schemathesis)"
cargo build --locked -p stampede
./scripts/schemathesis.sh
