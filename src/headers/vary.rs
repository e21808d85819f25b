//! `Vary`: `Origin` whenever the answer depends on the Origin, plus the request method and
//! headers on preflights; and how corsgate's names join a response's own `Vary`.
//!
//! When corsgate adds to `Vary`, the response leaves with **one** `Vary` field line: the
//! upstream's lines and corsgate's names combined, each name once (compared case-insensitively, the first spelling
//! kept), the upstream's first. Several lines are legal HTTP (RFC 9110 §5.3), but caches such
//! as nginx before 1.23 key on the last `Vary` line alone, so a second line would drop the
//! upstream's `Vary: Cookie` and serve one user's page to another. A `*` member means the
//! response varies on everything (RFC 9110 §12.5.5): the line is then `*` alone.
//!
//! Cost: with no upstream `Vary` (the common case) corsgate's rendered value is inserted as is,
//! a `'static` value, no allocation; an upstream line that already names everything corsgate
//! adds is left byte for byte; otherwise the combined line is built once (one allocation).

use std::hash::{Hash, Hasher};

use ahash::AHashSet;
use http::header::{Entry, HeaderMap, HeaderValue, VARY};

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

/// Merges corsgate's `Vary` value into a response's header map, leaving one `Vary` line (see
/// the module documentation).
pub(crate) fn merge(headers: &mut HeaderMap, ours: HeaderValue) {
    let mut entry = match headers.entry(VARY) {
        Entry::Vacant(entry) => {
            entry.insert(ours);
            return;
        }
        Entry::Occupied(entry) => entry,
    };
    match combine(|| entry.iter().map(HeaderValue::as_bytes), ours.as_bytes()) {
        Combined::Unchanged => {}
        Combined::Star => {
            entry.insert(HeaderValue::from_static("*"));
        }
        Combined::Line(line) => match HeaderValue::from_bytes(&line) {
            // `insert` replaces every line the entry had with this one.
            Ok(value) => {
                entry.insert(value);
            }
            // Unreachable: the line is made of the bytes of valid values and ", ". Should it
            // ever fail, a second line is still correct HTTP; dropping ours would not be.
            Err(_) => entry.append(ours),
        },
    }
}

/// Writes `Vary: …\r\n` for corsgate's value `ours` (if any) combined with the response's own
/// `Vary` lines; nothing when both are empty.
pub(crate) fn write_http1(theirs: &[&[u8]], ours: Option<&[u8]>, out: &mut Vec<u8>) {
    let mut write = |value: &[u8]| {
        out.extend_from_slice(ResponseHeader::Vary.http1_name().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    };
    let ours = match (ours, theirs) {
        // Nothing of corsgate's to add to one line: it is written as it came.
        (None, [one]) => return write(one),
        (ours, _) => ours.unwrap_or(b""),
    };
    match combine(|| theirs.iter().copied(), ours) {
        Combined::Unchanged => match theirs {
            [] if !ours.is_empty() => write(ours),
            [] => {}
            [one, ..] => write(one),
        },
        Combined::Star => write(b"*"),
        // Only empty lines, and nothing of corsgate's: no `Vary` at all.
        Combined::Line(line) if line.is_empty() => {}
        Combined::Line(line) => write(&line),
    }
}

/// What the combined `Vary` line is.
#[derive(Debug, PartialEq, Eq)]
enum Combined {
    /// The response's lines stay as they are: none, or one that already names every name
    /// corsgate adds.
    Unchanged,
    /// A `*` member: the response varies on everything.
    Star,
    /// A new line replaces them all.
    Line(Vec<u8>),
}

/// Up to this many names, duplicates are found by comparing with each name kept so far; past
/// it, with a hash set, so that an upstream's long `Vary` costs linear time.
const SCAN_UP_TO: usize = 16;

fn combine<'a, I>(theirs: impl Fn() -> I, ours: &'a [u8]) -> Combined
where
    I: Iterator<Item = &'a [u8]>,
{
    let mut lines = theirs();
    let single = match (lines.next(), lines.next()) {
        (None, _) => return Combined::Unchanged,
        (Some(one), None) => Some(one),
        _ => None,
    };
    if theirs().flat_map(names).any(|n| n == b"*") {
        return match single {
            Some(one) if trim(one) == b"*" => Combined::Unchanged,
            _ => Combined::Star,
        };
    }
    if let Some(one) = single {
        if names(ours).all(|n| names(one).any(|t| t.eq_ignore_ascii_case(n))) {
            return Combined::Unchanged;
        }
    }
    let mut line = Vec::with_capacity(64);
    let mut kept: Vec<&[u8]> = Vec::new();
    let mut many: Option<AHashSet<Caseless<'_>>> = None;
    for name in theirs().flat_map(names).chain(names(ours)) {
        let seen = match &mut many {
            Some(set) => !set.insert(Caseless(name)),
            None if kept.iter().any(|k| k.eq_ignore_ascii_case(name)) => true,
            None => {
                kept.push(name);
                if kept.len() > SCAN_UP_TO {
                    many = Some(kept.iter().copied().map(Caseless).collect());
                }
                false
            }
        };
        if !seen {
            if !line.is_empty() {
                line.extend_from_slice(b", ");
            }
            line.extend_from_slice(name);
        }
    }
    Combined::Line(line)
}

/// The non-empty members of one `Vary` line, without their optional whitespace.
fn names(line: &[u8]) -> impl Iterator<Item = &[u8]> + Clone {
    line.split(|&b| b == b',')
        .map(trim)
        .filter(|n| !n.is_empty())
}

/// A field name compared and hashed ASCII-case-insensitively.
#[derive(Clone, Copy, Debug)]
struct Caseless<'a>(&'a [u8]);

impl PartialEq for Caseless<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(other.0)
    }
}

impl Eq for Caseless<'_> {}

impl Hash for Caseless<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.0.len());
        for b in self.0 {
            state.write_u8(b.to_ascii_lowercase());
        }
    }
}

/// Without leading and trailing optional whitespace (RFC 9110 §5.6.3: spaces and tabs). A
/// header value holds no other ASCII whitespace (`http` refuses CR, LF and the other controls).
fn trim(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vary_after(existing: &[&str], ours: &str) -> Vec<String> {
        let mut map = HeaderMap::new();
        for v in existing {
            map.append(VARY, HeaderValue::from_str(v).unwrap());
        }
        merge(&mut map, HeaderValue::from_str(ours).unwrap());
        let lines: Vec<String> = map
            .get_all(VARY)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        // The raw HTTP/1 writer gives the same line.
        let theirs: Vec<&[u8]> = existing.iter().map(|v| v.as_bytes()).collect();
        let mut raw = Vec::new();
        write_http1(&theirs, Some(ours.as_bytes()), &mut raw);
        let expected: String = lines.iter().map(|l| format!("Vary: {l}\r\n")).collect();
        assert_eq!(String::from_utf8(raw).unwrap(), expected, "{existing:?}");
        lines
    }

    #[test]
    fn one_line_whatever_the_upstream_sent() {
        assert_eq!(vary_after(&[], "Origin"), ["Origin"]);
        assert_eq!(
            vary_after(&["Accept-Encoding"], "Origin"),
            ["Accept-Encoding, Origin"]
        );
        assert_eq!(vary_after(&["Cookie"], "Origin"), ["Cookie, Origin"]);
        assert_eq!(
            vary_after(&["Cookie", "Accept-Encoding"], "Origin"),
            ["Cookie, Accept-Encoding, Origin"]
        );
        assert_eq!(
            vary_after(&["Origin"], PREFLIGHT_WITH_ORIGIN),
            ["Origin, Access-Control-Request-Method, Access-Control-Request-Headers"]
        );
        assert_eq!(
            vary_after(&["accept-encoding ,\tcookie"], PREFLIGHT_ONLY),
            ["accept-encoding, cookie, Access-Control-Request-Method, Access-Control-Request-Headers"]
        );
    }

    #[test]
    fn names_once_case_insensitively() {
        // Already named: the upstream's line is left byte for byte.
        assert_eq!(
            vary_after(&["accept-encoding, origin"], "Origin"),
            ["accept-encoding, origin"]
        );
        assert_eq!(vary_after(&["ORIGIN"], "Origin"), ["ORIGIN"]);
        // Several lines are combined even when they name everything already, duplicates
        // dropped, the first spelling kept.
        assert_eq!(
            vary_after(&["origin", "Cookie, ORIGIN", "cookie"], "Origin"),
            ["origin, Cookie"]
        );
        // Empty members and empty lines vanish.
        assert_eq!(
            vary_after(&["", " , Cookie,,", ""], "Origin"),
            ["Cookie, Origin"]
        );
    }

    #[test]
    fn star_stays_star() {
        assert_eq!(vary_after(&["*"], "Origin"), ["*"]);
        assert_eq!(vary_after(&[" * "], "Origin"), [" * "]);
        assert_eq!(vary_after(&["Cookie, *"], "Origin"), ["*"]);
        assert_eq!(vary_after(&["Cookie", "*"], PREFLIGHT_WITH_ORIGIN), ["*"]);
        assert_eq!(vary_after(&["*", "*"], "Origin"), ["*"]);
    }

    #[test]
    fn long_upstream_lists_stay_linear_and_deduplicated() {
        let many: Vec<String> = (0..5_000).map(|i| format!("X-H{i}")).collect();
        let mut line = many.join(",");
        line.push_str(",x-h7,Origin");
        let lines = vary_after(&[&line, "x-h4999"], "Origin");
        assert_eq!(lines.len(), 1);
        let names: Vec<&str> = lines[0].split(", ").collect();
        assert_eq!(names.len(), 5_001);
        assert_eq!(names[..3], ["X-H0", "X-H1", "X-H2"]);
        assert_eq!(names[5_000], "Origin");
    }

    #[test]
    fn the_raw_writer_without_a_value_of_its_own() {
        let mut raw = Vec::new();
        write_http1(&[], None, &mut raw);
        assert!(raw.is_empty());
        write_http1(&[b"Cookie"], None, &mut raw);
        assert_eq!(raw, b"Vary: Cookie\r\n");
        raw.clear();
        write_http1(&[b"Cookie", b"Accept-Encoding, cookie"], None, &mut raw);
        assert_eq!(raw, b"Vary: Cookie, Accept-Encoding\r\n");
        raw.clear();
        write_http1(&[b"", b" , "], None, &mut raw);
        assert!(raw.is_empty());
    }
}
