//! Which addresses a call to a URL a partner chose may reach: public
//! unicast only. The special-purpose blocks of both IP families are one
//! table (`SPECIAL`), copied from IANA's registries with each block's
//! "Globally Reachable" and what it means for a connection of ours.
//!
//! An IPv6 address is public only inside global unicast space (2000::/3,
//! IANA's IPv6 address space registry) or in a form that reaches an
//! embedded IPv4 address as such (IPv4-mapped, the well-known NAT64
//! prefix), and then only when that IPv4 address is public itself.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What an address inside a special-purpose block means for us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Never reached: not globally reachable, or a form that reaches a
    /// local translator or relay we cannot judge.
    Refuse,
    /// Reaches the IPv4 address in bits `at..at + 32` (counted from the
    /// first): allowed when that address is public.
    Ipv4At(u8),
    /// Globally reachable: no objection here (a refusing block that also
    /// holds the address still wins).
    Global,
}

/// One block of a special-purpose address registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub network: IpAddr,
    pub prefix_len: u8,
    pub name: &'static str,
    /// The registry's "Globally Reachable"; `None` where it says N/A or the
    /// block is from another source (named in `name`).
    pub global: Option<bool>,
    pub rule: Rule,
}

impl Block {
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self.network, addr) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32u32.saturating_sub(u32::from(self.prefix_len)))
                    .unwrap_or(0);
                u32::from(a) & mask == u32::from(n) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128u32.saturating_sub(u32::from(self.prefix_len)))
                    .unwrap_or(0);
                u128::from(a) & mask == u128::from(n) & mask
            }
            _ => false,
        }
    }
}

const fn v4(o: [u8; 4], len: u8, global: Option<bool>, rule: Rule, name: &'static str) -> Block {
    Block {
        network: IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], o[3])),
        prefix_len: len,
        name,
        global,
        rule,
    }
}

const fn v6(s: [u16; 8], len: u8, global: Option<bool>, rule: Rule, name: &'static str) -> Block {
    Block {
        network: IpAddr::V6(Ipv6Addr::new(
            s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7],
        )),
        prefix_len: len,
        name,
        global,
        rule,
    }
}

use Rule::{Global, Ipv4At, Refuse};

const NO: Option<bool> = Some(false);
const YES: Option<bool> = Some(true);
const NA: Option<bool> = None;

/// The special-purpose blocks, with each one's "Globally Reachable".
/// Source: IANA IPv4 Special-Purpose Address Registry
/// (https://www.iana.org/assignments/iana-ipv4-special-registry) and IANA
/// IPv6 Special-Purpose Address Registry
/// (https://www.iana.org/assignments/iana-ipv6-special-registry), as of
/// 2025; the few blocks from elsewhere say where from.
#[rustfmt::skip]
pub const SPECIAL: &[Block] = &[
    // IPv4 Special-Purpose Address Registry.
    v4([0, 0, 0, 0], 8, NO, Refuse, "\"This network\" (RFC 791)"),
    v4([0, 0, 0, 0], 32, NO, Refuse, "\"This host on this network\" (RFC 1122)"),
    v4([10, 0, 0, 0], 8, NO, Refuse, "Private-Use (RFC 1918)"),
    v4([100, 64, 0, 0], 10, NO, Refuse, "Shared Address Space (RFC 6598)"),
    v4([127, 0, 0, 0], 8, NO, Refuse, "Loopback (RFC 1122)"),
    v4([169, 254, 0, 0], 16, NO, Refuse, "Link Local (RFC 3927)"),
    v4([172, 16, 0, 0], 12, NO, Refuse, "Private-Use (RFC 1918)"),
    v4([192, 0, 0, 0], 24, NO, Refuse, "IETF Protocol Assignments (RFC 6890)"),
    v4([192, 0, 0, 0], 29, NO, Refuse, "IPv4 Service Continuity Prefix (RFC 7335)"),
    v4([192, 0, 0, 8], 32, NO, Refuse, "IPv4 dummy address (RFC 7600)"),
    v4([192, 0, 0, 9], 32, YES, Global, "Port Control Protocol Anycast (RFC 7723)"),
    v4([192, 0, 0, 10], 32, YES, Global, "Traversal Using Relays around NAT Anycast (RFC 8155)"),
    v4([192, 0, 0, 170], 32, NO, Refuse, "NAT64/DNS64 Discovery (RFC 8880)"),
    v4([192, 0, 0, 171], 32, NO, Refuse, "NAT64/DNS64 Discovery (RFC 8880)"),
    v4([192, 0, 2, 0], 24, NO, Refuse, "Documentation (TEST-NET-1) (RFC 5737)"),
    v4([192, 31, 196, 0], 24, YES, Global, "AS112-v4 (RFC 7535)"),
    v4([192, 52, 193, 0], 24, YES, Global, "AMT (RFC 7450)"),
    v4([192, 88, 99, 0], 24, NA, Refuse, "Deprecated (6to4 Relay Anycast) (RFC 7526)"),
    v4([192, 168, 0, 0], 16, NO, Refuse, "Private-Use (RFC 1918)"),
    v4([192, 175, 48, 0], 24, YES, Global, "Direct Delegation AS112 Service (RFC 7534)"),
    v4([198, 18, 0, 0], 15, NO, Refuse, "Benchmarking (RFC 2544)"),
    v4([198, 51, 100, 0], 24, NO, Refuse, "Documentation (TEST-NET-2) (RFC 5737)"),
    v4([203, 0, 113, 0], 24, NO, Refuse, "Documentation (TEST-NET-3) (RFC 5737)"),
    v4([240, 0, 0, 0], 4, NO, Refuse, "Reserved (RFC 1112)"),
    v4([255, 255, 255, 255], 32, NO, Refuse, "Limited Broadcast (RFC 919)"),
    // Not unicast (IANA IPv4 Multicast Address Space Registry).
    v4([224, 0, 0, 0], 4, NA, Refuse, "Multicast (RFC 5771)"),

    // IPv6 Special-Purpose Address Registry.
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, NO, Refuse, "Loopback Address (RFC 4291)"),
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128, NO, Refuse, "Unspecified Address (RFC 4291)"),
    // A socket connects to the IPv4 address itself.
    v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96, NO, Ipv4At(96), "IPv4-mapped Address (RFC 4291)"),
    // Any NAT64 gateway (AWS's NAT gateway included) translates it to the IPv4 address.
    v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96, YES, Ipv4At(96), "IPv4-IPv6 Translat. (RFC 6052)"),
    // Some translator of the local network: where it leads is not ours to know.
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, NO, Refuse, "IPv4-IPv6 Translat. (RFC 8215)"),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, NO, Refuse, "Discard-Only Address Block (RFC 6666)"),
    v6([0x100, 0, 0, 1, 0, 0, 0, 0], 64, NO, Refuse, "Dummy IPv6 Prefix (RFC 9780)"),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, NO, Refuse, "IETF Protocol Assignments (RFC 2928)"),
    // The client's IPv4 address is in the last 32 bits, inverted; a relay
    // of someone else's choosing unwraps it.
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, NA, Refuse, "TEREDO (RFC 4380)"),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 1], 128, YES, Global, "Port Control Protocol Anycast (RFC 7723)"),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 2], 128, YES, Global, "Traversal Using Relays around NAT Anycast (RFC 8155)"),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 3], 128, YES, Global, "DNS-SD Service Registration Protocol Anycast (RFC 9665)"),
    v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48, NO, Refuse, "Benchmarking (RFC 5180)"),
    v6([0x2001, 3, 0, 0, 0, 0, 0, 0], 32, YES, Global, "AMT (RFC 7450)"),
    v6([0x2001, 4, 0x112, 0, 0, 0, 0, 0], 48, YES, Global, "AS112-v6 (RFC 7535)"),
    v6([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28, NA, Refuse, "Deprecated (previously ORCHID) (RFC 4843)"),
    v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28, YES, Global, "ORCHIDv2 (RFC 7343)"),
    v6([0x2001, 0x30, 0, 0, 0, 0, 0, 0], 28, YES, Global, "Drone Remote ID Protocol Entity Tags (DETs) Prefix (RFC 9374)"),
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, NO, Refuse, "Documentation (RFC 3849)"),
    // The IPv4 address of a site's 6to4 router, reached through public relays.
    v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, NA, Ipv4At(16), "6to4 (RFC 3056)"),
    v6([0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0], 48, YES, Global, "Direct Delegation AS112 Service (RFC 7534)"),
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, NO, Refuse, "Documentation (RFC 9637)"),
    v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, NO, Refuse, "Segment Routing (SRv6) SIDs (RFC 9602)"),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, NO, Refuse, "Unique-Local (RFC 4193)"),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, NO, Refuse, "Link-Local Unicast (RFC 4291)"),
    // Not in the registry: forms that hold an IPv4 address or never route
    // (IANA IPv6 Address Space, and the RFC named).
    v6([0, 0, 0, 0, 0, 0, 0, 0], 96, NA, Refuse, "IPv4-compatible, deprecated (RFC 4291 2.5.5.1)"),
    v6([0, 0, 0, 0, 0xffff, 0, 0, 0], 96, NA, Refuse, "IPv4-translated, obsolete (RFC 2765)"),
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, NA, Refuse, "Site-local, deprecated (RFC 3879)"),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, NA, Refuse, "Multicast (RFC 4291)"),
];

/// Global unicast space (IANA IPv6 Address Space,
/// https://www.iana.org/assignments/ipv6-address-space): every other IPv6
/// address is reserved, special or not unicast.
pub const GLOBAL_UNICAST: Block = v6(
    [0x2000, 0, 0, 0, 0, 0, 0, 0],
    3,
    YES,
    Global,
    "Global Unicast (RFC 4291)",
);

/// The IPv4 address in bits `at..at + 32` of `a`.
pub fn embedded_v4(a: Ipv6Addr, at: u8) -> Option<Ipv4Addr> {
    let shift = 96u32.checked_sub(u32::from(at))?;
    let bits = u128::from(a).checked_shr(shift)? & u128::from(u32::MAX);
    u32::try_from(bits).ok().map(Ipv4Addr::from)
}

/// Is `addr` a public unicast address, one a call to a partner's URL may
/// reach? See the module's rules.
pub fn is_public(addr: IpAddr) -> bool {
    let mut via_v4 = false;
    for b in SPECIAL.iter().filter(|b| b.contains(addr)) {
        match (b.rule, addr) {
            (Refuse, _) => return false,
            (Ipv4At(at), IpAddr::V6(a)) => match embedded_v4(a, at) {
                Some(inner) if is_public(IpAddr::V4(inner)) => via_v4 = true,
                _ => return false,
            },
            (Ipv4At(_), IpAddr::V4(_)) | (Global, _) => {}
        }
    }
    match addr {
        IpAddr::V4(_) => true,
        IpAddr::V6(_) => via_v4 || GLOBAL_UNICAST.contains(addr),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{UrlPolicy, check_url};
    use proptest::prelude::*;

    fn mask_v4(len: u8) -> u32 {
        u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
    }

    fn mask_v6(len: u8) -> u128 {
        u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
    }

    /// The address of `b` whose bits after the prefix are `bits`'.
    fn inside(b: &Block, bits: u128) -> IpAddr {
        match b.network {
            IpAddr::V4(n) => {
                let m = mask_v4(b.prefix_len);
                IpAddr::V4(Ipv4Addr::from((u32::from(n) & m) | (bits as u32 & !m)))
            }
            IpAddr::V6(n) => {
                let m = mask_v6(b.prefix_len);
                IpAddr::V6(Ipv6Addr::from((u128::from(n) & m) | (bits & !m)))
            }
        }
    }

    fn refused_v4() -> impl Strategy<Value = Ipv4Addr> {
        let blocks: Vec<Block> = SPECIAL
            .iter()
            .filter(|b| b.network.is_ipv4() && b.rule == Rule::Refuse)
            .copied()
            .collect();
        (proptest::sample::select(blocks), any::<u128>()).prop_map(|(b, bits)| {
            match inside(&b, bits) {
                IpAddr::V4(a) => a,
                IpAddr::V6(_) => unreachable!("an IPv4 block"),
            }
        })
    }

    fn literal(a: IpAddr) -> String {
        match a {
            IpAddr::V4(a) => format!("https://{a}/"),
            IpAddr::V6(a) => format!("https://[{a}]/"),
        }
    }

    /// IPv6 forms that hold `v4`: (form, whether a connection to it reaches
    /// `v4` publicly).
    fn forms(v4: Ipv4Addr, tail: u64) -> Vec<(Ipv6Addr, bool)> {
        let x = u128::from(u32::from(v4));
        let tail = u128::from(tail);
        vec![
            // IPv4-mapped, the socket reaches v4 itself.
            (Ipv6Addr::from((0xffff_u128 << 32) | x), true),
            // Well-known NAT64 (RFC 6052 /96).
            (Ipv6Addr::from((0x0064_ff9b_u128 << 96) | x), true),
            // 6to4: v4 in bits 16..48, then anything.
            (
                Ipv6Addr::from((0x2002_u128 << 112) | (x << 80) | (tail & 0xffff_ffff_ffff_ffff)),
                true,
            ),
            // IPv4-translated and IPv4-compatible.
            (Ipv6Addr::from((0xffff_u128 << 48) | x), false),
            (Ipv6Addr::from(x), false),
            // Local-use NAT64, /96 and /48 layouts (RFC 6052 2.2: octets
            // around the reserved bits 64..72).
            (Ipv6Addr::from((0x0064_ff9b_0001_u128 << 80) | x), false),
            (
                Ipv6Addr::from(
                    (0x0064_ff9b_0001_u128 << 80) | ((x >> 16) << 64) | ((x & 0xffff) << 40),
                ),
                false,
            ),
            // Teredo: server v4 in bits 32..64, client v4 inverted at the end.
            (
                Ipv6Addr::from((0x2001_0000_u128 << 96) | (x << 64) | (!x & 0xffff_ffff)),
                false,
            ),
        ]
    }

    #[test]
    fn the_table_is_well_formed() {
        for b in SPECIAL.iter().chain([&GLOBAL_UNICAST]) {
            match b.network {
                IpAddr::V4(n) => {
                    assert!(b.prefix_len <= 32, "{}", b.name);
                    assert_eq!(u32::from(n) & !mask_v4(b.prefix_len), 0, "{}", b.name);
                }
                IpAddr::V6(n) => {
                    assert!(b.prefix_len <= 128, "{}", b.name);
                    assert_eq!(u128::from(n) & !mask_v6(b.prefix_len), 0, "{}", b.name);
                }
            }
            // Only a block the registry calls globally reachable, or one
            // that reaches an embedded IPv4 address, may let an address by.
            if b.rule == Rule::Global {
                assert_eq!(b.global, Some(true), "{}", b.name);
            }
        }
    }

    #[test]
    fn the_reported_forms_are_refused() {
        for bad in ["64:ff9b:1:a9fe:a9:fe00::", "::ffff:0:a9fe:a9fe"] {
            let a: IpAddr = bad.parse().unwrap();
            assert!(!is_public(a), "{bad}");
            assert!(
                check_url(&literal(a), UrlPolicy::default()).is_err(),
                "{bad}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// Every address of a block that is not globally reachable is
        /// refused, literal in a URL too; a block that embeds an IPv4
        /// address lets it by exactly when that address is public.
        #[test]
        fn blocks_that_are_not_global_are_refused(i in 0..SPECIAL.len(), bits in any::<u128>()) {
            let b = SPECIAL[i];
            let a = inside(&b, bits);
            match (b.rule, a) {
                (Rule::Ipv4At(at), IpAddr::V6(v6)) => {
                    let inner = embedded_v4(v6, at).unwrap();
                    prop_assert_eq!(is_public(a), is_public(IpAddr::V4(inner)), "{} in {}", a, b.name);
                }
                _ if b.global != Some(true) => {
                    prop_assert!(!is_public(a), "{} in {}", a, b.name);
                    prop_assert!(check_url(&literal(a), UrlPolicy::default()).is_err(), "{} in {}", a, b.name);
                }
                _ => {}
            }
        }

        /// A private, loopback, link-local or otherwise refused IPv4 address
        /// is refused in every IPv6 form that holds it; a public one only
        /// in the forms that do not reach it publicly.
        #[test]
        fn ipv4_inside_ipv6_is_judged_by_both(v4 in refused_v4(), public in any::<u32>(), tail in any::<u64>()) {
            for (f, _) in forms(v4, tail) {
                prop_assert!(!is_public(IpAddr::V6(f)), "{} holds {}", f, v4);
                prop_assert!(check_url(&literal(IpAddr::V6(f)), UrlPolicy::default()).is_err(), "{}", f);
            }
            let public = Ipv4Addr::from(public);
            if is_public(IpAddr::V4(public)) {
                for (f, routed) in forms(public, tail) {
                    prop_assert_eq!(is_public(IpAddr::V6(f)), routed, "{} holds {}", f, public);
                }
            }
        }

        /// Outside global unicast space, only the forms that reach a public
        /// IPv4 address are public.
        #[test]
        fn reserved_ipv6_space_is_refused(bits in any::<u128>()) {
            let a = IpAddr::V6(Ipv6Addr::from(bits));
            let embeds = SPECIAL.iter().any(|b| matches!(b.rule, Rule::Ipv4At(_)) && b.contains(a));
            if !GLOBAL_UNICAST.contains(a) && !embeds {
                prop_assert!(!is_public(a), "{}", a);
            }
        }
    }
}
