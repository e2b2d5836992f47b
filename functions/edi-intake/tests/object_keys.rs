//! S3 event keys are URL-encoded (a space as `+` or `%20`): each is
//! decoded before it names an object, so a partner's file name with a
//! space, a plus or a line break is still processed.

use aws_lambda_events::event::s3::S3Event;
use edi_intake::object_key;

/// The sample event with its object's key as S3 would send it.
fn key_of_event_with(raw: &str) -> Option<String> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events/edi-intake/object-created.json");
    let mut e: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    e["Records"][0]["s3"]["object"]["key"] = raw.into();
    let e: S3Event = serde_json::from_value(e).unwrap();
    object_key(&e.records[0])
}

#[test]
fn keys_are_url_decoded() {
    for (raw, key) in [
        (
            "inbound/buyer-edi/860+cancel+order.x12",
            "inbound/buyer-edi/860 cancel order.x12",
        ),
        (
            "inbound/buyer-edi/860%20cancel%20order.x12",
            "inbound/buyer-edi/860 cancel order.x12",
        ),
        ("inbound/buyer-edi/a%2Bb.x12", "inbound/buyer-edi/a+b.x12"),
        (
            "inbound/buyer-edi/%C3%A9t%C3%A9.x12",
            "inbound/buyer-edi/été.x12",
        ),
        ("inbound/buyer-edi/a%0Ab.x12", "inbound/buyer-edi/a\nb.x12"),
    ] {
        assert_eq!(key_of_event_with(raw).as_deref(), Some(key), "{raw}");
    }
    // Not UTF-8 once decoded: no key, the record is skipped.
    assert_eq!(key_of_event_with("inbound/buyer-edi/%FF.x12"), None);
    // Decoded keys name the company and the file as sent.
    assert_eq!(
        s3::inbound_key("inbound/buyer-edi/860 cancel order.x12"),
        Some(("buyer-edi", "860 cancel order.x12"))
    );
}
