//! `Vary`: `Origin` whenever the answer depends on the Origin, plus the request method and
//! headers on preflights. Merged into an upstream's `Vary` without duplicates, never
//! overwriting it.

use http::header::{HeaderMap, HeaderValue, VARY};

use super::{HeaderValueRef, Rendered, ResponseHeader};
use crate::policy::Policy;

const ORIGIN: &str = "Origin";
const PREFLIGHT_WITH_ORIGIN: &str =
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";
const PREFLIGHT_ONLY: &str = "Access-Control-Request-Method, Access-Control-Request-Headers";

#[derive(Debug)]
pub(crate) struct Vary {
    /// `Origin`; `None` when the answer never depends on the Origin (`*` without credentials).
    origin: Option<Rendered>,
    preflight: Rendered,
}

impl Vary {
    pub(crate) fn new(policy: &Policy) -> Vary {
        let independent = policy.is_origin_independent();
        Vary {
            origin: (!independent).then(|| Rendered::new(ResponseHeader::Vary, ORIGIN)),
            preflight: Rendered::new(
                ResponseHeader::Vary,
                if independent {
                    PREFLIGHT_ONLY
                } else {
                    PREFLIGHT_WITH_ORIGIN
                },
            ),
        }
    }

    /// For actual and not-CORS responses.
    pub(crate) fn actual(&self) -> Option<HeaderValueRef<'_>> {
        self.origin.as_ref().map(HeaderValueRef::rendered)
    }

    /// For preflight responses.
    pub(crate) fn preflight(&self) -> HeaderValueRef<'_> {
        HeaderValueRef::rendered(&self.preflight)
    }
}

/// Adds the names in `ours` that the map's `Vary` lines do not already have. An absent `Vary`
/// gets `ours` as is (one lookup); `Vary: *` already covers everything.
pub(crate) fn merge(headers: &mut HeaderMap, ours: &HeaderValueRef<'_>) {
    // corsgate's `Vary` values are rendered `'static`: the clone copies two pointers.
    merge_value(headers, ours.to_header_value());
}

/// [`merge`] for an owned value.
pub(crate) fn merge_value(headers: &mut HeaderMap, ours: HeaderValue) {
    match headers.entry(VARY) {
        http::header::Entry::Vacant(entry) => {
            entry.insert(ours);
        }
        http::header::Entry::Occupied(_) => merge_into_existing(headers, ours.as_bytes()),
    }
}

fn merge_into_existing(headers: &mut HeaderMap, ours: &[u8]) {
    let existing: Vec<&[u8]> = headers
        .get_all(VARY)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(trim)
        .filter(|n| !n.is_empty())
        .collect();
    if existing.iter().any(|n| *n == b"*") {
        return;
    }
    let missing: Vec<&[u8]> = ours
        .split(|&b| b == b',')
        .map(trim)
        .filter(|n| !n.is_empty() && !existing.iter().any(|e| e.eq_ignore_ascii_case(n)))
        .collect();
    if missing.is_empty() {
        return;
    }
    let joined = missing.join(b", ".as_slice());
    if let Ok(value) = HeaderValue::from_bytes(&joined) {
        headers.append(VARY, value);
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vary_after(existing: &[&str], ours: &str) -> Vec<String> {
        let mut map = HeaderMap::new();
        for v in existing {
            map.append(VARY, HeaderValue::from_str(v).unwrap());
        }
        let rendered = Rendered::new(ResponseHeader::Vary, ours);
        merge(&mut map, &HeaderValueRef::rendered(&rendered));
        map.get_all(VARY)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn merges_without_duplicates() {
        assert_eq!(vary_after(&[], "Origin"), ["Origin"]);
        assert_eq!(
            vary_after(&["Accept-Encoding"], "Origin"),
            ["Accept-Encoding", "Origin"]
        );
        assert_eq!(
            vary_after(&["accept-encoding, origin"], "Origin"),
            ["accept-encoding, origin"]
        );
        assert_eq!(vary_after(&["*"], "Origin"), ["*"]);
        assert_eq!(
            vary_after(&["Origin"], PREFLIGHT_WITH_ORIGIN),
            [
                "Origin",
                "Access-Control-Request-Method, Access-Control-Request-Headers"
            ]
        );
    }
}
