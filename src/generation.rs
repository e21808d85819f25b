//! A compiled generation, and the [`Snapshot`] of it a decision holds: the origin matcher, the preflight rules, every request-independent
//! header value rendered once, and a verdict cache that belongs to this generation alone.
//!
//! [`Generation::decide`] is the request path: no allocation, no lock, one hash lookup for an
//! exact origin (more only for misses, wildcards and regexes), and for a preflight one cache
//! probe or one bounded parse of the requested headers.

use std::cell::RefMut;
use std::sync::Arc;

use arc_swap::Guard;

use crate::headers::HeaderBlocks;
use crate::origin::{OriginMatcher, OriginMiss};
use crate::policy::{OriginEntry, Policy};
use crate::preflight::cache::{Key, VerdictCache};
use crate::preflight::{PreflightDenial, PreflightRules, Verdict};
use crate::request::{CorsRequest, Line, Lines, Single};
use crate::verdict::{DecisionKind, DenyReason, Grant};

/// The generation a decision was made with.
pub(crate) enum Snapshot<'a> {
    /// This thread's cached generation, lent to the decision.
    Local(RefMut<'a, Arc<Generation>>),
    /// A guard from the `ArcSwap`, when this thread's snapshot is already lent out.
    Shared(Guard<Arc<Generation>>),
}

impl std::ops::Deref for Snapshot<'_> {
    type Target = Generation;

    #[inline]
    fn deref(&self) -> &Generation {
        match self {
            Snapshot::Local(g) => g,
            Snapshot::Shared(g) => g,
        }
    }
}

/// How `*` applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AnyOrigin {
    /// No `*` entry.
    No,
    /// `*` without credentials: the answer never depends on the Origin.
    Star,
    /// `*` with credentials and `dangerously_reflect_any_origin_with_credentials`: echo any
    /// valid origin.
    Reflect,
}

/// What `decide` found; everything else about a decision is derived from it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Outcome<'r> {
    pub(crate) kind: DecisionKind,
    pub(crate) verdict: Result<Grant, DenyReason>,
    /// The single Origin line (absent for not-CORS requests and for several lines).
    pub(crate) origin: Option<Line<'r>>,
    pub(crate) headers_requested: bool,
    pub(crate) private_network: bool,
    /// The Origin was refused by the exact table alone; `verdict` says `NoEntry` until
    /// [`Generation::classified`] says why.
    pub(crate) miss_unclassified: bool,
}

/// One compiled policy.
#[derive(Debug)]
pub(crate) struct Generation {
    pub(crate) number: u64,
    pub(crate) policy: Arc<Policy>,
    pub(crate) matcher: OriginMatcher,
    pub(crate) any: AnyOrigin,
    pub(crate) rules: PreflightRules,
    pub(crate) blocks: HeaderBlocks,
    pub(crate) cache: VerdictCache,
}

impl Generation {
    pub(crate) fn compile(policy: Arc<Policy>, number: u64) -> Generation {
        let any = if !policy.allows_any_origin() {
            AnyOrigin::No
        } else if policy.credentials() {
            AnyOrigin::Reflect
        } else {
            AnyOrigin::Star
        };
        Generation {
            number,
            matcher: OriginMatcher::new(
                policy.origins().iter().map(OriginEntry::pattern),
                policy.regex_set().map(|set| &set.compiled),
            ),
            any,
            rules: PreflightRules::new(&policy),
            blocks: HeaderBlocks::new(&policy),
            cache: VerdictCache::new(),
            policy,
        }
    }

    #[inline]
    pub(crate) fn decide<'r>(&self, request: &CorsRequest<'r>) -> Outcome<'r> {
        let mut out = Outcome {
            kind: DecisionKind::NotCors,
            verdict: Ok(Grant::NotCors),
            origin: None,
            headers_requested: false,
            private_network: false,
            miss_unclassified: false,
        };
        let origin = match request.origin.single() {
            Single::Absent => return out,
            Single::One(line) => Some(line),
            Single::Many => None,
        };
        out.origin = origin;
        // One lookup of Access-Control-Request-Method serves both questions (a preflight? which
        // method?): on a `HeaderMap`, every lookup hashes the name again.
        let requested_method = if request.method == b"OPTIONS" {
            request.request_method.single()
        } else {
            Single::Absent
        };
        let preflight = !matches!(requested_method, Single::Absent);
        out.kind = if preflight {
            DecisionKind::Preflight
        } else {
            DecisionKind::Actual
        };
        out.verdict = match self.check_origin(origin) {
            Ok(grant) => Ok(grant),
            Err(Some(reason)) => Err(reason),
            Err(None) => {
                out.miss_unclassified = true;
                Err(DenyReason::Origin(OriginMiss::NoEntry))
            }
        };
        if out.verdict.is_err() || !preflight {
            return out;
        }
        let requested = match requested_method {
            Single::One(line) => line.bytes,
            _ => {
                out.verdict = Err(DenyReason::Preflight(
                    PreflightDenial::MultipleRequestMethods,
                ));
                return out;
            }
        };
        let mut private_network = false;
        request.private_network.for_each(|line| {
            private_network = line == b"true";
            !private_network
        });
        match self.preflight_verdict(requested, request.request_headers, private_network) {
            Verdict::Allowed { headers_requested } => {
                out.headers_requested = headers_requested;
                out.private_network = private_network;
            }
            Verdict::Denied(denial) => out.verdict = Err(DenyReason::Preflight(denial)),
        }
        out
    }

    /// `Err(None)`: refused without classifying why (exact-only allowlists).
    #[inline]
    fn check_origin(&self, origin: Option<Line<'_>>) -> Result<Grant, Option<DenyReason>> {
        if self.any == AnyOrigin::Star {
            return Ok(Grant::AnyOrigin);
        }
        let Some(line) = origin else {
            return Err(Some(DenyReason::MultipleOrigins));
        };
        if self.any == AnyOrigin::Reflect {
            return match self.matcher.find(line.bytes) {
                Ok(id) => Ok(Grant::Entry(id)),
                Err(OriginMiss::NoEntry) => Ok(Grant::ReflectAny),
                Err(miss) => Err(Some(DenyReason::Origin(miss))),
            };
        }
        match self.matcher.find_fast(line.bytes) {
            Ok(id) => Ok(Grant::Entry(id)),
            Err(miss) => Err(miss.map(DenyReason::Origin)),
        }
    }

    /// The verdict, with the reason for an unclassified miss filled in.
    pub(crate) fn classified(&self, outcome: &Outcome<'_>) -> Result<Grant, DenyReason> {
        match (outcome.miss_unclassified, outcome.origin) {
            (true, Some(line)) => Err(DenyReason::Origin(self.matcher.classify(line.bytes))),
            _ => outcome.verdict,
        }
    }

    #[inline]
    fn preflight_verdict(
        &self,
        method: &[u8],
        headers: Lines<'_>,
        private_network: bool,
    ) -> Verdict {
        let line = match headers.single() {
            Single::Absent => Some(None),
            Single::One(line) => Some(Some(line.bytes)),
            Single::Many => None,
        };
        if let Some(line) = line {
            if let Some(key) = Key::new(self.cache.seed(), method, line, private_network) {
                if let Some(verdict) = self.cache.get(&key) {
                    return verdict;
                }
                let verdict = self.rules.verdict(method, headers, private_network);
                self.cache.insert(&key, verdict);
                return verdict;
            }
        }
        self.rules.verdict(method, headers, private_network)
    }
}
