//! Products: definitions in the `CATALOG` partition, stock in per-product counters. Menus
//! and product views read a snapshot, kept per instance for `catalog_ttl` and read with
//! eventually consistent reads: a flash sale's page views never compete with its orders for
//! the counters' consistent reads.

use super::error;
use super::item::{get_n, get_s, n, opt_n, s};
use super::keys::{self, CATALOG, Item};
use super::op_counts::Op;
use super::store::{Cached, DynamoStore};
use super::writes::put;
use crate::clock::now_millis;
use crate::shards;
use crate::{ProductView, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use stampede_domain::{Millis, OrderRejection, Product, is_slug};
use std::collections::HashMap;
use std::time::Instant;

/// Every product in menu order (creation order), with stock as of at most `catalog_ttl` ago.
pub async fn products(store: &DynamoStore) -> Result<Vec<ProductView>, StoreError> {
    {
        let snapshot = store.snapshot.read().unwrap_or_else(|p| p.into_inner());
        if let Some((taken_at, views)) = snapshot.as_ref()
            && taken_at.elapsed() < store.config.catalog_ttl
        {
            return Ok(views.clone());
        }
    }
    let taken_at = Instant::now();
    let views = with_stock(store, menu(store, false).await?, false).await?;
    *store.snapshot.write().unwrap_or_else(|p| p.into_inner()) = Some((taken_at, views.clone()));
    Ok(views)
}

/// One product, from the same snapshot as the menu; one the snapshot does not have yet (made
/// on another instance a moment ago) is read from the table, so its page and the dashboard's
/// forms find it at once. Those reads are budgeted (`MissBudget`): a flood of requests for
/// products that do not exist costs a bounded number of reads, not one each.
pub async fn product(store: &DynamoStore, id: &str) -> Result<Option<ProductView>, StoreError> {
    if let Some(view) = products(store).await?.into_iter().find(|view| view.product.id == id) {
        return Ok(Some(view));
    }
    if !is_slug(id) || !store.misses.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Ok(None);
    }
    let Some(product) = definitions(store, [id]).await?.remove(id) else { return Ok(None) };
    Ok(with_stock(store, vec![product], false).await?.pop())
}

/// Every product definition, in menu order; an export reads `consistent`ly, menus need not.
pub(super) async fn menu(store: &DynamoStore, consistent: bool) -> Result<Vec<Product>, StoreError> {
    let mut definitions = Vec::new();
    let query = store
        .client
        .query()
        .key_condition_expression("pk = :c")
        .expression_attribute_values(":c", s(CATALOG))
        .consistent_read(consistent);
    for item in store.query_pages(query, |_| false).await?.iter().flat_map(|p| p.items()) {
        definitions.push((get_s(item, "position")?.to_owned(), definition(item)?, version(item)?));
    }
    definitions.sort_by(|a, b| a.0.cmp(&b.0));
    remember(store, definitions.iter().map(|(_, p, v)| (p, *v)));
    Ok(definitions.into_iter().map(|(_, p, _)| p).collect())
}

/// Definitions of the named products that exist, from the cache (while younger than
/// `definitions_ttl`) or the table.
pub async fn definitions<'a>(
    store: &DynamoStore,
    ids: impl IntoIterator<Item = &'a str>,
) -> Result<HashMap<String, Product>, StoreError> {
    let mut found = HashMap::new();
    let mut missing = Vec::new();
    {
        let cache = store.definitions.read().unwrap_or_else(|p| p.into_inner());
        for id in ids {
            match cache.get(id).filter(|c| c.read_at.elapsed() < store.config.definitions_ttl) {
                Some(c) => drop(found.insert(id.to_owned(), c.product.clone())),
                None => missing.push(keys::product(id)),
            }
        }
    }
    if !missing.is_empty() {
        // Consistent: a product created or edited a moment ago must be found as it is now.
        let items = store.get_many(missing, true).await?;
        let loaded = items.iter().map(|i| Ok((definition(i)?, version(i)?))).collect::<Result<Vec<_>, StoreError>>()?;
        remember(store, loaded.iter().map(|(p, v)| (p, *v)));
        found.extend(loaded.into_iter().map(|(p, _)| (p.id.clone(), p)));
    }
    Ok(found)
}

/// Caches definitions just read (or written) at `version`, unless a newer one is cached.
pub(super) fn remember<'a>(store: &DynamoStore, products: impl IntoIterator<Item = (&'a Product, Millis)>) {
    let now = Instant::now();
    let mut cache = store.definitions.write().unwrap_or_else(|p| p.into_inner());
    for (p, version) in products {
        if cache.get(&p.id).is_none_or(|c| c.version <= version) {
            cache.insert(p.id.clone(), Cached { product: p.clone(), version, read_at: now });
        }
    }
}

/// A definition item's product; its counters are as many as `shards` says, whatever the
/// definition's JSON claims (an edit keeps the counters).
pub(super) fn definition(item: &Item) -> Result<Product, StoreError> {
    let product: Product = serde_json::from_str(get_s(item, "definition")?)?;
    Ok(Product { stock_shards: get_n(item, "shards")?, ..product })
}

/// When a definition item was last written.
pub(super) fn version(item: &Item) -> Result<Millis, StoreError> {
    Ok(opt_n(item, "updated_at")?.unwrap_or(get_n(item, "created_at")?))
}

/// Each counter's level, per product: index `n` is shard `n`. Orders deciding "sold out"
/// read `consistent`ly; views need not.
pub async fn levels(
    store: &DynamoStore,
    products: &[&Product],
    consistent: bool,
) -> Result<HashMap<String, Vec<u32>>, StoreError> {
    let keys =
        products.iter().flat_map(|p| (0..p.stock_shards.max(1)).map(|n| keys::shard(&p.id, n))).collect::<Vec<_>>();
    let mut levels: HashMap<String, Vec<u32>> =
        products.iter().map(|p| (p.id.clone(), vec![0; p.stock_shards.max(1) as usize])).collect();
    for item in store.get_many(keys, consistent).await? {
        let pk = get_s(&item, keys::PK)?;
        // `STOCK#<product>#<n>`: product ids are slugs, so the last `#` ends the id.
        let parsed = pk.strip_prefix("STOCK#").and_then(|rest| rest.rsplit_once('#'));
        let Some((id, shard)) = parsed else { continue };
        if let (Some(slots), Ok(shard)) = (levels.get_mut(id), shard.parse::<usize>())
            && let Some(slot) = slots.get_mut(shard)
        {
            *slot = stock_level(&item)?;
        }
    }
    Ok(levels)
}

/// A counter's units. A cancel adds its units back without reading the level first, so a
/// product topped up to the most stock there can be may hold a little more: shown as that
/// most, not refused as a corrupt item.
pub(super) fn stock_level(counter: &Item) -> Result<u32, StoreError> {
    Ok(u32::try_from(get_n::<u64>(counter, "stock")?).unwrap_or(u32::MAX))
}

/// A product's stock from its counters' levels, at most the most there can be.
pub(super) fn total(levels: &[u32]) -> u32 {
    levels.iter().fold(0, |sum, level| sum.saturating_add(*level))
}

pub(super) async fn with_stock(
    store: &DynamoStore,
    products: Vec<Product>,
    consistent: bool,
) -> Result<Vec<ProductView>, StoreError> {
    let levels = levels(store, &products.iter().collect::<Vec<_>>(), consistent).await?;
    Ok(products
        .into_iter()
        .map(|p| {
            let stock = levels.get(&p.id).map_or(0, |l| total(l));
            ProductView { product: p, stock }
        })
        .collect())
}

/// A product's definition item; the menu lists products by `position`.
pub(super) fn product_item(product: &Product, position: &str, now: Millis) -> Result<Item, StoreError> {
    let mut item = keys::product(&product.id);
    item.insert("position".into(), s(position));
    item.insert("definition".into(), s(serde_json::to_string(product)?));
    item.insert("shards".into(), n(product.stock_shards));
    item.insert("created_at".into(), n(now));
    Ok(item)
}

/// A product's stock counters, `stock` split evenly over its `stockShards`.
pub(super) fn counter_items(product: &Product, stock: u32) -> Vec<Item> {
    let levels = shards::split(stock, product.stock_shards).into_iter().enumerate();
    levels
        .map(|(shard, level)| {
            let mut counter = keys::shard(&product.id, u32::try_from(shard).unwrap_or(u32::MAX));
            counter.insert("stock".into(), AttributeValue::N(level.to_string()));
            counter
        })
        .collect()
}

/// Adds a product and its stock counters in one transaction; `Conflict` if the id is taken.
pub async fn create_product(store: &DynamoStore, product: Product, stock: u32) -> Result<ProductView, StoreError> {
    product.validate().map_err(OrderRejection::from)?;
    // UUIDv7 sorts by creation time: the menu keeps the order products were added in.
    let now = now_millis();
    let item = product_item(&product, &crate::ids::v7().to_string(), now)?;
    let mut writes = vec![put(store, item, Some("attribute_not_exists(pk)"))?];
    for counter in counter_items(&product, stock) {
        writes.push(put(store, counter, None)?);
    }
    store.count(Op::Transaction);
    let result = store.client.transact_write_items().set_transact_items(Some(writes)).send().await;
    if let Err(e) = result {
        let taken = error::cancellation_reasons(&e)
            .is_some_and(|r| r.first().and_then(Option::as_deref) == Some("ConditionalCheckFailed"));
        if taken {
            return Err(StoreError::Conflict(format!("a product with id `{}` already exists", product.id)));
        }
        return Err(store.sdk(e));
    }
    remember(store, [(&product, now)]);
    // The new product belongs on this instance's menu at once.
    store.tick_stock();
    Ok(ProductView { product, stock })
}
