//! Statements prepared once per pooled connection (deadpool's statement cache) rather than
//! parsed again for every call: `query(&str)` costs PostgreSQL a parse and the client a round
//! trip before each execution, and an order runs about ten statements. The cache lives with
//! the connection, so a connection the pool replaces (PostgreSQL restarted) starts a new one.
//! Column lists are always spelled out, so a migration that adds columns does not change a
//! cached statement's result type.

use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, Row};

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

pub async fn query(c: &impl GenericClient, sql: &str, params: Params<'_>) -> Result<Vec<Row>, Error> {
    c.query(&c.prepare_cached(sql).await?, params).await
}

pub async fn query_one(c: &impl GenericClient, sql: &str, params: Params<'_>) -> Result<Row, Error> {
    c.query_one(&c.prepare_cached(sql).await?, params).await
}

pub async fn query_opt(c: &impl GenericClient, sql: &str, params: Params<'_>) -> Result<Option<Row>, Error> {
    c.query_opt(&c.prepare_cached(sql).await?, params).await
}

pub async fn execute(c: &impl GenericClient, sql: &str, params: Params<'_>) -> Result<u64, Error> {
    c.execute(&c.prepare_cached(sql).await?, params).await
}
