//! Every Shopify Admin GraphQL document the service sends is valid against
//! Shopify's 2025-10 Admin schema, as printed from a live introspection and
//! kept gzipped in `tests/fixtures/` (or the file `SHOPIFY_ADMIN_SCHEMA`
//! names), checked with `apollo-compiler`. The 3 MB schema is parsed and
//! validated once per test binary.

use std::io::Read;
use std::path::PathBuf;
use std::sync::OnceLock;

use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use platforms::outbound::SHOPIFY_DOCUMENTS;

fn schema_text() -> (String, PathBuf) {
    if let Ok(p) = std::env::var("SHOPIFY_ADMIN_SCHEMA") {
        let path = PathBuf::from(p);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading the Shopify schema {}: {e}", path.display()));
        return (text, path);
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/shopify-admin-2025-10.graphql.gz");
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
        let (text, path) = schema_text();
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
