//! The OpenAPI 3 document, generated from the handlers' annotations.

use super::{dto, health, line_summary, management, order_body, orders, outbox, products, queue};
use axum::Json;
use utoipa::openapi::RefOr;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Stampede", description = "A storefront backend that never oversells, even when everyone orders at once. Errors are RFC 9457 `application/problem+json`. Money is integer minor units with a currency."),
    paths(
        products::list_products, products::get_product,
        queue::join_queue, queue::queue_status, queue::queue_events,
        orders::place_order, orders::get_order, orders::cancel_order, orders::customer_orders,
        management::create_product, management::product_sales, line_summary::admin_line, management::set_order_status,
        outbox::list_outbox, outbox::retry_event, outbox::retry_failed,
        health::healthz, health::readyz,
    ),
    components(schemas(
        crate::Problem, dto::MoneyDto, dto::ProductDto, dto::OptionGroupDto, dto::OptionChoiceDto, dto::SaleDto, dto::WaitingRoomDto,
        queue::JoinQueueBody, queue::QueueTicketDto, queue::QueueState,
        dto::OrderDto, dto::OrderStatusName, dto::FulfilmentDto, dto::OrderLineDto, dto::SelectedOptionDto, dto::CustomerDto, dto::OrderPageDto,
        order_body::PlaceOrderBody, order_body::CustomerBody, order_body::ItemBody,
        management::NewProduct, management::SalesDto, line_summary::LineSummaryDto, management::StatusChange, health::Health,
        outbox::OutboxPageDto, outbox::OutboxEventDto, outbox::OutboxCountsDto, outbox::OutboxStateName, outbox::RetriedDto,
    )),
    modifiers(&AdminToken, &ProblemJson),
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

/// Every `Problem` is served as `application/problem+json` (RFC 9457, see `problem.rs`), so
/// the document says so here, once, rather than in each of the ~60 error responses: handlers
/// write `body = Problem`, and this gives every such response its media type.
struct ProblemJson;

impl Modify for ProblemJson {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
            ];
            for operation in operations.into_iter().flatten() {
                for response in operation.responses.responses.values_mut() {
                    if let RefOr::T(response) = response {
                        response.content = std::mem::take(&mut response.content)
                            .into_iter()
                            .map(|(media, content)| match &content.schema {
                                Some(RefOr::Ref(r)) if r.ref_location == "#/components/schemas/Problem" => {
                                    ("application/problem+json".to_owned(), content)
                                }
                                _ => (media, content),
                            })
                            .collect();
                    }
                }
            }
        }
    }
}

/// `GET /api/openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    /// Error responses are documented as what they are on the wire.
    #[test]
    fn problems_are_problem_json() {
        let doc = serde_json::to_value(super::ApiDoc::openapi()).unwrap();
        let mut problems = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                for (status, response) in operation["responses"].as_object().unwrap() {
                    for (media, content) in response["content"].as_object().into_iter().flatten() {
                        let problem = content["schema"]["$ref"] == "#/components/schemas/Problem";
                        assert_eq!(problem, media == "application/problem+json", "{method} {path} {status}: {media}");
                        problems += usize::from(problem);
                    }
                }
            }
        }
        assert!(problems > 50, "{problems} problem responses");
    }
}
