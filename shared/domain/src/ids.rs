//! Store platform ids and the rule every store reference follows: what is
//! valid, and how the rule reads in a refusal.

use std::fmt;

use super::model::Integration;

/// The largest id a store platform hands out (a positive signed 64-bit integer).
pub const MAX_PLATFORM_ID: u64 = i64::MAX as u64;
/// The longest reference of a company without a store platform.
pub(crate) const MAX_REF_LEN: usize = 255;

/// A store platform's numeric id: a decimal integer 1..=2^63-1 written
/// without sign or leading zeros. Only such an id is ever put into a
/// platform URL or GraphQL id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlatformId(u64);

impl PlatformId {
    pub fn parse(s: &str) -> Option<Self> {
        let digits = s.as_bytes();
        // 19 digits hold every value up to i64::MAX; the bound stops long
        // inputs before parsing.
        if digits.is_empty()
            || digits.len() > 19
            || digits[0] == b'0'
            || !digits.iter().all(u8::is_ascii_digit)
        {
            return None;
        }
        let n: u64 = s.parse().ok()?;
        (n <= MAX_PLATFORM_ID).then_some(PlatformId(n))
    }

    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for PlatformId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Whether the integration's references are a store platform's ids.
pub(crate) fn is_store_platform(integration: Integration) -> bool {
    match integration {
        Integration::Store(_) => true,
        Integration::Edi | Integration::Api => false,
    }
}

/// Whether `r` may be a reference of a company on `integration`: the
/// platform's numeric id for store platforms, else 1..=255 visible ASCII.
pub fn valid_store_ref(integration: Integration, r: &str) -> bool {
    if is_store_platform(integration) {
        PlatformId::parse(r).is_some()
    } else {
        (1..=MAX_REF_LEN).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_graphic())
    }
}

/// Which reference a refusal is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefField {
    /// The body's field name (`seller_order_ref`, `ref`, ...).
    pub name: &'static str,
    /// The line it belongs to, for line references.
    pub line_item_id: Option<String>,
}

impl fmt::Display for RefField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.line_item_id {
            Some(id) => write!(f, "line item {id}: {}", self.name),
            None => f.write_str(self.name),
        }
    }
}

/// What a valid reference of `integration` looks like, in words.
pub(crate) fn ref_rule(integration: Integration) -> String {
    if is_store_platform(integration) {
        format!(
            "the {} id, a decimal integer from 1 to {MAX_PLATFORM_ID} without sign or leading zeros",
            integration.as_str()
        )
    } else {
        format!("1 to {MAX_REF_LEN} visible ASCII characters")
    }
}
