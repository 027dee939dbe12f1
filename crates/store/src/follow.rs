//! Live stock for engines several instances share (DynamoDB, PostgreSQL): a change made by
//! another instance reaches this one's live-stock streams and menus by polling the catalog.

use crate::Store;
use std::sync::Arc;
use std::time::Duration;

/// Every `every`, reads `store.products()` and, when any product's stock or definition (a
/// staff edit: name, price, archived) changed since the last read, calls `changed` (which
/// ticks the store's stock-change signal, so cached menus are rendered again). Stops when the
/// store is dropped; a failed read is skipped, not fatal.
pub(crate) fn poll_stock_levels<S: Store>(
    store: &Arc<S>,
    every: Duration,
    changed: fn(&S),
) -> tokio::task::JoinHandle<()> {
    let store = Arc::downgrade(store);
    tokio::spawn(async move {
        let mut seen: Option<Vec<crate::ProductView>> = None;
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(store) = store.upgrade() else { return };
            let Ok(views) = store.products().await else { continue };
            if seen.as_ref().is_some_and(|seen| *seen != views) {
                changed(&store);
            }
            seen = Some(views);
        }
    })
}
