//! The store crate's integration tests, one test binary (one link) for all of them:
//! the storage conformance suite run against every adapter, and the SQLite-only parts
//! (writer, fulfilment, a back-office restart).

mod backoffice;
mod conformance;
mod fulfilment;
mod writer;
