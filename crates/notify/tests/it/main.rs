//! The notify crate's integration tests in one binary: the SNS and SES channels against a
//! local moto server (feature `aws`). Run: `cargo test -p stampede-notify --features aws --test it`.

#[cfg(feature = "aws")]
mod aws;
