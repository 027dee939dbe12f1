//! SNS and SES channels against a local AWS (moto server in a subprocess), through the real
//! relay and SQLite outbox. Run with `cargo test -p stampede-notify --features aws`;
//! `scripts/test.sh` installs moto first.

use aws_sdk_sns::config::Credentials;
use serde_json::Value;
use stampede_domain::{Currency, Customer, LineRequest, Money, OrderRequest, Product};
use stampede_notify::channels::sns::sdk_loader;
use stampede_notify::channels::{SesChannel, SnsChannel};
use stampede_notify::{Channel, Relay, RelayConfig};
use stampede_store::{Outbox, OutboxState, PlaceOrder, SqliteConfig, SqliteStore, Store};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The moto server the stampede crate's tests use (one request at a time, killed on drop).
#[path = "../../../stampede/tests/it/common/moto.rs"]
mod moto;
use moto::Moto;

impl Moto {
    async fn sdk(&self) -> aws_config::SdkConfig {
        sdk_loader(Some(&self.url), Duration::from_secs(10))
            .region("us-east-1")
            .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
            .load()
            .await
    }

    /// Everything moto holds, as its introspection API gives it.
    async fn data(&self) -> Value {
        reqwest::get(format!("{}/moto-api/data.json", self.url)).await.unwrap().json().await.unwrap()
    }
}

/// A store with one product and one order for ana@example.com.
async fn shop(dir: &std::path::Path) -> (Arc<SqliteStore>, String) {
    let store = Arc::new(SqliteStore::open(SqliteConfig::in_dir(dir)).unwrap());
    let product = Product::new("calzone", "Calzone", "pizza", Money::new(1250, Currency::USD));
    store.create_product(product, 10).await.unwrap();
    let customer = Customer::with_email("ana@example.com", Some("Ana")).unwrap();
    let request = OrderRequest::new(customer, vec![LineRequest::new("calzone", 2, BTreeMap::new()).unwrap()]).unwrap();
    let placed = store.place_order(PlaceOrder { request, idempotency_key: None }).await.unwrap();
    (store, placed.order.id)
}

fn relay_config() -> RelayConfig {
    RelayConfig { idle_poll: Duration::from_millis(50), max_attempts: 3, ..RelayConfig::default() }
}

async fn wait_for(store: &SqliteStore, state: OutboxState) {
    for _ in 0..400 {
        if !store.outbox_events(state, 10).await.unwrap().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no event reached {state:?}");
}

#[tokio::test]
async fn events_reach_an_sns_subscriber_and_receipts_go_out_through_ses() {
    let moto = Moto::start();
    let sdk = moto.sdk().await;

    // A real HTTP subscriber: moto posts each SNS notification to it.
    let notifications: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = notifications.clone();
    let subscriber = axum::Router::new().route(
        "/sns",
        axum::routing::post(move |body: String| async move {
            sink.lock().unwrap().push(serde_json::from_str(&body).unwrap());
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/sns", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, subscriber).await.unwrap() });
    let sns = aws_sdk_sns::Client::new(&sdk);
    let topic = sns.create_topic().name("orders").send().await.unwrap().topic_arn.unwrap();
    sns.subscribe().topic_arn(&topic).protocol("http").endpoint(&endpoint).send().await.unwrap();
    let ses = aws_sdk_sesv2::Client::new(&sdk);
    ses.create_email_identity().email_identity("orders@pizza.example").send().await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let (store, order_id) = shop(dir.path()).await;
    let channels: Vec<Arc<dyn Channel>> = vec![
        Arc::new(SnsChannel::new(&sdk, &topic, "https://pizza.example")),
        Arc::new(SesChannel::new(&sdk, "orders@pizza.example", "https://pizza.example").unwrap()),
    ];
    let relay = Relay::new(store.clone(), channels, relay_config()).spawn();
    wait_for(&store, OutboxState::Delivered).await;
    relay.shutdown().await;
    let event = &store.outbox_events(OutboxState::Delivered, 10).await.unwrap()[0];
    assert_eq!(event.done_channels, ["sns", "ses"]);

    let notification = notifications.lock().unwrap().first().cloned().expect("an SNS notification");
    assert_eq!(notification["TopicArn"], topic);
    let message: Value = serde_json::from_str(notification["Message"].as_str().unwrap()).unwrap();
    assert_eq!(message["eventId"], event.id);
    assert_eq!(message["type"], "order.placed");
    assert_eq!(message["order"]["id"], order_id);
    assert_eq!(message["order"]["items"][0]["quantity"], 2);
    assert_eq!(message["order"]["total"]["amount"], 2500);
    // moto's HTTP notifications leave out MessageAttributes (real SNS sends them), so the
    // `eventId` attribute is not checked here; the body carries the same id.

    let data = moto.data().await;
    let sent = &data["ses"]["Message"];
    assert_eq!(sent.as_array().unwrap().len(), 1, "{sent}");
    assert_eq!(sent[0]["source"], "orders@pizza.example");
    assert_eq!(sent[0]["destinations"]["ToAddresses"][0], "ana@example.com");
    assert_eq!(sent[0]["subject"], format!("Order placed: #{}", stampede_domain::short_number(&order_id)));
    let body = sent[0]["body"].as_str().unwrap();
    assert!(
        body.contains(&stampede_domain::short_number(&order_id)) && body.contains("Calzone") && body.contains("$25.00"),
        "{body}"
    );
}

#[tokio::test]
async fn a_missing_topic_parks_the_event() {
    let moto = Moto::start();
    let sdk = moto.sdk().await;
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = shop(dir.path()).await;
    let channel = SnsChannel::new(&sdk, "arn:aws:sns:us-east-1:123456789012:no-such-topic", "https://pizza.example");
    let relay = Relay::new(store.clone(), vec![Arc::new(channel)], relay_config()).spawn();
    wait_for(&store, OutboxState::Failed).await;
    relay.shutdown().await;
    let parked = &store.outbox_events(OutboxState::Failed, 10).await.unwrap()[0];
    assert_eq!(parked.attempts, 1, "a refusal is not retried");
    assert!(parked.last_error.as_deref().unwrap_or_default().contains("sns"), "{parked:?}");
}

/// One SQS call in its JSON protocol, signed only enough for moto to route it (moto does not
/// check signatures), so the test needs no SQS SDK.
async fn sqs(moto: &Moto, action: &str, body: Value) -> Value {
    let auth = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0";
    let resp = reqwest::Client::new()
        .post(format!("{}/", moto.url))
        .header("x-amz-target", format!("AmazonSQS.{action}"))
        .header("content-type", "application/x-amz-json-1.0")
        .header("authorization", auth)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{action}: {}", resp.status());
    resp.json().await.unwrap()
}

#[tokio::test]
async fn sqs_subscribers_get_the_json_event_under_a_subject_naming_the_order() {
    let moto = Moto::start();
    let sdk = moto.sdk().await;
    let sns = aws_sdk_sns::Client::new(&sdk);
    let topic = sns.create_topic().name("orders").send().await.unwrap().topic_arn.unwrap();
    let queue_url = sqs(&moto, "CreateQueue", serde_json::json!({"QueueName": "kitchen"})).await["QueueUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let attributes =
        sqs(&moto, "GetQueueAttributes", serde_json::json!({"QueueUrl": queue_url, "AttributeNames": ["QueueArn"]}))
            .await;
    let queue_arn = attributes["Attributes"]["QueueArn"].as_str().unwrap();
    // Raw delivery off (the default): the queue receives SNS's envelope with Subject and Message.
    sns.subscribe().topic_arn(&topic).protocol("sqs").endpoint(queue_arn).send().await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let (store, order_id) = shop(dir.path()).await;
    let channels: Vec<Arc<dyn Channel>> = vec![Arc::new(SnsChannel::new(&sdk, &topic, "https://pizza.example"))];
    let relay = Relay::new(store.clone(), channels, relay_config()).spawn();
    wait_for(&store, OutboxState::Delivered).await;
    relay.shutdown().await;

    let received =
        sqs(&moto, "ReceiveMessage", serde_json::json!({"QueueUrl": queue_url, "MaxNumberOfMessages": 10})).await;
    let messages = received["Messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{received}");
    let envelope: Value = serde_json::from_str(messages[0]["Body"].as_str().unwrap()).unwrap();
    let number = order_id.replace('-', "")[24..].to_ascii_uppercase();
    assert_eq!(envelope["Subject"], format!("Order placed: #{number}"));
    let message: Value = serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
    assert_eq!(message["type"], "order.placed", "machines get the JSON event: {message}");
    assert_eq!(message["order"]["id"], order_id);
    assert_eq!(message["order"]["total"]["amount"], 2500);
}
