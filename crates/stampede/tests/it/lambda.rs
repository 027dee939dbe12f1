//! The real `stampede-lambda` binary under a local Lambda Runtime API: this test serves the
//! runtime's `next`/`response` endpoints, hands the function recorded API Gateway (HTTP API,
//! payload 2.0) events from tests/fixtures/apigw, and reads back what the function answered,
//! with DynamoDB on a local moto server. Run: `cargo test -p stampede --features aws --test it lambda::`.
use crate::common::{send_json, send_text};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use serde_json::{Value, json};
use stampede_domain::{Currency, Money, Product, SaleRules, WaitingRoomRules};
use stampede_store::dynamo::create_table;
use stampede_store::{DynamoConfig, DynamoStore, Mailbox, Outbox, Store};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// A child process killed when dropped.
struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A moto server with an empty `stampede` table: the server, its URL and a store on the table.
async fn moto_table() -> (crate::common::moto::Moto, String, DynamoStore) {
    let moto = crate::common::moto::Moto::start();
    let url = moto.url.clone();
    let client = DynamoStore::local_client(&url).await;
    create_table(&client, "stampede").await.unwrap();
    (moto, url, DynamoStore::new(client, DynamoConfig::new("stampede")))
}

/// An invocation: its request id and event.
type Invocation = (String, Value);

/// The Lambda Runtime API, as much of it as a function uses.
#[derive(Clone)]
struct Runtime {
    next: Arc<tokio::sync::Mutex<mpsc::Receiver<Invocation>>>,
    waiting: Arc<Mutex<HashMap<String, oneshot::Sender<Value>>>>,
}

async fn next_invocation(State(rt): State<Runtime>) -> (HeaderMap, String) {
    let (id, event) = rt.next.lock().await.recv().await.expect("test ended");
    let mut headers = HeaderMap::new();
    let deadline = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() + 30_000;
    let trace = event["headers"]["x-amzn-trace-id"].as_str().unwrap_or("Root=1-00000000-000000000000000000000000");
    for (name, value) in [
        ("lambda-runtime-aws-request-id", id.clone()),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        ("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:123456789012:function:stampede-http".into()),
        ("lambda-runtime-trace-id", format!("{trace};Parent=53995c3f42cd8ad8;Sampled=1")),
    ] {
        headers.insert(name, HeaderValue::from_str(&value).unwrap());
    }
    (headers, event.to_string())
}

async fn invocation_response(State(rt): State<Runtime>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let answer =
        serde_json::from_slice(&body).unwrap_or_else(|_| json!({"unparsable": String::from_utf8_lossy(&body)}));
    if let Some(waiter) = rt.waiting.lock().unwrap().remove(&id) {
        let _ = waiter.send(answer);
    }
    StatusCode::ACCEPTED
}

async fn invocation_error(State(rt): State<Runtime>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    if let Some(waiter) = rt.waiting.lock().unwrap().remove(&id) {
        let _ = waiter.send(json!({"runtimeError": String::from_utf8_lossy(&body)}));
    }
    StatusCode::ACCEPTED
}

async fn init_error(body: Bytes) -> StatusCode {
    panic!("the function failed to start: {}", String::from_utf8_lossy(&body));
}

/// The function under test, fed through the runtime API.
struct Function {
    events: mpsc::Sender<Invocation>,
    runtime: Runtime,
    logs: Arc<Mutex<Vec<String>>>,
    _process: Kill,
}

impl Function {
    async fn start(env: &[(&str, &str)]) -> Function {
        let (events, rx) = mpsc::channel(8);
        let runtime = Runtime { next: Arc::new(tokio::sync::Mutex::new(rx)), waiting: Arc::default() };
        let api = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(invocation_response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(invocation_error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(runtime.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, api).await.unwrap() });
        let mut child = Command::new(env!("CARGO_BIN_EXE_stampede-lambda"))
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "stampede")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/stampede")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/25/[$LATEST]test")
            .env("AWS_REGION", "us-east-1")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                eprintln!("lambda: {line}");
                sink.lock().unwrap().push(line);
            }
        });
        Function { events, runtime, logs, _process: Kill(child) }
    }

    /// Invokes the function with an event and returns its answer.
    async fn invoke(&self, event: Value) -> Value {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = format!("invocation-{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let (tx, rx) = oneshot::channel();
        self.runtime.waiting.lock().unwrap().insert(id.clone(), tx);
        self.events.send((id, event)).await.unwrap();
        tokio::time::timeout(Duration::from_secs(60), rx).await.expect("the function answered").unwrap()
    }

    fn logs(&self) -> Vec<Value> {
        self.logs.lock().unwrap().iter().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// An API Gateway (payload 2.0) answer's status, headers and JSON body.
fn answer(v: Value) -> (u64, serde_json::Map<String, Value>, Value) {
    assert_eq!(v["isBase64Encoded"], false, "{v}");
    let body = v["body"].as_str().map_or(Value::Null, |b| serde_json::from_str(b).unwrap());
    (v["statusCode"].as_u64().unwrap(), v["headers"].as_object().unwrap().clone(), body)
}

fn ticket() -> Product {
    Product {
        id: "golden-ticket".into(),
        name: "Golden ticket".into(),
        description: String::new(),
        category: "flash-sale".into(),
        base_price: Money::new(1000, Currency::USD),
        option_groups: vec![],
        sale: SaleRules { per_customer_max: Some(2), ..SaleRules::default() },
        image: None,
        archived: false,
        stock_shards: 4,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_gateway_events_round_trip_through_the_lambda_binary() {
    let (_moto, url, store) = moto_table().await;
    store.create_product(ticket(), 10).await.unwrap();
    let room = SaleRules { waiting_room: Some(WaitingRoomRules::default()), ..SaleRules::default() };
    store.create_product(Product { id: "queue-drop".into(), sale: room, ..ticket() }, 3).await.unwrap();
    let function = Function::start(&[
        ("STAMPEDE_DYNAMODB_TABLE", "stampede"),
        ("STAMPEDE_DYNAMODB_ENDPOINT", &url),
        ("STAMPEDE_CORS_ALLOW_ORIGINS", "https://shop.example"),
    ])
    .await;

    // CORS from the environment: API Gateway passes the preflight through and the function answers it.
    let mut preflight = fixture("apigw/get-products.json");
    preflight["rawPath"] = json!("/api/orders");
    preflight["requestContext"]["http"]["path"] = json!("/api/orders");
    preflight["requestContext"]["http"]["method"] = json!("OPTIONS");
    preflight["headers"]["origin"] = json!("https://shop.example");
    preflight["headers"]["access-control-request-method"] = json!("POST");
    preflight["headers"]["access-control-request-headers"] = json!("content-type,idempotency-key");
    let answered = function.invoke(preflight).await;
    assert_eq!(answered["statusCode"], 204, "{answered}");
    assert_eq!(answered["headers"]["access-control-allow-origin"], "https://shop.example", "{answered}");
    assert!(answered["headers"]["access-control-allow-headers"].as_str().unwrap().contains("idempotency-key"));

    let (status, headers, body) = answer(function.invoke(fixture("apigw/get-products.json")).await);
    assert_eq!(status, 200);
    assert!(headers["content-type"].as_str().unwrap().starts_with("application/json"));
    let listed = body.as_array().unwrap().iter().find(|p| p["id"] == "golden-ticket").cloned().unwrap();
    assert_eq!((listed["stock"].as_u64(), listed["price"]["amount"].as_i64()), (Some(10), Some(1000)));

    let (status, headers, order) = answer(function.invoke(fixture("apigw/post-order.json")).await);
    assert_eq!(status, 201, "{order}");
    assert_eq!(headers["location"], format!("/api/orders/{}", order["id"].as_str().unwrap()));
    assert_eq!(order["total"]["amount"], 2000);
    assert_eq!(store.product("golden-ticket").await.unwrap().unwrap().stock, 8, "taken in DynamoDB");

    // API Gateway retries deliver the same event again: the idempotency key replays it.
    let (status, headers, replay) = answer(function.invoke(fixture("apigw/post-order.json")).await);
    assert_eq!((status, headers["idempotent-replayed"].as_str()), (201, Some("true")));
    assert_eq!(replay["id"], order["id"]);
    assert_eq!(store.product("golden-ticket").await.unwrap().unwrap().stock, 8);

    // A base64 body (as API Gateway sends binary media) with a bad quantity: problem+json, not a 500.
    let (status, headers, problem) = answer(function.invoke(fixture("apigw/post-order-bad.json")).await);
    assert_eq!(status, 422, "{problem}");
    assert_eq!(headers["content-type"], "application/problem+json");

    // The customer limit holds across invocations: a third ticket for the same fan is refused.
    let mut third = fixture("apigw/post-order.json");
    third["headers"]["idempotency-key"] = json!("apigw-fixture-order-2");
    third["body"] = json!(r#"{"userId":"lambda-fan","productId":"golden-ticket","quantity":1}"#);
    let (status, _, problem) = answer(function.invoke(third).await);
    assert_eq!(status, 409, "{problem}");

    // The live-stock stream cannot stay open behind API Gateway: it answers the current stock
    // at once, with a reconnect hint, instead of holding the invocation to its timeout.
    let mut stream = fixture("apigw/get-products.json");
    stream["rawPath"] = json!("/api/stock/events");
    stream["requestContext"]["http"]["path"] = json!("/api/stock/events");
    stream["headers"]["accept"] = json!("text/event-stream");
    let answered = function.invoke(stream).await;
    assert_eq!(answered["statusCode"], 200, "{answered}");
    let events = answered["body"].as_str().unwrap();
    assert!(events.contains("event: stock") && events.contains(r#""id":"golden-ticket","stock":8"#), "{events}");
    assert!(events.contains("retry: 3000"), "{events}");

    // A waiting room on Lambda: join, then the ticket's stream answers its state at once and
    // ends (clients poll the JSON status after it), like the live-stock stream.
    let mut join = fixture("apigw/post-order.json");
    join["rawPath"] = json!("/api/products/queue-drop/queue");
    join["requestContext"]["http"]["path"] = json!("/api/products/queue-drop/queue");
    join["headers"].as_object_mut().unwrap().remove("idempotency-key");
    join["body"] = json!(r#"{"userId":"lambda-fan"}"#);
    let (status, _, joined) = answer(function.invoke(join).await);
    assert_eq!(status, 201, "{joined}");
    // DynamoDB's lines are shared by every instance: nobody is let in until joins written
    // elsewhere meanwhile have surely landed (`LATE_WRITE_GRACE`), even the first in line.
    assert_eq!((joined["state"].as_str(), joined["ahead"].as_u64()), (Some("waiting"), Some(0)), "{joined}");
    assert!(joined["estimatedWaitSeconds"].as_u64().is_some_and(|s| (2..=3).contains(&s)), "the grace: {joined}");
    let grace = u64::try_from(stampede_store::waiting_room::LATE_WRITE_GRACE).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(grace + 200)).await;
    let path = format!("/api/products/queue-drop/queue/{}/events", joined["ticket"].as_str().unwrap());
    let mut stream = fixture("apigw/get-products.json");
    stream["rawPath"] = json!(path);
    stream["requestContext"]["http"]["path"] = json!(path);
    stream["headers"]["accept"] = json!("text/event-stream");
    let answered = function.invoke(stream).await;
    assert_eq!(answered["statusCode"], 200, "{answered}");
    let events = answered["body"].as_str().unwrap();
    assert!(
        events.contains("event: queue") && events.contains(r#""state":"admitted""#),
        "three units, first in line: {events}"
    );
    assert!(events.contains("retry: 3000"), "{events}");
    let mut queued = fixture("apigw/post-order.json");
    queued["headers"]["idempotency-key"] = json!("apigw-queue-order");
    queued["headers"]["queue-ticket"] = joined["ticket"].clone();
    queued["body"] = json!(r#"{"userId":"lambda-fan","productId":"queue-drop","quantity":1}"#);
    let (status, _, bought) = answer(function.invoke(queued).await);
    assert_eq!(status, 201, "{bought}");

    let placed = store.order(order["id"].as_str().unwrap()).await.unwrap().unwrap();
    assert_eq!(placed.customer.key.0, "user:lambda-fan");
    // Every line is JSON on stdout; the request's lines carry its X-Ray trace id.
    let logs = function.logs();
    assert!(logs.iter().any(|l| l["message"] == "cold start"), "no cold start line in {logs:?}");
    let traced = logs.iter().any(|l| l["span"]["xray_trace_id"] == "1-6744a1b1-0a1b2c3d4e5f60718293a4b5");
    assert!(traced, "no log line carries the order's trace id: {logs:?}");
}

/// Creates an SNS topic on moto through its query API (moto reads the service from the
/// credential scope and does not check the signature).
async fn sns_topic(moto: &str, name: &str) -> String {
    let scope =
        "AWS4-HMAC-SHA256 Credential=local/20261125/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=0";
    let xml = send_text(
        reqwest::Client::new()
            .post(moto)
            .header("authorization", scope)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("Action=CreateTopic&Version=2010-03-31&Name={name}")),
    )
    .await;
    let start = xml.find("<TopicArn>").expect("a topic ARN") + "<TopicArn>".len();
    xml[start..start + xml[start..].find('<').unwrap()].to_owned()
}

/// A Secrets Manager secret on moto; its ARN.
async fn secret(moto: &str, name: &str, value: &str) -> String {
    let scope = "AWS4-HMAC-SHA256 Credential=local/20261125/us-east-1/secretsmanager/aws4_request, \
                 SignedHeaders=host, Signature=0";
    let created = send_json(
        reqwest::Client::new()
            .post(moto)
            .header("authorization", scope)
            .header("x-amz-target", "secretsmanager.CreateSecret")
            .header("content-type", "application/x-amz-json-1.1")
            .body(json!({"Name": name, "SecretString": value}).to_string()),
    )
    .await;
    created["ARN"].as_str().expect("a secret ARN").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_come_from_secrets_manager_and_only_cloudfront_gets_through() {
    let (_moto, url, _) = moto_table().await;
    let admin = secret(&url, "admin", "admin-token-from-secrets-manager-0123456789").await;
    let origin = secret(&url, "origin", "cloudfront-says-hello").await;
    let signing = secret(&url, "signing", "signing-key-from-secrets-manager").await;
    let function = Function::start(&[
        ("STAMPEDE_DYNAMODB_TABLE", "stampede"),
        ("STAMPEDE_DYNAMODB_ENDPOINT", &url),
        ("STAMPEDE_AWS_ENDPOINT_URL", &url),
        ("STAMPEDE_ADMIN_TOKEN_SECRET_ARN", &admin),
        ("STAMPEDE_ORIGIN_SECRET_ARN", &origin),
        ("STAMPEDE_SECRET_KEY_SECRET_ARN", &signing),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
    ])
    .await;

    // Straight to the API's own URL: refused, whatever the path.
    let direct = answer(function.invoke(fixture("apigw/get-products.json")).await);
    assert_eq!(direct.0, 403, "{direct:?}");
    assert_eq!(direct.2["type"], "/problems/not-through-cdn");
    let mut wrong = fixture("apigw/get-products.json");
    wrong["headers"]["x-stampede-origin"] = json!("cloudfront-says-bye");
    assert_eq!(answer(function.invoke(wrong).await).0, 403, "a wrong origin secret");

    // Through CloudFront (which adds the header): served, and the admin token is the secret's.
    let mut through = fixture("apigw/get-products.json");
    through["headers"]["x-stampede-origin"] = json!("cloudfront-says-hello");
    assert_eq!(answer(function.invoke(through.clone()).await).0, 200);
    let mut admin_call = through.clone();
    admin_call["rawPath"] = json!("/api/admin/outbox");
    admin_call["requestContext"]["http"]["path"] = json!("/api/admin/outbox");
    admin_call["headers"]["authorization"] = json!("Bearer admin-token-from-secrets-manager-0123456789");
    let (status, _, body) = answer(function.invoke(admin_call.clone()).await);
    assert_eq!(status, 200, "{body}");
    admin_call["headers"]["authorization"] = json!("Bearer something-else-entirely-0123456789");
    assert_eq!(answer(function.invoke(admin_call).await).0, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_function_delivers_the_outbox_when_the_stream_wakes_it() {
    let (_moto, url, store) = moto_table().await;
    store.create_product(ticket(), 10).await.unwrap();
    let line = stampede_domain::LineRequest::new("golden-ticket", 1, Default::default()).unwrap();
    let customer = stampede_domain::Customer::with_email("fan@example.com", Some("Fan")).unwrap();
    let request = stampede_domain::OrderRequest::new(customer, vec![line]).unwrap();
    let placed = store.place_order(stampede_store::PlaceOrder { request, idempotency_key: None }).await.unwrap();
    let topic = sns_topic(&url, "stampede-orders").await;
    let function = Function::start(&[
        ("STAMPEDE_LAMBDA_ROLE", "relay"),
        ("STAMPEDE_DYNAMODB_TABLE", "stampede"),
        ("STAMPEDE_DYNAMODB_ENDPOINT", &url),
        ("STAMPEDE_SNS_TOPIC_ARN", &topic),
        ("STAMPEDE_AWS_ENDPOINT_URL", &url),
        ("STAMPEDE_PUBLIC_URL", "https://shop.example"),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
    ])
    .await;

    let answer = function.invoke(fixture("dynamodb-stream-insert.json")).await;
    assert_eq!(answer["claimed"], 1, "{answer}");
    let delivered = store.outbox_events(stampede_store::OutboxState::Delivered, 10).await.unwrap();
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    assert_eq!(delivered[0].order_id, placed.order.id);
    let mut channels = delivered[0].done_channels.clone();
    channels.sort();
    assert_eq!(channels, ["mailbox", "sns"], "published to SNS and mailed (dev mailbox: no SES here)");
    let mail = store.mailbox(10).await.unwrap();
    assert_eq!((mail.len(), mail[0].recipient.as_str()), (1, "fan@example.com"));
    assert!(mail[0].text_body.contains("https://shop.example"), "links use STAMPEDE_PUBLIC_URL");

    // A scheduled wake-up with nothing due claims nothing.
    let idle = function.invoke(json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})).await;
    assert_eq!(idle["claimed"], 0, "{idle}");
    // Each run reports the outbox's lag as a CloudWatch embedded metric (nothing is overdue).
    // The function may print it just after answering, so the log is read until both are there.
    let lag: Vec<Value> = crate::common::eventually(10, "one lag metric per invocation", || async {
        let lag: Vec<Value> = function.logs().into_iter().filter(|l| l.get("OutboxLagSeconds").is_some()).collect();
        (lag.len() >= 2).then_some(lag)
    })
    .await;
    assert_eq!(lag.last().unwrap()["OutboxLagSeconds"], 0);
    assert_eq!(lag[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Stampede");
}
