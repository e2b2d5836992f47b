//! Counts of what happens. The use cases count `Event`s through `Metrics`;
//! where the counts go is the `MetricsWriter` port: in the Lambda functions
//! CloudWatch embedded metric format documents on standard output
//! (`aws::emf`), in local hosts nowhere (off), in tests memory. Each event
//! names its metric, its dimensions and the coarser dimension sets
//! (`rollups`) it is also counted under, so an alarm can watch, say, every
//! failed notification whatever its channel.

use std::sync::Arc;

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

/// The metric an event adds one to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metric<'a> {
    pub name: &'static str,
    /// Its dimensions, in order.
    pub dims: Vec<(&'static str, &'a str)>,
    /// Dimension sets besides the full one (each a subset of `dims`).
    pub rollups: &'static [&'static [&'static str]],
}

impl<'a> Event<'a> {
    /// The metric this event counts in.
    pub fn metric(self) -> Metric<'a> {
        match self {
            Event::CancellationCreated { source, kind } => Metric {
                name: "CancellationsCreated",
                dims: vec![("Source", source), ("Kind", kind)],
                rollups: &[&[]],
            },
            Event::WebhookDelivery { platform, outcome } => Metric {
                name: "WebhookDeliveries",
                dims: vec![("Platform", platform), ("Outcome", outcome)],
                rollups: &[&["Outcome"]],
            },
            Event::Notification { channel, result } => Metric {
                name: "Notifications",
                dims: vec![("Channel", channel), ("Result", result)],
                rollups: &[&["Result"]],
            },
            Event::CommitConflict => Metric {
                name: "CommitConflicts",
                dims: vec![],
                rollups: &[],
            },
            Event::CommitGaveUp => Metric {
                name: "CommitsGivenUp",
                dims: vec![],
                rollups: &[],
            },
            Event::EdiUnacknowledged { result } => Metric {
                name: "EdiDocumentsUnacknowledged",
                dims: vec![("Result", result)],
                rollups: &[&[]],
            },
            Event::PlatformApiDrift { platform, kind } => Metric {
                name: "PlatformApiDrift",
                dims: vec![("Platform", platform), ("Kind", kind)],
                rollups: &[&["Platform"]],
            },
        }
    }
}

/// The metrics port: where counted events go. Writing never fails the
/// work: a metric that cannot be written is dropped.
pub trait MetricsWriter: Send + Sync {
    /// Write one count of `event`, which happened at `timestamp_ms`
    /// (milliseconds since the Unix epoch).
    fn write(&self, event: Event<'_>, timestamp_ms: i64);

    /// What it is, for `Metrics`' debug output.
    fn kind(&self) -> &'static str;
}

/// Where counts go. Cheap to clone; off by default.
#[derive(Clone, Default)]
pub struct Metrics(Option<Arc<dyn MetricsWriter>>);

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = self.0.as_ref().map_or("off", |w| w.kind());
        write!(f, "Metrics({kind})")
    }
}

impl Metrics {
    /// Counts nothing (local hosts, most tests).
    pub fn off() -> Self {
        Metrics(None)
    }

    /// Counts into `writer` (the Lambda functions: `aws::emf`).
    pub fn to(writer: Arc<dyn MetricsWriter>) -> Self {
        Metrics(Some(writer))
    }

    /// Count one event. Never fails: a metric that cannot be written is
    /// dropped, and the work it describes goes on.
    pub fn count(&self, event: Event<'_>) {
        if let Some(writer) = &self.0 {
            writer.write(event, chrono::Utc::now().timestamp_millis());
        }
    }
}

/// A writer that keeps the names of the metrics counted, for this crate's
/// tests (the EMF documents themselves are `aws::emf`'s, tested there).
#[cfg(test)]
pub(crate) mod recorded {
    use super::*;
    use std::sync::Mutex;

    #[derive(Clone, Default)]
    pub(crate) struct Recorded(Arc<Mutex<Vec<(String, i64)>>>);

    impl MetricsWriter for Recorded {
        fn write(&self, event: Event<'_>, timestamp_ms: i64) {
            let name = event.metric().name.to_owned();
            let mut names = self.0.lock().unwrap_or_else(|p| p.into_inner());
            names.push((name, timestamp_ms));
        }

        fn kind(&self) -> &'static str {
            "recorded"
        }
    }

    impl Recorded {
        /// How many counts of metric `name` were written.
        pub(crate) fn count(&self, name: &str) -> usize {
            let names = self.0.lock().unwrap_or_else(|p| p.into_inner());
            names.iter().filter(|(n, _)| n == name).count()
        }

        pub(crate) fn first_timestamp(&self) -> Option<i64> {
            let names = self.0.lock().unwrap_or_else(|p| p.into_inner());
            names.first().map(|(_, at)| *at)
        }

        pub(crate) fn total(&self) -> usize {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).len()
        }
    }

    /// A `Metrics` that records into the returned `Recorded`.
    pub(crate) fn record() -> (Metrics, Recorded) {
        let recorded = Recorded::default();
        (Metrics::to(Arc::new(recorded.clone())), recorded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_go_through_the_port_with_the_time_and_off_counts_nothing() {
        let (metrics, seen) = recorded::record();
        assert_eq!(format!("{metrics:?}"), "Metrics(recorded)");
        let before = chrono::Utc::now().timestamp_millis();
        metrics.count(Event::CommitConflict);
        metrics.clone().count(Event::CancellationCreated {
            source: "api",
            kind: "order",
        });
        assert_eq!(seen.count("CommitConflicts"), 1);
        assert_eq!(seen.count("CancellationsCreated"), 1);
        let at = seen.first_timestamp().unwrap();
        assert!(at >= before && at <= chrono::Utc::now().timestamp_millis());
        let off = Metrics::off();
        assert_eq!(format!("{off:?}"), "Metrics(off)");
        off.count(Event::CommitConflict);
        assert_eq!(format!("{:?}", Metrics::default()), "Metrics(off)");
        assert_eq!(seen.total(), 2);
    }

    #[test]
    fn each_event_names_its_metric_dimensions_and_rollups() {
        let m = Event::Notification {
            channel: "email",
            result: "failed",
        }
        .metric();
        assert_eq!(m.name, "Notifications");
        assert_eq!(m.dims, [("Channel", "email"), ("Result", "failed")]);
        assert_eq!(m.rollups, &[&["Result"][..]][..]);
        let c = Event::CommitConflict.metric();
        assert_eq!(
            (c.name, c.dims.len(), c.rollups.len()),
            ("CommitConflicts", 0, 0)
        );
    }
}
