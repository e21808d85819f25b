//! Hop-by-hop fields (RFC 9110 §7.6.1): the fixed list and every name `Connection` lists,
//! never forwarded in either direction. Below `hygiene` (which strips them from requests and
//! responses), `interim` (which strips them from 1xx heads) and the HTTP/1 `lane` (which reads
//! names as bytes), and depends on none of them.

use http::header::{self, HeaderMap, HeaderName};

/// Connection-level headers, never forwarded (RFC 9110 §7.6.1).
static HOP_BY_HOP: [HeaderName; 8] = [
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
    HOP_BY_HOP.contains(name)
        || (name != header::HOST
            && is_listed_in_connection(
                name.as_str().as_bytes(),
                headers
                    .get_all(header::CONNECTION)
                    .iter()
                    .map(|v| v.as_bytes()),
            ))
}

/// [`is_hop_by_hop`] for a field name as bytes, with the values of the head's `Connection`
/// fields: for the HTTP/1 lane, which reads heads with httparse, not into a `HeaderMap`.
pub fn is_listed_hop_by_hop<'v>(name: &[u8], connection: impl Iterator<Item = &'v [u8]>) -> bool {
    HOP_BY_HOP
        .iter()
        .any(|h| h.as_str().as_bytes().eq_ignore_ascii_case(name))
        || (!name.eq_ignore_ascii_case(b"host") && is_listed_in_connection(name, connection))
}

/// Whether one of the comma-separated tokens of `Connection`'s values is `name` (any case):
/// the one reading of `Connection` both predicates share.
fn is_listed_in_connection<'v>(name: &[u8], mut values: impl Iterator<Item = &'v [u8]>) -> bool {
    values.any(|value| {
        value
            .split(|&b| b == b',')
            .any(|token| token.trim_ascii().eq_ignore_ascii_case(name))
    })
}

/// Removes hop-by-hop fields in place (no copy when there are none to remove).
///
/// One look at the names first: a head usually has none of them, or only `Connection`, and
/// removing each of the eight by name hashes and probes eight times.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let mut present = [false; 8];
    let mut any = false;
    for name in headers.keys() {
        if let Some(i) = HOP_BY_HOP.iter().position(|h| h == name) {
            present[i] = true;
            any = true;
        }
    }
    if !any {
        return;
    }
    if present[0] {
        // The fields of this head that `Connection` names (`close` and `keep-alive` usually
        // name none), never `Host`: the head's own names, so nothing is parsed.
        let listed: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .flat_map(|v| v.as_bytes().split(|&b| b == b','))
            .map(<[u8]>::trim_ascii)
            .filter_map(|token| {
                headers
                    .keys()
                    .find(|n| {
                        *n != header::HOST && n.as_str().as_bytes().eq_ignore_ascii_case(token)
                    })
                    .cloned()
            })
            .collect();
        for name in listed {
            headers.remove(name);
        }
    }
    for (name, present) in HOP_BY_HOP.iter().zip(present) {
        if present {
            headers.remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(lines: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in lines {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        headers
    }

    fn names(headers: &HeaderMap) -> Vec<&str> {
        headers.keys().map(HeaderName::as_str).collect()
    }

    #[test]
    fn the_byte_predicate_agrees_with_the_header_map_one() {
        let h = head(&[
            ("host", "a"),
            ("connection", "keep-alive, X-Secret ,, close, host"),
            ("connection", "upgrade"),
        ]);
        let values: Vec<&[u8]> = h
            .get_all(header::CONNECTION)
            .iter()
            .map(|v| v.as_bytes())
            .collect();
        for name in [
            "connection",
            "keep-alive",
            "proxy-connection",
            "proxy-authenticate",
            "te",
            "trailer",
            "transfer-encoding",
            "upgrade",
            "x-secret",
            "host",
            "vary",
            "close",
            "x-other",
            "content-length",
        ] {
            let header_name = HeaderName::from_static(name);
            for spelled in [name.to_owned(), name.to_ascii_uppercase()] {
                assert_eq!(
                    is_listed_hop_by_hop(spelled.as_bytes(), values.iter().copied()),
                    is_hop_by_hop(&header_name, &h),
                    "{spelled}"
                );
            }
        }
    }

    #[test]
    fn strips_the_fixed_list_and_what_connection_names() {
        let mut h = head(&[
            ("host", "a"),
            ("connection", "keep-alive, X-Secret ,, close"),
            ("connection", "upgrade"),
            ("keep-alive", "timeout=5"),
            ("x-secret", "1"),
            ("upgrade", "h2c"),
            ("te", "trailers"),
            ("transfer-encoding", "chunked"),
            ("trailer", "x"),
            ("proxy-connection", "x"),
            ("proxy-authenticate", "x"),
            ("x-kept", "1"),
        ]);
        strip_hop_by_hop(&mut h);
        assert_eq!(names(&h), ["host", "x-kept"]);
    }

    #[test]
    fn connection_never_strips_host_and_a_clean_head_is_untouched() {
        let mut h = head(&[
            ("host", "a"),
            ("connection", "Host, close"),
            ("accept", "*/*"),
        ]);
        strip_hop_by_hop(&mut h);
        assert_eq!(names(&h), ["host", "accept"]);
        let mut h = head(&[("host", "a"), ("accept", "*/*"), ("accept", "text/html")]);
        let before = h.clone();
        strip_hop_by_hop(&mut h);
        assert_eq!(h, before);
    }
}
