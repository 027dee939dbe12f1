//! Cross-origin access for browsers: which other sites' pages may call the JSON API.
//! Only JSON routes get these headers, and never with credentials: cookies do not cross
//! origins, and cookie-authenticated pages and forms stay same-origin.

use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// How long a browser may cache a preflight answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The `--cors-allow-origins` setting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// Same-origin only: no CORS headers (the default).
    #[default]
    None,
    /// `*`: any page may call (responses carry no credentials, so this exposes nothing private).
    Any,
    /// Exactly these origins, e.g. `https://shop.example.com`.
    List(Vec<HeaderValue>),
}

impl FromStr for AllowedOrigins {
    type Err = String;

    /// Parses `*`, an empty string, or a comma-separated list of `scheme://host[:port]`.
    fn from_str(raw: &str) -> Result<AllowedOrigins, String> {
        let items: Vec<&str> = raw.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
        if items.is_empty() {
            return Ok(AllowedOrigins::None);
        }
        if items == ["*"] {
            return Ok(AllowedOrigins::Any);
        }
        items.iter().map(|item| origin(item)).collect::<Result<_, _>>().map(AllowedOrigins::List)
    }
}

/// One origin as browsers send it in `Origin`: scheme, host and optional port, nothing more.
fn origin(item: &str) -> Result<HeaderValue, String> {
    let bad = || format!("`{item}` is not an origin like https://shop.example.com (or `*` alone)");
    let (scheme, rest) = item.split_once("://").ok_or_else(bad)?;
    let host_ok =
        !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !matches!(scheme, "http" | "https") || !host_ok {
        return Err(bad());
    }
    HeaderValue::from_str(&item.to_ascii_lowercase()).map_err(|_| bad())
}

impl fmt::Display for AllowedOrigins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowedOrigins::None => f.write_str("same-origin only"),
            AllowedOrigins::Any => f.write_str("*"),
            AllowedOrigins::List(list) => {
                let names: Vec<_> = list.iter().filter_map(|v| v.to_str().ok()).collect();
                f.write_str(&names.join(","))
            }
        }
    }
}

/// The CORS layer for `origins`; `None` when cross-origin calls are not allowed.
pub fn layer(origins: &AllowedOrigins) -> Option<CorsLayer> {
    let allow = match origins {
        AllowedOrigins::None => return None,
        AllowedOrigins::Any => AllowOrigin::any(),
        AllowedOrigins::List(list) => AllowOrigin::list(list.iter().cloned()),
    };
    let idempotency_key = HeaderName::from_static("idempotency-key");
    // The API's own request headers (`auth::order_access`, `api::queue`), named here so that
    // this module, which the state holds, imports no handler module back.
    let order_token = HeaderName::from_static("order-token");
    let queue_ticket = HeaderName::from_static("queue-ticket");
    let replayed = HeaderName::from_static("idempotent-replayed");
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::HEAD, Method::POST])
            .allow_headers([header::CONTENT_TYPE, idempotency_key, header::AUTHORIZATION, order_token, queue_ticket])
            .expose_headers([header::LOCATION, header::RETRY_AFTER, replayed])
            .max_age(PREFLIGHT_MAX_AGE),
    )
}

/// tower-http answers a preflight `200` with an empty body; `204` says "no content" plainly.
pub async fn preflight_no_content(mut response: Response) -> Response {
    if response.status() == StatusCode::OK && response.headers().contains_key(header::ACCESS_CONTROL_ALLOW_METHODS) {
        *response.status_mut() = StatusCode::NO_CONTENT;
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_parse_strictly() {
        assert_eq!("".parse::<AllowedOrigins>(), Ok(AllowedOrigins::None));
        assert_eq!(" * ".parse::<AllowedOrigins>(), Ok(AllowedOrigins::Any));
        let list = "https://shop.example.com, http://127.0.0.1:5173".parse::<AllowedOrigins>().unwrap();
        assert_eq!(list.to_string(), "https://shop.example.com,http://127.0.0.1:5173");
        for bad in ["shop.example.com", "https://shop.example.com/", "ftp://x.io", "*,https://a.io", "https://a b"] {
            assert!(bad.parse::<AllowedOrigins>().is_err(), "{bad}");
        }
    }
}
