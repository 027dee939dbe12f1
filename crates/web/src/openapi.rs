//! The OpenAPI 3 document, generated from the handlers' annotations.

use crate::api::{admin, dto, health, orders, outbox, place_order, products, queue};
use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Stampede", description = "A storefront backend that never oversells, even when everyone orders at once. Errors are RFC 9457 `application/problem+json`. Money is integer minor units with a currency."),
    paths(
        products::list_products, products::get_product,
        queue::join_queue, queue::queue_status, queue::queue_events,
        orders::place_order, orders::get_order, orders::cancel_order, orders::customer_orders,
        admin::create_product, admin::product_sales, admin::set_order_status,
        outbox::list_outbox, outbox::retry_event,
        health::healthz, health::readyz,
    ),
    components(schemas(
        crate::Problem, dto::MoneyDto, dto::ProductDto, dto::OptionGroupDto, dto::OptionChoiceDto, dto::SaleDto, dto::WaitingRoomDto,
        queue::JoinQueueBody, queue::QueueTicketDto, queue::QueueState,
        dto::OrderDto, dto::OrderStatusName, dto::FulfilmentDto, dto::OrderLineDto, dto::SelectedOptionDto, dto::CustomerDto, dto::OrderPageDto,
        place_order::PlaceOrderBody, place_order::CustomerBody, place_order::ItemBody,
        admin::NewProduct, admin::SalesDto, admin::StatusChange, health::Health,
        outbox::OutboxPageDto, outbox::OutboxEventDto, outbox::OutboxCountsDto, outbox::OutboxStateName,
    )),
    modifiers(&AdminToken),
    tags(
        (name = "catalog", description = "Products, options and live stock"),
        (name = "queue", description = "Waiting rooms: a fair line in front of a flash sale"),
        (name = "orders", description = "Placing and following orders"),
        (name = "admin", description = "Shop management (bearer: the admin token, or an admin's OIDC ID token when OIDC is configured)"),
        (name = "operations", description = "Health probes"),
    )
)]
struct ApiDoc;

struct AdminToken;

impl Modify for AdminToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("STAMPEDE_ADMIN_TOKEN, or an OIDC ID token of a user in the admin group"))
                    .build(),
            ),
        );
    }
}

/// `GET /api/openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
