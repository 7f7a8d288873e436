//! Which IP addresses a webhook may reach: only public ones. An account administrator chooses a webhook's URL,
//! and the delivery worker POSTs to it from inside the deployment; without this rule a webhook could reach the
//! database's host, loopback services or a cloud's metadata endpoint (169.254.169.254) — server-side request
//! forgery.
//!
//! Pure classification of an address against the special-purpose ranges of the IANA IPv4 and IPv6 registries
//! (RFC 6890 and its updates). IPv6 forms that carry an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, NAT64
//! `64:ff9b::a.b.c.d`, 6to4 `2002:aabb:ccdd::`) are judged by the IPv4 address they carry, so that no range can
//! be reached through another spelling. Resolution and connecting are I/O and live elsewhere.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not public.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReservedRange {
    /// `0.0.0.0`, `::`.
    Unspecified,
    /// `0.0.0.0/8`: "this network".
    ThisNetwork,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918: `10/8`, `172.16/12`, `192.168/16`.
    Private,
    /// `100.64.0.0/10`: carrier-grade NAT.
    SharedAddressSpace,
    /// `169.254.0.0/16` (cloud metadata lives here), `fe80::/10`.
    LinkLocal,
    /// `192.0.0.0/24`, `2001::/23`: IETF protocol assignments (Teredo, ORCHID, benchmarking…).
    ProtocolAssignments,
    /// `192.0.2/24`, `198.51.100/24`, `203.0.113/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// `192.88.99.0/24`: the deprecated 6to4 relay anycast.
    Relay6to4,
    /// `198.18.0.0/15`: network benchmarking.
    Benchmarking,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `240.0.0.0/4` (reserved for future use); in IPv6 everything outside global unicast `2000::/3`.
    Reserved,
    /// `255.255.255.255`.
    Broadcast,
    /// `fc00::/7`: IPv6 unique local addresses, the IPv6 private ranges.
    UniqueLocal,
    /// `::/96`: deprecated IPv4-compatible IPv6 addresses.
    Ipv4Compatible,
}

use ReservedRange as R;

/// IPv4 ranges, most specific first where they nest (broadcast inside reserved).
const IPV4_RANGES: [([u8; 4], u8, ReservedRange); 17] = [
    ([0, 0, 0, 0], 32, R::Unspecified),
    ([0, 0, 0, 0], 8, R::ThisNetwork),
    ([10, 0, 0, 0], 8, R::Private),
    ([100, 64, 0, 0], 10, R::SharedAddressSpace),
    ([127, 0, 0, 0], 8, R::Loopback),
    ([169, 254, 0, 0], 16, R::LinkLocal),
    ([172, 16, 0, 0], 12, R::Private),
    ([192, 0, 0, 0], 24, R::ProtocolAssignments),
    ([192, 0, 2, 0], 24, R::Documentation),
    ([192, 88, 99, 0], 24, R::Relay6to4),
    ([192, 168, 0, 0], 16, R::Private),
    ([198, 18, 0, 0], 15, R::Benchmarking),
    ([198, 51, 100, 0], 24, R::Documentation),
    ([203, 0, 113, 0], 24, R::Documentation),
    ([224, 0, 0, 0], 4, R::Multicast),
    ([255, 255, 255, 255], 32, R::Broadcast),
    ([240, 0, 0, 0], 4, R::Reserved),
];

/// IPv6 ranges that carry no IPv4 address, most specific first where they nest. Outside these, only global
/// unicast (`2000::/3`, the only block IANA allocates from) is public; the rest of the space is reserved.
const IPV6_RANGES: [(u128, u8, ReservedRange); 9] = [
    (0, 128, R::Unspecified),
    (1, 128, R::Loopback),
    (0, 96, R::Ipv4Compatible),
    (0x2001_0db8_0000_0000_0000_0000_0000_0000, 32, R::Documentation),
    (0x2001_0000_0000_0000_0000_0000_0000_0000, 23, R::ProtocolAssignments),
    (0x3fff_0000_0000_0000_0000_0000_0000_0000, 20, R::Documentation),
    (0xfc00_0000_0000_0000_0000_0000_0000_0000, 7, R::UniqueLocal),
    (0xfe80_0000_0000_0000_0000_0000_0000_0000, 10, R::LinkLocal),
    (0xff00_0000_0000_0000_0000_0000_0000_0000, 8, R::Multicast),
];

/// IPv6 global unicast.
const GLOBAL_UNICAST: (u128, u8) = (0x2000_0000_0000_0000_0000_0000_0000_0000, 3);

/// The special-purpose range `ip` lies in, or `None` for a public address a webhook may reach.
#[must_use]
pub fn reserved_range(ip: IpAddr) -> Option<ReservedRange> {
    match ip {
        IpAddr::V4(v4) => reserved_v4(v4),
        IpAddr::V6(v6) => reserved_v6(v6),
    }
}

/// Whether a webhook may reach `ip`.
#[must_use]
pub fn is_public(ip: IpAddr) -> bool {
    reserved_range(ip).is_none()
}

fn reserved_v4(ip: Ipv4Addr) -> Option<ReservedRange> {
    let bits = u32::from(ip);
    IPV4_RANGES.iter().find(|(net, len, _)| prefix_matches32(bits, u32::from_be_bytes(*net), *len)).map(|r| r.2)
}

fn reserved_v6(ip: Ipv6Addr) -> Option<ReservedRange> {
    let bits = u128::from(ip);
    // Forms that carry an IPv4 address are judged by it: `::ffff:127.0.0.1` is loopback.
    if let Some(v4) = embedded_v4(bits) {
        return reserved_v4(v4);
    }
    match IPV6_RANGES.iter().find(|(net, len, _)| prefix_matches128(bits, *net, *len)) {
        Some(range) => Some(range.2),
        None if prefix_matches128(bits, GLOBAL_UNICAST.0, GLOBAL_UNICAST.1) => None,
        None => Some(R::Reserved),
    }
}

/// The IPv4 address carried by an IPv4-mapped (`::ffff:0:0/96`), NAT64 (`64:ff9b::/96`) or 6to4 (`2002::/16`)
/// address.
fn embedded_v4(bits: u128) -> Option<Ipv4Addr> {
    const MAPPED: u128 = 0xffff_0000_0000;
    const NAT64: u128 = 0x0064_ff9b_0000_0000_0000_0000_0000_0000;
    const SIX_TO_FOUR: u128 = 0x2002_0000_0000_0000_0000_0000_0000_0000;
    // Truncating casts keep exactly the 32 bits of the IPv4 address.
    #[allow(clippy::cast_possible_truncation)]
    if prefix_matches128(bits, MAPPED, 96) || prefix_matches128(bits, NAT64, 96) {
        Some(Ipv4Addr::from(bits as u32))
    } else if prefix_matches128(bits, SIX_TO_FOUR, 16) {
        Some(Ipv4Addr::from((bits >> 80) as u32))
    } else {
        None
    }
}

fn prefix_matches32(bits: u32, net: u32, len: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    bits & mask == net & mask
}

fn prefix_matches128(bits: u128, net: u128, len: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    bits & mask == net & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> Option<ReservedRange> {
        reserved_range(s.parse().unwrap())
    }

    /// Every IPv4 range: its first and last address, and the public neighbours just outside it.
    #[test]
    fn ipv4_ranges_and_their_boundaries() {
        let cases: &[(&str, Option<ReservedRange>)] = &[
            ("0.0.0.0", Some(R::Unspecified)),
            ("0.0.0.1", Some(R::ThisNetwork)),
            ("0.255.255.255", Some(R::ThisNetwork)),
            ("1.0.0.0", None),
            ("9.255.255.255", None),
            ("10.0.0.0", Some(R::Private)),
            ("10.255.255.255", Some(R::Private)),
            ("11.0.0.0", None),
            ("100.63.255.255", None),
            ("100.64.0.0", Some(R::SharedAddressSpace)),
            ("100.127.255.255", Some(R::SharedAddressSpace)),
            ("100.128.0.0", None),
            ("126.255.255.255", None),
            ("127.0.0.0", Some(R::Loopback)),
            ("127.0.0.1", Some(R::Loopback)),
            ("127.255.255.255", Some(R::Loopback)),
            ("128.0.0.0", None),
            ("169.253.255.255", None),
            ("169.254.0.0", Some(R::LinkLocal)),
            ("169.254.169.254", Some(R::LinkLocal)),
            ("169.254.255.255", Some(R::LinkLocal)),
            ("169.255.0.0", None),
            ("172.15.255.255", None),
            ("172.16.0.0", Some(R::Private)),
            ("172.31.255.255", Some(R::Private)),
            ("172.32.0.0", None),
            ("191.255.255.255", None),
            ("192.0.0.0", Some(R::ProtocolAssignments)),
            ("192.0.0.255", Some(R::ProtocolAssignments)),
            ("192.0.1.0", None),
            ("192.0.1.255", None),
            ("192.0.2.0", Some(R::Documentation)),
            ("192.0.2.255", Some(R::Documentation)),
            ("192.0.3.0", None),
            ("192.88.98.255", None),
            ("192.88.99.0", Some(R::Relay6to4)),
            ("192.88.99.255", Some(R::Relay6to4)),
            ("192.88.100.0", None),
            ("192.167.255.255", None),
            ("192.168.0.0", Some(R::Private)),
            ("192.168.255.255", Some(R::Private)),
            ("192.169.0.0", None),
            ("198.17.255.255", None),
            ("198.18.0.0", Some(R::Benchmarking)),
            ("198.19.255.255", Some(R::Benchmarking)),
            ("198.20.0.0", None),
            ("198.51.99.255", None),
            ("198.51.100.0", Some(R::Documentation)),
            ("198.51.100.255", Some(R::Documentation)),
            ("198.51.101.0", None),
            ("203.0.112.255", None),
            ("203.0.113.0", Some(R::Documentation)),
            ("203.0.113.255", Some(R::Documentation)),
            ("203.0.114.0", None),
            ("223.255.255.255", None),
            ("224.0.0.0", Some(R::Multicast)),
            ("239.255.255.255", Some(R::Multicast)),
            ("240.0.0.0", Some(R::Reserved)),
            ("255.255.255.254", Some(R::Reserved)),
            ("255.255.255.255", Some(R::Broadcast)),
            ("8.8.8.8", None),
            ("93.184.215.14", None),
        ];
        for (ip, expected) in cases {
            assert_eq!(class(ip), *expected, "{ip}");
        }
    }

    /// Every IPv6 range without an IPv4 address inside, with its boundaries.
    #[test]
    fn ipv6_ranges_and_their_boundaries() {
        let cases: &[(&str, Option<ReservedRange>)] = &[
            ("::", Some(R::Unspecified)),
            ("::1", Some(R::Loopback)),
            ("::2", Some(R::Ipv4Compatible)),
            ("::ffff:ffff", Some(R::Ipv4Compatible)),
            ("::1:0:0", Some(R::Reserved)),
            ("64:ff9b:1::1", Some(R::Reserved)),
            ("100::1", Some(R::Reserved)),
            ("1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some(R::Reserved)),
            ("2000::", None),
            ("2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None),
            ("2001::", Some(R::ProtocolAssignments)),
            ("2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", Some(R::ProtocolAssignments)),
            ("2001:200::", None),
            ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", None),
            ("2001:db8::", Some(R::Documentation)),
            ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", Some(R::Documentation)),
            ("2001:db9::", None),
            ("3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None),
            ("3fff::", Some(R::Documentation)),
            ("3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", Some(R::Documentation)),
            ("3fff:1000::", None),
            ("3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None),
            ("4000::", Some(R::Reserved)),
            ("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some(R::Reserved)),
            ("fc00::", Some(R::UniqueLocal)),
            ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some(R::UniqueLocal)),
            ("fe00::", Some(R::Reserved)),
            ("fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some(R::Reserved)),
            ("fe80::", Some(R::LinkLocal)),
            ("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some(R::LinkLocal)),
            ("fec0::", Some(R::Reserved)),
            ("ff00::", Some(R::Multicast)),
            ("ff02::1", Some(R::Multicast)),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some(R::Multicast)),
            ("2606:4700:4700::1111", None),
            ("2a00:1450:4001::1", None),
        ];
        for (ip, expected) in cases {
            assert_eq!(class(ip), *expected, "{ip}");
        }
    }

    /// IPv4-mapped, NAT64 and 6to4 spellings are judged by the IPv4 address they carry, at every IPv4 boundary.
    #[test]
    fn ipv6_forms_of_ipv4_addresses_are_judged_by_the_ipv4_address() {
        let v4_cases = [
            "0.0.0.0",
            "0.255.255.255",
            "1.0.0.0",
            "10.0.0.0",
            "10.255.255.255",
            "11.0.0.0",
            "100.64.0.0",
            "100.127.255.255",
            "100.128.0.0",
            "127.0.0.1",
            "128.0.0.0",
            "169.254.169.254",
            "169.255.0.0",
            "172.16.0.0",
            "172.31.255.255",
            "172.32.0.0",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "192.169.0.0",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "8.8.8.8",
        ];
        for v4 in v4_cases {
            let ip: Ipv4Addr = v4.parse().unwrap();
            let expected = class(v4);
            let [a, b, c, d] = ip.octets();
            let forms = [
                format!("::ffff:{v4}"),
                format!("64:ff9b::{v4}"),
                format!("2002:{:02x}{:02x}:{:02x}{:02x}::1", a, b, c, d),
            ];
            for form in forms {
                assert_eq!(class(&form), expected, "{form} carries {v4}");
            }
            // The deprecated IPv4-compatible form is refused whatever it carries.
            assert!(class(&format!("::{v4}")).is_some(), "::{v4}");
        }
        assert!(is_public("8.8.8.8".parse().unwrap()));
        assert!(!is_public("::ffff:169.254.169.254".parse().unwrap()));
        assert!(!is_public("::ffff:7f00:1".parse().unwrap()), "hex spelling of ::ffff:127.0.0.1");
    }
}
