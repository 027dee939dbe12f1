//! Building the writes of a `TransactWriteItems`.

use super::keys::Item;
use super::{DynamoStore, error};
use crate::StoreError;
use aws_sdk_dynamodb::types::builders::UpdateBuilder;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};

/// A put, conditional when `condition` is given.
pub fn put(store: &DynamoStore, item: Item, condition: Option<&str>) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(store.table())
        .set_item(Some(item))
        .set_condition_expression(condition.map(str::to_owned))
        .build()
        .map_err(error::build)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// An update of the item at `key`, for the caller to give its expressions.
pub fn update(store: &DynamoStore, key: Item) -> UpdateBuilder {
    Update::builder().table_name(store.table()).set_key(Some(key))
}

/// The finished update as a transaction write.
pub fn wrap(update: UpdateBuilder) -> Result<TransactWriteItem, StoreError> {
    Ok(TransactWriteItem::builder().update(update.build().map_err(error::build)?).build())
}
