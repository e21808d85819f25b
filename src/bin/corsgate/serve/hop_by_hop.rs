//! Hop-by-hop fields (RFC 9110 §7.6.1): the fixed list and every name `Connection` lists,
//! never forwarded in either direction. Below `hygiene` (which strips them from requests and
//! responses) and `interim` (which strips them from 1xx heads), and depends on neither.

use http::header::{self, HeaderMap, HeaderName};

/// Connection-level headers, never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// `true` for a header that belongs to one connection: the fixed list, or a name listed in
/// `Connection` (but never `Host`, which a client could otherwise strip).
pub fn is_hop_by_hop(name: &HeaderName, headers: &HeaderMap) -> bool {
    if HOP_BY_HOP.contains(name) {
        return true;
    }
    if name == header::HOST {
        return false;
    }
    headers.get_all(header::CONNECTION).iter().any(|value| {
        value.as_bytes().split(|&b| b == b',').any(|token| {
            token
                .trim_ascii()
                .eq_ignore_ascii_case(name.as_str().as_bytes())
        })
    })
}

/// Removes hop-by-hop fields in place (no copy when there are none to remove).
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in &HOP_BY_HOP[1..] {
        headers.remove(name);
    }
    if !headers.contains_key(header::CONNECTION) {
        return;
    }
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .filter_map(|n| HeaderName::from_bytes(n.trim_ascii()).ok())
        .filter(|n| n != header::HOST)
        .collect();
    for name in listed {
        headers.remove(name);
    }
    headers.remove(header::CONNECTION);
}
