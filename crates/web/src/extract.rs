//! Extractors whose rejections are problem+json instead of axum's plain text.

use crate::Problem;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;

/// JSON body; malformed JSON is 400, wrong shapes 422, wrong content type 415, too large 413.
///
/// Answers exactly as `axum::Json` does, but a well-formed body is read with plain
/// `serde_json`: axum's extractor parses the `Content-Type` into a `Mime` and tracks the path
/// of every field (a `String` per key) in case the body turns out wrong, a cost every order
/// and join paid. Only a body that fails is read again by `axum::Json`, for its message
/// naming the field.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        if !plainly_json(req.headers()) {
            let axum::Json(value) = axum::Json::from_request(req, state).await?;
            return Ok(Self(value));
        }
        read_plain_json(req, state).await.map(Self)
    }
}

/// A body already known to be plainly JSON (see [`plainly_json`]).
async fn read_plain_json<T: DeserializeOwned, S: Send + Sync>(req: Request, state: &S) -> Result<T, Problem> {
    let bytes = Bytes::from_request(req, state).await.map_err(JsonRejection::from)?;
    match serde_json::from_slice(&bytes) {
        Ok(value) => Ok(value),
        Err(_) => axum::Json::from_bytes(&bytes).map(|axum::Json(value)| value).map_err(Problem::from),
    }
}

/// The request's headers and its [`ApiJson`] body. The headers are moved out of the request,
/// where axum's `HeaderMap` extractor copies them (a new map per request): for the order
/// handler, which reads a header or two beside the body on every order and refusal.
pub struct HeadersAndJson<T>(pub HeaderMap, pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for HeadersAndJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        if !plainly_json(req.headers()) {
            // axum's extractor needs the headers in the request; a copy on this rare path only.
            let headers = req.headers().clone();
            let ApiJson(value) = ApiJson::from_request(req, state).await?;
            return Ok(Self(headers, value));
        }
        let (mut parts, body) = req.into_parts();
        let headers = std::mem::take(&mut parts.headers);
        read_plain_json(Request::from_parts(parts, body), state).await.map(|value| Self(headers, value))
    }
}

/// `Content-Type: application/json`, bare or with `charset=utf-8`: what clients send. Anything
/// else goes to `axum::Json`, whose strict media-type parser answers 415 to malformed
/// parameters (`application/json; charset`), so those keep that answer.
fn plainly_json(headers: &HeaderMap) -> bool {
    let Some(Ok(value)) = headers.get(header::CONTENT_TYPE).map(|v| v.to_str()) else { return false };
    let (essence, params) = value.split_once(';').map_or((value, None), |(essence, params)| (essence, Some(params)));
    // Spaces only: the media-type parser refuses a tab before a parameter.
    essence.eq_ignore_ascii_case("application/json")
        && params.is_none_or(|p| p.trim_start_matches(' ').eq_ignore_ascii_case("charset=utf-8"))
}

/// Query string parameters.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Problem))]
pub struct ApiQuery<T>(pub T);

/// Path parameters.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Problem))]
pub struct ApiPath<T>(pub T);

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_type(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
        headers
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Body {
        n: u32,
    }

    async fn headers_and_json(content_type: &str, body: &'static str) -> Result<(HeaderMap, Body), Problem> {
        let req = Request::builder()
            .method("POST")
            .header(header::CONTENT_TYPE, content_type)
            .header("idempotency-key", "k-1")
            .body(axum::body::Body::from(body))
            .expect("a request");
        HeadersAndJson::from_request(req, &()).await.map(|HeadersAndJson(headers, body)| (headers, body))
    }

    #[tokio::test]
    async fn headers_come_with_the_body_on_both_ways() {
        for content_type in ["application/json", "application/vnd.example+json"] {
            let (headers, body) = headers_and_json(content_type, r#"{"n":7}"#).await.expect(content_type);
            assert_eq!(body, Body { n: 7 }, "{content_type}");
            assert_eq!(headers.get("idempotency-key").map(|v| v.as_bytes()), Some(&b"k-1"[..]), "{content_type}");
            assert_eq!(headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()), Some(content_type.as_bytes()));
        }
        let malformed = headers_and_json("application/json", "{").await.expect_err("malformed");
        assert_eq!(malformed.status, 400);
        let wrong_shape = headers_and_json("application/json", r#"{"n":"x"}"#).await.expect_err("a string");
        assert_eq!(wrong_shape.status, 422);
        let other_type = headers_and_json("text/plain", r#"{"n":7}"#).await.expect_err("not JSON");
        assert_eq!(other_type.status, 415);
    }

    #[test]
    fn only_plain_json_types_take_the_short_way() {
        assert!(plainly_json(&with_type("application/json")));
        assert!(plainly_json(&with_type("Application/JSON; charset=utf-8")));
        assert!(plainly_json(&with_type("application/json;charset=UTF-8")));
        // Malformed or other parameters: axum's parser decides (415 where they are malformed).
        assert!(!plainly_json(&with_type("application/json; charset")));
        assert!(!plainly_json(&with_type("application/json;;charset=utf-8")));
        assert!(!plainly_json(&with_type("application/json; charset=utf-8,text/plain")));
        assert!(!plainly_json(&with_type("application/json; charset=latin1")));
        assert!(!plainly_json(&with_type("application/json;\tcharset=utf-8")));
        assert!(!plainly_json(&with_type("application/jsonx")));
        assert!(!plainly_json(&with_type("application/problem+json")));
        assert!(!plainly_json(&with_type("text/plain")));
        assert!(!plainly_json(&HeaderMap::new()));
    }
}
