//! The host grammar both sides agree on: domain labels, canonical IPv4, canonical IPv6, loopback.
//!
//! A request's host must already be in the form browsers serialize (WHATWG URL host serializer);
//! a configured host is first canonicalised into that form by `pattern.rs` and then checked here,
//! so both sides accept exactly the same set of hosts.

use std::net::Ipv6Addr;

/// Longest host, not counting an optional trailing dot (RFC 1035 presentation length).
pub(crate) const MAX_HOST_LEN: usize = 253;
/// Longest label.
pub(crate) const MAX_LABEL_LEN: usize = 63;
/// Longest bracketed IPv6 literal: `[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]`.
pub(crate) const MAX_IPV6_LITERAL_LEN: usize = 41;

/// What a valid host is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HostKind {
    /// A domain name (lowercase ASCII labels, possibly ending in one `.`).
    Domain,
    /// A canonical dotted-decimal IPv4 address.
    Ipv4,
    /// A canonical bracketed IPv6 address.
    Ipv6,
}

/// Why a host is not in the canonical form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HostDefect {
    Empty,
    EmptyLabel,
    LabelTooLong,
    TooLong,
    Uppercase,
    BadChar(u8),
    HyphenAtLabelEdge,
    /// The last label is a number, so URL parsers read the host as IPv4, and it is not the
    /// canonical dotted-decimal form (or not an IPv4 address at all).
    NotCanonicalIpv4,
    /// A dot after an IPv4 address.
    DotAfterIpv4,
    NotCanonicalIpv6,
}

/// Byte classes for the one-pass domain scan.
const C_LABEL: u8 = 1; // a-z 0-9 _
const C_HYPHEN: u8 = 2;
const C_DOT: u8 = 3;
const C_UPPER: u8 = 4;

static HOST_CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = if c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' {
            C_LABEL
        } else if c == b'-' {
            C_HYPHEN
        } else if c == b'.' {
            C_DOT
        } else if c.is_ascii_uppercase() {
            C_UPPER
        } else {
            0
        };
        b += 1;
    }
    table
};

/// Checks a host that is not bracketed: a lowercase domain or a canonical IPv4 address.
///
/// One pass over the bytes, no allocation. Labels are lowercase letters, digits, `-` and `_`,
/// 1..=63 bytes, without a leading or trailing `-`; one trailing `.` is allowed on domains.
/// A host whose last label is a number (all digits, or `0x` and hex digits) is an IPv4 address
/// to URL parsers and must then be in canonical dotted-decimal form.
pub(crate) fn check_host(host: &[u8]) -> Result<HostKind, HostDefect> {
    if host.is_empty() {
        return Err(HostDefect::Empty);
    }
    let mut label_len = 0usize;
    let mut label_start = 0usize;
    let mut last_label = (0usize, 0usize);
    let mut prev = 0u8;
    for (i, &b) in host.iter().enumerate() {
        match HOST_CLASS[b as usize] {
            C_LABEL => label_len += 1,
            C_HYPHEN => {
                if label_len == 0 {
                    return Err(HostDefect::HyphenAtLabelEdge);
                }
                label_len += 1;
            }
            C_DOT => {
                if label_len == 0 {
                    return Err(HostDefect::EmptyLabel);
                }
                if prev == b'-' {
                    return Err(HostDefect::HyphenAtLabelEdge);
                }
                last_label = (label_start, i);
                label_len = 0;
                label_start = i + 1;
            }
            C_UPPER => return Err(HostDefect::Uppercase),
            _ => return Err(HostDefect::BadChar(b)),
        }
        if label_len > MAX_LABEL_LEN {
            return Err(HostDefect::LabelTooLong);
        }
        prev = b;
    }
    let trailing_dot = label_len == 0;
    if !trailing_dot {
        if prev == b'-' {
            return Err(HostDefect::HyphenAtLabelEdge);
        }
        last_label = (label_start, host.len());
    }
    let name_len = host.len() - usize::from(trailing_dot);
    if name_len > MAX_HOST_LEN {
        return Err(HostDefect::TooLong);
    }
    if ends_in_number(&host[last_label.0..last_label.1]) {
        if trailing_dot {
            return Err(HostDefect::DotAfterIpv4);
        }
        return if is_canonical_ipv4(host) {
            Ok(HostKind::Ipv4)
        } else {
            Err(HostDefect::NotCanonicalIpv4)
        };
    }
    Ok(HostKind::Domain)
}

/// The URL Standard's "ends in a number" test on the last label: all ASCII digits, or `0x`/`0X`
/// followed by hex digits.
pub(crate) fn ends_in_number(last_label: &[u8]) -> bool {
    if !last_label.is_empty() && last_label.iter().all(u8::is_ascii_digit) {
        return true;
    }
    match last_label {
        [b'0', b'x' | b'X', rest @ ..] => rest.iter().all(u8::is_ascii_hexdigit),
        _ => false,
    }
}

/// `a.b.c.d` with four decimal parts 0..=255 and no leading zeros.
pub(crate) fn is_canonical_ipv4(host: &[u8]) -> bool {
    let mut parts = 0;
    for part in host.split(|&b| b == b'.') {
        parts += 1;
        if parts > 4
            || part.is_empty()
            || part.len() > 3
            || !part.iter().all(u8::is_ascii_digit)
            || (part.len() > 1 && part[0] == b'0')
        {
            return false;
        }
        let value = part
            .iter()
            .fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'));
        if value > 255 {
            return false;
        }
    }
    parts == 4
}

/// The URL Standard's IPv4 parser (decimal, octal with a leading `0`, hex with `0x`, 1 to 4
/// parts, the last filling the remaining bytes). Used on configured hosts to name the address
/// that browsers would read, e.g. `010.0.0.1` → `8.0.0.1`.
pub(crate) fn url_ipv4(host: &str) -> Option<[u8; 4]> {
    let host = host.strip_suffix('.').unwrap_or(host);
    let parts: Vec<&str> = host.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut numbers = Vec::with_capacity(4);
    for part in &parts {
        let (digits, radix) =
            if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
                (hex, 16)
            } else if part.len() > 1 && part.starts_with('0') {
                (&part[1..], 8)
            } else {
                (*part, 10)
            };
        if part.is_empty() {
            return None;
        }
        let value = if digits.is_empty() {
            0
        } else {
            u64::from_str_radix(digits, radix).ok()?
        };
        numbers.push(value);
    }
    let last = numbers.pop()?;
    if numbers.iter().any(|&n| n > 255) || last >= 256u64.pow(4 - numbers.len() as u32) {
        return None;
    }
    let mut value = last;
    for (i, n) in numbers.iter().enumerate() {
        value += n << (8 * (3 - i));
    }
    let v = value as u32;
    Some(v.to_be_bytes())
}

/// Checks the inside of a request's `[...]` IPv6 literal: it must be exactly what the URL
/// Standard's serializer writes (lowercase hex, no leading zeros, the first longest run of two
/// or more zero pieces compressed, never dotted IPv4 notation).
pub(crate) fn check_canonical_ipv6(inner: &[u8]) -> Result<Ipv6Addr, HostDefect> {
    if inner.is_empty() || inner.len() > MAX_IPV6_LITERAL_LEN - 2 {
        return Err(HostDefect::NotCanonicalIpv6);
    }
    if !inner
        .iter()
        .all(|&b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b) || b == b':')
    {
        return Err(HostDefect::NotCanonicalIpv6);
    }
    // The check above leaves only ASCII, so this cannot fail; a failure is a non-match anyway.
    let text = std::str::from_utf8(inner).map_err(|_| HostDefect::NotCanonicalIpv6)?;
    let addr: Ipv6Addr = text.parse().map_err(|_| HostDefect::NotCanonicalIpv6)?;
    let mut buf = [0u8; 39];
    let len = write_ipv6(addr, &mut buf);
    if &buf[..len] == inner {
        Ok(addr)
    } else {
        Err(HostDefect::NotCanonicalIpv6)
    }
}

/// Writes `addr` the way the URL Standard serializes an IPv6 host (without brackets) and
/// returns the length written.
pub(crate) fn write_ipv6(addr: Ipv6Addr, out: &mut [u8; 39]) -> usize {
    let pieces = addr.segments();
    // The first longest run of at least two zero pieces.
    let (mut best_start, mut best_len) = (usize::MAX, 1usize);
    let mut i = 0;
    while i < 8 {
        if pieces[i] == 0 {
            let start = i;
            while i < 8 && pieces[i] == 0 {
                i += 1;
            }
            if i - start > best_len {
                best_start = start;
                best_len = i - start;
            }
        } else {
            i += 1;
        }
    }
    let mut len = 0;
    let mut push = |b: u8, len: &mut usize| {
        out[*len] = b;
        *len += 1;
    };
    let mut i = 0;
    while i < 8 {
        if i == best_start {
            if i == 0 {
                push(b':', &mut len);
            }
            push(b':', &mut len);
            i += best_len;
            continue;
        }
        let piece = pieces[i];
        let mut started = false;
        for shift in [12u32, 8, 4, 0] {
            let nibble = ((piece >> shift) & 0xf) as u8;
            if nibble != 0 || started || shift == 0 {
                started = true;
                push(b"0123456789abcdef"[nibble as usize], &mut len);
            }
        }
        if i != 7 {
            push(b':', &mut len);
        }
        i += 1;
    }
    len
}

/// The URL Standard's serialization of an IPv6 address, without brackets.
pub(crate) fn ipv6_to_string(addr: Ipv6Addr) -> String {
    let mut buf = [0u8; 39];
    let len = write_ipv6(addr, &mut buf);
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

/// `true` for hosts that always resolve to this machine: `localhost`, any name under
/// `.localhost` (with or without a trailing dot), `127.0.0.0/8` and `[::1]`.
pub(crate) fn is_loopback(host: &[u8], kind: HostKind) -> bool {
    match kind {
        HostKind::Domain => {
            let name = host.strip_suffix(b".").unwrap_or(host);
            name == b"localhost" || name.ends_with(b".localhost")
        }
        HostKind::Ipv4 => host.starts_with(b"127."),
        HostKind::Ipv6 => host == b"[::1]",
    }
}

/// The default port of the schemes that have one (URL Standard "special schemes").
pub(crate) fn default_port(scheme: &[u8]) -> Option<u16> {
    match scheme {
        b"http" | b"ws" => Some(80),
        b"https" | b"wss" => Some(443),
        b"ftp" => Some(21),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains() {
        assert_eq!(check_host(b"example.com"), Ok(HostKind::Domain));
        assert_eq!(check_host(b"a_b.example.com."), Ok(HostKind::Domain));
        assert_eq!(check_host(b"example.com.."), Err(HostDefect::EmptyLabel));
        assert_eq!(check_host(b".example.com"), Err(HostDefect::EmptyLabel));
        assert_eq!(check_host(b"-a.com"), Err(HostDefect::HyphenAtLabelEdge));
        assert_eq!(check_host(b"a-.com"), Err(HostDefect::HyphenAtLabelEdge));
        assert_eq!(check_host(b"a.com-"), Err(HostDefect::HyphenAtLabelEdge));
        assert_eq!(check_host(b"Example.com"), Err(HostDefect::Uppercase));
        assert_eq!(check_host(&[b'a'; 64]), Err(HostDefect::LabelTooLong));
        assert_eq!(check_host(&[b'a'; 63]), Ok(HostKind::Domain));
        assert_eq!(check_host(b"a b"), Err(HostDefect::BadChar(b' ')));
    }

    #[test]
    fn ipv4() {
        assert_eq!(check_host(b"127.0.0.1"), Ok(HostKind::Ipv4));
        assert_eq!(check_host(b"127.0.0.1."), Err(HostDefect::DotAfterIpv4));
        assert_eq!(check_host(b"127.1"), Err(HostDefect::NotCanonicalIpv4));
        assert_eq!(check_host(b"010.0.0.1"), Err(HostDefect::NotCanonicalIpv4));
        assert_eq!(check_host(b"a.0x1f"), Err(HostDefect::NotCanonicalIpv4));
        assert_eq!(check_host(b"256.0.0.1"), Err(HostDefect::NotCanonicalIpv4));
        assert_eq!(check_host(b"1.example"), Ok(HostKind::Domain));
        assert_eq!(url_ipv4("010.0.0.1"), Some([8, 0, 0, 1]));
        assert_eq!(url_ipv4("127.1"), Some([127, 0, 0, 1]));
        assert_eq!(url_ipv4("0x7f.1"), Some([127, 0, 0, 1]));
        assert_eq!(url_ipv4("4294967295"), Some([255, 255, 255, 255]));
        assert_eq!(url_ipv4("4294967296"), None);
        assert_eq!(url_ipv4("1.256.0.0"), None);
    }

    #[test]
    fn ipv6() {
        assert!(check_canonical_ipv6(b"::1").is_ok());
        assert!(check_canonical_ipv6(b"2001:db8::1").is_ok());
        assert!(check_canonical_ipv6(b"2001:db8:0:0:1:0:0:1").is_err());
        assert!(check_canonical_ipv6(b"2001:db8::1:0:0:1").is_ok());
        assert!(check_canonical_ipv6(b"2001:0db8::1").is_err());
        assert!(check_canonical_ipv6(b"2001:db8::0:1").is_err());
        assert!(check_canonical_ipv6(b"::ffff:7f00:1").is_ok());
        assert!(check_canonical_ipv6(b"::ffff:127.0.0.1").is_err());
        assert!(check_canonical_ipv6(b"1:0:1:1:1:1:1:1").is_ok());
        assert!(check_canonical_ipv6(b"1::1:1:1:1:1:1").is_err());
        assert!(check_canonical_ipv6(b"::").is_ok());
        assert_eq!(ipv6_to_string("0:0:0:0:0:0:0:1".parse().unwrap()), "::1");
        assert_eq!(
            ipv6_to_string("1:0:0:2:0:0:0:3".parse().unwrap()),
            "1:0:0:2::3"
        );
    }
}
