//! The catalog as ready-to-send JSON bytes (and gzipped, see `precompressed`), rebuilt when
//! stock or products change instead of once per request: a flash sale's crowd reloads the
//! menu far more often than it changes.
//!
//! Freshness: an entry is used while the store's stock-change counter has not passed the
//! value it was built at, and it is at most [`MAX_AGE`] old (a request that read the counter
//! before the entry was built takes it too, instead of rebuilding after it). The counter
//! ticks on every commit of this process, so on SQLite the catalog is exact; the age bound
//! covers changes made by other instances of a shared store (DynamoDB), which this process's
//! counter cannot see.

use super::dto::ProductDto;
use crate::precompressed::Precompressed;
use axum::body::Bytes;
use stampede_store::{Store, StoreError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest an entry is used without a rebuild.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// One build of the catalog.
#[derive(Debug)]
pub struct CatalogBytes {
    /// `[ProductDto, ...]` as JSON, with a strong `ETag` (a hash of it), and gzipped.
    pub body: Precompressed,
    version: u64,
    built: Instant,
}

impl CatalogBytes {
    /// Built at `version` or later (the counter only rises), and young enough.
    fn fresh(&self, version: u64) -> bool {
        self.version >= version && self.built.elapsed() <= MAX_AGE
    }
}

/// The cached catalog.
#[derive(Default)]
pub struct CatalogCache {
    current: Mutex<Option<Arc<CatalogBytes>>>,
    /// One rebuild at a time: a crowd arriving after a change waits for it, not repeats it.
    rebuilding: tokio::sync::Mutex<()>,
}

impl CatalogCache {
    /// The catalog, rebuilt first if it may be stale.
    pub async fn get(&self, store: &dyn Store) -> Result<Arc<CatalogBytes>, StoreError> {
        // Read the version before the products: a change committed in between then
        // only causes one extra rebuild, never a stale entry under a new version.
        let version = *store.stock_changes().borrow();
        if let Some(entry) = self.cached(version) {
            return Ok(entry);
        }
        let _turn = self.rebuilding.lock().await;
        if let Some(entry) = self.cached(version) {
            return Ok(entry);
        }
        let products: Vec<ProductDto> = store.products().await?.into_iter().map(Into::into).collect();
        let body = serde_json::to_vec(&products).map_err(|e| StoreError::Backend(e.to_string()))?;
        // Gzipped by the first request that asks, not here: during a sale every commit makes
        // the next request rebuild, and most rebuilds would compress for nobody.
        let body = Precompressed::new(Bytes::from(body));
        let entry = Arc::new(CatalogBytes { body, version, built: Instant::now() });
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(entry.clone());
        Ok(entry)
    }

    fn cached(&self, version: u64) -> Option<Arc<CatalogBytes>> {
        self.current.lock().unwrap_or_else(|p| p.into_inner()).as_ref().filter(|e| e.fresh(version)).cloned()
    }
}
