//! What every handler can reach: [`AppState`] and its builders, and the settings for who may
//! see the dev mailbox and `/metrics`. Its own module so handlers import it without
//! importing lib.rs, which builds the router from every handler module.

use crate::api::catalog_cache::CatalogCache;
use crate::api::rooms::Rooms;
use crate::storefront::page_cache::PageCache;
use crate::{auth, cors, rate_limit, shop};
use stampede_domain::Signer;
use stampede_store::{Analytics, Store};
use std::sync::Arc;

/// What every handler can reach. Cheap to clone, one reference count: axum clones the state
/// for each extractor and layer of every request, and copying a dozen `Arc`s each time was a
/// tenth of a menu page's CPU (by `perf`). Fields are read through `Deref`; the `with_`
/// builders write through `DerefMut` before the router is made.
#[derive(Clone)]
pub struct AppState(Arc<AppParts>);

impl std::ops::Deref for AppState {
    type Target = AppParts;
    fn deref(&self) -> &AppParts {
        &self.0
    }
}

impl std::ops::DerefMut for AppState {
    fn deref_mut(&mut self) -> &mut AppParts {
        Arc::make_mut(&mut self.0)
    }
}

/// The parts of [`AppState`].
#[derive(Clone)]
pub struct AppParts {
    pub store: Arc<dyn Store>,
    /// Bearer token for `/api/admin`; `None` disables the admin API.
    pub admin_token: Option<Arc<str>>,
    /// Abuse limits on order placement.
    pub order_limits: Arc<rate_limit::OrderRateLimits>,
    /// Abuse limits on joining waiting rooms.
    pub join_limits: Arc<rate_limit::OrderRateLimits>,
    /// Waiting rooms as this instance last saw them.
    pub rooms: Arc<Rooms>,
    /// Who may open `/dev/mailbox`, which shows every customer's email.
    pub dev_mailbox: DevMailbox,
    /// Who may scrape `/metrics` on this listener.
    pub metrics: MetricsAccess,
    /// The catalog's JSON, rebuilt once per stock change.
    pub catalog: Arc<CatalogCache>,
    /// The menu page's sections, rendered once per stock change (at most a second old).
    pub menu: Arc<PageCache<()>>,
    /// Each product page's builder as a visitor with none of it in the cart and none bought
    /// sees it, rendered once per stock change (at most a second old).
    pub product_pages: Arc<PageCache<String>>,
    /// Warnings an operator must see, repeated in `/readyz`'s details (e.g. no mail channel).
    pub notices: Arc<Vec<String>>,
    /// Signs and checks the tokens the server hands out: order access, CSRF, emailed lookups.
    pub signer: Arc<Signer>,
    /// Turns `true` when the server starts shutting down, so long-lived responses (the live
    /// stock stream) end instead of holding the graceful shutdown up.
    pub closing: tokio::sync::watch::Receiver<bool>,
    /// Sales figures for `/admin/analytics` and the orders CSV; `None` where the store has none.
    pub analytics: Option<Arc<dyn Analytics>>,
    /// Accounts, sessions and the staff dashboard; `None` serves the shop without them.
    pub auth: Option<Arc<auth::Auth>>,
    /// The owner's settings for the shop's pages.
    pub shop: Arc<shop::ShopSettings>,
    /// Other sites whose pages may call the JSON API (`--cors-allow-origins`).
    pub cors: Arc<cors::AllowedOrigins>,
}

impl AppState {
    /// State with no rate limits and no dev mailbox; see the `with_` methods.
    pub fn new(store: Arc<dyn Store>, admin_token: Option<Arc<str>>) -> AppState {
        AppState(Arc::new(AppParts {
            store,
            admin_token,
            order_limits: Arc::new(rate_limit::OrderRateLimits::off()),
            join_limits: Arc::new(rate_limit::OrderRateLimits::off()),
            rooms: Arc::default(),
            dev_mailbox: DevMailbox::Off,
            metrics: MetricsAccess::Open,
            signer: Arc::new(random_signer()),
            notices: Arc::default(),
            catalog: Arc::default(),
            menu: Arc::default(),
            product_pages: Arc::default(),
            closing: tokio::sync::watch::channel(false).1,
            analytics: None,
            auth: None,
            shop: Arc::default(),
            cors: Arc::new(cors::AllowedOrigins::None),
        }))
    }

    /// Ends long-lived responses once `closing` turns `true`.
    pub fn with_shutdown(mut self, closing: tokio::sync::watch::Receiver<bool>) -> AppState {
        self.closing = closing;
        self
    }

    /// Applies order-placement rate limits.
    pub fn with_order_limits(mut self, limits: rate_limit::OrderRateLimits) -> AppState {
        self.order_limits = Arc::new(limits);
        self
    }

    /// Applies rate limits on joining waiting rooms.
    pub fn with_join_limits(mut self, limits: rate_limit::OrderRateLimits) -> AppState {
        self.join_limits = Arc::new(limits);
        self
    }

    /// Waiting-room joins wait for their write instead of being written behind: for Lambda,
    /// where nothing runs between invocations.
    pub fn with_write_through_lines(mut self) -> AppState {
        self.rooms = Arc::new(Rooms::write_through());
        self
    }

    /// Reads sales figures from `analytics` (usually the same store as `store`).
    pub fn with_analytics(mut self, analytics: Arc<dyn Analytics>) -> AppState {
        self.analytics = Some(analytics);
        self
    }

    /// Turns on accounts, sign-in and the staff dashboard at `/admin`.
    pub fn with_auth(mut self, auth: auth::Auth) -> AppState {
        self.auth = Some(Arc::new(auth));
        self
    }

    /// Serves `/dev/mailbox` to whom `access` allows.
    pub fn with_dev_mailbox(mut self, access: DevMailbox) -> AppState {
        self.dev_mailbox = access;
        self
    }

    /// Lets pages of `origins` call the JSON API from a browser (without credentials).
    pub fn with_cors(mut self, origins: cors::AllowedOrigins) -> AppState {
        self.cors = Arc::new(origins);
        self
    }

    /// Guards `/metrics` as `access` says.
    pub fn with_metrics(mut self, access: MetricsAccess) -> AppState {
        self.metrics = access;
        self
    }

    /// Runs the pages with the owner's `settings` (time zone, who may cancel, and the
    /// shop's name, address and phone).
    pub fn with_shop(mut self, settings: shop::ShopSettings) -> AppState {
        self.shop = Arc::new(settings);
        self
    }

    /// Adds a warning for `/readyz`'s details.
    pub fn with_notice(mut self, notice: impl Into<String>) -> AppState {
        Arc::make_mut(&mut self.notices).push(notice.into());
        self
    }

    /// Signs tokens with `signer`'s secrets, so they survive restarts and work on every instance.
    pub fn with_signer(mut self, signer: Signer) -> AppState {
        self.signer = Arc::new(signer);
        self
    }
}

/// Who may open the dev mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevMailbox {
    /// Not served (a real mail channel is configured, or the shop is public).
    Off,
    /// Anyone: a shop on a loopback address, for local development.
    Open,
    /// Admins only: a public shop started with `--dev-mailbox`.
    AdminOnly,
}

/// Who may scrape `/metrics` on the shop's own listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsAccess {
    /// Anyone who can reach the listener (a loopback address).
    Open,
    /// Requests carrying `Authorization: Bearer <token>`.
    Token(Arc<str>),
    /// Not on this listener (served on `--metrics-addr`, or off on a public address).
    Off,
}

/// A signer with a fresh random secret: its tokens end with the process.
pub fn random_signer() -> Signer {
    Signer::new(vec![rand::random::<[u8; 32]>().to_vec()]).expect("a 32-byte secret")
}
