//! Every Shopify Admin GraphQL document the service sends is valid against
//! Shopify's 2026-10 Admin schema (the version we pin), printed from the
//! introspection data Shopify ships in its npm package `@shopify/dev-mcp`
//! (the file's first line names the package version and its checksum),
//! kept gzipped in `tests/fixtures/` (or the file `SHOPIFY_ADMIN_SCHEMA`
//! names), checked with `apollo-compiler`. The schema is parsed and
//! validated once per test binary.

use std::io::Read;
use std::path::PathBuf;
use std::sync::OnceLock;

use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use platforms::shopify::SHOPIFY_DOCUMENTS;

fn schema_text() -> (String, PathBuf) {
    if let Ok(p) = std::env::var("SHOPIFY_ADMIN_SCHEMA") {
        let path = PathBuf::from(p);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading the Shopify schema {}: {e}", path.display()));
        return (text, path);
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/shopify-admin-2026-10.graphql.gz");
    let file = std::fs::File::open(&path)
        .unwrap_or_else(|e| panic!("reading the Shopify schema {}: {e}", path.display()));
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("unpacking the Shopify schema {}: {e}", path.display()));
    (text, path)
}

fn schema() -> &'static Valid<Schema> {
    static SCHEMA: OnceLock<Valid<Schema>> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let (mut text, path) = schema_text();
        // `@oneOf` is built into GraphQL since its September 2025 edition,
        // so Shopify's printed schema uses it without defining it; this
        // apollo-compiler predates it. Its definition, as the spec gives it:
        if text.contains("@oneOf") && !text.contains("directive @oneOf") {
            text.push_str("\ndirective @oneOf on INPUT_OBJECT\n");
        }
        Schema::parse_and_validate(text, &path)
            .unwrap_or_else(|e| panic!("the Shopify schema does not validate: {e}"))
    })
}

fn validate(name: &str, doc: &str) -> Result<(), String> {
    ExecutableDocument::parse_and_validate(schema(), doc, format!("{name}.graphql"))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn every_document_we_send_is_valid_against_the_admin_schema() {
    let names: Vec<&str> = SHOPIFY_DOCUMENTS.iter().map(|(n, _)| *n).collect();
    assert!(
        names.contains(&"ORDER_LINES_QUERY"),
        "the inbound read is checked too"
    );
    for (name, doc) in SHOPIFY_DOCUMENTS {
        if let Err(e) = validate(name, doc) {
            panic!("{name} is not valid against the Shopify Admin schema:\n{e}\n{doc}");
        }
    }
}

#[test]
fn an_unknown_field_or_argument_is_refused() {
    let (_, refund) = SHOPIFY_DOCUMENTS
        .iter()
        .find(|(n, _)| *n == "REFUND_CREATE_MUTATION")
        .copied()
        .unwrap();
    let bad_field = refund.replace("userErrors {", "userErrors {\n      refundability");
    assert!(validate("bad_field", &bad_field).is_err());
    let bad_arg = "query Q($id: ID!) { order(id: $id) { suggestedRefund(restockEverything: true) { subtotalSet { shopMoney { amount } } } } }";
    assert!(validate("bad_arg", bad_arg).is_err());
    let bad_type = "mutation M($input: RefundInput!) { refundCreate(input: $input) { refund { id notAField } } }";
    assert!(validate("bad_type", bad_type).is_err());
    let ok = "query Q($id: ID!) { order(id: $id) { id closed } }";
    assert!(validate("ok", ok).is_ok());
}

/// The fields a document selects and the arguments it passes that the
/// schema marks `@deprecated`, as `Type.field` or `Type.field(arg)`.
fn deprecated_uses(name: &str, doc: &str) -> Vec<String> {
    use apollo_compiler::executable::{Selection, SelectionSet};
    fn walk(doc: &ExecutableDocument, set: &SelectionSet, out: &mut Vec<String>) {
        for s in &set.selections {
            match s {
                Selection::Field(f) => {
                    let at = format!("{}.{}", set.ty, f.name);
                    if f.definition.directives.get("deprecated").is_some() {
                        out.push(at.clone());
                    }
                    for a in &f.arguments {
                        let def = f.definition.arguments.iter().find(|d| d.name == a.name);
                        if def.is_some_and(|d| d.directives.get("deprecated").is_some()) {
                            out.push(format!("{at}({})", a.name));
                        }
                    }
                    walk(doc, &f.selection_set, out);
                }
                Selection::InlineFragment(i) => walk(doc, &i.selection_set, out),
                Selection::FragmentSpread(s) => {
                    if let Some(frag) = doc.fragments.get(&s.fragment_name) {
                        walk(doc, &frag.selection_set, out);
                    }
                }
            }
        }
    }
    let valid = ExecutableDocument::parse_and_validate(schema(), doc, format!("{name}.graphql"))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut out = Vec::new();
    for op in valid.operations.iter() {
        walk(&valid, &op.selection_set, &mut out);
    }
    out
}

#[test]
fn no_document_uses_anything_deprecated() {
    use platforms::shopify::registration::{
        SHOPIFY_CREATE_MUTATION, SHOPIFY_DELETE_MUTATION, SHOPIFY_LIST_QUERY,
    };
    for (name, doc) in [
        ("SHOPIFY_LIST_QUERY", SHOPIFY_LIST_QUERY),
        ("SHOPIFY_CREATE_MUTATION", SHOPIFY_CREATE_MUTATION),
        ("SHOPIFY_DELETE_MUTATION", SHOPIFY_DELETE_MUTATION),
    ] {
        assert!(
            SHOPIFY_DOCUMENTS.contains(&(name, doc)),
            "{name} is among the documents checked"
        );
    }
    // For example, since 2025-10 a webhook subscription's address is `uri`;
    // `callbackUrl` and `endpoint` are deprecated.
    for (name, doc) in SHOPIFY_DOCUMENTS {
        assert_eq!(deprecated_uses(name, doc), Vec::<String>::new(), "{name}");
    }
    let with_callback = SHOPIFY_LIST_QUERY.replace("uri", "callbackUrl");
    assert_eq!(
        deprecated_uses("with_callback", &with_callback),
        ["WebhookSubscription.callbackUrl"],
        "the check sees a deprecated field"
    );
}

#[test]
fn the_subscription_topics_and_inputs_are_the_schemas() {
    use platforms::shopify::registration::{SHOPIFY_TOPICS, shopify_create_variables};
    let s = schema();
    let topics = s
        .get_enum("WebhookSubscriptionTopic")
        .expect("WebhookSubscriptionTopic");
    for t in SHOPIFY_TOPICS {
        let v = topics
            .values
            .get(t)
            .unwrap_or_else(|| panic!("{t} is no WebhookSubscriptionTopic"));
        assert!(
            v.directives.get("deprecated").is_none(),
            "{t} is deprecated"
        );
    }
    let vars = shopify_create_variables("ORDERS_UPDATED", "https://api.example/webhooks/shopify");
    let input = s
        .get_input_object("WebhookSubscriptionInput")
        .expect("WebhookSubscriptionInput");
    let sent = vars["webhookSubscription"].as_object().unwrap();
    for key in sent.keys() {
        let field = input
            .fields
            .get(key.as_str())
            .unwrap_or_else(|| panic!("WebhookSubscriptionInput has no {key}"));
        assert!(
            field.directives.get("deprecated").is_none(),
            "WebhookSubscriptionInput.{key} is deprecated"
        );
    }
    assert!(sent.contains_key("uri"));
    let formats = s.get_enum("WebhookSubscriptionFormat").unwrap();
    assert!(
        formats
            .values
            .contains_key(sent["format"].as_str().unwrap())
    );
    assert!(
        input
            .fields
            .get("callbackUrl")
            .is_some_and(|f| f.directives.get("deprecated").is_some()),
        "the check sees a deprecated input field"
    );
}

/// The schema we check against is the version every call asks for.
#[test]
fn the_schema_is_the_pinned_version() {
    let (text, _) = schema_text();
    let first = text.lines().next().unwrap_or_default();
    assert!(
        first.contains(&format!("Admin GraphQL {}", platforms::SHOPIFY_API_VERSION)),
        "{first}"
    );
}

/// Every mutation we send whose schema description supports or requires
/// an idempotency key carries `@idempotent(key:)`.
#[test]
fn mutations_that_take_an_idempotency_key_carry_one() {
    let s = schema();
    let mutation = s.get_object("Mutation").expect("a Mutation type");
    for (name, doc) in SHOPIFY_DOCUMENTS {
        let valid = ExecutableDocument::parse_and_validate(s, doc, format!("{name}.graphql"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for op in valid.operations.iter() {
            for sel in &op.selection_set.selections {
                let apollo_compiler::executable::Selection::Field(f) = sel else {
                    continue;
                };
                let Some(def) = mutation.fields.get(&f.name) else {
                    continue;
                };
                let described = def
                    .description
                    .as_ref()
                    .is_some_and(|d| d.contains("@idempotent"));
                let carried = f.directives.get("idempotent").is_some();
                assert_eq!(
                    described,
                    carried,
                    "{name}: {} {} an idempotency key",
                    f.name,
                    if described { "takes" } else { "does not take" }
                );
            }
        }
    }
    assert!(
        platforms::shopify::outbound::REFUND_CREATE_MUTATION
            .contains("@idempotent(key: $idempotencyKey)")
    );
}
