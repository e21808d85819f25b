//! Subdomain wildcards (`https://*.example.com`, with an exact port, no port, or `:*`).
//!
//! Patterns are grouped by base domain in one hash table. A request host `a.b.example.com` is
//! looked up once per proper label suffix (`b.example.com`, `example.com`, `com`), skipping
//! suffixes with more or fewer labels than any configured base has, so the cost depends on the
//! request host's labels, never on how many patterns exist. The longest matching base wins.

use ahash::AHashMap;

use super::host::HostKind;
use super::parse::TupleOrigin;
use super::pattern::{PortPattern, TuplePattern};

#[derive(Debug)]
struct Target {
    scheme: Box<[u8]>,
    port: PortPattern,
    entry: u32,
}

#[derive(Debug)]
pub(crate) struct WildcardMatcher {
    by_base: AHashMap<Box<[u8]>, Vec<Target>>,
    min_labels: usize,
    max_labels: usize,
}

impl Default for WildcardMatcher {
    fn default() -> WildcardMatcher {
        WildcardMatcher {
            by_base: AHashMap::new(),
            min_labels: usize::MAX,
            max_labels: 0,
        }
    }
}

/// Labels in a domain, not counting the empty label after a trailing dot.
fn label_count(domain: &[u8]) -> usize {
    let name = domain.strip_suffix(b".").unwrap_or(domain);
    name.iter().filter(|&&b| b == b'.').count() + 1
}

impl WildcardMatcher {
    pub(crate) fn insert(&mut self, pattern: &TuplePattern, entry: u32) {
        debug_assert!(pattern.subdomains);
        let labels = label_count(pattern.host.as_bytes());
        self.min_labels = self.min_labels.min(labels);
        self.max_labels = self.max_labels.max(labels);
        self.by_base
            .entry(pattern.host.as_bytes().into())
            .or_default()
            .push(Target {
                scheme: pattern.scheme.as_bytes().into(),
                port: pattern.port,
                entry,
            });
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_base.is_empty()
    }

    /// The entry of the most specific wildcard covering `origin`.
    #[inline]
    pub(crate) fn find(&self, origin: &TupleOrigin<'_>) -> Option<u32> {
        if self.by_base.is_empty() || origin.host_kind() != HostKind::Domain {
            return None;
        }
        let host = origin.host();
        let total = label_count(host);
        // The suffix after the k-th dot has `total - k` labels; try longest first.
        let mut labels_left = total;
        for (i, &b) in host.iter().enumerate() {
            if b != b'.' {
                continue;
            }
            labels_left -= 1;
            if labels_left < self.min_labels || labels_left == 0 {
                break;
            }
            if labels_left > self.max_labels {
                continue;
            }
            let suffix = &host[i + 1..];
            if let Some(targets) = self.by_base.get(suffix) {
                for t in targets {
                    if *t.scheme == *origin.scheme() && t.port.matches(origin.port()) {
                        return Some(t.entry);
                    }
                }
            }
        }
        None
    }
}
