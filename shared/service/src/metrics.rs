//! Counts of what happens, as CloudWatch embedded metric format (EMF)
//! documents: one JSON line on standard output per event, which CloudWatch
//! Logs turns into metrics in namespace `Dropship` (no API call, nothing to
//! wait for). Each document carries its dimensions and also the coarser
//! rollups named in `rollups`, so an alarm can watch, say, every failed
//! notification whatever its channel. Off unless a host turns it on; tests
//! capture the lines instead.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// The namespace of every metric.
pub const NAMESPACE: &str = "Dropship";

/// What is counted, with its dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// A cancellation committed (`source`: api, app, shopify, ...; `kind`:
    /// order or items).
    CancellationCreated { source: &'a str, kind: &'a str },
    /// A webhook delivery answered (`outcome`: processed, duplicate,
    /// ignored, unauthorized, failed).
    WebhookDelivery { platform: &'a str, outcome: &'a str },
    /// A notification channel's attempt ended (`result`: sent, failed,
    /// retry, skipped).
    Notification { channel: &'a str, result: &'a str },
    /// A commit lost a race on the order's version and was decided again.
    CommitConflict,
    /// A decision gave up after repeated conflicts (answered `409`).
    CommitGaveUp,
    /// A platform answered with another API version than asked for
    /// (`kind`: version) or flagged a deprecated use (`kind`: deprecated).
    PlatformApiDrift { platform: &'a str, kind: &'a str },
    /// An EDI document we sent was rejected by the partner or not
    /// acknowledged in time (`result`: rejected, overdue).
    EdiUnacknowledged { result: &'a str },
}

struct Doc<'a> {
    name: &'static str,
    dims: Vec<(&'static str, &'a str)>,
    /// Dimension sets besides the full one (each a subset of `dims`).
    rollups: &'static [&'static [&'static str]],
}

impl<'a> Event<'a> {
    fn doc(self) -> Doc<'a> {
        match self {
            Event::CancellationCreated { source, kind } => Doc {
                name: "CancellationsCreated",
                dims: vec![("Source", source), ("Kind", kind)],
                rollups: &[&[]],
            },
            Event::WebhookDelivery { platform, outcome } => Doc {
                name: "WebhookDeliveries",
                dims: vec![("Platform", platform), ("Outcome", outcome)],
                rollups: &[&["Outcome"]],
            },
            Event::Notification { channel, result } => Doc {
                name: "Notifications",
                dims: vec![("Channel", channel), ("Result", result)],
                rollups: &[&["Result"]],
            },
            Event::CommitConflict => Doc {
                name: "CommitConflicts",
                dims: vec![],
                rollups: &[],
            },
            Event::CommitGaveUp => Doc {
                name: "CommitsGivenUp",
                dims: vec![],
                rollups: &[],
            },
            Event::EdiUnacknowledged { result } => Doc {
                name: "EdiDocumentsUnacknowledged",
                dims: vec![("Result", result)],
                rollups: &[&[]],
            },
            Event::PlatformApiDrift { platform, kind } => Doc {
                name: "PlatformApiDrift",
                dims: vec![("Platform", platform), ("Kind", kind)],
                rollups: &[&["Platform"]],
            },
        }
    }
}

/// The EMF document of one event at `timestamp_ms`.
pub fn document(event: Event<'_>, timestamp_ms: i64) -> serde_json::Value {
    let doc = event.doc();
    let full: Vec<&str> = doc.dims.iter().map(|(k, _)| *k).collect();
    let mut sets = vec![full];
    sets.extend(doc.rollups.iter().map(|r| r.to_vec()));
    let mut root = serde_json::Map::new();
    root.insert(
        "_aws".into(),
        serde_json::json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": sets,
                "Metrics": [{"Name": doc.name, "Unit": "Count"}],
            }],
        }),
    );
    for (k, v) in doc.dims {
        root.insert(k.into(), serde_json::Value::String(v.to_owned()));
    }
    root.insert(doc.name.into(), serde_json::json!(1));
    serde_json::Value::Object(root)
}

#[derive(Clone, Default)]
enum Sink {
    #[default]
    Off,
    Stdout,
    Captured(Arc<Mutex<Vec<String>>>),
}

/// Where counts go. Cheap to clone.
#[derive(Clone, Default)]
pub struct Metrics(Sink);

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sink = match &self.0 {
            Sink::Off => "off",
            Sink::Stdout => "stdout",
            Sink::Captured(_) => "captured",
        };
        write!(f, "Metrics({sink})")
    }
}

/// The lines a capturing `Metrics` has emitted.
#[derive(Clone, Debug, Default)]
pub struct Captured(Arc<Mutex<Vec<String>>>);

impl Captured {
    /// The documents so far, parsed.
    pub fn documents(&self) -> Vec<serde_json::Value> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Metrics {
    /// Counts nothing (local hosts, most tests).
    pub fn off() -> Self {
        Metrics(Sink::Off)
    }

    /// EMF lines on standard output (the Lambda functions).
    pub fn emf() -> Self {
        Metrics(Sink::Stdout)
    }

    /// Lines kept in memory, for tests.
    pub fn capture() -> (Self, Captured) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        (Metrics(Sink::Captured(Arc::clone(&lines))), Captured(lines))
    }

    /// Count one event. Never fails: a metric that cannot be written is
    /// dropped, and the work it describes goes on.
    pub fn count(&self, event: Event<'_>) {
        let line = match &self.0 {
            Sink::Off => return,
            _ => document(event, chrono::Utc::now().timestamp_millis()).to_string(),
        };
        match &self.0 {
            Sink::Off => {}
            Sink::Stdout => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
            }
            Sink::Captured(lines) => lines.lock().unwrap_or_else(|p| p.into_inner()).push(line),
        }
    }
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
    fn captured_lines_are_one_document_each_and_off_counts_nothing() {
        let (m, seen) = Metrics::capture();
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
