//! What this instance knows of every product's stock, for the sold-out fast path: an order
//! for a product known sold out is refused from memory, without a connection or a
//! transaction, as SQLite refuses from its live catalog.
//!
//! The knowledge comes from every read of the catalog (`follow_other_instances` polls it
//! once a second; menus read it too) and from this instance's own orders (the levels their
//! transaction read, less what it drew). Stock that comes back here (a cancellation, a stock
//! adjustment, a staff edit) is forgotten or replaced at once. Stock that comes back on
//! another instance is learnt at the next poll: until then, up to about a second, this
//! instance may refuse a product as sold out that is sellable again. The other way round,
//! a product that sold out elsewhere is still tried by a transaction here until the poll,
//! which then refuses it exactly; the fast path never accepts anything.

use crate::ProductView;
use stampede_domain::{Millis, OrderRejection, OrderRequest, ProductState, evaluate};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

#[derive(Default)]
pub struct LiveStock {
    inner: Mutex<Known>,
}

#[derive(Default)]
struct Known {
    views: HashMap<String, ProductView>,
    /// Counts the changes made here that may bring stock back. A read begun before one of
    /// them may predate it, so it is not recorded (see `observed`).
    restocks: u64,
}

impl LiveStock {
    fn known(&self) -> MutexGuard<'_, Known> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Taken before a read of stock begins, and handed to `observed` with what it read.
    pub fn since(&self) -> u64 {
        self.known().restocks
    }

    /// Records levels read since `since` (the whole catalog when `all`), unless stock came
    /// back here meanwhile: the read may not have seen it, and the next one will.
    pub fn observed(&self, views: impl IntoIterator<Item = ProductView>, since: u64, all: bool) {
        let mut known = self.known();
        if known.restocks != since {
            return;
        }
        if all {
            known.views.clear();
        }
        for view in views {
            known.views.insert(view.product.id.clone(), view);
        }
    }

    /// A change made here that may bring stock back or change a definition: `view` is the
    /// product as its transaction committed it, or `None` when its level is not known.
    pub fn changed(&self, id: &str, view: Option<ProductView>) {
        let mut known = self.known();
        known.restocks = known.restocks.wrapping_add(1);
        match view {
            Some(view) => known.views.insert(id.to_owned(), view),
            None => known.views.remove(id),
        };
    }

    /// The refusal for an order that includes a product known sold out, judged by the same
    /// rules as the transaction on what this instance knows; `None` (go and ask the database)
    /// when no ordered product is known sold out or one is not known at all (created on
    /// another instance since the last poll).
    pub fn refuse(&self, request: &OrderRequest, now: Millis) -> Option<OrderRejection> {
        let known = self.known();
        let views = request
            .quantities_by_product()
            .into_keys()
            .map(|id| known.views.get(id))
            .collect::<Option<Vec<&ProductView>>>()?;
        if views.iter().all(|v| v.stock > 0) {
            return None;
        }
        let state: BTreeMap<&str, ProductState<'_>> = views
            .iter()
            .map(|v| {
                (v.product.id.as_str(), ProductState { product: &v.product, available: v.stock, already_bought: 0 })
            })
            .collect();
        evaluate(request, &state, now).err()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stampede_domain::{Customer, LineRequest, Product};

    fn view(id: &str, stock: u32) -> ProductView {
        // As the products table stores a definition.
        let product: Product = serde_json::from_value(serde_json::json!({
            "id": id, "name": id, "description": "", "category": "c",
            "base_price": {"amount": 500, "currency": "USD"},
            "option_groups": [], "sale": {}, "image": null, "archived": false,
        }))
        .unwrap();
        ProductView { product, stock }
    }

    fn request(ids: &[&str]) -> OrderRequest {
        let lines = ids.iter().map(|id| LineRequest::new(id, 1, BTreeMap::new()).unwrap()).collect();
        OrderRequest::new(Customer::with_user_id("ana").unwrap(), lines).unwrap()
    }

    #[test]
    fn refuses_only_what_is_known_sold_out() {
        let live = LiveStock::default();
        assert!(live.refuse(&request(&["a"]), 0).is_none(), "nothing known: ask the database");
        live.observed([view("a", 0), view("b", 3)], live.since(), true);
        assert!(matches!(live.refuse(&request(&["a"]), 0), Some(OrderRejection::OutOfStock { .. })));
        assert!(live.refuse(&request(&["b"]), 0).is_none());
        // A product created elsewhere since the last poll is not judged here.
        assert!(live.refuse(&request(&["a", "new"]), 0).is_none());
    }

    #[test]
    fn a_read_begun_before_a_local_restock_is_not_recorded() {
        let live = LiveStock::default();
        live.observed([view("a", 0)], live.since(), true);
        let since = live.since();
        // A cancellation here commits while a poll is reading the old level.
        live.changed("a", None);
        live.observed([view("a", 0)], since, true);
        assert!(live.refuse(&request(&["a"]), 0).is_none());
        live.observed([view("a", 0)], live.since(), true);
        assert!(live.refuse(&request(&["a"]), 0).is_some());
    }
}
