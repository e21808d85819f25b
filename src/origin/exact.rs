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

impl ExactMatcher {
    /// Adds a non-wildcard tuple pattern.
    pub(crate) fn insert(&mut self, pattern: &TuplePattern, entry: u32) {
        debug_assert!(!pattern.subdomains);
        let key = format!("{}://{}", pattern.scheme, pattern.host);
        match pattern.port {
            PortPattern::Any => {
                self.any_port
                    .insert(key.into_bytes().into_boxed_slice(), entry);
            }
            PortPattern::Default => {
                self.full.insert(key.into_bytes().into_boxed_slice(), entry);
            }
            PortPattern::Exact(port) => {
                self.full.insert(
                    format!("{key}:{port}").into_bytes().into_boxed_slice(),
                    entry,
                );
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
