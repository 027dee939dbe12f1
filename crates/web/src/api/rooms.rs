//! Waiting rooms as this instance last saw them (`AppState::rooms`): kept apart from the
//! handlers in `queue.rs` so the app state can hold them without importing the handlers.

use crate::Problem;
use stampede_domain::{Millis, RoomState, WaitingRoomRules};
use stampede_store::{Lines, ProductView, Store};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long an instance uses a room's state before reading (and maybe advancing) it again.
const TICK: Duration = Duration::from_secs(1);

/// Rooms as this instance last saw them: the line moves at most once a tick, so a crowd
/// polling its places costs one read (and at most one advance) per product and tick. Joins,
/// re-joins and places come from this instance's index of each line (`Lines`).
#[derive(Default)]
pub struct Rooms {
    /// Shared, not copied, with each request: a room keeps a step per advance for as long as
    /// an admission lasts (hundreds of them in a long sale).
    seen: Mutex<HashMap<String, (Instant, Arc<RoomState>)>>,
    /// Rooms one request is advancing now: the others answer from the state seen meanwhile,
    /// a tick old at most (for a room not seen yet, the state the store holds), instead of
    /// all waiting for the same write and read.
    advancing: Mutex<HashSet<String>>,
    pub(super) lines: Lines,
}

/// Marks a room as being advanced until dropped (also when the request is cancelled).
struct Advancing<'a>(&'a Mutex<HashSet<String>>, String);

impl Drop for Advancing<'_> {
    fn drop(&mut self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.1);
    }
}

impl Rooms {
    /// Rooms whose joins wait for their write: for Lambda, where nothing runs between
    /// invocations to write behind.
    pub fn write_through() -> Rooms {
        Rooms { lines: Lines::write_through(), ..Rooms::default() }
    }

    /// Waits for this instance's joins to be written (at shutdown, so none wait to be re-recorded).
    pub async fn flush(&self) -> Result<(), stampede_store::StoreError> {
        self.lines.flush().await
    }

    /// Joins this instance has answered and not yet written, and how long the oldest has
    /// waited (`Lines::backlog`).
    pub fn backlog(&self) -> (u64, Duration) {
        self.lines.backlog()
    }

    /// The room as this instance saw it within the last tick, or else as the store holds it:
    /// for staff, who should neither move the line nor wait on its writes.
    pub(super) async fn peek(&self, store: &Arc<dyn Store>, id: &str) -> Result<Arc<RoomState>, Problem> {
        let recent = self.seen.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned();
        match recent {
            Some((at, state)) if at.elapsed() < TICK => Ok(state),
            _ => Ok(Arc::new(store.room(id).await?)),
        }
    }

    /// The room as this instance last saw it, if it has served it.
    pub(super) fn last_seen(&self, id: &str) -> Option<Arc<RoomState>> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).get(id).map(|(_, state)| state.clone())
    }

    /// The room of `view`'s product, advanced first when a tick has passed (or `fresh`).
    pub(super) async fn current(
        &self,
        store: &Arc<dyn Store>,
        view: &ProductView,
        rules: &WaitingRoomRules,
        now: Millis,
        fresh: bool,
    ) -> Result<Arc<RoomState>, Problem> {
        let id = &view.product.id;
        let _advancing = if fresh {
            None
        } else {
            let advance_here = {
                let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
                let mut advancing = self.advancing.lock().unwrap_or_else(|p| p.into_inner());
                match seen.get(id) {
                    Some((at, state)) if at.elapsed() < TICK || advancing.contains(id) => return Ok(state.clone()),
                    None if advancing.contains(id) => false,
                    _ => advancing.insert(id.clone()),
                }
            };
            if !advance_here {
                // Not seen here yet, and being advanced: the state the store holds stands in
                // for the last one seen. Waiting instead would hold every request on the
                // advance's flush, for seconds when the store is slow to take the joins. Kept
                // as seen a tick ago, so the requests after this one answer from it without
                // reading again, and the first after the advance fails tries again.
                let state = Arc::new(store.room(id).await?);
                let a_tick_ago = Instant::now().checked_sub(TICK).unwrap_or_else(Instant::now);
                let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
                seen.entry(id.clone()).or_insert((a_tick_ago, state.clone()));
                return Ok(state);
            }
            Some(Advancing(&self.advancing, id.clone()))
        };
        let opens = view.product.sale.starts_at;
        // The store's line decides who is next: first write the joins this instance holds.
        self.lines.flush().await?;
        let room = store.advance_room(id, rules, opens, now, view.stock).await?;
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        // A newer state from a concurrent request wins: watermarks only move forward.
        match seen.get(id) {
            Some((_, newer)) if newer.version > room.state.version => Ok(newer.clone()),
            _ => {
                let state = Arc::new(room.state);
                seen.insert(id.clone(), (Instant::now(), state.clone()));
                Ok(state)
            }
        }
    }
}
