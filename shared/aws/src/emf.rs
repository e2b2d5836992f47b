//! The metrics port (`service::metrics::MetricsWriter`) as CloudWatch
//! embedded metric format (EMF): one JSON document per counted event, a line
//! on standard output, which CloudWatch Logs turns into metrics in namespace
//! `Dropship` (no API call, nothing to wait for). Each document declares its
//! full dimension set and the event's rollups.

use std::io::Write;
use std::sync::{Arc, Mutex};

use service::metrics::{Event, Metrics, MetricsWriter};

/// The namespace of every metric.
pub const NAMESPACE: &str = "Dropship";

/// The EMF document of one event at `timestamp_ms`.
pub fn document(event: Event<'_>, timestamp_ms: i64) -> serde_json::Value {
    let metric = event.metric();
    let full: Vec<&str> = metric.dims.iter().map(|(k, _)| *k).collect();
    let mut sets = vec![full];
    sets.extend(metric.rollups.iter().map(|r| r.to_vec()));
    let mut root = serde_json::Map::new();
    root.insert(
        "_aws".into(),
        serde_json::json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": sets,
                "Metrics": [{"Name": metric.name, "Unit": "Count"}],
            }],
        }),
    );
    for (k, v) in metric.dims {
        root.insert(k.into(), serde_json::Value::String(v.to_owned()));
    }
    root.insert(metric.name.into(), serde_json::json!(1));
    serde_json::Value::Object(root)
}

/// One event's document as the line written: compact JSON, keys in order.
fn line(event: Event<'_>, timestamp_ms: i64) -> String {
    document(event, timestamp_ms).to_string()
}

/// EMF lines on standard output (the Lambda functions).
#[derive(Debug, Clone, Copy, Default)]
pub struct Stdout;

impl MetricsWriter for Stdout {
    fn write(&self, event: Event<'_>, timestamp_ms: i64) {
        let line = line(event, timestamp_ms);
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }

    fn kind(&self) -> &'static str {
        "stdout"
    }
}

/// Counts as EMF lines on standard output.
pub fn metrics() -> Metrics {
    Metrics::to(Arc::new(Stdout))
}

/// EMF lines kept in memory instead of printed, for tests.
struct Capture(Arc<Mutex<Vec<String>>>);

impl MetricsWriter for Capture {
    fn write(&self, event: Event<'_>, timestamp_ms: i64) {
        let line = line(event, timestamp_ms);
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(line);
    }

    fn kind(&self) -> &'static str {
        "captured"
    }
}

/// The lines a capturing `Metrics` has written.
#[derive(Clone, Debug, Default)]
pub struct Captured(Arc<Mutex<Vec<String>>>);

impl Captured {
    /// The lines so far, as they would have been printed.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The documents so far, parsed.
    pub fn documents(&self) -> Vec<serde_json::Value> {
        self.lines()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// A `Metrics` that keeps its EMF lines, and what it kept.
pub fn capture() -> (Metrics, Captured) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    (
        Metrics::to(Arc::new(Capture(Arc::clone(&lines)))),
        Captured(lines),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_declares_its_metric_and_dimension_sets() {
        let d = document(
            Event::Notification {
                channel: "email",
                result: "failed",
            },
            1_795_600_000_000,
        );
        assert_eq!(
            d,
            serde_json::json!({
                "_aws": {
                    "Timestamp": 1_795_600_000_000_i64,
                    "CloudWatchMetrics": [{
                        "Namespace": "Dropship",
                        "Dimensions": [["Channel", "Result"], ["Result"]],
                        "Metrics": [{"Name": "Notifications", "Unit": "Count"}],
                    }],
                },
                "Channel": "email",
                "Result": "failed",
                "Notifications": 1,
            })
        );
        let c = document(Event::CommitConflict, 0);
        assert_eq!(
            c["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([[]])
        );
        assert_eq!(c["CommitConflicts"], 1);
    }

    #[test]
    fn a_line_is_the_document_in_compact_json_with_sorted_keys() {
        let (m, seen) = capture();
        assert_eq!(format!("{m:?}"), "Metrics(captured)");
        m.count(Event::CommitGaveUp);
        assert_eq!(seen.lines().len(), 1);
        let line = line(
            Event::Notification {
                channel: "email",
                result: "failed",
            },
            1_795_600_000_000,
        );
        assert_eq!(
            line,
            r#"{"Channel":"email","Notifications":1,"Result":"failed","_aws":{"CloudWatchMetrics":[{"Dimensions":[["Channel","Result"],["Result"]],"Metrics":[{"Name":"Notifications","Unit":"Count"}],"Namespace":"Dropship"}],"Timestamp":1795600000000}}"#
        );
    }

    #[test]
    fn captured_lines_are_one_document_each_and_off_counts_nothing() {
        let (m, seen) = capture();
        m.count(Event::CancellationCreated {
            source: "api",
            kind: "items",
        });
        m.count(Event::WebhookDelivery {
            platform: "shopify",
            outcome: "unauthorized",
        });
        let docs = seen.documents();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0]["Source"], "api");
        assert_eq!(docs[1]["Outcome"], "unauthorized");
        Metrics::off().count(Event::CommitConflict);
    }
}
