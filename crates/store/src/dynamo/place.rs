//! Placing an order without reading the stock first: draw the units from one counter
//! chosen at random with a conditional decrement, inside the one `TransactWriteItems` that
//! also writes the order, its outbox event, its idempotency record and the customer's
//! holding. An uncontended order costs that transaction and at most one read (the
//! idempotency record and holdings, together). When a counter turns out short, the order
//! tries another, and this instance remembers the short one for a moment; the counters are
//! read (consistently) only when none is left to try or an order needs more than one
//! counter holds, which is also how "sold out" is decided, and remembered: per instance, and
//! in a sold-out marker item other instances read instead of every counter.

use super::catalog;
use super::item::{self, Taken, get_n, get_s, n, s};
use super::keys;
use super::op_counts::Op;
use super::writes::{check, number, put, update, wrap};
use super::{DynamoStore, error};
use crate::clock::now_millis;
use crate::outbox::ORDER_PLACED;
use crate::shards;
use crate::{IdempotencyKey, Order, PlaceOrder, Placed, StoreError};
use aws_sdk_dynamodb::types::{ReturnConsumedCapacity, TransactWriteItem};
use rand::Rng;
use stampede_domain::{OrderRequest, OrderStatus, Product, ProductState, evaluate};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// What each write of the transaction is for, in the order sent: a cancellation reason is
/// reported per write, by position.
enum Write {
    Counter { product: String, shard: u32, units: u32 },
    Holding,
    Idempotency,
    Record,
}

/// Most writes one transaction may hold.
const MAX_WRITES: usize = 100;

/// Single-unit draws that may find their counter empty before the counters are read: past
/// this, reading them all is cheaper than guessing on.
const BLIND_MISSES: u32 = 3;

/// Places `order`, or replays the order its idempotency key already placed.
pub async fn place_order(store: &DynamoStore, order: PlaceOrder) -> Result<Placed, StoreError> {
    let idem = order.idempotency();
    let request = &order.request;
    let quantities = request.quantities_by_product();
    let definitions = catalog::definitions(store, quantities.keys().copied()).await?;
    let products: Vec<&Product> = definitions.values().collect();
    let cx = OrderContext {
        store,
        request,
        idem: idem.as_ref(),
        quantities: &quantities,
        definitions: &definitions,
        products: &products,
    };
    let customer_key = &request.customer.limit_key().0;
    let mut next = NextAttempt::default();
    let mut holdings = HashMap::new();
    for attempt in 0..store.config.max_attempts.max(1) {
        if !next.reads_still_hold {
            // A retry of an order that went through gets it back, even if the product sold
            // out since; on later attempts, a concurrent retry of this key may have gone through.
            let (record, held) = first_read(store, idem.as_ref(), customer_key, &products).await?;
            if let (Some(idem), Some(record)) = (&idem, record) {
                return replay_from(store, idem, &record).await;
            }
            holdings = held;
        }
        let (placed, writes, purposes) = cx.prepare(&holdings, &mut next).await?;
        let e = match cx.send(writes, attempt, &placed.id).await {
            Ok(()) => return Ok(Placed { order: placed, replayed: false }),
            Err(e) => e,
        };
        let Some(reasons) = error::cancellation_reasons(&e) else { return Err(store.sdk(e)) };
        if throttled(&reasons) {
            // Retrying at once would keep a throttled table throttled: the client waits.
            tracing::debug!(?reasons, "order transaction throttled; answering busy");
            return Err(StoreError::Busy { retry_after: store.config.retry_after });
        }
        let failed = |w: &Write| purposes.iter().zip(&reasons).any(|(p, r)| same(p, w) && is_condition(r));
        if failed(&Write::Idempotency)
            && let Some(idem) = &idem
        {
            // A concurrent request with the same key won the race; answer with its order.
            if let Some(placed) = replay(store, idem).await? {
                return Ok(placed);
            }
        }
        if failed(&Write::Record) {
            // The id is random past its millisecond, so the order already there is this very
            // one: a resend after the commit's answer was lost, later than the request
            // token's ten minutes would have caught it (the token covers the SDK's retries).
            return match crate::Store::order(store, &placed.id).await? {
                Some(order) if order.customer == placed.customer && order.lines == placed.lines => {
                    Ok(Placed { order, replayed: false })
                }
                _ => Err(StoreError::Backend(format!("order id {} collided", placed.id))),
            };
        }
        let short = short_counters(&purposes, &reasons);
        next.learn(store, &short, &purposes, &reasons);
        if short.is_empty() {
            // Another order held an item, or the holding moved: back off, jittered, so
            // orders that collided do not collide again in step.
            let ceiling = 5 * u64::from(attempt.clamp(1, 8));
            let pause = rand::rng().random_range(1..=ceiling);
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        tracing::debug!(attempt, ?reasons, "order transaction cancelled; retrying");
    }
    Err(StoreError::Busy { retry_after: store.config.retry_after })
}

/// What every attempt at one order shares, borrowed from `place_order`.
struct OrderContext<'a> {
    store: &'a DynamoStore,
    request: &'a OrderRequest,
    idem: Option<&'a IdempotencyKey>,
    quantities: &'a BTreeMap<&'a str, u32>,
    definitions: &'a HashMap<String, Product>,
    products: &'a [&'a Product],
}

/// What a cancelled attempt taught the next one.
#[derive(Default)]
struct NextAttempt {
    /// Counters found short since the counters were last read.
    misses: u32,
    /// Read every counter rather than pick one.
    read_counters: bool,
    /// Only counters were short: the key's record and the holdings are as read.
    reads_still_hold: bool,
}

impl OrderContext<'_> {
    /// Judges the order on picked counters (or, when none is left to try, on every counter
    /// read) and builds its transaction: the order, and each write's purpose.
    async fn prepare(
        &self,
        holdings: &HashMap<String, u32>,
        next: &mut NextAttempt,
    ) -> Result<(Order, Vec<TransactWriteItem>, Vec<Write>), StoreError> {
        let (store, definitions, quantities) = (self.store, self.definitions, self.quantities);
        let mut picks = if next.read_counters { HashMap::new() } else { pick_counters(store, definitions, quantities) };
        let mut levels = HashMap::new();
        if next.read_counters || picks.values().any(Option::is_none) {
            // No counter left to try (or the order may need several): read them all.
            levels = read_levels(store, self.products, quantities).await?;
            picks.clear();
            next.misses = 0;
        }
        let state = product_states(definitions, &levels, &picks, holdings);
        let now = now_millis();
        // Stock refusals here rest on a consistent read or on this instance having read the
        // product sold out a moment ago; a race can only have made things scarcer.
        let priced = evaluate(self.request, &state, now)?;
        let taken = stock_plans(quantities, &levels, &picks)?;
        let placed = Order::received(Order::new_id(), self.request, priced, now);
        let (writes, purposes) = transaction(store, &placed, self.idem, &taken, definitions, holdings)?;
        if writes.len() > MAX_WRITES {
            return Err(StoreError::Conflict(format!(
                "this order would touch {} stock counters and records, more than one transaction holds ({MAX_WRITES}); split it into smaller orders",
                writes.len()
            )));
        }
        Ok((placed, writes, purposes))
    }

    /// Sends the order's transaction; on success the relay and live stock hear of it. The
    /// order's id is the request token: when the SDK sends it again (a 5xx, a connection
    /// lost after the commit), DynamoDB answers a committed one as done instead of running
    /// it again, where the order's own `attribute_not_exists` would cancel it.
    async fn send(&self, writes: Vec<TransactWriteItem>, attempt: u32, token: &str) -> Result<(), TransactError> {
        let store = self.store;
        if attempt > 0 {
            store.count(Op::Retry);
        }
        store.count(Op::Transaction);
        let out = store
            .client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .client_request_token(token)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await?;
        store.counters.consumed(out.consumed_capacity());
        store.tick_stock();
        store.tick_outbox();
        Ok(())
    }
}

/// A `TransactWriteItems` call's error.
type TransactError = aws_sdk_dynamodb::error::SdkError<
    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
    aws_sdk_dynamodb::config::http::HttpResponse,
>;

impl NextAttempt {
    /// Counts why the transaction was cancelled, remembers the short counters and decides
    /// how the next attempt reads.
    fn learn(
        &mut self,
        store: &DynamoStore,
        short: &[(String, u32, u32)],
        purposes: &[Write],
        reasons: &[Option<String>],
    ) {
        // Why it was cancelled, counted: the capacity model's contention (another transaction
        // on an item) apart from counters drained under this instance's feet.
        if reasons.iter().any(|r| r.as_deref() == Some("TransactionConflict")) {
            store.count(Op::Conflict);
        }
        if !short.is_empty() {
            store.count(Op::ShortDraw);
        }
        {
            let instant = Instant::now();
            let mut memory = store.memory();
            for (product, shard, units) in short {
                memory.short(product, *shard, *units, instant);
            }
        }
        self.misses += u32::try_from(short.len()).unwrap_or(u32::MAX);
        // An order wanting several units of a counter that lacked them may need several
        // counters; single units read only after a few empty counters.
        self.read_counters = short.iter().any(|(_, _, units)| *units > 1) || self.misses >= BLIND_MISSES;
        self.reads_still_hold = !short.is_empty() && !failed_other(purposes, reasons);
    }
}

/// Whether DynamoDB cancelled the transaction for capacity rather than for a condition or a
/// race: then the table is over its throughput, and retrying at once only adds to it.
fn throttled(reasons: &[Option<String>]) -> bool {
    reasons.iter().flatten().any(|r| matches!(r.as_str(), "ThrottlingError" | "ProvisionedThroughputExceeded"))
}

fn is_condition(reason: &Option<String>) -> bool {
    reason.as_deref() == Some("ConditionalCheckFailed")
}

fn same(a: &Write, b: &Write) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// The counters whose conditional draw failed: each holds fewer units than asked of it.
fn short_counters(purposes: &[Write], reasons: &[Option<String>]) -> Vec<(String, u32, u32)> {
    purposes
        .iter()
        .zip(reasons)
        .filter(|(_, r)| is_condition(r))
        .filter_map(|(w, _)| match w {
            Write::Counter { product, shard, units } => Some((product.clone(), *shard, *units)),
            _ => None,
        })
        .collect()
}

/// Whether a write other than a stock counter failed its condition or was held by another
/// transaction.
fn failed_other(purposes: &[Write], reasons: &[Option<String>]) -> bool {
    purposes
        .iter()
        .zip(reasons)
        .any(|(w, r)| !matches!(w, Write::Counter { .. }) && r.as_deref().is_some_and(|r| r != "None"))
}

/// What `evaluate` needs of each product: stock is the sum of its counters where they were
/// read, unlimited where one counter was picked (the conditional draw is the check), and
/// none where this instance lately read it sold out.
fn product_states<'a>(
    definitions: &'a HashMap<String, Product>,
    levels: &HashMap<String, Vec<u32>>,
    picks: &HashMap<&str, Option<u32>>,
    holdings: &HashMap<String, u32>,
) -> BTreeMap<&'a str, ProductState<'a>> {
    definitions
        .iter()
        .map(|(id, product)| {
            let available = match (levels.get(id), picks.get(id.as_str())) {
                (Some(levels), _) => catalog::total(levels),
                // Not read: the conditional draw is the check.
                (None, Some(_)) => u32::MAX,
                // This instance lately read it sold out.
                (None, None) => 0,
            };
            let already_bought = holdings.get(id).copied().unwrap_or(0);
            (id.as_str(), ProductState { product, available, already_bought })
        })
        .collect()
}

/// Which counters each product's units are drawn from: spread over the counters read
/// (from a random one on), or all from the one picked.
fn stock_plans(
    quantities: &BTreeMap<&str, u32>,
    levels: &HashMap<String, Vec<u32>>,
    picks: &HashMap<&str, Option<u32>>,
) -> Result<Taken, StoreError> {
    let mut taken = Taken::new();
    for (id, qty) in quantities {
        let plan = match (levels.get(*id), picks.get(*id).copied().flatten()) {
            (Some(levels), _) => {
                let start = rand::rng().random_range(0..levels.len());
                // `evaluate` checked the total, so a plan exists.
                shards::allocate(levels, *qty, start)
                    .ok_or_else(|| StoreError::Backend(format!("no stock plan for `{id}`")))?
            }
            (None, Some(shard)) => vec![(shard, *qty)],
            (None, None) => return Err(StoreError::Backend(format!("no counter chosen for `{id}`"))),
        };
        taken.insert((*id).to_owned(), plan);
    }
    Ok(taken)
}

/// Per product of the order (that exists): the counter to draw from, or `None` when this
/// instance knows none that may hold enough. Products this instance lately read sold out
/// are left out, so the judgement refuses them.
fn pick_counters<'a>(
    store: &DynamoStore,
    definitions: &'a HashMap<String, Product>,
    quantities: &BTreeMap<&str, u32>,
) -> HashMap<&'a str, Option<u32>> {
    let now = Instant::now();
    let memory = store.memory();
    let mut rng = rand::rng();
    definitions
        .iter()
        .filter(|(id, _)| !memory.sold_out(id, now))
        .filter_map(|(id, product)| {
            let want = *quantities.get(id.as_str())?;
            let roll = rng.random_range(0..usize::from(u16::MAX));
            Some((id.as_str(), memory.pick(id, product.stock_shards, want, roll, now)))
        })
        .collect()
}

/// Every counter of the order's products, read consistently (this decides "sold out"), and
/// remembered by this instance. A product's sold-out marker, when present, stands for its
/// counters (all empty); a product found sold out without one gets one.
async fn read_levels(
    store: &DynamoStore,
    products: &[&Product],
    quantities: &BTreeMap<&str, u32>,
) -> Result<HashMap<String, Vec<u32>>, StoreError> {
    let ordered: Vec<&Product> = products.iter().copied().filter(|p| quantities.contains_key(p.id.as_str())).collect();
    let markers = store.get_many(ordered.iter().map(|p| keys::sold_out(&p.id)).collect(), true).await?;
    let marked: Vec<&str> = markers.iter().filter_map(|m| get_s(m, keys::PK).ok()?.strip_prefix("SOLDOUT#")).collect();
    let unmarked: Vec<&Product> = ordered.iter().copied().filter(|p| !marked.contains(&p.id.as_str())).collect();
    let mut levels = if unmarked.is_empty() { HashMap::new() } else { catalog::levels(store, &unmarked, true).await? };
    for product in &ordered {
        if marked.contains(&product.id.as_str()) {
            levels.insert(product.id.clone(), vec![0; product.stock_shards.max(1) as usize]);
        }
    }
    let mut to_mark = Vec::new();
    {
        let now = Instant::now();
        let mut memory = store.memory();
        for (id, levels) in &levels {
            // Once per instance and sell-out: a concurrent order here may be marking it.
            let newly_sold_out = !memory.sold_out(id, now) && levels.iter().all(|level| *level == 0);
            if newly_sold_out && !marked.contains(&id.as_str()) {
                to_mark.extend(unmarked.iter().copied().filter(|p| &p.id == id));
            }
            memory.levels(id, levels, now);
        }
    }
    for product in to_mark {
        mark_sold_out(store, product).await;
    }
    Ok(levels)
}

/// Writes `product`'s sold-out marker if every counter is still empty. Best effort: without
/// it, instances read the counters instead.
async fn mark_sold_out(store: &DynamoStore, product: &Product) {
    let writes = (0..product.stock_shards.max(1))
        .map(|shard| check(store, keys::shard(&product.id, shard), "stock = :zero", number(":zero", 0)))
        .chain([put(store, keys::sold_out(&product.id), None)])
        .collect::<Result<Vec<_>, _>>();
    let Ok(writes) = writes else { return };
    store.count(Op::Transaction);
    if let Err(e) = store.client.transact_write_items().set_transact_items(Some(writes)).send().await {
        tracing::debug!(product = %product.id, error = %error::sdk(e, store.config.retry_after), "sold-out marker not written");
    }
}

/// One read for what the order must know before it is judged: the idempotency key's record
/// (if the order has a key) and the customer's holdings of limited products. No call when
/// neither applies.
pub(super) async fn first_read(
    store: &DynamoStore,
    idem: Option<&IdempotencyKey>,
    customer_key: &str,
    products: &[&Product],
) -> Result<(Option<keys::Item>, HashMap<String, u32>), StoreError> {
    let mut wanted: Vec<_> = products
        .iter()
        .filter(|p| p.sale.per_customer_max.is_some())
        .map(|p| keys::holding(&p.id, customer_key))
        .collect();
    wanted.extend(idem.map(|i| keys::idempotency(&i.key)));
    if wanted.is_empty() {
        return Ok((None, HashMap::new()));
    }
    let (mut record, mut held) = (None, HashMap::new());
    for item in store.get_many(wanted, true).await? {
        let pk = get_s(&item, keys::PK)?;
        if pk.starts_with("IDEM#") {
            record = Some(item);
            continue;
        }
        let product = pk.strip_prefix("HOLD#").and_then(|rest| rest.split_once('#')).map(|(p, _)| p.to_owned());
        if let Some(product) = product {
            held.insert(product, get_n(&item, "qty")?);
        }
    }
    Ok((record, held))
}

/// The order an idempotency key already placed, or a mismatch if the key came with another request.
async fn replay(store: &DynamoStore, idem: &IdempotencyKey) -> Result<Option<Placed>, StoreError> {
    let Some(record) = store.get(keys::idempotency(&idem.key)).await? else { return Ok(None) };
    replay_from(store, idem, &record).await.map(Some)
}

async fn replay_from(store: &DynamoStore, idem: &IdempotencyKey, record: &keys::Item) -> Result<Placed, StoreError> {
    if get_s(record, "fingerprint")? != idem.fingerprint {
        return Err(StoreError::IdempotencyMismatch(idem.key.clone()));
    }
    let order_id = get_s(record, "order_id")?;
    let item = store.get(keys::order(order_id)).await?;
    // The transaction wrote both or neither, so the order is there.
    let item = item.ok_or_else(|| StoreError::Backend(format!("order {order_id} vanished")))?;
    Ok(Placed { order: item::order_from(&item)?, replayed: true })
}

/// Every write of the order, each conditional on what the judgement relied on.
fn transaction(
    store: &DynamoStore,
    order: &Order,
    idem: Option<&IdempotencyKey>,
    taken: &Taken,
    definitions: &HashMap<String, stampede_domain::Product>,
    holdings: &HashMap<String, u32>,
) -> Result<(Vec<TransactWriteItem>, Vec<Write>), StoreError> {
    let mut writes = Vec::new();
    let mut purposes = Vec::new();
    for (product_id, plan) in taken {
        for (i, (shard, units)) in plan.iter().enumerate() {
            // The counter also keeps the product's sales figures (units, and orders on the
            // first counter an order draws from), so the sales audit sums a few counters.
            let sold = if i == 0 { "ADD sold :n, orders :one" } else { "ADD sold :n" };
            let mut write = update(store, keys::shard(product_id, *shard))
                .update_expression(format!("SET stock = stock - :n {sold}"))
                .condition_expression("stock >= :n")
                .expression_attribute_values(":n", n(units));
            if i == 0 {
                write = write.expression_attribute_values(":one", n(1));
            }
            writes.push(wrap(write)?);
            purposes.push(Write::Counter { product: product_id.clone(), shard: *shard, units: *units });
        }
        if definitions.get(product_id).is_some_and(|p| p.sale.per_customer_max.is_some()) {
            let units: u32 = plan.iter().map(|(_, u)| u).sum();
            // The holding must still be what the judgement saw, or the limit may be passed
            // by two concurrent orders of one customer.
            let seen = holdings.get(product_id).copied().unwrap_or(0);
            let condition = if seen == 0 { "attribute_not_exists(qty) OR qty = :seen" } else { "qty = :seen" };
            writes.push(wrap(
                update(store, keys::holding(product_id, &order.customer.limit_key().0))
                    .update_expression("SET qty = if_not_exists(qty, :zero) + :n")
                    .condition_expression(condition)
                    .expression_attribute_values(":n", n(units))
                    .expression_attribute_values(":seen", n(seen))
                    .expression_attribute_values(":zero", n(0)),
            )?);
            purposes.push(Write::Holding);
        }
    }
    if let Some(idem) = idem {
        let mut record = keys::idempotency(&idem.key);
        record.insert("order_id".into(), s(&order.id));
        record.insert("fingerprint".into(), s(&idem.fingerprint));
        if let Some(at) = store.expires_at() {
            record.insert(keys::EXPIRES_AT.into(), n(at));
        }
        writes.push(put(store, record, Some("attribute_not_exists(pk)"))?);
        purposes.push(Write::Idempotency);
    }
    let order_item = item::order_item(order, idem, taken)?;
    writes.push(put(store, order_item, Some("attribute_not_exists(pk)"))?);
    purposes.push(Write::Record);
    let event = item::new_event(ORDER_PLACED, &order.id, OrderStatus::Received, None, order.created_at);
    writes.push(put(store, event, None)?);
    purposes.push(Write::Record);
    Ok((writes, purposes))
}

#[cfg(test)]
mod tests {
    use super::throttled;

    #[test]
    fn a_transaction_cancelled_for_capacity_is_throttled_and_one_lost_to_a_race_is_not() {
        let reasons = |codes: &[&str]| codes.iter().map(|c| (*c != "-").then(|| (*c).to_owned())).collect::<Vec<_>>();
        assert!(throttled(&reasons(&["None", "ThrottlingError", "None"])));
        assert!(throttled(&reasons(&["ProvisionedThroughputExceeded"])));
        assert!(!throttled(&reasons(&["ConditionalCheckFailed", "None"])));
        assert!(!throttled(&reasons(&["TransactionConflict", "-"])));
    }
}
