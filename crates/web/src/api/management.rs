//! The token-guarded admin API: create products, audit sales, move orders. Scripts and the
//! load tester use the static bearer token; with OIDC configured, an admin's ID token works
//! too. People use the dashboard at `/admin` with a session instead.

use super::dto::{MoneyDto, OptionGroupDto, OrderDto, ProductDto, SaleDto};
use super::refusals::{AdminTokenRefusals, JsonBodyRefusals};
use crate::extract::{ApiJson, ApiPath};
use crate::timefmt::parse_rfc3339;
use crate::{AppState, Problem};
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::{Deserialize, Serialize};
use stampede_domain::{Currency, Millis, Money, OptionChoice, OptionGroup, OrderStatus, Product, SaleRules};
use utoipa::ToSchema;

/// Proof that the request carried the admin bearer token (or an admin's OIDC ID token).
pub struct Admin {
    /// Who, for the audit log: `api-token`, or the ID token's email.
    pub actor: String,
}

impl Admin {
    /// Writes an admin API action to the audit log, when accounts are on.
    pub async fn audit(&self, app: &AppState, action: &str, target: &str, detail: impl Into<String>) {
        if let Some(auth) = &app.auth {
            auth.audit_as(&self.actor, action, target, detail).await;
        }
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Admin, Problem> {
        let oidc = app.auth.as_ref().filter(|a| a.oidc.is_some());
        if app.admin_token.is_none() && oidc.is_none() {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "admin-disabled",
                "Admin API disabled",
                "start the server with --admin-token (STAMPEDE_ADMIN_TOKEN), or with OIDC sign-in for admins' ID tokens, to use the admin API",
            ));
        }
        let given = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let Some(token) = given else {
            return Err(Problem::unauthorized("Unauthorized", "send `Authorization: Bearer <admin token>`"));
        };
        if app.admin_token.as_ref().is_some_and(|expected| crate::auth::cookies::same(token, expected)) {
            return Ok(Admin { actor: crate::auth::API_TOKEN_ACTOR.into() });
        }
        // An OIDC ID token of someone in the `admin` group is as good as the static token.
        match oidc.and_then(|auth| auth.bearer_user(&parts.headers)) {
            Some(user) if user.role == stampede_store::Role::Admin => Ok(Admin { actor: user.email }),
            Some(_) => Err(Problem::forbidden("Forbidden", "the token's user is not in the admin group")),
            None => Err(Problem::forbidden("Forbidden", "the admin token is not valid")),
        }
    }
}

/// A new product.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewProduct {
    #[schema(example = "golden-ticket", pattern = "^[a-z0-9-]{1,64}$")]
    pub id: String,
    #[schema(min_length = 1, pattern = "\\S")]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[schema(example = "flash-sale")]
    pub category: String,
    pub price: MoneyDto,
    /// Initial stock.
    pub stock: u32,
    /// Counters the stock is split over on DynamoDB and PostgreSQL, for a flash sale's
    /// product, so orders on several instances do not queue on one counter; 1 when omitted.
    /// Ignored by SQLite.
    #[schema(minimum = 1, maximum = 64, example = 1)]
    pub stock_shards: Option<u32>,
    pub image: Option<String>,
    #[serde(default)]
    pub option_groups: Vec<OptionGroupDto>,
    #[serde(default)]
    pub sale: SaleDto,
}

impl NewProduct {
    fn into_domain(self) -> Result<(Product, u32), Problem> {
        let currency = Currency::parse(&self.price.currency)
            .ok_or_else(|| Problem::invalid_field("price.currency", "must be a three-letter code such as USD"))?;
        let time = |field: &str, v: Option<String>| -> Result<Option<Millis>, Problem> {
            v.map(|s| {
                parse_rfc3339(&s).ok_or_else(|| {
                    Problem::invalid_field(field, "must be an RFC 3339 timestamp such as 2026-11-27T09:00:00Z")
                })
            })
            .transpose()
        };
        let product = Product {
            id: self.id,
            name: self.name,
            description: self.description,
            category: self.category,
            base_price: Money::new(self.price.amount, currency),
            option_groups: self
                .option_groups
                .into_iter()
                .map(|g| OptionGroup {
                    id: g.id,
                    name: g.name,
                    min_choices: g.min_choices,
                    max_choices: g.max_choices,
                    default_choice: g.default_choice,
                    choices: g
                        .choices
                        .into_iter()
                        .map(|c| OptionChoice { id: c.id, name: c.name, price_delta: c.price_delta })
                        .collect(),
                })
                .collect(),
            sale: SaleRules {
                starts_at: time("sale.startsAt", self.sale.starts_at)?,
                ends_at: time("sale.endsAt", self.sale.ends_at)?,
                per_customer_max: self.sale.per_customer_max,
                per_order_max: self.sale.per_order_max,
                waiting_room: self.sale.waiting_room.map(Into::into),
            },
            image: self.image,
            archived: false,
            stock_shards: self.stock_shards.unwrap_or(1),
        };
        product.validate().map_err(|e| Problem::invalid_field(&e.field, &e.message))?;
        Ok((product, self.stock))
    }
}

/// Creates a product.
#[utoipa::path(post, path = "/api/admin/products", tag = "admin", request_body = NewProduct,
    security(("admin_token" = [])),
    responses(
        (status = 201, description = "Created", body = ProductDto),
        (status = 400, description = "Malformed JSON", body = Problem),
        AdminTokenRefusals,
        (status = 409, description = "Id taken", body = Problem),
        JsonBodyRefusals,
        (status = 422, description = "Invalid product", body = Problem),
    ))]
pub async fn create_product(
    admin: Admin,
    State(app): State<AppState>,
    ApiJson(body): ApiJson<NewProduct>,
) -> Result<(StatusCode, Json<ProductDto>), Problem> {
    let (product, stock) = body.into_domain()?;
    let created = app.store.create_product(product, stock).await?;
    let detail = format!("created “{}” with stock {stock}", created.product.name);
    admin.audit(&app, "product.create", &created.product.id, detail).await;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// What was sold of a product.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SalesDto {
    pub stock: u32,
    pub units_sold: u64,
    pub orders: u64,
    /// The most units one customer holds; `null` on DynamoDB for a product without a
    /// per-customer limit (holdings are kept only where a limit needs them).
    pub max_units_per_customer: Option<u64>,
}

/// Sales audit of one product.
#[utoipa::path(get, path = "/api/admin/products/{id}/sales", tag = "admin",
    security(("admin_token" = [])),
    params(("id" = String, Path, description = "Product id")),
    responses(
        (status = 200, description = "Sales: counted from the orders on SQLite, from the stock counters and holdings on DynamoDB", body = SalesDto),
        AdminTokenRefusals,
        (status = 404, description = "No such product", body = Problem),
    ))]
pub async fn product_sales(
    _: Admin,
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SalesDto>, Problem> {
    let s = app.store.product_sales(&id).await?;
    Ok(Json(SalesDto {
        stock: s.stock,
        units_sold: s.units_sold,
        orders: s.orders,
        max_units_per_customer: s.max_units_per_customer,
    }))
}

/// A staff status change.
#[derive(Debug, Deserialize, ToSchema)]
pub struct StatusChange {
    /// The next status: `preparing`, `ready`, `out_for_delivery`, `completed` or `cancelled`.
    #[schema(value_type = super::dto::OrderStatusName, example = "preparing")]
    pub status: String,
}

/// Moves an order along the workflow (received → preparing → ready | out_for_delivery →
/// completed; cancelled while received or preparing, which returns the stock). Each change
/// notifies the customer and webhooks through the outbox.
#[utoipa::path(post, path = "/api/admin/orders/{id}/status", tag = "admin", request_body = StatusChange,
    security(("admin_token" = [])),
    params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order in its new status", body = OrderDto),
        (status = 400, description = "Malformed JSON", body = Problem),
        AdminTokenRefusals,
        (status = 404, description = "No such order", body = Problem),
        (status = 409, description = "The workflow does not allow this change", body = Problem),
        JsonBodyRefusals,
        (status = 422, description = "Unknown status", body = Problem),
    ))]
pub async fn set_order_status(
    admin: Admin,
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<StatusChange>,
) -> Result<Json<OrderDto>, Problem> {
    let next = OrderStatus::parse(&body.status).ok_or_else(|| {
        Problem::invalid_field("status", "must be received, preparing, ready, out_for_delivery, completed or cancelled")
    })?;
    let order = app.store.set_status(&id, next).await?;
    admin.audit(&app, "order.status", &id, format!("→ {}", order.status.as_str())).await;
    Ok(Json(order.into()))
}
