//! Exact origins and port wildcards: one hash table each, keyed by canonical bytes.
//!
//! The exact table is probed with the request's raw `Origin` bytes before any parsing: its keys
//! are canonical serialized origins, so a byte-equal request is valid by construction and the
//! common case costs one hash lookup.

use ahash::AHashMap;

use super::parse::TupleOrigin;
use super::pattern::{PortPattern, TuplePattern};

#[derive(Debug, Default)]
pub(crate) struct ExactMatcher {
    /// `scheme://host[:port]` → entry.
    full: AHashMap<Box<[u8]>, u32>,
    /// `scheme://host` of `scheme://host:*` entries → entry.
    any_port: AHashMap<Box<[u8]>, u32>,
}

/// `scheme://host`, then `:port` when there is one: one allocation of the exact size.
fn key(pattern: &TuplePattern, port: Option<u16>) -> Box<[u8]> {
    let mut digits = [0u8; 5];
    let mut start = digits.len();
    if let Some(mut port) = port {
        loop {
            start -= 1;
            digits[start] = b'0' + (port % 10) as u8;
            port /= 10;
            if port == 0 {
                break;
            }
        }
    }
    let port = &digits[start..];
    let len =
        pattern.scheme.len() + 3 + pattern.host.len() + port.len() + usize::from(!port.is_empty());
    let mut key = Vec::with_capacity(len);
    key.extend_from_slice(pattern.scheme.as_bytes());
    key.extend_from_slice(b"://");
    key.extend_from_slice(pattern.host.as_bytes());
    if !port.is_empty() {
        key.push(b':');
        key.extend_from_slice(port);
    }
    debug_assert_eq!(key.len(), len);
    key.into_boxed_slice()
}

impl ExactMatcher {
    /// Room for `full` more entries without `scheme://host:*`, so that a large allowlist fills
    /// the table without rehashing it as it grows.
    pub(crate) fn reserve(&mut self, full: usize) {
        self.full.reserve(full);
    }

    /// Adds a non-wildcard tuple pattern.
    pub(crate) fn insert(&mut self, pattern: &TuplePattern, entry: u32) {
        debug_assert!(!pattern.subdomains);
        match pattern.port {
            PortPattern::Any => {
                self.any_port.insert(key(pattern, None), entry);
            }
            PortPattern::Default => {
                self.full.insert(key(pattern, None), entry);
            }
            PortPattern::Exact(port) => {
                self.full.insert(key(pattern, Some(port)), entry);
            }
        }
    }

    pub(crate) fn has_no_port_wildcards(&self) -> bool {
        self.any_port.is_empty()
    }

    /// One lookup of the raw Origin bytes.
    #[inline]
    pub(crate) fn find_raw(&self, origin: &[u8]) -> Option<u32> {
        self.full.get(origin).copied()
    }

    /// A `:*` entry for the origin's scheme and host.
    #[inline]
    pub(crate) fn find_any_port(&self, origin: &TupleOrigin<'_>) -> Option<u32> {
        if self.any_port.is_empty() {
            return None;
        }
        self.any_port.get(origin.without_port()).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin::pattern::{parse_entry, OriginPattern};

    /// The keys are the patterns' canonical text, as `format!` would write it.
    #[test]
    fn keys_are_the_canonical_text() {
        for entry in [
            "https://example.com",
            "http://localhost:1",
            "http://localhost:80",
            "https://a.example:9",
            "https://a.example:10",
            "https://a.example:443",
            "https://a.example:8443",
            "https://a.example:65535",
            "http://[::1]:3000",
            "http://127.0.0.1",
            "http://localhost:*",
        ] {
            let OriginPattern::Tuple(t) = parse_entry(entry).unwrap().pattern else {
                panic!("{entry}");
            };
            let port = match t.port {
                PortPattern::Exact(p) => Some(p),
                PortPattern::Default | PortPattern::Any => None,
            };
            let expected = match port {
                Some(p) => format!("{}://{}:{p}", t.scheme, t.host),
                None => format!("{}://{}", t.scheme, t.host),
            };
            assert_eq!(&*key(&t, port), expected.as_bytes(), "{entry}");
        }
    }
}
