//! RFC 9457 problem details: every error the API gives is one of these, with a stable `type`.

use crate::body_deadline::BodyStalled;
use crate::timefmt::rfc3339;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use stampede_domain::OrderRejection;
use stampede_store::StoreError;
use std::time::Duration;
use utoipa::ToSchema;

/// An `application/problem+json` error body.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// Stable identifier of the kind of problem, e.g. `/problems/out-of-stock`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind of problem.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// What went wrong with this request, for a person.
    pub detail: String,
    /// The request field at fault, where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The product concerned, where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// Units still in stock (out-of-stock problems).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available: Option<u32>,
    /// When the sale opens (sale-not-started problems), RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sale_starts_at: Option<String>,
    /// The caller's place in a waiting room's line (not-admitted problems), where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    /// People ahead of the caller in that line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ahead: Option<u64>,
    /// Seconds to wait before retrying (busy problems); also sent as `Retry-After`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl Problem {
    /// A problem of kind `slug` with the given status, title and detail.
    pub fn new(status: StatusCode, slug: &str, title: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("/problems/{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
            product_id: None,
            available: None,
            sale_starts_at: None,
            position: None,
            ahead: None,
            retry_after: None,
        }
    }

    /// A 400/422-style problem about one field.
    pub fn invalid_field(field: &str, message: &str) -> Problem {
        let mut p = Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "Invalid request",
            format!("{field}: {message}"),
        );
        p.field = Some(field.to_owned());
        p
    }

    /// 401: the request says who is asking in no way this endpoint accepts; `detail` says
    /// how to.
    pub fn unauthorized(title: &str, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", title, detail)
    }

    /// 403: who is asking is known (or the token is not valid), and may not do this.
    pub fn forbidden(title: &str, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, "forbidden", title, detail)
    }

    /// 400 for a query string parameter out of its range.
    pub fn invalid_query(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, "invalid-query", "Invalid query string", detail)
    }

    /// A page size from the query string: `default` when absent, else 1 to `max`.
    pub fn page_limit(given: Option<u32>, default: u32, max: u32) -> Result<u32, Problem> {
        match given.unwrap_or(default) {
            limit @ 1.. if limit <= max => Ok(limit),
            limit => Err(Problem::invalid_query(format!("limit must be 1 to {max}, got {limit}"))),
        }
    }

    /// 404 for a missing resource.
    pub fn not_found(what: &str, id: &str) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", format!("{what} `{id}` does not exist"))
    }

    fn with_product(mut self, id: &str) -> Problem {
        self.product_id = Some(id.to_owned());
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.retry_after;
        let mut response = (status, axum::Json(self)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(secs) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<OrderRejection> for Problem {
    fn from(r: OrderRejection) -> Problem {
        use OrderRejection as R;
        // A sold-out refusal (the commonest answer in a sale) is worded without the counts.
        let detail = match &r {
            R::OutOfStock { product, available: 0, .. } => format!("`{product}` is sold out"),
            r => r.to_string(),
        };
        let conflict = StatusCode::CONFLICT;
        let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
        match r {
            R::Invalid(v) => Problem::invalid_field(&v.field, &v.message),
            R::UnknownProduct(id) => {
                Problem::new(StatusCode::NOT_FOUND, "unknown-product", "Unknown product", detail).with_product(&id)
            }
            R::Archived(id) => {
                Problem::new(conflict, "product-unavailable", "Product no longer sold", detail).with_product(&id)
            }
            R::OutOfStock { product, available, .. } => {
                let mut p = Problem::new(conflict, "out-of-stock", "Not enough stock", detail).with_product(&product);
                p.available = Some(available);
                p
            }
            R::SaleNotStarted { product, starts_at } => {
                let mut p = Problem::new(
                    conflict,
                    "sale-not-started",
                    "Sale not open yet",
                    format!("the sale of `{product}` opens at {}", rfc3339(starts_at)),
                )
                .with_product(&product);
                p.sale_starts_at = Some(rfc3339(starts_at));
                p
            }
            R::SaleEnded { product, ended_at } => Problem::new(
                conflict,
                "sale-ended",
                "Sale has ended",
                format!("the sale of `{product}` ended at {}", rfc3339(ended_at)),
            )
            .with_product(&product),
            R::CustomerLimit { product, .. } => {
                Problem::new(conflict, "customer-limit", "Purchase limit reached", detail).with_product(&product)
            }
            R::OrderLimit { product, .. } => {
                Problem::new(unprocessable, "order-limit", "Too many in one order", detail).with_product(&product)
            }
            R::TotalOverflow => Problem::new(unprocessable, "total-too-large", "Order total too large", detail),
            R::MixedCurrencies => Problem::new(unprocessable, "mixed-currencies", "Mixed currencies", detail),
        }
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Problem {
        // The error's text is formatted only in the arms that show it: a sold-out refusal,
        // the commonest answer in a sale, words its own.
        match e {
            StoreError::Rejected(r) => r.into(),
            StoreError::NotFound { what, id } => Problem::not_found(what, &id),
            StoreError::IdempotencyMismatch(_) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency key reused",
                e.to_string(),
            ),
            StoreError::NotCancellable { .. } => {
                Problem::new(StatusCode::CONFLICT, "not-cancellable", "Order cannot be cancelled", e.to_string())
            }
            StoreError::InvalidTransition { .. } => {
                Problem::new(StatusCode::CONFLICT, "invalid-transition", "Status change not allowed", e.to_string())
            }
            StoreError::Conflict(_) => Problem::new(StatusCode::CONFLICT, "conflict", "Conflict", e.to_string()),
            StoreError::Busy { retry_after } => busy(retry_after),
            StoreError::Backend(_) => {
                tracing::error!(error = %e, "storage failure");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                    "the shop could not complete the request; nothing was changed",
                )
            }
        }
    }
}

/// [`busy`], saying why in `detail`, which is given the seconds `Retry-After` says.
pub fn busy_because(retry_after: Duration, detail: impl FnOnce(u64) -> String) -> Problem {
    let mut problem = busy(retry_after);
    problem.detail = detail(problem.retry_after.unwrap_or(1));
    problem
}

/// 503 with `Retry-After`: the waiting room's answer.
pub fn busy(retry_after: Duration) -> Problem {
    // Rounded up: a client that waits exactly `Retry-After` must not come back early.
    let secs = retry_after.as_secs().saturating_add(u64::from(retry_after.subsec_nanos() > 0)).max(1);
    let mut p = Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        "Shop busy",
        format!(
            "so many orders are arriving that yours could not be queued; nothing was charged or reserved, try again in {secs} s"
        ),
    );
    p.retry_after = Some(secs);
    p
}

impl From<JsonRejection> for Problem {
    fn from(r: JsonRejection) -> Problem {
        match r {
            JsonRejection::JsonDataError(e) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-body",
                "Invalid request body",
                e.body_text().replace("Failed to deserialize the JSON body into the target type: ", ""),
            ),
            JsonRejection::JsonSyntaxError(e) => {
                Problem::new(StatusCode::BAD_REQUEST, "malformed-json", "Malformed JSON", e.body_text())
            }
            JsonRejection::MissingJsonContentType(_) => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                "send the body as JSON with `Content-Type: application/json`",
            ),
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body-too-large",
                "Request body too large",
                format!("request bodies are limited to {} KiB", crate::body_limit::MAX_BODY_BYTES / 1024),
            ),
            other if BodyStalled::caused(&other) => request_timeout(),
            other => Problem::new(StatusCode::BAD_REQUEST, "bad-request", "Bad request", other.body_text()),
        }
    }
}

/// 408: the body stalled; nothing was read, so nothing was done.
pub fn request_timeout() -> Problem {
    Problem::new(
        StatusCode::REQUEST_TIMEOUT,
        "request-timeout",
        "Request timeout",
        "the request body stopped arriving before it was complete; nothing was changed, send it again",
    )
}

impl From<QueryRejection> for Problem {
    fn from(r: QueryRejection) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, "invalid-query", "Invalid query string", r.body_text())
    }
}

impl From<PathRejection> for Problem {
    fn from(r: PathRejection) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, "invalid-path", "Invalid path", r.body_text())
    }
}

/// Fallback for unknown routes.
pub async fn not_found(uri: axum::http::Uri) -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", format!("there is nothing at `{}`", uri.path()))
}

/// Fallback for a known route called with the wrong method.
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        format!("`{}` does not accept {method}", uri.path()),
    )
}

/// A handler panicked: log it and answer like any other internal error.
pub fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("request handler panicked");
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Internal error",
        "the shop could not complete the request",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::busy;
    use std::time::Duration;

    #[test]
    fn retry_after_is_rounded_up_to_whole_seconds_and_never_zero() {
        let secs = |ms| busy(Duration::from_millis(ms)).retry_after;
        assert_eq!([secs(0), secs(200), secs(1_000), secs(1_001), secs(29_600)], [1, 1, 1, 2, 30].map(Some));
    }
}
