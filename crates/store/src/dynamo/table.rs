//! Creating the table, for tests and local development. Production tables come from
//! `deploy/template.yaml`, which declares the same keys and indexes: change both together.

use super::error;
use super::keys::{BY_CUSTOMER, BY_DAY, BY_STATE, PK, SK};
use crate::StoreError;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    PointInTimeRecoverySpecification, Projection, ProjectionType, ScalarAttributeType, SseSpecification,
    StreamSpecification, StreamViewType, TimeToLiveSpecification,
};

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder().attribute_name(name).key_type(kind).build().map_err(error::build)
}

fn string_attribute(name: &str) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(error::build)
}

fn index(name: &str, hash: &str, range: &str, projection: ProjectionType) -> Result<GlobalSecondaryIndex, StoreError> {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key(hash, KeyType::Hash)?)
        .key_schema(key(range, KeyType::Range)?)
        .projection(Projection::builder().projection_type(projection).build())
        .build()
        .map_err(error::build)
}

/// Creates the on-demand table as deploy/template.yaml declares it (keys, three indexes, a
/// keys-only stream, encryption, point-in-time recovery, TTL); `Ok` if it already exists.
pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::KeysOnly)
                .build()
                .map_err(error::build)?,
        )
        .sse_specification(SseSpecification::builder().enabled(true).build())
        .key_schema(key(PK, KeyType::Hash)?)
        .key_schema(key(SK, KeyType::Range)?)
        .global_secondary_indexes(index(BY_CUSTOMER, "gsi1pk", "gsi1sk", ProjectionType::All)?)
        .global_secondary_indexes(index(BY_DAY, "gsi2pk", "gsi2sk", ProjectionType::KeysOnly)?)
        .global_secondary_indexes(index(BY_STATE, "gsi3pk", "gsi3sk", ProjectionType::All)?);
    for name in [PK, SK, "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk"] {
        request = request.attribute_definitions(string_attribute(name)?);
    }
    match request.send().await {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception()) => return Ok(()),
        Err(e) => return Err(error::sdk(e, std::time::Duration::from_secs(1))),
    }
    // As deploy/template.yaml's PointInTimeRecoverySpecification and TimeToLiveSpecification.
    let pitr = PointInTimeRecoverySpecification::builder()
        .point_in_time_recovery_enabled(true)
        .build()
        .map_err(error::build)?;
    client
        .update_continuous_backups()
        .table_name(table)
        .point_in_time_recovery_specification(pitr)
        .send()
        .await
        .map_err(|e| error::sdk(e, std::time::Duration::from_secs(1)))?;
    let ttl = TimeToLiveSpecification::builder()
        .attribute_name(super::keys::EXPIRES_AT)
        .enabled(true)
        .build()
        .map_err(error::build)?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(|e| error::sdk(e, std::time::Duration::from_secs(1)))?;
    Ok(())
}
