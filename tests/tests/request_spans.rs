//! The request's tracing span, in a test binary of its own: tracing caches
//! each call site's interest globally, so a subscriber set for one thread
//! can miss events while other tests run in the same process.

mod common;

use common::*;

/// The request's span names the company once the key is known, so the
/// line logged inside the request carries it, with the operation and the
/// outcome.
#[tokio::test]
async fn a_request_line_carries_the_company_from_its_span() {
    let app = demo_app().await;
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let r = call(&app, "GET", "/v1/me", Some(BUYER), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let company = r.body["company"]["id"]
        .as_str()
        .or_else(|| r.body["id"].as_str())
        .unwrap()
        .to_owned();

    let log = captured.text();
    let line = log
        .lines()
        .find(|l| l.contains(" request ") || l.ends_with(" request"))
        .unwrap_or_else(|| panic!("no request line:\n{log}"));
    assert!(
        line.contains(&format!("company_id={company}")),
        "{company} not on: {line}"
    );
    assert!(line.contains("op=\"api\""), "{line}");
    assert!(line.contains("outcome=ok"), "{line}");
}
