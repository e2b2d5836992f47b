//! What a verified delivery asks of us, and the id and quantity shapes
//! the platforms' payloads share.

use domain::PlatformId;
use domain::inbound::{LineChange, PlatformOrder};
use serde::{Deserialize, Deserializer};

/// What a verified webhook delivery asks of us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// The payload carries the order's current state.
    Order(PlatformOrder),
    /// The payload names the order (by a numeric id); its state must be
    /// fetched. `change` is what the delivery reports, should the fetched
    /// order still be open.
    Fetch {
        order_ref: PlatformId,
        change: LineChange,
    },
    /// A topic or payload we deliberately do not act on.
    Ignore(String),
}

/// Platform ids arrive as JSON numbers or strings; keep them as strings.
pub(crate) fn id_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        N(u64),
        S(String),
    }
    Ok(match Id::deserialize(d)? {
        Id::N(n) => n.to_string(),
        Id::S(s) => s,
    })
}

/// A platform id (number or string) that is a valid `PlatformId`: ids we
/// fetch an order by must be, or the delivery is unreadable.
pub(crate) fn platform_id<'de, D: Deserializer<'de>>(d: D) -> Result<PlatformId, D::Error> {
    let s = id_string(d)?;
    PlatformId::parse(&s)
        .ok_or_else(|| serde::de::Error::custom(format!("{s:?} is not a numeric platform id")))
}

/// A quantity that may arrive as a number or a numeric string; negative
/// values count as zero.
pub(crate) fn quantity<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Q {
        N(i64),
        S(String),
    }
    let n = match Q::deserialize(d)? {
        Q::N(n) => n,
        Q::S(s) => s.trim().parse().map_err(serde::de::Error::custom)?,
    };
    Ok(u32::try_from(n.max(0)).unwrap_or(u32::MAX))
}
