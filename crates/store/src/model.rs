//! What the store takes and gives back.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use stampede_domain::{
    Customer, Fulfilment, Millis, Money, OrderLine, OrderRequest, OrderStatus, Phone, PricedOrder, Product,
};

/// A product with the stock remaining right now.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductView {
    pub product: Product,
    pub stock: u32,
}

/// An accepted order. Serde: an export's order record carries these fields (transfer.rs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// UUIDv7: unique and sortable by creation time.
    pub id: String,
    pub customer: Customer,
    pub lines: Vec<OrderLine>,
    pub total: Money,
    pub status: OrderStatus,
    /// Pickup or delivery, as the customer chose; `None` for orders placed without saying.
    pub fulfilment: Option<Fulfilment>,
    /// The customer's phone number, when they gave one (always, for delivery at checkout).
    pub phone: Option<Phone>,
    /// The pickup or delivery time chosen; `None` is as soon as possible.
    pub slot: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Order {
    /// A new order's id: a UUIDv7 whose 12 bits after the millisecond count the orders of that
    /// millisecond (RFC 9562's dedicated counter), so this process's ids sort in the order they
    /// were made, and whose last 62 bits are random. `Uuid::now_v7` counts in those bits
    /// instead, so in a rush one order's id would be 32 random bits from the next one's; the
    /// id alone shows an order's status and items (docs/privacy.md).
    pub fn new_id() -> String {
        use std::sync::{Mutex, PoisonError};
        static LAST: Mutex<(u64, u16)> = Mutex::new((0, 0));
        let now = u64::try_from(crate::clock::now_millis()).unwrap_or(0);
        let (millis, count) = {
            let mut last = LAST.lock().unwrap_or_else(PoisonError::into_inner);
            *last = match *last {
                (ms, _) if now > ms => (now, 0),
                // A clock set back by more than a second is believed, or ids (and the export's
                // `made_by` watermark, which reads them) would stay ahead of it until it caught up.
                (ms, _) if now.saturating_add(1_000) < ms => (now, 0),
                (ms, n) if n < 0x0fff => (ms, n + 1),
                // 4,096 in one millisecond: borrow the next one, keeping the order.
                (ms, _) => (ms + 1, 0),
            };
            *last
        };
        let mut bytes: [u8; 10] = rand::random();
        // The builder keeps the low nibble of the first byte (the version takes the high one).
        [bytes[0], bytes[1]] = count.to_be_bytes();
        uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid().to_string()
    }

    /// The order `request` becomes once accepted at `now`, priced as `priced`: every store
    /// builds its new orders here, so they carry the same fields whatever the backend.
    pub fn received(id: String, request: &OrderRequest, priced: PricedOrder, now: Millis) -> Order {
        Order {
            id,
            customer: request.customer.clone(),
            lines: priced.lines,
            total: priced.total,
            status: OrderStatus::Received,
            fulfilment: request.fulfilment.clone(),
            phone: request.phone.clone(),
            slot: request.slot,
            created_at: now,
            updated_at: now,
        }
    }
}

/// A client-chosen key that makes retries of one order safe, bound to the fingerprint of
/// the request it was first used with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub key: String,
    pub fingerprint: String,
}

impl IdempotencyKey {
    /// Most characters a key may have.
    pub const MAX_LEN: usize = 255;

    /// Binds `key` to `request`. The fingerprint is a SHA-256 over the validated request, so
    /// formatting or field order in the client's JSON does not matter. Adapters compute it
    /// only once an order gets past the sold-out fast path, which keeps that path cheap.
    pub fn for_request(key: &str, request: &OrderRequest) -> IdempotencyKey {
        let canonical = serde_json::to_vec(request).unwrap_or_default();
        let fingerprint = hex::encode(Sha256::digest(&canonical));
        IdempotencyKey { key: key.to_owned(), fingerprint }
    }
}

/// A request to place an order.
#[derive(Debug, Clone)]
pub struct PlaceOrder {
    pub request: OrderRequest,
    /// The client's `Idempotency-Key`, if it sent one.
    pub idempotency_key: Option<String>,
}

impl PlaceOrder {
    /// The key bound to this request's fingerprint.
    pub fn idempotency(&self) -> Option<IdempotencyKey> {
        self.idempotency_key.as_deref().map(|k| IdempotencyKey::for_request(k, &self.request))
    }
}

/// The outcome of placing: the order, and whether it was an earlier order replayed for a retried key.
#[derive(Debug, Clone)]
pub struct Placed {
    pub order: Order,
    pub replayed: bool,
}

/// One page of a customer's orders.
#[derive(Debug, Clone)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    /// Pass back to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Which page of a customer's orders to read: at most `limit` orders, starting after
/// `cursor`, the `next_cursor` of the previous [`OrderPage`] (`None` for the newest).
/// One value, as every store, the API and the account pages page the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest<'a> {
    pub cursor: Option<&'a str>,
    pub limit: u32,
}

impl OrderPage {
    /// The page `orders`; when `more` orders follow (the engines read one row past the
    /// page to know), its cursor is the last order's id.
    pub(crate) fn new(orders: Vec<Order>, more: bool) -> OrderPage {
        let next_cursor = more.then(|| orders.last().map(|o| o.id.clone())).flatten();
        OrderPage { orders, next_cursor }
    }
}

/// Sales of one product as the order records show them, for audits and load-test verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProductSales {
    pub stock: u32,
    /// Units on uncancelled orders.
    pub units_sold: u64,
    /// Uncancelled orders containing the product.
    pub orders: u64,
    /// The most units any one customer holds. DynamoDB keeps holdings only for products with
    /// a per-customer limit, so it answers `None` for the others.
    pub max_units_per_customer: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::Order;

    /// Ids made one after another sort in that order, and share nothing past the millisecond
    /// and its count: `Uuid::now_v7` would make the next one's 42 bits the last one's plus one.
    #[test]
    fn order_ids_sort_as_made_and_keep_62_random_bits() {
        let ids: Vec<uuid::Uuid> = (0..5_000).map(|_| Order::new_id().parse().unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "strictly increasing");
        assert!(ids.iter().all(|id| id.get_version_num() == 7 && id.get_variant() == uuid::Variant::RFC4122));
        let millis = |id: &uuid::Uuid| id.as_u128() >> 80;
        let same_ms: Vec<_> = ids.windows(2).filter(|w| millis(&w[0]) == millis(&w[1])).collect();
        assert!(!same_ms.is_empty(), "5,000 ids take more than one millisecond each");
        // The 42 bits `now_v7` would count in: rand_a (12) and rand_b's top 30 past the variant.
        let counter = |id: &uuid::Uuid| (((id.as_u128() >> 64) & 0xfff) << 30) | ((id.as_u128() >> 32) & 0x3fff_ffff);
        let counted_up = same_ms.iter().filter(|w| counter(&w[1]) == counter(&w[0]) + 1).count();
        assert_eq!(counted_up, 0, "of {} pairs in one millisecond", same_ms.len());
        let random = |id: &uuid::Uuid| id.as_u128() & ((1 << 62) - 1);
        assert!(same_ms.iter().all(|w| random(&w[0]) != random(&w[1])));
    }
}
