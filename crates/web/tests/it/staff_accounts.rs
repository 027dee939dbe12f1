//! Staff accounts over real HTTP (#20): an admin deactivates an account (it cannot sign in,
//! its sessions end) and reactivates it, resets its password to a temporary one that its
//! owner must replace before anything else, and every change is in the audit log. The shop
//! always keeps an active admin.

use crate::common::browser::Browser;
use crate::common::*;
use stampede_store::{Accounts, Role, SqliteAccounts, StoreError};

async fn account(app: &TestApp, email: &str, role: Role) -> String {
    app.create_user(email, None, role).await.id
}

async fn signed_in(app: &TestApp, email: &str, password: &str) -> Browser {
    let mut browser = Browser::new(&app.base);
    browser.sign_in(email, password).await;
    browser
}

async fn sign_in_page(app: &TestApp, email: &str, password: &str) -> crate::common::browser::Page {
    let mut browser = Browser::new(&app.base);
    browser.get("/sign-in").await;
    browser.post("/sign-in", &[("email", email), ("password", password)]).await
}

/// An admin (boss@) and a kitchen account (cook@), both signed in: the cook's id and the two
/// browsers.
async fn boss_and_cook(app: &TestApp) -> (String, Browser, Browser) {
    account(app, "boss@example.com", Role::Admin).await;
    let cook_id = account(app, "cook@example.com", Role::Kitchen).await;
    let boss = signed_in(app, "boss@example.com", PASSWORD).await;
    let cook = signed_in(app, "cook@example.com", PASSWORD).await;
    (cook_id, boss, cook)
}

#[tokio::test]
async fn a_deactivated_account_cannot_sign_in_and_its_sessions_end_until_reactivated() {
    let app = TestApp::start().await;
    let (cook_id, mut boss, mut cook) = boss_and_cook(&app).await;
    assert_eq!(cook.get("/admin/orders").await.status, 200);

    let list = boss.get("/admin/staff").await.html;
    assert!(list.contains(&format!(r#"action="/admin/staff/{cook_id}/deactivate""#)), "{list}");
    let done = boss.post(&format!("/admin/staff/{cook_id}/deactivate"), &[]).await;
    assert_eq!(done.location.as_deref(), Some("/admin/staff?deactivated=cook%40example.com"));
    let list = boss.get(done.location.as_deref().unwrap()).await.html;
    assert!(list.contains("Deactivated cook@example.com: they are signed out and cannot sign in."), "{list}");
    assert!(list.contains(r#"<small class="state" data-state>deactivated</small>"#));
    assert!(list.contains(&format!(r#"action="/admin/staff/{cook_id}/reactivate""#)));

    // The open session is over, and the right password is refused with a reason.
    let kicked = cook.get("/admin/orders").await;
    assert_eq!((kicked.status, kicked.location.as_deref()), (303, Some("/sign-in?next=%2Fadmin%2Forders")));
    let refused = sign_in_page(&app, "cook@example.com", PASSWORD).await;
    assert_eq!(refused.status, 403);
    assert!(refused.html.contains("This account is deactivated. Ask an admin of the shop to reactivate it."));
    let wrong = sign_in_page(&app, "cook@example.com", "not the password").await;
    assert!(wrong.html.contains("do not match an account"), "a wrong password learns nothing more");

    boss.post(&format!("/admin/staff/{cook_id}/reactivate"), &[]).await;
    let mut back = signed_in(&app, "cook@example.com", PASSWORD).await;
    assert_eq!(back.get("/admin/orders").await.status, 200);
    let audit = boss.get("/admin/audit").await.html;
    assert!(audit.contains("Staff account deactivated") && audit.contains("Staff account reactivated"), "{audit}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'user.%activate' AND target = 'cook@example.com'"),
        2
    );

    // Kitchen staff cannot do it.
    assert_eq!(back.post(&format!("/admin/staff/{cook_id}/deactivate"), &[]).await.status, 403);
}

#[tokio::test]
async fn a_reset_password_must_be_replaced_before_anything_else() {
    let app = TestApp::start().await;
    let (cook_id, mut boss, mut cook) = boss_and_cook(&app).await;

    let weak = boss.post(&format!("/admin/staff/{cook_id}/password"), &[("password", "short")]).await;
    assert_eq!(weak.status, 422);
    assert!(weak.html.contains(&format!(r#"id="reset-error-{cook_id}">Use at least 10 characters."#)), "{}", weak.html);
    let reset = boss.post(&format!("/admin/staff/{cook_id}/password"), &[("password", "temporary pass 1")]).await;
    assert_eq!(reset.location.as_deref(), Some("/admin/staff?reset=cook%40example.com"));
    assert!(boss.get("/admin/staff").await.html.contains("temporary password"));
    assert_eq!(cook.get("/admin/orders").await.status, 303, "the reset ends the old sessions");
    assert!(sign_in_page(&app, "cook@example.com", PASSWORD).await.html.contains("do not match"), "old password gone");

    // Signing in with the temporary password leads to choosing a new one, whatever was asked for.
    let mut cook = Browser::new(&app.base);
    cook.get("/sign-in").await;
    let signed = cook
        .post("/sign-in", &[("email", "cook@example.com"), ("password", "temporary pass 1"), ("next", "/admin/orders")])
        .await;
    assert_eq!(signed.location.as_deref(), Some("/admin/password"));
    for path in ["/admin/orders", "/admin/orders/rows"] {
        assert_eq!(cook.get(path).await.location.as_deref(), Some("/admin/password"), "{path}");
    }
    let form = cook.get("/admin/password").await.html;
    assert!(form.contains("An admin set a temporary password for your account."), "{form}");
    let differ =
        cook.post("/admin/password", &[("password", "my own password 1"), ("repeat", "my own password 2")]).await;
    assert_eq!(differ.status, 422);
    assert!(differ.html.contains("The two passwords differ."));
    let chosen =
        cook.post("/admin/password", &[("password", "my own password 1"), ("repeat", "my own password 1")]).await;
    assert_eq!(chosen.status, 200);
    assert!(chosen.html.contains("Your new password is set."));
    assert_eq!(cook.get("/admin/orders").await.status, 200, "the session goes on");
    assert_eq!(signed_in(&app, "cook@example.com", "my own password 1").await.get("/admin/orders").await.status, 200);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'user.password_reset' AND actor = 'boss@example.com'"),
        1
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'user.password_change' AND actor = 'cook@example.com'"
        ),
        1
    );
}

#[tokio::test]
async fn the_last_active_admin_is_never_deactivated_or_removed() {
    let app = TestApp::start().await;
    let boss_id = account(&app, "boss@example.com", Role::Admin).await;
    let ann_id = account(&app, "ann@example.com", Role::Admin).await;
    let mut boss = signed_in(&app, "boss@example.com", PASSWORD).await;

    let own = boss.post(&format!("/admin/staff/{boss_id}/deactivate"), &[]).await;
    assert_eq!(own.status, 409);
    assert!(own.html.contains("You cannot deactivate your own account"));
    // With Ann deactivated, Boss is the last active admin: Ann may go, Boss may not.
    assert_eq!(boss.post(&format!("/admin/staff/{ann_id}/deactivate"), &[]).await.status, 303);
    let list = boss.get("/admin/staff").await.html;
    assert!(!list.contains(&format!("/admin/staff/{boss_id}/")), "no actions on yourself: {list}");
    let accounts = SqliteAccounts::open(&app.db_path).unwrap();
    assert!(matches!(accounts.set_staff_active(&boss_id, false).await, Err(StoreError::Conflict(_))));
    assert!(matches!(accounts.remove_staff(&boss_id).await, Err(StoreError::Conflict(_))));
    // A deactivated admin does not count: removing Ann leaves Boss, still active.
    assert_eq!(boss.post(&format!("/admin/staff/{ann_id}/remove"), &[("confirm", "yes")]).await.status, 303);
    assert_eq!(boss.get("/admin/orders").await.status, 200);
}
