//! `stampede dynamodb create-table` and deploy/template.yaml define one table: the same keys,
//! attribute types, indexes with their projections, stream, point-in-time recovery, TTL,
//! encryption and billing. The template is read as text (its table is plain block YAML with
//! flow mappings); the created table is described by a local moto server.
//! Run: `cargo test -p stampede --features aws --test it table_schema::`.
use crate::common::moto::Moto;
use std::collections::BTreeSet;

/// The value after `name: ` in `line`, if the line holds that key.
fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let at = line.find(&format!("{name}: "))? + name.len() + 2;
    Some(line[at..].split([',', '}']).next().unwrap_or("").trim())
}

/// The table as facts, from the template's `AWS::DynamoDB::Table` resource.
fn template_facts() -> BTreeSet<String> {
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/template.yaml")).unwrap();
    let lines: Vec<&str> = template.lines().collect();
    let start = lines.iter().position(|l| l.trim() == "Type: AWS::DynamoDB::Table").expect("the template has a table");
    // The resource ends at the next line indented as a resource name (two spaces).
    let end = (start + 1..lines.len())
        .find(|&i| lines[i].starts_with("  ") && !lines[i].starts_with("   ") && !lines[i].trim().is_empty())
        .unwrap_or(lines.len());
    let mut facts = BTreeSet::new();
    let mut index: Option<String> = None;
    for line in &lines[start..end] {
        if let Some(name) = field(line, "IndexName") {
            index = Some(name.to_owned());
        }
        if let (Some(name), Some(kind)) = (field(line, "AttributeName"), field(line, "KeyType")) {
            facts.insert(match &index {
                Some(index) => format!("index {index} key {name} {kind}"),
                None => format!("key {name} {kind}"),
            });
        }
        if let (Some(name), Some(kind)) = (field(line, "AttributeName"), field(line, "AttributeType")) {
            facts.insert(format!("attribute {name} {kind}"));
        }
        if let (Some(index), Some(kind)) = (&index, field(line, "ProjectionType")) {
            facts.insert(format!("index {index} projection {kind}"));
        }
        for (name, fact) in [
            ("BillingMode", "billing"),
            ("PointInTimeRecoveryEnabled", "point-in-time recovery"),
            ("SSEEnabled", "encryption"),
            ("StreamViewType", "stream"),
        ] {
            if let Some(value) = field(line, name) {
                facts.insert(format!("{fact} {value}"));
            }
        }
        if line.trim() == "TimeToLiveSpecification:" {
            index = Some("ttl".into());
        }
        if let (Some("ttl"), Some(name)) = (index.as_deref(), field(line, "AttributeName")) {
            facts.insert(format!("ttl {name}"));
            index = None;
        }
    }
    facts
}

/// The same facts, from a table `stampede dynamodb create-table` made.
async fn created_facts(moto: &Moto, table: &str) -> BTreeSet<String> {
    let client = stampede_store::DynamoStore::local_client(&moto.url).await;
    let described = client.describe_table().table_name(table).send().await.unwrap();
    let t = described.table.unwrap();
    let mut facts = BTreeSet::new();
    for k in t.key_schema() {
        facts.insert(format!("key {} {}", k.attribute_name(), k.key_type().as_str()));
    }
    for a in t.attribute_definitions() {
        facts.insert(format!("attribute {} {}", a.attribute_name(), a.attribute_type().as_str()));
    }
    for i in t.global_secondary_indexes() {
        let name = i.index_name().unwrap();
        for k in i.key_schema() {
            facts.insert(format!("index {name} key {} {}", k.attribute_name(), k.key_type().as_str()));
        }
        let projection = i.projection().and_then(|p| p.projection_type()).unwrap();
        facts.insert(format!("index {name} projection {}", projection.as_str()));
    }
    if let Some(billing) = t.billing_mode_summary().and_then(|b| b.billing_mode()) {
        facts.insert(format!("billing {}", billing.as_str()));
    }
    if let Some(stream) = t.stream_specification().filter(|s| s.stream_enabled()) {
        facts.insert(format!("stream {}", stream.stream_view_type().unwrap().as_str()));
    }
    if t.sse_description().and_then(|s| s.status()).is_some_and(|s| s.as_str() == "ENABLED") {
        facts.insert("encryption true".into());
    }
    let backups = client.describe_continuous_backups().table_name(table).send().await.unwrap();
    let pitr = backups
        .continuous_backups_description()
        .and_then(|c| c.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status())
        .is_some_and(|s| s.as_str() == "ENABLED");
    facts.insert(format!("point-in-time recovery {pitr}"));
    let ttl = client.describe_time_to_live().table_name(table).send().await.unwrap();
    if let Some(name) = ttl.time_to_live_description().and_then(|t| t.attribute_name()) {
        facts.insert(format!("ttl {name}"));
    }
    facts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_table_and_the_template_define_the_same_table() {
    let template = template_facts();
    let wanted = [
        "key pk HASH",
        "index byDay projection KEYS_ONLY",
        "index byState key gsi3sk RANGE",
        "stream KEYS_ONLY",
        "ttl expires_at",
        "point-in-time recovery true",
        "encryption true",
        "billing PAY_PER_REQUEST",
    ];
    for want in wanted {
        assert!(template.contains(want), "the template was read: {template:#?}");
    }
    let moto = Moto::start();
    let created = std::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["dynamodb", "create-table", "shop", "--aws-endpoint-url", &moto.url])
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    assert_eq!(created_facts(&moto, "shop").await, template);
}

/// The DynamoDB actions the serving store's code calls, read from its source: each SDK
/// operation, and each kind of item a transaction writes (a transaction needs the item
/// action of every part). Export, import and create-table run with the operator's
/// credentials, not a function's role, so their files are left out.
fn actions_the_store_calls() -> BTreeSet<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../store/src/dynamo");
    let mut actions = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if ["transfer.rs", "table.rs"].contains(&name.as_str()) {
            continue;
        }
        let code = std::fs::read_to_string(&path).unwrap();
        for (call, action) in [
            (".get_item()", "GetItem"),
            (".batch_get_item()", "BatchGetItem"),
            (".put_item()", "PutItem"),
            (".update_item()", "UpdateItem"),
            (".delete_item()", "DeleteItem"),
            (".query()", "Query"),
            (".scan()", "Scan"),
            (".batch_write_item()", "BatchWriteItem"),
            ("Put::builder()", "PutItem"),
            ("Update::builder()", "UpdateItem"),
            ("Delete::builder()", "DeleteItem"),
            ("ConditionCheck::builder()", "ConditionCheckItem"),
        ] {
            if code.contains(call) {
                actions.insert(format!("dynamodb:{action}"));
            }
        }
    }
    actions
}

/// The shop's function may make every call its store makes: an action missing from its role
/// fails at run time only, and some failures are merely logged (the sold-out marker is a
/// transaction with a condition check).
#[test]
fn the_http_functions_role_allows_every_dynamodb_call_the_store_makes() {
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/template.yaml")).unwrap();
    let lines: Vec<&str> = template.lines().collect();
    let start = lines.iter().position(|l| l.trim() == "- Sid: Shop").expect("the HTTP role's Shop statement");
    let allowed: BTreeSet<String> = lines[start + 1..]
        .iter()
        .take_while(|l| !l.trim().starts_with("- Sid:"))
        .map(|l| l.trim().trim_start_matches("- ").to_owned())
        .filter(|l| l.starts_with("dynamodb:"))
        .collect();
    let needed = actions_the_store_calls();
    assert!(
        needed.contains("dynamodb:Query") && needed.len() >= 6,
        "the source scan found the store's calls: {needed:?}"
    );
    let missing: Vec<_> = needed.difference(&allowed).collect();
    assert!(missing.is_empty(), "deploy/template.yaml's Shop statement lacks {missing:?}");
}
