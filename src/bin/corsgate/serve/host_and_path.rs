//! What a valid `Host` and a valid request path are, for hyper's path (`hygiene`) and the HTTP/1
//! lane alike: byte predicates, no allocation, depending on nothing in `serve` (the fuzz
//! target `lane_request` compiles this file on its own).

use corsgate::origin::RequestOrigin;

/// `host[:port]` in design §2.1's host grammar (a DNS name with an optional trailing dot,
/// canonical IPv4, bracketed canonical IPv6), in any case, with an optional port 1..65535
/// without leading zeros. Checked by the engine's own Origin parser, on the lowercased host
/// behind a scheme that has no default port; no allocation.
pub fn is_valid_host(value: &[u8]) -> bool {
    const SCHEME: &[u8] = b"h://";
    let mut buffer = [0u8; corsgate::origin::MAX_ORIGIN_LEN];
    let Some(rest) = buffer.get_mut(SCHEME.len()..SCHEME.len() + value.len()) else {
        return false;
    };
    for (to, from) in rest.iter_mut().zip(value) {
        *to = from.to_ascii_lowercase();
    }
    buffer[..SCHEME.len()].copy_from_slice(SCHEME);
    matches!(
        RequestOrigin::parse(&buffer[..SCHEME.len() + value.len()]),
        Ok(RequestOrigin::Tuple(_))
    )
}

/// Why a raw request path (without its query) is refused, if it is (design §8). One pass.
pub fn path_problem(path: &[u8]) -> Option<&'static str> {
    const DOT_SEGMENT: &str = "a . or .. segment in the path";
    let is_dot_segment = |segment: &[u8]| segment == b"." || segment == b"..";
    let mut segment_start = 0;
    for (i, &b) in path.iter().enumerate() {
        match b {
            b'\\' => return Some("a backslash in the path"),
            b'%' => {
                if let Some([a, b]) = path.get(i + 1..i + 3) {
                    match [a.to_ascii_lowercase(), b.to_ascii_lowercase()] {
                        [b'2', b'e'] => return Some("a percent-encoded dot in the path"),
                        [b'2', b'f'] => return Some("a percent-encoded slash in the path"),
                        [b'5', b'c'] => return Some("a percent-encoded backslash in the path"),
                        _ => {}
                    }
                }
            }
            b'/' => {
                if is_dot_segment(&path[segment_start..i]) {
                    return Some(DOT_SEGMENT);
                }
                segment_start = i + 1;
            }
            _ => {}
        }
    }
    is_dot_segment(&path[segment_start..]).then_some(DOT_SEGMENT)
}
