//! Who is asking, for every page request: the CSRF token of their browser and, when signed
//! in, their account. The middleware in `visitor_layer.rs` resolves both and makes the
//! visitor available to handlers (request extension) and to page layouts (a task-local, so
//! every page can show the right header without each handler passing it).

use stampede_store::User;
use std::future::Future;

/// Name of the CSRF cookie (with `__Host-` in front over HTTPS).
pub const CSRF_COOKIE: &str = "csrf";
/// Name of the form field that carries the token.
pub const CSRF_FIELD: &str = "_csrf";

/// The person behind a page request.
#[derive(Debug, Clone, Default)]
pub struct Visitor {
    /// The token every form on the page must carry.
    pub csrf: String,
    /// The signed-in account, if any.
    pub user: Option<User>,
    /// Whether accounts are on (sign-in links are shown).
    pub accounts: bool,
    /// The shop the page belongs to (its name in the header, its address for pickup).
    pub shop: std::sync::Arc<crate::shop::ShopSettings>,
}

tokio::task_local! {
    static CURRENT: Visitor;
}

/// The visitor of the request being handled (page layouts use it); `None` outside the middleware.
pub fn current() -> Option<Visitor> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Runs `f` with `visitor` as the current one (see `current`).
pub(crate) async fn scope<F: Future>(visitor: Visitor, f: F) -> F::Output {
    CURRENT.scope(visitor, f).await
}
