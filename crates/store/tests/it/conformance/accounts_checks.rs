//! Accounts on every engine that has them: users, sessions, the audit log, staff management
//! with its last-admin rule, emailed links and saved carts.

use super::staff::Accounted;
use stampede_store::{
    Claim, EMAIL_LINK_EVENT, LinkOpening, LinkPurpose, NewAudit, NewEmailLink, NewSession, NewUser, OutboxState, Role,
    StoreError,
};
use std::time::Duration;

fn new_user(email: &str, role: Role) -> NewUser {
    NewUser { email: email.into(), name: None, role, password_hash: "$argon2id$stub".into(), email_verified: false }
}

/// A link to `email` for `purpose`, valid for a minute; the mail is addressed in lower case.
fn link(token_hash: &str, purpose: LinkPurpose, email: &str) -> NewEmailLink {
    let payload = serde_json::json!({"to": email.to_lowercase(), "purpose": purpose.as_str(), "url": "http://shop/x"});
    NewEmailLink { token_hash: token_hash.into(), purpose, email: email.into(), expires_at: now() + 60_000, payload }
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

pub async fn users_sessions_and_audit_round_trip(shop: Accounted) {
    let accounts = &shop.accounts;
    let ana = accounts.create_user(new_user("Ana@Example.com", Role::Admin)).await.unwrap();
    assert_eq!(ana.email, "ana@example.com");
    let again = accounts.create_user(new_user("ana@example.COM", Role::Customer)).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    accounts.create_user(new_user("eve@example.com", Role::Customer)).await.unwrap();
    accounts.create_user(new_user("cook@example.com", Role::Kitchen)).await.unwrap();
    accounts.create_user(new_user("Zed@example.com", Role::Kitchen)).await.unwrap();
    let staff: Vec<String> = accounts.staff().await.unwrap().into_iter().map(|u| u.email).collect();
    assert_eq!(staff, ["ana@example.com", "cook@example.com", "zed@example.com"], "customers are not staff");
    let creds = accounts.credentials("ANA@example.com").await.unwrap().unwrap();
    assert_eq!((creds.user.role, creds.password_hash.as_str()), (Role::Admin, "$argon2id$stub"));
    assert!(accounts.credentials("nobody@example.com").await.unwrap().is_none());

    let now = now();
    let session = NewSession { token_hash: "h1".into(), user_id: ana.id.clone(), expires_at: now + 60_000 };
    accounts.start_session(session).await.unwrap();
    assert_eq!(accounts.session_user("h1", now).await.unwrap(), Some(ana.clone()));
    assert_eq!(accounts.session_user("h1", now + 60_000).await.unwrap(), None, "expired");
    assert_eq!(accounts.session_user("other", now).await.unwrap(), None);
    accounts.end_session("h1").await.unwrap();
    accounts.end_session("h1").await.unwrap();
    assert_eq!(accounts.session_user("h1", now).await.unwrap(), None, "signed out");

    for n in 0..3 {
        let entry = NewAudit {
            actor: ana.email.clone(),
            action: "stock.adjust".into(),
            target: format!("p{n}"),
            detail: "delivery".into(),
        };
        accounts.record(entry).await.unwrap();
    }
    let page = accounts.audit_log(None, 2).await.unwrap();
    assert_eq!(page.iter().map(|e| e.target.as_str()).collect::<Vec<_>>(), ["p2", "p1"]);
    let rest = accounts.audit_log(Some(page[1].id), 2).await.unwrap();
    assert_eq!(rest.iter().map(|e| e.target.as_str()).collect::<Vec<_>>(), ["p0"]);
}

pub async fn staff_management_keeps_an_active_admin(shop: Accounted) {
    let accounts = &shop.accounts;
    let boss = accounts.create_user(new_user("boss@example.com", Role::Admin)).await.unwrap();
    let cook = accounts.create_user(new_user("cook@example.com", Role::Kitchen)).await.unwrap();
    let eve = accounts.create_user(new_user("eve@example.com", Role::Customer)).await.unwrap();
    let session = |user_id: &str, hash: &str| NewSession {
        token_hash: hash.into(),
        user_id: user_id.into(),
        expires_at: now() + 60_000,
    };
    accounts.start_session(session(&cook.id, "cook-1")).await.unwrap();

    let off = accounts.set_staff_active(&cook.id, false).await.unwrap().unwrap();
    assert!(!off.active);
    assert_eq!(accounts.session_user("cook-1", now()).await.unwrap(), None, "its sessions end");
    assert!(!accounts.credentials("cook@example.com").await.unwrap().unwrap().user.active);
    assert!(accounts.set_staff_active(&cook.id, true).await.unwrap().unwrap().active);
    assert_eq!(accounts.set_staff_active(&eve.id, false).await.unwrap(), None, "customers are not staff");
    let last = accounts.set_staff_active(&boss.id, false).await;
    assert!(matches!(last, Err(StoreError::Conflict(_))), "{last:?}");
    assert!(matches!(accounts.remove_staff(&boss.id).await, Err(StoreError::Conflict(_))));

    accounts.start_session(session(&cook.id, "cook-2")).await.unwrap();
    let reset = accounts.set_password(&cook.id, "$argon2id$temporary", true).await.unwrap().unwrap();
    assert!(reset.must_change_password);
    assert_eq!(accounts.session_user("cook-2", now()).await.unwrap(), None, "a reset ends its sessions");
    let chosen = accounts.set_password(&cook.id, "$argon2id$own", false).await.unwrap().unwrap();
    assert!(!chosen.must_change_password);
    assert_eq!(accounts.credentials("cook@example.com").await.unwrap().unwrap().password_hash, "$argon2id$own");
    assert_eq!(accounts.set_password("no-such-id", "x", false).await.unwrap(), None);

    // Two admins removing each other at once: one of them stays.
    let second = accounts.create_user(new_user("second@example.com", Role::Admin)).await.unwrap();
    let (a, b) = tokio::join!(accounts.remove_staff(&boss.id), accounts.remove_staff(&second.id));
    assert_eq!([&a, &b].iter().filter(|r| matches!(r, Ok(Some(_)))).count(), 1, "{a:?} {b:?}");
    assert!([&a, &b].iter().any(|r| matches!(r, Err(StoreError::Conflict(_)))));
    assert_eq!(accounts.remove_staff(&cook.id).await.unwrap().map(|u| u.email), Some("cook@example.com".into()));
    assert_eq!(accounts.remove_staff(&cook.id).await.unwrap(), None);
    let staff: Vec<Role> = accounts.staff().await.unwrap().into_iter().map(|u| u.role).collect();
    assert_eq!(staff, [Role::Admin]);
}

pub async fn links_open_once_and_carts_and_orders_follow_the_account(shop: Accounted) {
    let (accounts, store) = (&shop.accounts, &shop.store);
    let eve = accounts.create_user(new_user("eve@example.com", Role::Customer)).await.unwrap();
    assert!(!eve.email_verified);
    let since = now() - 1;
    accounts.send_link(link("t1", LinkPurpose::VerifyEmail, "Eve@example.com")).await.unwrap();
    assert_eq!(accounts.links_sent("EVE@example.com", LinkPurpose::VerifyEmail, since).await.unwrap(), 1);
    assert_eq!(accounts.links_sent("eve@example.com", LinkPurpose::OrderLookup, since).await.unwrap(), 0);
    let events = store.outbox_events(OutboxState::Pending, 10).await.unwrap();
    assert_eq!(events.len(), 1, "the email goes out through the outbox");
    assert_eq!(
        (events[0].kind.as_str(), events[0].payload["to"].as_str()),
        (EMAIL_LINK_EVENT, Some("eve@example.com"))
    );
    let t1 = |purpose| LinkOpening { token_hash: "t1", purpose, now: now() };
    assert_eq!(accounts.open_link(t1(LinkPurpose::OrderLookup)).await.unwrap(), None, "wrong purpose");
    let opened = accounts.open_link(t1(LinkPurpose::VerifyEmail)).await.unwrap();
    assert_eq!(opened.as_deref(), Some("eve@example.com"));
    assert_eq!(accounts.open_link(t1(LinkPurpose::VerifyEmail)).await.unwrap(), None, "used up");
    assert!(accounts.credentials("eve@example.com").await.unwrap().unwrap().user.email_verified);

    assert_eq!(accounts.saved_cart(&eve.id).await.unwrap(), None);
    accounts.save_cart(&eve.id, "p:1").await.unwrap();
    accounts.save_cart(&eve.id, "p:2").await.unwrap();
    assert_eq!(accounts.saved_cart(&eve.id).await.unwrap().as_deref(), Some("p:2"));
    accounts.save_cart(&eve.id, "").await.unwrap();
    assert_eq!(accounts.saved_cart(&eve.id).await.unwrap(), None, "an empty cart is forgotten");

    for id in ["0192-a", "0192-c", "0192-b"] {
        accounts.link_order(&eve.id, id).await.unwrap();
    }
    accounts.link_order(&eve.id, "0192-a").await.unwrap();
    assert_eq!(accounts.account_order_ids(&eve.id, 2).await.unwrap(), ["0192-c", "0192-b"], "newest first");

    // Links belong to no order: one waiting to go out (leased, or retrying after a refusal)
    // does not hold back another customer's.
    accounts.send_link(link("t2", LinkPurpose::OrderLookup, "zoe@example.com")).await.unwrap();
    let claim = Claim { token: "relay".into(), limit: 10, lease: Duration::from_secs(60) };
    let claimed: Vec<String> =
        store.claim_events(claim).await.unwrap().into_iter().map(|e| e.payload["to"].to_string()).collect();
    assert_eq!(claimed.len(), 2, "both links go out at once: {claimed:?}");
}
