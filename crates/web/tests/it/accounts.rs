//! Accounts over real HTTP: sessions and their cookies, CSRF on every form, roles at the
//! dashboard's door, sign-in limits and lockout, customer accounts owning their orders, and
//! `stampede admin create-user` on the real binary.

use crate::common::browser::{Browser, form_token};
use crate::common::*;
use serde_json::json;
use stampede_domain::SaleRules;
use stampede_store::Role;
use stampede_web::auth::login_limits::LoginPolicy;
use stampede_web::rate_limit::OrderRateLimits;
use std::time::Duration;

/// Sign-in limits that lock an email from one address after three wrong passwords, for ten
/// minutes, with no per-address limit in the way.
const LOCK_AFTER_THREE: LoginPolicy =
    LoginPolicy { per_ip_per_minute: 0, lockout_after: 3, lockout_for: Duration::from_secs(600) };

#[tokio::test]
async fn forms_without_the_right_csrf_token_change_nothing() {
    let app = TestApp::pizza_shop().await;
    let mut browser = Browser::new(&app.base);
    let first = browser.get("/").await;
    let set = first.set_cookies.iter().find(|c| c.starts_with("csrf=")).expect("a CSRF cookie");
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax") && !set.contains("Secure"), "{set}");
    let token = form_token(&first.html);
    assert_ne!(token, browser.cookies["csrf"], "forms carry a token signed from the cookie, not the cookie itself");

    let form = [("product", "cola"), ("quantity", "1")];
    let missing = browser.post_raw("/cart/add", &form).await;
    assert_eq!(missing.status, 403);
    assert!(missing.html.contains("This form has expired"), "{}", missing.html);
    assert!(missing.set_cookies.iter().all(|c| !c.starts_with("cart=")), "nothing was added");
    let wrong = "f".repeat(64);
    let forged = browser.post_raw("/cart/add", &[("product", "cola"), ("quantity", "1"), ("_csrf", &wrong)]).await;
    assert_eq!(forged.status, 403);
    let nonce = browser.cookies["csrf"].clone();
    let cookie_echoed =
        browser.post_raw("/cart/add", &[("product", "cola"), ("quantity", "1"), ("_csrf", &nonce)]).await;
    assert_eq!(cookie_echoed.status, 403, "echoing the cookie (plain double submit) is not enough");
    let mut planted = Browser::new(&app.base);
    planted.cookies.insert("csrf".into(), "a".repeat(64));
    let planted_form =
        planted.post_raw("/cart/add", &[("product", "cola"), ("quantity", "1"), ("_csrf", &"a".repeat(64))]).await;
    assert_eq!(planted_form.status, 403, "a planted cookie value is not a token");
    let mut stranger = Browser::new(&app.base);
    let no_cookie = stranger.post_raw("/checkout", &[("_csrf", &token), ("name", "Ana")]).await;
    assert_eq!(no_cookie.status, 403, "a token without its cookie is not enough");
    assert_eq!(app.order_rows(), 0);

    let added = browser.post("/cart/add", &form).await;
    assert_eq!((added.status, added.location.as_deref()), (303, Some("/cart?added=cola")));
    // The JSON API takes no cookies, so it needs no token.
    assert_eq!(app.order(&order_body("ana@example.com", "cola", 1), None).await.status(), 201);
}

#[tokio::test]
async fn staff_sessions_are_hashed_http_only_cookies_that_sign_out_ends() {
    let app = TestApp::pizza_shop().await;
    app.create_user("Boss@Example.com", None, Role::Admin).await;
    let mut browser = Browser::new(&app.base);

    let anonymous = browser.get("/admin/orders?status=received").await;
    assert_eq!(anonymous.status, 303);
    assert_eq!(anonymous.location.as_deref(), Some("/sign-in?next=%2Fadmin%2Forders%3Fstatus%3Dreceived"));
    let api = app.client.get(app.url("/admin/orders")).send().await.unwrap();
    expect_problem(api, 401, "unauthorized").await;

    let wrong = browser.post("/sign-in", &[("email", "boss@example.com"), ("password", "not it at all")]).await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.html.contains("do not match an account"));
    let unknown = browser.post("/sign-in", &[("email", "nobody@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(unknown.status, 401, "unknown emails read the same as wrong passwords");
    assert!(unknown.html.contains("do not match an account"));
    let empty = browser.post("/sign-in", &[("email", ""), ("password", "")]).await;
    assert_eq!(empty.status, 422);

    let next = "/admin/orders?status=received";
    let signed_in =
        browser.post("/sign-in", &[("email", "BOSS@example.com"), ("password", PASSWORD), ("next", next)]).await;
    assert_eq!((signed_in.status, signed_in.location.as_deref()), (303, Some(next)));
    let cookie = signed_in.set_cookies.iter().find(|c| c.starts_with("session=")).unwrap();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    let token = browser.cookies["session"].clone();
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) FROM sessions WHERE token_hash = '{token}'")),
        0,
        "never stored raw"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions"), 1);
    let password_hash: String = rusqlite::Connection::open(&app.db_path)
        .unwrap()
        .query_row("SELECT password_hash FROM users", [], |r| r.get(0))
        .unwrap();
    assert!(password_hash.starts_with("$argon2id$"), "{password_hash}");

    let orders = browser.get("/admin/orders").await;
    assert_eq!(orders.status, 200);
    assert!(orders.html.contains("boss@example.com") && orders.html.contains(r#"href="/admin/analytics""#));

    let offsite = browser
        .post("/sign-in", &[("email", "boss@example.com"), ("password", PASSWORD), ("next", "//evil.example")])
        .await;
    assert_eq!(offsite.location.as_deref(), Some("/admin"), "only local paths are followed");
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions"), 1, "signing in again replaces the session");
    let token = browser.cookies["session"].clone();

    let out = browser.post("/sign-out", &[]).await;
    assert_eq!((out.status, out.location.as_deref()), (303, Some("/")));
    assert!(out.set_cookies.iter().any(|c| c.starts_with("session=;") && c.contains("Max-Age=0")));
    let mut replay = Browser::new(&app.base);
    replay.cookies.insert("session".into(), token);
    assert_eq!(replay.get("/admin/orders").await.status, 303, "the old cookie no longer works");
    let expired_form = replay.post("/admin/products/margherita/stock", &[("delta", "1"), ("reason", "x")]).await;
    assert_eq!(
        expired_form.location.as_deref(),
        Some("/sign-in?next=%2Fadmin"),
        "a post without a session signs in first"
    );
}

#[tokio::test]
async fn roles_decide_what_the_dashboard_shows() {
    let app = TestApp::pizza_shop().await;
    app.create_user("admin@example.com", None, Role::Admin).await;
    app.create_user("kitchen@example.com", None, Role::Kitchen).await;
    app.create_user("eater@example.com", None, Role::Customer).await;
    let pages = [
        "/admin/orders",
        "/admin/products",
        "/admin/products/new",
        "/admin/products/margherita",
        "/admin/notifications",
        "/admin/audit",
    ];
    for (email, allowed) in
        [("admin@example.com", &pages[..]), ("kitchen@example.com", &pages[..1]), ("eater@example.com", &[][..])]
    {
        let mut browser = Browser::new(&app.base);
        browser.sign_in(email, PASSWORD).await;
        for path in pages {
            let page = browser.get(path).await;
            let expected = if allowed.contains(&path) { 200 } else { 403 };
            assert_eq!(page.status, expected, "{email} on {path}");
        }
        let kitchen_nav = browser.get("/admin/orders").await.html;
        if email.starts_with("kitchen") {
            assert!(!kitchen_nav.contains("/admin/products"), "kitchen staff see only orders");
        }
    }
    let mut customer = Browser::new(&app.base);
    customer.sign_in("eater@example.com", PASSWORD).await;
    let token = customer.csrf().await;
    let before = app.stock("margherita").await;
    let resp = app
        .client
        .post(app.url("/admin/products/margherita/stock"))
        .header("cookie", format!("session={}; csrf={}", customer.cookies["session"], customer.cookies["csrf"]))
        .form(&[("delta", "5"), ("reason", "x"), ("_csrf", &token)])
        .send()
        .await
        .unwrap();
    expect_problem(resp, 403, "forbidden").await;
    assert_eq!(app.stock("margherita").await, before, "nothing changed");
}

#[tokio::test]
async fn sign_in_is_rate_limited_per_address_and_locks_an_email_after_failures() {
    let app = TestApp::with_login(LOCK_AFTER_THREE).await;
    app.create_user("ana@example.com", None, Role::Customer).await;
    let mut browser = Browser::new(&app.base);
    for _ in 0..2 {
        assert_eq!(
            browser.post("/sign-in", &[("email", "ana@example.com"), ("password", "wrong guess 1")]).await.status,
            401
        );
    }
    let locked = browser.post("/sign-in", &[("email", "ana@example.com"), ("password", "wrong guess 3")]).await;
    assert_eq!(locked.status, 429);
    assert_eq!(locked.headers["retry-after"], "600");
    assert!(locked.html.contains("paused for 10 min"), "{}", locked.html);
    let right = browser.post("/sign-in", &[("email", "ana@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(right.status, 429, "a locked email is not checked, even with the right password");
    assert!(right.set_cookies.iter().all(|c| !c.starts_with("session=")));
    // Unknown emails lock the same way, so a lockout does not tell who has an account.
    for _ in 0..2 {
        browser.post("/sign-in", &[("email", "ghost@example.com"), ("password", "wrong guess")]).await;
    }
    assert_eq!(browser.post("/sign-in", &[("email", "ghost@example.com"), ("password", "x")]).await.status, 429);

    let per_ip = LoginPolicy { per_ip_per_minute: 3, ..LoginPolicy::default() };
    let limited = TestApp::serve_with(app.store.clone(), &app.db_path, OrderRateLimits::off(), per_ip).await;
    let mut bot = Browser::new(&limited.base);
    for n in 0..3 {
        let page = bot.post("/sign-in", &[("email", &format!("user{n}@example.com")), ("password", "guess")]).await;
        assert_eq!(page.status, 401);
    }
    let refused = bot.post("/sign-in", &[("email", "ana@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(refused.status, 429);
    let wait: u64 = refused.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(refused.html.contains("Too many sign-in attempts from your network"));
}

#[tokio::test]
async fn customers_sign_up_and_their_orders_belong_to_the_account() {
    let app = TestApp::pizza_shop().await;
    let mut browser = Browser::new(&app.base);
    let bad = browser.post("/sign-up", &[("email", "not-an-email"), ("name", "Ana"), ("password", "short")]).await;
    assert_eq!(bad.status, 422);
    assert!(bad.html.contains("Enter an email address like name@example.com."));
    assert!(!bad.html.contains("short\""), "the password is never echoed");
    let weak = browser.post("/sign-up", &[("email", "ana@example.com"), ("password", "short")]).await;
    assert!(weak.html.contains("Use at least 10 characters."), "{}", weak.html);
    assert_eq!(app.count("SELECT COUNT(*) FROM users"), 0);

    let made = browser.post("/sign-up", &[("email", "Ana@Example.com"), ("name", "Ana"), ("password", PASSWORD)]).await;
    assert_eq!((made.status, made.location.as_deref()), (303, Some("/account")));
    let account = browser.get("/account").await;
    assert!(account.html.contains("ana@example.com") && account.html.contains("No orders yet"));
    let twice = Browser::new(&app.base).post("/sign-up", &[("email", "ana@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(twice.status, 409);
    assert!(twice.html.contains("already has an account"));

    // Checkout is prefilled with the account, and the order goes under it whatever is typed.
    browser.post("/cart/add", &[("product", "cola"), ("quantity", "2")]).await;
    let checkout = browser.get("/checkout").await;
    assert!(checkout.html.contains(r#"value="ana@example.com""#));
    let key = "checkout-key-1";
    let placed = browser
        .post("/checkout", &[("key", key), ("name", "Ana"), ("email", "someone@else.com"), ("fulfilment", "pickup")])
        .await;
    assert_eq!(placed.status, 303, "{}", placed.html);
    assert_eq!(app.count("SELECT COUNT(*) FROM orders WHERE customer_key = 'ana@example.com'"), 1);
    let account = browser.get("/account").await;
    assert!(account.html.contains("2 × Cola") || account.html.contains("Cola"), "{}", account.html);
    let header = browser.get("/").await.html;
    assert!(header.contains(r#"<a href="/account">My orders</a>"#) && header.contains("Sign out"), "one My orders");
    assert!(!header.contains(r#"href="/admin""#), "customers get no dashboard link");

    browser.post("/sign-out", &[]).await;
    let gone = browser.get("/account").await;
    assert_eq!(gone.location.as_deref(), Some("/sign-in?next=%2Faccount"));
}

#[tokio::test]
async fn the_bearer_token_api_keeps_working_next_to_sessions() {
    let app = TestApp::start().await;
    app.add_product("p", 100, 5, SaleRules::default()).await;
    let id =
        app.order(&order_body("a@example.com", "p", 1), None).await.json::<serde_json::Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let resp = app.admin_post(&format!("/api/admin/orders/{id}/status"), &json!({"status": "preparing"})).await;
    assert_eq!(resp.status(), 200);
    let audited = app.count("SELECT COUNT(*) FROM audit_log WHERE actor = 'api-token' AND action = 'order.status'");
    assert_eq!(audited, 1, "admin API actions are audited too");
    let anonymous = app
        .client
        .post(app.url(&format!("/api/admin/orders/{id}/status")))
        .json(&json!({"status": "ready"}))
        .send()
        .await
        .unwrap();
    expect_problem(anonymous, 401, "unauthorized").await;
}

#[tokio::test]
async fn an_authorization_header_never_excuses_a_cookie_session_from_csrf() {
    let app = TestApp::pizza_shop().await;
    app.create_user("boss@example.com", None, Role::Admin).await;
    let mut admin = Browser::new(&app.base);
    admin.sign_in("boss@example.com", PASSWORD).await;
    // Another site's form cannot set headers, but a script or proxy may add one: the
    // session cookie still authenticates the post, so it still needs the form token.
    for authorization in ["Basic Zm9vOmJhcg==", "Bearer not-a-jwt", "Bearer a.b.c"] {
        let resp = app
            .client
            .post(app.url("/admin/staff"))
            .header("cookie", format!("session={}; csrf={}", admin.cookies["session"], admin.cookies["csrf"]))
            .header("authorization", authorization)
            .form(&[("email", "mallory@example.com"), ("role", "admin"), ("password", "a long enough password")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{authorization}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE email = 'mallory@example.com'"), 0);
    // The admin's own form, with its token, works.
    let made = admin
        .post(
            "/admin/staff",
            &[("email", "cook@example.com"), ("role", "kitchen"), ("password", "a long enough password")],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.html);
}

#[tokio::test]
async fn a_form_token_from_before_sign_in_is_worthless_after_it() {
    let app = TestApp::pizza_shop().await;
    app.create_user("ana@example.com", None, Role::Customer).await;
    let mut browser = Browser::new(&app.base);
    let before = form_token(&browser.get("/sign-in").await.html);
    browser.sign_in("ana@example.com", PASSWORD).await;
    let stale = browser.post_raw("/sign-out", &[("_csrf", &before)]).await;
    assert_eq!(stale.status, 403, "the token was bound to the signed-out browser");
    assert!(browser.cookies.contains_key("session"), "still signed in");
    assert_eq!(browser.post("/sign-out", &[]).await.status, 303);
}

#[tokio::test]
async fn sign_in_only_returns_to_paths_of_this_shop() {
    let app = TestApp::pizza_shop().await;
    app.create_user("ana@example.com", None, Role::Customer).await;
    for next in [
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\n/evil.example",
        "/\\evil.example",
        "\\/evil.example",
        "//evil.example",
        "https://evil.example/",
        "/\u{0}/evil.example",
    ] {
        let mut browser = Browser::new(&app.base);
        let page =
            browser.post("/sign-in", &[("email", "ana@example.com"), ("password", PASSWORD), ("next", next)]).await;
        assert_eq!((page.status, page.location.as_deref()), (303, Some("/account")), "{next:?}");
    }
    // The query-string form the finding used: `/%09/evil.com` arrives as a tab.
    let mut browser = Browser::new(&app.base);
    let form = browser.get("/sign-in?next=/%09/evil.example").await;
    assert!(form.html.contains(r#"name="next" value="""#), "the page does not carry it on");
    // Encoded characters stay inside the path, so this stays on the shop.
    let page = browser
        .post("/sign-in", &[("email", "ana@example.com"), ("password", PASSWORD), ("next", "/my-orders?x=%2F%2Fevil")])
        .await;
    assert_eq!(page.location.as_deref(), Some("/my-orders?x=%2F%2Fevil"));
}

#[tokio::test]
async fn wrong_passwords_from_one_address_do_not_lock_the_owner_out_from_theirs() {
    let app = TestApp::with_login(LOCK_AFTER_THREE).await;
    app.create_user("boss@example.com", None, Role::Admin).await;
    let mut attacker = Browser::from_address(&app.base, [127, 0, 0, 66]);
    for _ in 0..6 {
        attacker.post("/sign-in", &[("email", "boss@example.com"), ("password", "a wrong guess")]).await;
    }
    let locked = attacker.post("/sign-in", &[("email", "boss@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(locked.status, 429, "the guessing address is locked out");
    let mut owner = Browser::new(&app.base);
    let page = owner.sign_in("boss@example.com", PASSWORD).await;
    assert_eq!(page.location.as_deref(), Some("/admin"), "the owner's address is not");
}

/// The path of the newest emailed link of `purpose` to `to`, from its outbox event.
fn emailed_link(app: &TestApp, purpose: &str, to: &str) -> String {
    let payload: String = rusqlite::Connection::open(&app.db_path)
        .unwrap()
        .query_row(
            "SELECT payload FROM outbox WHERE kind = 'customer.link'
             AND json_extract(payload, '$.purpose') = ?1 AND json_extract(payload, '$.to') = ?2
             ORDER BY id DESC LIMIT 1",
            [purpose, to],
            |r| r.get(0),
        )
        .unwrap();
    serde_json::from_str::<serde_json::Value>(&payload).unwrap()["path"].as_str().unwrap().to_owned()
}

fn token_of(path: &str) -> String {
    path.split_once("token=").unwrap().1.to_owned()
}

#[tokio::test]
async fn signing_up_with_someone_elses_email_does_not_show_their_guest_orders() {
    let app = TestApp::pizza_shop().await;
    let guest: serde_json::Value =
        app.order(&order_body("victim@example.com", "cola", 1), None).await.json().await.unwrap();
    let guest_id = guest["id"].as_str().unwrap();
    let mut mallory = Browser::new(&app.base);
    let signed_up = mallory
        .post("/sign-up", &[("email", "victim@example.com"), ("name", "M"), ("password", "a long enough password")])
        .await;
    assert_eq!(signed_up.location.as_deref(), Some("/account"));
    let account = mallory.get("/account").await.html;
    assert!(account.contains("Please confirm your email"), "{account}");
    assert!(!account.contains(guest_id) && account.contains("No orders yet"), "guest orders stay hidden");
    let order_page = mallory.get(&format!("/orders/{guest_id}")).await.html;
    assert!(!order_page.contains("victim@example.com"), "no personal details for an unverified account");
    let api = app
        .client
        .get(app.url("/api/customers/victim@example.com/orders"))
        .header("cookie", format!("session={}", mallory.cookies["session"]))
        .send()
        .await
        .unwrap();
    expect_problem(api, 403, "forbidden").await;
    expect_problem(app.cancel(guest_id, None).await, 403, "forbidden").await;

    // An order placed while signed in shows at once.
    mallory.post("/cart/add", &[("product", "cola"), ("quantity", "1")]).await;
    let checkout = mallory.get("/checkout").await.html;
    let key = {
        let marker = r#"name="key" value=""#;
        let start = checkout.find(marker).unwrap() + marker.len();
        checkout[start..start + checkout[start..].find('"').unwrap()].to_owned()
    };
    let placed = mallory.post("/checkout", &[("key", &key), ("name", "M"), ("fulfilment", "pickup")]).await;
    assert_eq!(placed.status, 303, "{}", placed.html);
    let own_id = placed.location.unwrap().trim_start_matches("/orders/").trim_end_matches("?placed=1").to_owned();
    let account = mallory.get("/account").await.html;
    assert!(account.contains(&own_id) && !account.contains(guest_id));

    // Opening the link sent to the address proves it: then guest orders join.
    let link = emailed_link(&app, "verify_email", "victim@example.com");
    assert!(link.starts_with("/account/verify?token="));
    let landing = mallory.get(&link).await;
    assert_eq!(landing.status, 200);
    assert_eq!(
        app.count("SELECT email_verified FROM users WHERE email = 'victim@example.com'"),
        0,
        "a GET uses nothing up"
    );
    let confirmed = mallory.post("/account/verify", &[("token", &token_of(&link))]).await;
    assert_eq!(confirmed.location.as_deref(), Some("/account?verified=1"));
    let account = mallory.get("/account?verified=1").await.html;
    assert!(account.contains(guest_id) && account.contains(&own_id), "{account}");
    let again = mallory.post("/account/verify", &[("token", &token_of(&link))]).await;
    assert_eq!(again.status, 410, "links work once");
}

#[tokio::test]
async fn guests_get_their_orders_through_a_one_time_emailed_link() {
    let app = TestApp::pizza_shop().await;
    let ana: serde_json::Value = app
        .order(&json!({"customer": {"email": "ana@example.com", "name": "Ana"}, "items": [{"productId": "cola", "quantity": 1}],
            "fulfilment": delivery()}), None)
        .await
        .json()
        .await
        .unwrap();
    let ana_id = ana["id"].as_str().unwrap();
    let mut stranger = Browser::new(&app.base);
    // The old lookup by query string reveals nothing.
    let old = stranger.get("/my-orders?email=ana@example.com").await.html;
    assert!(!old.contains(ana_id) && !old.contains("1 Main St"));
    // Asking answers the same whether or not the address has orders.
    let known = stranger.post("/my-orders", &[("email", "ana@example.com")]).await;
    let unknown = stranger.post("/my-orders", &[("email", "nobody@example.com")]).await;
    assert_eq!((known.status, unknown.status), (200, 200));
    let strip = |html: &str, email: &str| {
        let main = &html[html.find("<main").unwrap()..html.find("</main>").unwrap()];
        main.replace(email, "EMAIL")
    };
    assert_eq!(strip(&known.html, "ana@example.com"), strip(&unknown.html, "nobody@example.com"));
    assert!(known.html.contains("Check your inbox") && !known.html.contains(ana_id));
    let bad = stranger.post("/my-orders", &[("email", "nope")]).await;
    assert_eq!(bad.status, 422);

    // Only the recipient holds the link; it works once.
    let link = emailed_link(&app, "order_lookup", "ana@example.com");
    let nobody_link = emailed_link(&app, "order_lookup", "nobody@example.com");
    assert_eq!(app.count("SELECT COUNT(*) FROM email_links WHERE token_hash LIKE '%' AND length(token_hash) = 64"), 2);
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) FROM email_links WHERE token_hash = '{}'", token_of(&link))),
        0,
        "the token itself is not stored"
    );
    let mut ana_browser = Browser::new(&app.base);
    assert!(ana_browser.get(&link).await.html.contains("Show my orders"));
    let opened = ana_browser.post("/my-orders/open", &[("token", &token_of(&link))]).await;
    assert_eq!(opened.location.as_deref(), Some("/my-orders"));
    let list = ana_browser.get("/my-orders").await.html;
    assert!(list.contains(&format!("/orders/{ana_id}")), "{list}");
    let reused = Browser::new(&app.base).post("/my-orders/open", &[("token", &token_of(&link))]).await;
    assert_eq!(reused.status, 410);

    // Another email's link shows that email's orders only.
    let mut nobody = Browser::new(&app.base);
    nobody.post("/my-orders/open", &[("token", &token_of(&nobody_link))]).await;
    let theirs = nobody.get("/my-orders").await.html;
    assert!(theirs.contains("No orders for nobody@example.com") && !theirs.contains(ana_id));

    // Links expire.
    stranger.post("/my-orders", &[("email", "ana@example.com")]).await;
    let late = emailed_link(&app, "order_lookup", "ana@example.com");
    rusqlite::Connection::open(&app.db_path)
        .unwrap()
        .execute("UPDATE email_links SET expires_at = 0 WHERE used_at IS NULL", [])
        .unwrap();
    assert_eq!(Browser::new(&app.base).post("/my-orders/open", &[("token", &token_of(&late))]).await.status, 410);

    // An inbox gets at most three links an hour; the page still says the same.
    for _ in 0..3 {
        assert_eq!(stranger.post("/my-orders", &[("email", "ana@example.com")]).await.status, 200);
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM email_links WHERE email = 'ana@example.com'"), 3);
}

#[tokio::test]
async fn link_requests_share_the_per_address_allowance() {
    let app = TestApp::with_login(LoginPolicy { per_ip_per_minute: 2, ..LoginPolicy::default() }).await;
    let mut bot = Browser::new(&app.base);
    for n in 0..2 {
        assert_eq!(bot.post("/my-orders", &[("email", &format!("a{n}@example.com"))]).await.status, 200);
    }
    let refused = bot.post("/my-orders", &[("email", "a9@example.com")]).await;
    assert_eq!(refused.status, 429);
    assert!(refused.headers.contains_key("retry-after"));
    assert_eq!(app.count("SELECT COUNT(*) FROM email_links"), 2);
}
