//! Origins: the request side ([`RequestOrigin`]), the config side ([`OriginPattern`]), and the
//! compiled matcher that answers "which entry allows this Origin?" in about one hash lookup.

pub(crate) mod credentials;
pub(crate) mod exact;
pub(crate) mod host;
pub(crate) mod parse;
pub(crate) mod pattern;
pub(crate) mod proof;
pub mod regex;
pub(crate) mod regex_lint;
pub(crate) mod wildcard;

pub use host::HostKind;
pub use parse::{OriginDefect, RequestOrigin, TupleOrigin, MAX_ORIGIN_LEN, MAX_SCHEME_LEN};
pub use pattern::{OriginPattern, PortPattern, TuplePattern};

use exact::ExactMatcher;
use regex::RegexMatcher;
use wildcard::WildcardMatcher;

/// Why no entry allows an Origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OriginMiss {
    /// The value is not a serialized origin a browser could send.
    Malformed(OriginDefect),
    /// `Origin: null`, and the policy does not allow it.
    Null,
    /// A valid origin that no entry matches.
    NoEntry,
}

/// The compiled allowlist: exact and port-wildcard tables, subdomain wildcards, one regex set.
#[derive(Debug, Default)]
pub(crate) struct OriginMatcher {
    exact: ExactMatcher,
    wildcard: WildcardMatcher,
    regex: Option<RegexMatcher>,
    null: Option<u32>,
    /// Only exact entries (and maybe `null`): a miss in the exact table is final, and the
    /// Origin need not be parsed at all.
    exact_only: bool,
}

impl OriginMatcher {
    /// The matcher for a validated allowlist: `patterns` in the policy's order (an entry's id
    /// is its position), and the regex entries already compiled into one set.
    pub(crate) fn new<'p, I>(patterns: I, regex_set: Option<&regex::CompiledSet>) -> OriginMatcher
    where
        I: IntoIterator<Item = &'p OriginPattern>,
        I::IntoIter: Clone,
    {
        let mut matcher = OriginMatcher::default();
        let patterns = patterns.into_iter();
        matcher.exact.reserve(
            patterns
                .clone()
                .filter(|p| {
                    matches!(p, OriginPattern::Tuple(t) if !t.subdomains && t.port != PortPattern::Any)
                })
                .count(),
        );
        for (i, pattern) in patterns.enumerate() {
            let id = i as u32;
            match pattern {
                OriginPattern::Tuple(t) if t.subdomains => matcher.wildcard.insert(t, id),
                OriginPattern::Tuple(t) => matcher.exact.insert(t, id),
                OriginPattern::Null => matcher.null = Some(id),
                OriginPattern::Any | OriginPattern::Regex(_) => {}
            }
        }
        if let Some(set) = regex_set {
            matcher.regex = Some(RegexMatcher::new(set.clone()));
        }
        matcher.exact_only = matcher.exact.has_no_port_wildcards()
            && matcher.wildcard.is_empty()
            && matcher.regex.is_none();
        matcher
    }

    /// The index (into [`Policy::origins`](crate::Policy::origins)) of an entry that allows `origin`, or why none
    /// does; `Err(None)` when the miss was decided without classifying it (see
    /// [`OriginMatcher::classify`]).
    #[inline]
    pub(crate) fn find_fast(&self, origin: &[u8]) -> Result<u32, Option<OriginMiss>> {
        if let Some(id) = self.exact.find_raw(origin) {
            return Ok(id);
        }
        if self.exact_only {
            return match self.null {
                Some(id) if origin == b"null" => Ok(id),
                _ => Err(None),
            };
        }
        self.find_parsed(origin).map_err(Some)
    }

    /// Like [`find_fast`](OriginMatcher::find_fast), always classifying misses.
    #[inline]
    pub(crate) fn find(&self, origin: &[u8]) -> Result<u32, OriginMiss> {
        if let Some(id) = self.exact.find_raw(origin) {
            return Ok(id);
        }
        self.find_parsed(origin)
    }

    /// Heap bytes of the regex entries' DFAs (0 without regex entries).
    pub(crate) fn regex_memory_usage(&self) -> usize {
        self.regex.as_ref().map_or(0, RegexMatcher::memory_usage)
    }

    /// Why no entry allows `origin` (which `find_fast` refused without saying).
    pub(crate) fn classify(&self, origin: &[u8]) -> OriginMiss {
        match self.find(origin) {
            Ok(_) => OriginMiss::NoEntry,
            Err(miss) => miss,
        }
    }

    #[inline(never)]
    fn find_parsed(&self, origin: &[u8]) -> Result<u32, OriginMiss> {
        match RequestOrigin::parse(origin) {
            Err(defect) => Err(OriginMiss::Malformed(defect)),
            Ok(RequestOrigin::Null) => self.null.ok_or(OriginMiss::Null),
            Ok(RequestOrigin::Tuple(t)) => {
                if let Some(id) = self.exact.find_any_port(&t) {
                    return Ok(id);
                }
                if let Some(id) = self.wildcard.find(&t) {
                    return Ok(id);
                }
                if let Some(regex) = &self.regex {
                    if let Some(pos) = regex.find(origin) {
                        return Ok(pos as u32);
                    }
                }
                Err(OriginMiss::NoEntry)
            }
        }
    }
}
