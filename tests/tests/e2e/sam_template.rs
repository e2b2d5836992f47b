//! `template.yaml` against the code: every route of `api::ROUTES`,
//! `assets::ROUTES` (the web app) and `intake::ROUTES` (and no other) on
//! the HttpApi, each to its function;
//! the functions' binaries are the workspace's Lambda binaries; the table is
//! `dynamodb::schema`; the notifier's stream mapping selects new
//! cancellation items with partial batch responses and a DLQ; no policy
//! grants a wildcard. `cfn-lint` and `sam validate --lint` check the rest
//! (scripts/sam.sh).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use dynamodb::schema;
use handlers::{api, assets, intake};
use serde_norway::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn template() -> Value {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    serde_norway::from_str(&text).expect("template.yaml parses (CloudFormation tags kept)")
}

/// The value under a CloudFormation short-form tag (`!Ref X` -> "X"), if `v`
/// carries that tag.
fn tagged<'a>(v: &'a Value, tag: &str) -> Option<&'a Value> {
    match v {
        Value::Tagged(t) if t.tag == tag => Some(&t.value),
        _ => None,
    }
}

fn is_ref(v: &Value, target: &str) -> bool {
    tagged(v, "Ref").and_then(Value::as_str) == Some(target)
}

fn str_at<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what}: expected a string, found {v:?}"))
}

fn seq<'a>(v: &'a Value, what: &str) -> &'a Vec<Value> {
    v.as_sequence()
        .unwrap_or_else(|| panic!("{what}: expected a list, found {v:?}"))
}

fn resources(t: &Value) -> BTreeMap<String, &Value> {
    t["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_owned(), v))
        .collect()
}

fn of_type<'a>(t: &'a Value, ty: &str) -> BTreeMap<String, &'a Value> {
    resources(t)
        .into_iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(ty))
        .collect()
}

/// Logical id -> binary (`Metadata.BuildProperties.Binary`).
fn functions(t: &Value) -> BTreeMap<String, String> {
    of_type(t, "AWS::Serverless::Function")
        .into_iter()
        .map(|(id, f)| {
            let bin = str_at(&f["Metadata"]["BuildProperties"]["Binary"], &id).to_owned();
            (id, bin)
        })
        .collect()
}

fn function_by_binary<'a>(t: &'a Value, binary: &str) -> (String, &'a Value) {
    let id = functions(t)
        .into_iter()
        .find(|(_, b)| b == binary)
        .unwrap_or_else(|| panic!("no function with binary {binary}"))
        .0;
    let f = resources(t)[&id];
    (id, f)
}

/// The workspace's binaries (`cargo metadata`), by package directory.
fn workspace_binaries() -> BTreeMap<String, PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut bins = BTreeMap::new();
    for p in meta["packages"].as_array().unwrap() {
        let dir = Path::new(p["manifest_path"].as_str().unwrap())
            .parent()
            .unwrap()
            .to_path_buf();
        for t in p["targets"].as_array().unwrap() {
            if t["kind"].as_array().unwrap().iter().any(|k| k == "bin") {
                bins.insert(t["name"].as_str().unwrap().to_owned(), dir.clone());
            }
        }
    }
    bins
}

/// The local stand-in is a binary under functions/ but no Lambda function.
/// (Binaries outside functions/ — bench and perf tools — are not functions.)
const NOT_LAMBDAS: &[&str] = &["dropship"];

#[test]
fn functions_are_the_workspace_lambda_binaries() {
    let t = template();
    let declared: BTreeSet<String> = functions(&t).into_values().collect();
    let workspace = workspace_binaries();
    let functions_dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../functions")
        .canonicalize()
        .unwrap();
    let lambdas: BTreeSet<String> = workspace
        .iter()
        .filter(|(b, dir)| !NOT_LAMBDAS.contains(&b.as_str()) && dir.starts_with(&functions_dir))
        .map(|(b, _)| b.clone())
        .collect();
    assert_eq!(
        declared, lambdas,
        "template functions vs the workspace's Lambda binaries"
    );
    assert_eq!(
        declared,
        BTreeSet::from(
            [
                "cancellation-api",
                "webhook-intake",
                "notifier",
                "edi-intake"
            ]
            .map(String::from)
        ),
        "the four functions"
    );

    let globals = &t["Globals"]["Function"];
    assert_eq!(globals["Runtime"].as_str(), Some("provided.al2023"));
    // One architecture for every function, a parameter: arm64 as deployed,
    // x86_64 for `sam local` on an x86_64 machine.
    assert_eq!(
        globals["Architectures"],
        serde_norway::from_str::<Value>("[!Ref Architecture]").unwrap()
    );
    let arch = &t["Parameters"]["Architecture"];
    assert_eq!(arch["Default"].as_str(), Some("arm64"));
    assert_eq!(
        arch["AllowedValues"],
        serde_norway::from_str::<Value>("[arm64, x86_64]").unwrap()
    );
    assert_eq!(globals["Handler"].as_str(), Some("bootstrap"));
    assert!(
        is_ref(&globals["Environment"]["Variables"]["TABLE_NAME"], "Table"),
        "every function gets TABLE_NAME = the table"
    );

    for (id, bin) in functions(&t) {
        let f = resources(&t)[&id];
        assert_eq!(
            f["Metadata"]["BuildMethod"].as_str(),
            Some("rust-cargolambda"),
            "{id}"
        );
        let props = &f["Properties"];
        let code_uri = str_at(&props["CodeUri"], &id);
        let dir = workspace
            .get(&bin)
            .unwrap_or_else(|| panic!("{id}: binary {bin} is not in the workspace"));
        assert_eq!(
            root().join(code_uri).canonicalize().unwrap(),
            dir.canonicalize().unwrap(),
            "{id}: CodeUri is the crate of binary {bin}"
        );
        // Each function's own runtime settings must not undo the globals.
        for k in ["Runtime", "Architectures", "Handler"] {
            assert!(props[k].is_null(), "{id}: {k} is set once, in Globals");
        }
        let logging = &props["LoggingConfig"];
        assert_eq!(logging["LogFormat"].as_str(), Some("JSON"), "{id}");
        assert!(is_ref(&logging["ApplicationLogLevel"], "LogLevel"), "{id}");
    }
    let (_, notifier) = function_by_binary(&t, "notifier");
    assert!(is_ref(
        &notifier["Properties"]["Environment"]["Variables"]["SENDER_EMAIL"],
        "SenderEmail"
    ));
}

#[test]
fn routes_are_the_handlers_routes_each_to_its_function() {
    let t = template();
    let apis = of_type(&t, "AWS::Serverless::HttpApi");
    assert_eq!(apis.len(), 1, "one HttpApi");
    let api_id = apis.keys().next().unwrap().clone();

    let mut declared: BTreeMap<(String, String), String> = BTreeMap::new();
    for (id, bin) in functions(&t) {
        let events = &resources(&t)[&id]["Properties"]["Events"];
        let Some(events) = events.as_mapping() else {
            continue;
        };
        for (name, e) in events {
            if e["Type"].as_str() != Some("HttpApi") {
                continue;
            }
            let p = &e["Properties"];
            assert!(
                is_ref(&p["ApiId"], &api_id),
                "{id}.{name:?}: on the stack's HttpApi"
            );
            let key = (
                str_at(&p["Method"], "Method").to_ascii_uppercase(),
                str_at(&p["Path"], "Path").to_owned(),
            );
            let before = declared.insert(key.clone(), bin.clone());
            assert!(before.is_none(), "route {key:?} declared twice");
        }
    }
    let mut expected: BTreeMap<(String, String), String> = BTreeMap::new();
    for (m, p) in api::ROUTES {
        expected.insert(((*m).into(), (*p).into()), "cancellation-api".into());
    }
    // The app on the API's origin: the same function serves its files.
    for (m, p) in assets::ROUTES {
        let before = expected.insert(((*m).into(), (*p).into()), "cancellation-api".into());
        assert!(
            before.is_none(),
            "{m} {p}: an app route is an API route too"
        );
    }
    for (m, p) in &intake::routes() {
        expected.insert(((*m).into(), (*p).into()), "webhook-intake".into());
    }
    assert_eq!(
        declared, expected,
        "HttpApi routes (method, path) -> binary"
    );
}

#[test]
fn table_is_the_store_schema() {
    let t = template();
    let tables = of_type(&t, "AWS::DynamoDB::Table");
    assert_eq!(tables.keys().collect::<Vec<_>>(), ["Table"], "one table");
    let table = tables["Table"];
    assert_eq!(table["DeletionPolicy"].as_str(), Some("Retain"));
    assert_eq!(table["UpdateReplacePolicy"].as_str(), Some("Retain"));
    let p = &table["Properties"];
    assert!(p["TableName"].is_null(), "the stack names the table");
    assert_eq!(p["BillingMode"].as_str(), Some(schema::BILLING_MODE));

    let key_schema = |v: &Value, what: &str| -> Vec<(String, String)> {
        seq(v, what)
            .iter()
            .map(|k| {
                (
                    str_at(&k["AttributeName"], what).to_owned(),
                    str_at(&k["KeyType"], what).to_owned(),
                )
            })
            .collect()
    };
    let hash_range =
        |pk: &str, sk: &str| vec![(pk.into(), "HASH".into()), (sk.into(), "RANGE".into())];
    assert_eq!(
        key_schema(&p["KeySchema"], "KeySchema"),
        hash_range(schema::PK, schema::SK)
    );

    // Every key attribute is a string, and nothing else is declared.
    let attrs: BTreeMap<String, String> = seq(&p["AttributeDefinitions"], "AttributeDefinitions")
        .iter()
        .map(|a| {
            (
                str_at(&a["AttributeName"], "AttributeName").to_owned(),
                str_at(&a["AttributeType"], "AttributeType").to_owned(),
            )
        })
        .collect();
    let expected_attrs = BTreeMap::from([
        (schema::PK.to_owned(), "S".to_owned()),
        (schema::SK.to_owned(), "S".to_owned()),
    ]);
    assert_eq!(attrs, expected_attrs, "AttributeDefinitions");
    assert!(
        p["GlobalSecondaryIndexes"].is_null(),
        "no secondary index: orders are listed from listing items"
    );

    assert_eq!(
        p["StreamSpecification"]["StreamViewType"].as_str(),
        Some(schema::STREAM_VIEW_TYPE)
    );
    assert_eq!(
        p["TimeToLiveSpecification"]["AttributeName"].as_str(),
        Some(schema::TTL_ATTRIBUTE)
    );
    assert_eq!(
        p["TimeToLiveSpecification"]["Enabled"].as_bool(),
        Some(true)
    );
    assert_eq!(
        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(),
        Some(true)
    );
    // DeletionProtectionEnabled: !If [ProtectTable, true, false], with
    // ProtectTable: !Equals [!Ref DeletionProtection, "true"].
    let protection = tagged(&p["DeletionProtectionEnabled"], "If")
        .and_then(Value::as_sequence)
        .expect("DeletionProtectionEnabled: !If [...]");
    let condition = str_at(&protection[0], "the condition");
    assert_eq!(protection[1].as_bool(), Some(true));
    assert_eq!(protection[2].as_bool(), Some(false));
    let equals = tagged(&t["Conditions"][condition], "Equals")
        .and_then(Value::as_sequence)
        .expect("the condition is !Equals [...]");
    assert!(is_ref(&equals[0], "DeletionProtection"));
    assert_eq!(equals[1].as_str(), Some("true"));
    assert_eq!(
        t["Parameters"]["DeletionProtection"]["Default"].as_str(),
        Some("true"),
        "protected unless a stack says otherwise"
    );
}

#[test]
fn notifier_stream_mapping_selects_new_cancellations() {
    let t = template();
    let (id, notifier) = function_by_binary(&t, "notifier");
    let events = notifier["Properties"]["Events"].as_mapping().unwrap();
    let streams: Vec<&Value> = events
        .values()
        .filter(|e| e["Type"].as_str() == Some("DynamoDB"))
        .collect();
    assert_eq!(streams.len(), 1, "{id}: one stream mapping");
    let p = &streams[0]["Properties"];
    let stream = tagged(&p["Stream"], "GetAtt").and_then(Value::as_str);
    assert_eq!(stream, Some("Table.StreamArn"));

    let filters = seq(&p["FilterCriteria"]["Filters"], "Filters");
    assert_eq!(filters.len(), 2);
    for (f, want) in filters
        .iter()
        .zip([schema::STREAM_FILTER, schema::COMPLETION_FILTER])
    {
        let pattern: serde_json::Value =
            serde_json::from_str(str_at(&f["Pattern"], "Pattern")).unwrap();
        let want: serde_json::Value = serde_json::from_str(want).unwrap();
        assert_eq!(pattern, want);
    }

    assert_eq!(
        p["FunctionResponseTypes"],
        serde_norway::from_str::<Value>("[ReportBatchItemFailures]").unwrap()
    );
    assert_eq!(p["BisectBatchOnFunctionError"].as_bool(), Some(true));
    let retries = p["MaximumRetryAttempts"].as_i64().expect("bounded retries");
    assert!((0..=10).contains(&retries), "retries {retries}");
    let dlq = tagged(
        &p["DestinationConfig"]["OnFailure"]["Destination"],
        "GetAtt",
    )
    .and_then(Value::as_str)
    .expect("OnFailure destination");
    let (queue, attr) = dlq.split_once('.').unwrap();
    assert_eq!(attr, "Arn");
    assert_eq!(
        resources(&t)[queue]["Type"].as_str(),
        Some("AWS::SQS::Queue")
    );
}

/// Every IAM statement names its resources: no `*` action or resource.
#[test]
fn policies_name_their_resources() {
    let t = template();
    for (id, role) in of_type(&t, "AWS::IAM::Role") {
        let policies = seq(&role["Properties"]["Policies"], &id);
        for policy in policies {
            for s in seq(&policy["PolicyDocument"]["Statement"], &id) {
                assert_eq!(s["Effect"].as_str(), Some("Allow"), "{id}");
                let actions: Vec<&str> = match &s["Action"] {
                    Value::String(a) => vec![a.as_str()],
                    v => seq(v, &id).iter().map(|a| str_at(a, &id)).collect(),
                };
                for a in actions {
                    assert!(!a.contains('*'), "{id}: action {a}");
                }
                let resources: Vec<&Value> = match &s["Resource"] {
                    Value::Sequence(rs) => rs.iter().collect(),
                    r => vec![r],
                };
                for r in resources {
                    assert!(!r.is_null(), "{id}: a statement without Resource");
                    assert_ne!(r.as_str(), Some("*"), "{id}: Resource *");
                }
            }
        }
        assert!(
            role["Properties"]["ManagedPolicyArns"].is_null(),
            "{id}: inline, scoped policies only"
        );
    }
    // Functions use these roles, not SAM's generated ones (which would add
    // managed policies on `*`).
    for (id, _) in functions(&t) {
        let role = tagged(&resources(&t)[&id]["Properties"]["Role"], "GetAtt")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{id}: Role: !GetAtt <role>.Arn"));
        assert!(role.ends_with(".Arn"), "{id}");
    }
}

/// The statements of a role's inline policy `name`.
fn statements<'a>(role: &'a Value, name: &str) -> &'a Vec<Value> {
    let policy = seq(&role["Properties"]["Policies"], name)
        .iter()
        .find(|p| p["PolicyName"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no policy {name}"));
    seq(&policy["PolicyDocument"]["Statement"], name)
}

fn actions(s: &Value) -> BTreeSet<&str> {
    match &s["Action"] {
        Value::String(a) => BTreeSet::from([a.as_str()]),
        v => seq(v, "Action")
            .iter()
            .map(|a| str_at(a, "Action"))
            .collect(),
    }
}

/// Secrets: webhook intake and the notifier may read the stack's company
/// secrets (`GetSecretValue` on the stack's prefix, nothing else, and the
/// same prefix as their `SECRETS_PREFIX`); the API function may not. The
/// API and the notifier read the webhook signing key, intake does not.
#[test]
fn only_intake_and_the_notifier_read_the_companies_secrets() {
    let t = template();
    let prefix = "dropship/${AWS::StackName}/companies/";
    for (binary, reads) in [
        ("webhook-intake", true),
        ("notifier", true),
        ("cancellation-api", false),
    ] {
        let (id, f) = function_by_binary(&t, binary);
        let role_id = tagged(&f["Properties"]["Role"], "GetAtt")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_suffix(".Arn"))
            .unwrap_or_else(|| panic!("{id}: Role"));
        let role = resources(&t)[role_id];
        let policies = seq(&role["Properties"]["Policies"], role_id);
        let secret_statements: Vec<&Value> = policies
            .iter()
            .flat_map(|p| seq(&p["PolicyDocument"]["Statement"], role_id))
            .filter(|s| actions(s).iter().any(|a| a.starts_with("secretsmanager:")))
            .collect();
        // The webhook signing key is its own statement (checked below).
        let (signing, granted): (Vec<&Value>, Vec<&Value>) = secret_statements
            .into_iter()
            .partition(|s| is_ref(&s["Resource"], "WebhookSigningKey"));
        let signs = binary != "webhook-intake";
        assert_eq!(signing.len(), usize::from(signs), "{id}: the signing key");
        for s in &signing {
            assert_eq!(
                actions(s),
                BTreeSet::from(["secretsmanager:GetSecretValue"]),
                "{id}: the signing key, read only"
            );
        }
        assert_eq!(
            is_ref(
                &f["Properties"]["Environment"]["Variables"]["WEBHOOK_SIGNING_KEY"],
                "WebhookSigningKey"
            ),
            signs,
            "{id}: WEBHOOK_SIGNING_KEY"
        );
        let env = tagged(
            &f["Properties"]["Environment"]["Variables"]["SECRETS_PREFIX"],
            "Sub",
        )
        .and_then(Value::as_str);
        if !reads {
            assert!(granted.is_empty(), "{id}: no secret access");
            assert_eq!(env, None, "{id}: no SECRETS_PREFIX");
            continue;
        }
        assert_eq!(env, Some(prefix), "{id}: SECRETS_PREFIX");
        assert_eq!(granted.len(), 1, "{id}: one secrets statement");
        assert_eq!(
            actions(granted[0]),
            BTreeSet::from(["secretsmanager:GetSecretValue"]),
            "{id}: read only"
        );
        let arn = tagged(&granted[0]["Resource"], "Sub").and_then(Value::as_str);
        assert_eq!(
            arn,
            Some(
                "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:dropship/${AWS::StackName}/companies/*"
            ),
            "{id}: the stack's company secrets only"
        );
    }
}

/// Writing the company secrets (creating, changing, deleting one: a
/// removed connection schedules its secret's deletion) is for the
/// operator's commands only: one statement in the whole template grants
/// any of it, in `CompanySecretsAdminPolicy` (an output, for the operator's
/// role), on the stack's company secrets only, with the reads those
/// commands make. No function's role may.
#[test]
fn only_the_operator_policy_writes_company_secrets() {
    let t = template();
    let writes = [
        "secretsmanager:CreateSecret",
        "secretsmanager:PutSecretValue",
        "secretsmanager:DeleteSecret",
        "secretsmanager:RestoreSecret",
    ];
    let mut granting = Vec::new();
    for (id, r) in resources(&t) {
        let documents: Vec<&Value> = match r["Type"].as_str() {
            Some("AWS::IAM::Role") => seq(&r["Properties"]["Policies"], &id)
                .iter()
                .map(|p| &p["PolicyDocument"])
                .collect(),
            Some("AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy") => {
                vec![&r["Properties"]["PolicyDocument"]]
            }
            _ => continue,
        };
        for d in documents {
            for s in seq(&d["Statement"], &id) {
                if actions(s).iter().any(|a| writes.contains(a)) {
                    granting.push((id.clone(), s));
                }
            }
        }
    }
    assert_eq!(granting.len(), 1, "{granting:?}");
    let (id, s) = &granting[0];
    assert_eq!(id.as_str(), "CompanySecretsAdminPolicy");
    assert_eq!(
        resources(&t)[id.as_str()]["Type"].as_str(),
        Some("AWS::IAM::ManagedPolicy")
    );
    assert_eq!(s["Effect"].as_str(), Some("Allow"));
    assert_eq!(
        actions(s),
        BTreeSet::from([
            "secretsmanager:GetSecretValue",
            "secretsmanager:DescribeSecret",
            "secretsmanager:CreateSecret",
            "secretsmanager:PutSecretValue",
            "secretsmanager:DeleteSecret",
            "secretsmanager:RestoreSecret",
        ])
    );
    assert_eq!(
        tagged(&s["Resource"], "Sub").and_then(Value::as_str),
        Some(
            "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:dropship/${AWS::StackName}/companies/*"
        ),
        "the stack's company secrets only"
    );
    assert!(
        is_ref(
            &t["Outputs"]["CompanySecretsAdminPolicyArn"]["Value"],
            "CompanySecretsAdminPolicy"
        ),
        "the policy is an output, for the operator's role"
    );
}

/// The notifier's role grants on the table exactly what the notifier does
/// there (`Notifier::notify` on `DynamoStore`: `Store::order_record`,
/// `Store::company` and `WebhookStore::event` are GetItems; `Ledger::claim`,
/// `complete` and `release` and endpoint changes are UpdateItems; recording
/// an event is a transaction of two Puts), and SES sending as the sender
/// only.
#[test]
fn notifier_role_is_what_the_notifier_uses() {
    let t = template();
    let (id, notifier) = function_by_binary(&t, "notifier");
    let role_id = tagged(&notifier["Properties"]["Role"], "GetAtt")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_suffix(".Arn"))
        .unwrap_or_else(|| panic!("{id}: Role"));
    let role = resources(&t)[role_id];

    let table = statements(role, "table");
    assert_eq!(table.len(), 1, "{role_id}: one table statement");
    assert_eq!(
        actions(&table[0]),
        BTreeSet::from([
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem"
        ]),
        "{role_id}: table actions"
    );
    assert_eq!(
        tagged(&table[0]["Resource"], "GetAtt").and_then(Value::as_str),
        Some("Table.Arn"),
        "{role_id}: the table, no index"
    );

    let email = statements(role, "email");
    assert_eq!(email.len(), 1, "{role_id}: one email statement");
    assert_eq!(
        actions(&email[0]),
        BTreeSet::from(["ses:SendRawEmail"]),
        "{role_id}: SesMailer calls SendRawEmail only"
    );
    // Source is SENDER_EMAIL as is (no display name): ses:FromAddress.
    assert!(
        is_ref(
            &email[0]["Condition"]["StringEquals"]["ses:FromAddress"],
            "SenderEmail"
        ),
        "{role_id}: ses:FromAddress = SenderEmail"
    );
    let resource = tagged(&email[0]["Resource"], "If")
        .and_then(Value::as_sequence)
        .expect("the identity: !If [SenderIsIdentity, address, domain]");
    for r in &resource[1..] {
        let arn = tagged(r, "Sub").and_then(Value::as_str).expect("!Sub arn");
        assert!(
            arn.starts_with(
                "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${Sender"
            ),
            "{role_id}: {arn}"
        );
    }
}

/// DynamoDB JSON (`{"S": ..}`, `{"N": ..}`, `{"L": [..]}`, `{"M": {..}}`) as plain JSON.
fn plain(v: &serde_json::Value) -> serde_json::Value {
    let (ty, inner) = v.as_object().unwrap().iter().next().unwrap();
    match ty.as_str() {
        "S" => inner.clone(),
        "N" => serde_json::from_str(inner.as_str().unwrap()).unwrap(),
        "BOOL" => inner.clone(),
        "NULL" => serde_json::Value::Null,
        "L" => inner.as_array().unwrap().iter().map(plain).collect(),
        "M" => inner
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), plain(v)))
            .collect(),
        other => panic!("attribute type {other}"),
    }
}

/// What a sample stream record deliberately is when it is not a new
/// cancellation item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deliberate {
    /// A record the stream mapping's filter drops (not an INSERT of a
    /// cancellation item); the handler skips it should it get one anyway
    /// (`sam local invoke`, `cargo lambda invoke` apply no filter).
    Filtered,
    /// Passes the filter but is no cancellation the code can read: the
    /// handler reports it, alone, in `batchItemFailures`.
    Poison,
}

/// The sample records that are deliberately not new cancellation items, by
/// file and `eventID`. `batch-with-poison.json` is the handler's partial
/// batch case (functions/notifier: `a_poison_record_fails_alone` in
/// tests/stream.rs, `the_poison_batch_holds_two_cancellations_two_skips_and_one_poison`
/// in src/lib.rs): two new cancellations around a MODIFY of an order, an
/// INSERT of a cancellation item that does not decode (the poison) and an
/// INSERT of a fulfillment item. Every other record of every sample,
/// including that batch's two cancellations, is checked in full.
const DELIBERATE: &[(&str, &str, Deliberate)] = &[
    (
        "batch-with-poison.json",
        "evt-200000000000000000002",
        Deliberate::Filtered,
    ),
    (
        "batch-with-poison.json",
        "evt-200000000000000000003",
        Deliberate::Poison,
    ),
    (
        "batch-with-poison.json",
        "evt-200000000000000000004",
        Deliberate::Filtered,
    ),
];

/// The template's stream filter (`notifier_stream_mapping_selects_new_cancellations`
/// pins its pattern to `schema::STREAM_FILTER`): a write of an order item
/// that names a new cancellation.
fn passes_stream_filter(r: &serde_json::Value) -> bool {
    let image = &r["dynamodb"]["NewImage"];
    (r["eventName"] == "INSERT" || r["eventName"] == "MODIFY")
        && image[schema::TYPE_ATTRIBUTE]["S"] == schema::ORDER_TYPE
        && image[schema::NEW_CANCELLATION_ATTRIBUTE]["S"].is_string()
}

/// The cancellation an order image names as new, as plain JSON.
fn named_cancellation(
    what: &str,
    image: &serde_json::Map<String, serde_json::Value>,
) -> serde_json::Value {
    let id = &image[schema::NEW_CANCELLATION_ATTRIBUTE];
    image[schema::CANCELLATIONS_ATTRIBUTE]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: cancellations"))
        .iter()
        .find(|c| &c["id"] == id)
        .unwrap_or_else(|| panic!("{what}: the new cancellation is among the order's"))
        .clone()
}

/// The new image as plain JSON.
fn new_image(what: &str, r: &serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    r["dynamodb"]["NewImage"]
        .as_object()
        .unwrap_or_else(|| panic!("{what}: NewImage"))
        .iter()
        .map(|(k, v)| (k.clone(), plain(v)))
        .collect()
}

/// A record as the table's stream delivers a new cancellation through the
/// filter: the order item laid out exactly as the store writes it, on an
/// order and lines of the demo seed.
fn check_new_cancellation(what: &str, r: &serde_json::Value, seed: &serde_json::Value) {
    assert!(
        passes_stream_filter(r),
        "{what}: a write of an order naming a new cancellation"
    );
    let d = &r["dynamodb"];
    let image = new_image(what, r);
    let order: domain::Order = serde_json::from_value(serde_json::Value::Object(image.clone()))
        .unwrap_or_else(|e| panic!("{what}: an order: {e}"));
    let c: domain::Cancellation = serde_json::from_value(named_cancellation(what, &image))
        .unwrap_or_else(|e| panic!("{what}: a cancellation: {e}"));
    assert_eq!(c.order_id, order.id, "{what}");
    // Exactly the store's order item: the order's fields + its keys, type,
    // cancellations, the new one's id and the commit's token.
    let mut fields: BTreeSet<String> = serde_json::to_value(&order)
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    fields.extend(
        [
            schema::PK,
            schema::SK,
            schema::TYPE_ATTRIBUTE,
            schema::CANCELLATIONS_ATTRIBUTE,
            schema::NEW_CANCELLATION_ATTRIBUTE,
            "commit_token",
        ]
        .map(String::from),
    );
    assert_eq!(
        image.keys().cloned().collect::<BTreeSet<_>>(),
        fields,
        "{what}"
    );
    assert_eq!(image[schema::PK], format!("ORDER#{}", c.order_id), "{what}");
    assert_eq!(image[schema::SK], "ORDER", "{what}");
    assert!(
        d["SequenceNumber"].as_str().is_some_and(|s| !s.is_empty()),
        "{what}: a sequence number (the partial batch response names it)"
    );
    let order = seed["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == c.order_id.as_str())
        .unwrap_or_else(|| panic!("{what}: order {} is in the demo seed", c.order_id));
    for item in &c.items {
        assert!(
            order["line_items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["id"] == item.line_item_id.as_str()),
            "{what}: line {}",
            item.line_item_id
        );
    }
}

/// `events/notifier/*.json` (for `sam local invoke -e`, `cargo lambda
/// invoke --data-file` and the notifier's tests) are stream batches as the
/// table's stream delivers them through the filter: writes of order items
/// naming a new cancellation, laid out as the store writes them, on orders
/// and lines of the demo seed. The only exceptions are the records listed in `DELIBERATE`, each
/// checked to be what it is listed as.
#[test]
fn notifier_sample_events_are_writes_of_new_cancellations() {
    let dir = root().join("events/notifier");
    let seed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("events/demo-seed.json")).unwrap(),
    )
    .unwrap();
    let mut files = 0;
    let mut deliberate_seen = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        files += 1;
        let file = path.file_name().unwrap().to_str().unwrap().to_owned();
        let event: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let records = event["Records"].as_array().expect(&file);
        assert!(!records.is_empty(), "{file}");
        let mut new_cancellations = 0;
        for r in records {
            let id = r["eventID"].as_str().expect(&file);
            let what = format!("{file} {id}");
            // Every record is a stream record of the table.
            assert_eq!(r["eventSource"], "aws:dynamodb", "{what}");
            let d = &r["dynamodb"];
            assert_eq!(d["StreamViewType"], schema::STREAM_VIEW_TYPE, "{what}");
            assert_eq!(d["Keys"][schema::PK], d["NewImage"][schema::PK], "{what}");
            assert_eq!(d["Keys"][schema::SK], d["NewImage"][schema::SK], "{what}");
            let listed = DELIBERATE
                .iter()
                .find(|(f, e, _)| *f == file && *e == id)
                .map(|(_, _, kind)| *kind);
            match listed {
                None => {
                    check_new_cancellation(&what, r, &seed);
                    new_cancellations += 1;
                }
                Some(Deliberate::Filtered) => {
                    assert!(!passes_stream_filter(r), "{what}: listed as filtered");
                }
                Some(Deliberate::Poison) => {
                    assert!(
                        passes_stream_filter(r),
                        "{what}: a poison reaches the function"
                    );
                    let image = new_image(&what, r);
                    assert!(
                        serde_json::from_value::<domain::Cancellation>(named_cancellation(
                            &what, &image
                        ))
                        .is_err(),
                        "{what}: listed as poison but decodes as a cancellation"
                    );
                }
            }
            if listed.is_some() {
                assert!(
                    deliberate_seen.insert((file.clone(), id.to_owned())),
                    "{what} twice"
                );
            }
        }
        assert!(new_cancellations >= 1, "{file}: no new cancellation");
    }
    assert!(files >= 1, "no sample event in {}", dir.display());
    let listed: BTreeSet<(String, String)> = DELIBERATE
        .iter()
        .map(|(f, e, _)| ((*f).to_owned(), (*e).to_owned()))
        .collect();
    assert_eq!(
        deliberate_seen, listed,
        "every listed record is in its sample"
    );
}

/// Limits: the HttpApi's throttling comes from parameters, every webhook
/// route has its own (lower) limit, and the API and webhook functions have
/// reserved concurrency unless a parameter turns it off.
#[test]
fn throttling_and_concurrency_limits() {
    let t = template();
    let api = resources(&t)["HttpApi"];
    let d = &api["Properties"]["DefaultRouteSettings"];
    assert!(is_ref(&d["ThrottlingRateLimit"], "ApiRateLimit"));
    assert!(is_ref(&d["ThrottlingBurstLimit"], "ApiBurstLimit"));
    let routes = &api["Properties"]["RouteSettings"];
    for (m, p) in &intake::routes() {
        let r = &routes[format!("{m} {p}").as_str()];
        assert!(
            is_ref(&r["ThrottlingRateLimit"], "WebhookRateLimit"),
            "{m} {p}"
        );
        assert!(
            is_ref(&r["ThrottlingBurstLimit"], "WebhookBurstLimit"),
            "{m} {p}"
        );
    }
    let params = &t["Parameters"];
    let default = |name: &str| params[name]["Default"].as_i64().unwrap();
    assert!(default("WebhookRateLimit") <= default("ApiRateLimit"));
    for (binary, condition, parameter) in [
        ("cancellation-api", "ReserveApi", "ApiConcurrency"),
        ("webhook-intake", "ReserveWebhooks", "WebhookConcurrency"),
    ] {
        let (id, f) = function_by_binary(&t, binary);
        let reserved = tagged(&f["Properties"]["ReservedConcurrentExecutions"], "If")
            .and_then(Value::as_sequence)
            .unwrap_or_else(|| panic!("{id}: reserved concurrency"));
        assert_eq!(reserved[0].as_str(), Some(condition), "{id}");
        assert!(is_ref(&reserved[1], parameter), "{id}");
        assert!(default(parameter) > 0, "{id}: reserved by default");
    }
}

/// The alarms an operator needs, each on a metric the code emits with the
/// dimension set it declares (or on Lambda's own), each telling the
/// alarm topic.
#[test]
fn alarms_watch_what_the_functions_count() {
    use aws::emf::{NAMESPACE, document};
    use service::metrics::Event;
    let t = template();
    let alarms: Vec<(String, &Value)> = resources(&t)
        .into_iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::CloudWatch::Alarm"))
        .collect();
    let dims = |a: &Value| -> Vec<String> {
        a["Properties"]["Dimensions"]
            .as_sequence()
            .map(|d| {
                d.iter()
                    .map(|x| str_at(&x["Name"], "Name").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let find = |ns: &str, metric: &str| -> Vec<&Value> {
        alarms
            .iter()
            .map(|(_, a)| *a)
            .filter(|a| {
                a["Properties"]["Namespace"].as_str() == Some(ns)
                    && a["Properties"]["MetricName"].as_str() == Some(metric)
            })
            .collect()
    };
    // Our metrics: the alarm's dimensions are a set the document declares,
    // with the value the code emits.
    for (event, metric, name, value) in [
        (
            Event::Notification {
                channel: "email",
                result: "failed",
            },
            "Notifications",
            "Result",
            "failed",
        ),
        (
            Event::WebhookDelivery {
                platform: "shopify",
                outcome: "unauthorized",
            },
            "WebhookDeliveries",
            "Outcome",
            "unauthorized",
        ),
        (
            Event::PlatformApiDrift {
                platform: "shopify",
                kind: "version",
            },
            "PlatformApiDrift",
            "Platform",
            "shopify",
        ),
    ] {
        let doc = document(event, 0);
        let declared = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], NAMESPACE);
        assert_eq!(declared["Metrics"][0]["Name"], metric);
        assert!(
            declared["Dimensions"]
                .as_array()
                .unwrap()
                .contains(&serde_json::json!([name])),
            "{metric}: a rollup by {name}"
        );
        let found = find(NAMESPACE, metric);
        assert_eq!(found.len(), 1, "an alarm on {metric}");
        assert_eq!(dims(found[0]), [name]);
        assert_eq!(
            found[0]["Properties"]["Dimensions"][0]["Value"].as_str(),
            Some(value)
        );
        assert_eq!(doc[name], value);
    }
    // One alarm per dead-letter queue, on that queue.
    let dlq_alarms = find("AWS/SQS", "ApproximateNumberOfMessagesVisible");
    for dlq in ["NotifierDlq", "WebhookDeliveryDlq"] {
        let on: Vec<&&Value> = dlq_alarms
            .iter()
            .filter(|a| {
                tagged(&a["Properties"]["Dimensions"][0]["Value"], "GetAtt").and_then(Value::as_str)
                    == Some(&format!("{dlq}.QueueName"))
            })
            .collect();
        assert_eq!(on.len(), 1, "an alarm on {dlq}");
    }
    assert_eq!(dlq_alarms.len(), 2);
    for binary in ["cancellation-api", "webhook-intake", "notifier"] {
        let (id, _) = function_by_binary(&t, binary);
        for metric in ["Errors", "Throttles"] {
            let watching: Vec<&Value> = find("AWS/Lambda", metric)
                .into_iter()
                .filter(|a| is_ref(&a["Properties"]["Dimensions"][0]["Value"], &id))
                .collect();
            assert_eq!(watching.len(), 1, "{id}: an alarm on its {metric}");
        }
    }
    for (id, a) in &alarms {
        let actions = tagged(&a["Properties"]["AlarmActions"], "If")
            .and_then(Value::as_sequence)
            .unwrap_or_else(|| panic!("{id}: AlarmActions"));
        assert_eq!(actions[0].as_str(), Some("HasAlarmTopic"), "{id}");
    }
}

#[test]
fn app_url_is_the_app_entry_on_the_api_origin() {
    let t = template();
    let sub = |output: &str| {
        let v = &t["Outputs"][output]["Value"];
        str_at(
            tagged(v, "Sub").unwrap_or_else(|| panic!("{output}: a !Sub")),
            output,
        )
        .to_owned()
    };
    let api = sub("ApiUrl");
    assert!(api.ends_with('/'), "{api}");
    assert_eq!(
        sub("AppUrl"),
        format!("{api}{}", assets::ENTRY.trim_start_matches('/'))
    );
}

/// The EDI bucket: private, encrypted, versioned, TLS only; edi-intake runs
/// on its inbound/ objects and may touch only its prefixes; the notifier
/// writes outbound/ only.
#[test]
fn the_edi_bucket_is_private_and_each_function_touches_its_prefixes() {
    let t = template();
    let r = resources(&t);
    let b = &r["EdiBucket"]["Properties"];
    let block = &b["PublicAccessBlockConfiguration"];
    for k in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(block[k].as_bool(), Some(true), "{k}");
    }
    assert_eq!(
        b["VersioningConfiguration"]["Status"].as_str(),
        Some("Enabled")
    );
    assert!(!b["BucketEncryption"].is_null(), "encrypted");
    let deny = &seq(
        &r["EdiBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"],
        "policy",
    )[0];
    assert_eq!(deny["Effect"].as_str(), Some("Deny"));
    assert_eq!(
        deny["Condition"]["Bool"]["aws:SecureTransport"].as_str(),
        Some("false")
    );

    let (id, f) = function_by_binary(&t, "edi-intake");
    let events = f["Properties"]["Events"].as_mapping().unwrap();
    let s3: Vec<&Value> = events
        .values()
        .filter(|e| e["Type"].as_str() == Some("S3"))
        .collect();
    assert_eq!(s3.len(), 1, "{id}: one S3 event source");
    assert!(is_ref(&s3[0]["Properties"]["Bucket"], "EdiBucket"));
    let rule = &seq(&s3[0]["Properties"]["Filter"]["S3Key"]["Rules"], "rules")[0];
    assert_eq!(rule["Value"].as_str(), Some("inbound/"));

    let access = seq(
        &r["EdiIntakeBucketAccess"]["Properties"]["PolicyDocument"]["Statement"],
        "s3",
    );
    let mut granted = BTreeSet::new();
    for st in access {
        let resources: Vec<&Value> = match &st["Resource"] {
            Value::Sequence(rs) => rs.iter().collect(),
            one => vec![one],
        };
        for res in resources {
            let arn = tagged(res, "Sub")
                .and_then(Value::as_str)
                .expect("!Sub arn");
            for a in actions(st) {
                granted.insert((a.to_owned(), arn.to_owned()));
            }
        }
    }
    let want: BTreeSet<(String, String)> = [
        ("s3:GetObject", "${EdiBucket.Arn}/inbound/*"),
        ("s3:DeleteObject", "${EdiBucket.Arn}/inbound/*"),
        ("s3:PutObject", "${EdiBucket.Arn}/outbound/*"),
        ("s3:PutObject", "${EdiBucket.Arn}/processed/*"),
    ]
    .map(|(a, r)| (a.to_owned(), r.to_owned()))
    .into();
    assert_eq!(granted, want, "edi-intake: its prefixes only");

    let (_, notifier) = function_by_binary(&t, "notifier");
    let role_id = tagged(&notifier["Properties"]["Role"], "GetAtt")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_suffix(".Arn"))
        .unwrap();
    let edi = statements(r[role_id], "edi");
    assert_eq!(edi.len(), 1);
    assert_eq!(actions(&edi[0]), BTreeSet::from(["s3:PutObject"]));
    assert_eq!(
        tagged(&edi[0]["Resource"], "Sub").and_then(Value::as_str),
        Some("${EdiBucket.Arn}/outbound/*")
    );
}

/// The notifier's claims and attempts against its function's timeout
/// (docs/operations.md, "Claims and timeouts"): a claim's lock is shorter
/// than the function lives, a webhook attempt shorter than a claim, and
/// the delivery queue hides a message for longer than an invocation runs.
#[test]
fn claims_and_attempts_end_within_the_notifiers_timeout() {
    let t = template();
    let (id, notifier) = function_by_binary(&t, "notifier");
    let timeout = notifier["Properties"]["Timeout"]
        .as_i64()
        .or_else(|| t["Globals"]["Function"]["Timeout"].as_i64())
        .unwrap_or_else(|| panic!("{id}: a timeout"));
    let lock = service::notify::NotifierConfig::new("n@example.com")
        .lock_for
        .num_seconds();
    assert_eq!(lock, service::notify::CLAIM_LOCK_SECONDS);
    let margin = i64::try_from(service::notify::DEADLINE_MARGIN.as_secs()).unwrap();
    assert!(
        lock + margin < timeout,
        "{id}: a claim locks for {lock} s, the function lives {timeout} s"
    );
    let attempt = i64::try_from(service::events::ATTEMPT_LIMIT.as_secs()).unwrap();
    assert!(
        attempt < lock,
        "a delivery attempt of {attempt} s outlives its {lock} s claim"
    );
    assert!(
        2 * attempt < timeout,
        "{id}: a batch of deliveries (one attempt's time) within the {timeout} s timeout"
    );
    let queue = resources(&t)["WebhookDeliveryQueue"];
    let visibility = queue["Properties"]["VisibilityTimeout"].as_i64().unwrap();
    assert!(
        visibility >= timeout,
        "the delivery queue hides a message {visibility} s, an invocation may run {timeout} s"
    );
}
