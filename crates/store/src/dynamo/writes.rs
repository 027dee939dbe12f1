//! Building the writes of a `TransactWriteItems`.

use super::keys::Item;
use super::{DynamoStore, error};
use crate::StoreError;
use aws_sdk_dynamodb::types::builders::UpdateBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update};

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

/// A check that the item at `key` meets `condition`, written nothing.
pub fn check(store: &DynamoStore, key: Item, condition: &str, values: Item) -> Result<TransactWriteItem, StoreError> {
    let check = ConditionCheck::builder()
        .table_name(store.table())
        .set_key(Some(key))
        .condition_expression(condition)
        .set_expression_attribute_values(Some(values))
        .build()
        .map_err(error::build)?;
    Ok(TransactWriteItem::builder().condition_check(check).build())
}

/// A delete of the item at `key`, if it is there.
pub fn delete(store: &DynamoStore, key: Item) -> Result<TransactWriteItem, StoreError> {
    let delete = Delete::builder().table_name(store.table()).set_key(Some(key)).build().map_err(error::build)?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

/// A number value for an expression.
pub fn number(name: &str, value: u32) -> Item {
    Item::from([(name.to_owned(), AttributeValue::N(value.to_string()))])
}

/// An update of the item at `key`, for the caller to give its expressions.
pub fn update(store: &DynamoStore, key: Item) -> UpdateBuilder {
    Update::builder().table_name(store.table()).set_key(Some(key))
}

/// The finished update as a transaction write.
pub fn wrap(update: UpdateBuilder) -> Result<TransactWriteItem, StoreError> {
    Ok(TransactWriteItem::builder().update(update.build().map_err(error::build)?).build())
}
