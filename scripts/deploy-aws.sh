#!/usr/bin/env bash
# Builds the Lambda artifact and deploys Stampede's SAM stack (deploy/template.yaml).
#
#   scripts/deploy-aws.sh --guided                                  # first time: asks, saves samconfig.toml
#   scripts/deploy-aws.sh                                           # later deploys
#   scripts/deploy-aws.sh --parameter-overrides SenderEmail=orders@example.com   # non-interactive
#
# The stack is named `stampede` unless STAMPEDE_STACK says otherwise. Deploys use
# `cargo lambda build` + `sam deploy`, not `sam build`: both functions are one prebuilt
# binary (the `aws` feature of the `stampede` crate, cross-built for arm64).
# Needs: cargo-lambda (pip install cargo-lambda ziglang), the SAM CLI, AWS credentials.
set -euo pipefail
cd "$(dirname "$0")/.."
stack="${STAMPEDE_STACK:-stampede}"

cargo lambda build --release --arm64 --features aws --bin stampede-lambda --locked
sam deploy --template-file deploy/template.yaml --stack-name "$stack" \
    --resolve-s3 --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset "$@"

outputs() {
    aws cloudformation describe-stacks --stack-name "$stack" \
        --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
echo
echo "Shop:        $(outputs ShopUrl)"
echo "Admin token: aws secretsmanager get-secret-value --secret-id $(outputs AdminTokenSecret) --query SecretString --output text"
