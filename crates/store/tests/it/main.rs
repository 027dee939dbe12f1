//! The store crate's integration tests, one test binary (one link) for all of them:
//! the storage conformance suite run against every adapter, and the SQLite-only parts
//! (writer, fulfilment, back office, analytics).

mod analytics;
mod backoffice;
mod conformance;
mod fulfilment;
mod writer;
