//! What a platform says about the API version it served.

/// A platform answered with another API version than asked for, or said
/// that what we sent uses something deprecated.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiDrift {
    pub platform: &'static str,
    /// The version we ask for.
    pub requested: String,
    /// The version the platform says it served.
    pub served: Option<String>,
    /// The platform's deprecation notice, if any.
    pub deprecated_reason: Option<String>,
}

impl ApiDrift {
    /// In words, for a log line or a report.
    pub fn describe(&self) -> String {
        let mut out = match &self.served {
            Some(s) if *s != self.requested => format!(
                "{} served API version {s} to requests for {}",
                self.platform, self.requested
            ),
            _ => format!("{} API version {}", self.platform, self.requested),
        };
        if let Some(r) = &self.deprecated_reason {
            out.push_str(&format!("; deprecated use: {r}"));
        }
        out
    }
}
