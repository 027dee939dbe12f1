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
    /// A new order's id: a UUIDv7 that sorts in the order it was made, with 62 random bits
    /// ([`crate::ids::v7`]); the id alone shows an order's status and items (docs/privacy.md).
    pub fn new_id() -> String {
        crate::ids::v7().to_string()
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
