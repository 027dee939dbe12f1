//! The one limit on request bodies, shared by the router's layer, the visitor layer that
//! reads form bodies, and the 413 problem that explains it.

/// Largest request body accepted: an order is a few hundred bytes; 64 KiB leaves room without inviting floods.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
