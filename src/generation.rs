//! A compiled generation — a policy set: its routes compiled for choosing (`selection`) and
//! each of its policies compiled — and the [`Snapshot`] of it a decision holds. A compiled
//! policy is its origin matcher, its preflight rules, every request-independent header value
//! rendered once, and a verdict cache that belongs to it alone and is allocated on its first
//! preflight (10,000 policies that never see one cost nothing there).
//!
//! [`Generation::choose`] then [`CompiledPolicy::decide`] is the request path: no allocation,
//! no lock; for a set without routes no look at the host or path at all; one hash lookup for
//! an exact origin (more only for misses, wildcards and regexes), and for a preflight one cache
//! probe or one bounded parse of the requested headers.

use std::cell::RefMut;
use std::sync::{Arc, OnceLock};

use arc_swap::Guard;

use crate::headers::HeaderBlocks;
use crate::origin::{OriginMatcher, OriginMiss};
use crate::policy::{OriginEntry, Policy, PolicySet, RouteTarget};
use crate::preflight::cache::{Key, VerdictCache};
use crate::preflight::{PreflightDenial, PreflightRules, Verdict};
use crate::request::{CorsRequest, Line, Lines, Single};
use crate::selection::Selection;
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
    /// Whether the preflight verdict cache was consulted, and what it had.
    pub(crate) cache: CacheLookup,
}

/// A verdict-cache lookup, as a decision saw it (counted by the engine).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CacheLookup {
    /// No lookup: not a preflight, denied before the lookup, or not cacheable.
    None,
    Hit,
    Miss,
}

/// One compiled policy set: the unit a reload swaps.
#[derive(Debug)]
pub(crate) struct Generation {
    pub(crate) number: u64,
    pub(crate) set: Arc<PolicySet>,
    /// In the set's order: `policies[0]` is `default`.
    pub(crate) policies: Box<[CompiledPolicy]>,
    pub(crate) selection: Selection,
    /// The counter slot of requests on `off` routes (the engine names slots; see `metrics`).
    pub(crate) off_slot: u32,
}

/// Which route and policy decide a request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Chosen {
    /// The route, by position; `u32::MAX` when none matched.
    pub(crate) route: u32,
    /// The policy, by position (0 for `off`, whose decision never reads it).
    pub(crate) policy: u32,
    pub(crate) off: bool,
}

impl Chosen {
    pub(crate) const DEFAULT: Chosen = Chosen {
        route: u32::MAX,
        policy: 0,
        off: false,
    };
}

impl Generation {
    /// `slot` gives each policy name its counter slot; `off_slot` is the slot of `off`.
    pub(crate) fn compile(
        set: Arc<PolicySet>,
        number: u64,
        slot: impl Fn(&str) -> u32,
        off_slot: u32,
    ) -> Generation {
        Generation {
            number,
            policies: set
                .policies()
                .iter()
                .map(|p| {
                    let mut compiled = CompiledPolicy::compile(Arc::clone(p.policy()));
                    compiled.slot = slot(p.name());
                    if set.policies().len() > crate::preflight::cache::LARGE_SETS_FROM {
                        compiled.cache_capacity = crate::preflight::cache::SMALL_CAPACITY as u32;
                    }
                    compiled
                })
                .collect(),
            off_slot,
            selection: Selection::new(&set),
            set,
        }
    }

    /// The route and policy for this request: the default policy, without reading the host
    /// or the path, when the set has no routes.
    #[inline(always)]
    pub(crate) fn choose(&self, request: &CorsRequest<'_>) -> Chosen {
        if self.selection.is_empty() {
            return Chosen::DEFAULT;
        }
        self.choose_route(request)
    }

    #[inline(never)]
    fn choose_route(&self, request: &CorsRequest<'_>) -> Chosen {
        let Some(route) = self
            .selection
            .select(request.host_value(), request.path_value())
        else {
            return Chosen::DEFAULT;
        };
        match self.set.routes()[route as usize].target() {
            RouteTarget::Policy(p) => Chosen {
                route,
                policy: p as u32,
                off: false,
            },
            RouteTarget::Off => Chosen {
                route,
                policy: 0,
                off: true,
            },
        }
    }

    /// The compiled policy a choice names.
    #[inline(always)]
    pub(crate) fn policy(&self, chosen: Chosen) -> &CompiledPolicy {
        &self.policies[chosen.policy as usize]
    }
}

/// One compiled policy.
#[derive(Debug)]
pub(crate) struct CompiledPolicy {
    pub(crate) policy: Arc<Policy>,
    pub(crate) matcher: OriginMatcher,
    pub(crate) any: AnyOrigin,
    pub(crate) rules: PreflightRules,
    pub(crate) blocks: HeaderBlocks,
    /// Allocated on the policy's first cacheable preflight.
    pub(crate) cache: OnceLock<VerdictCache>,
    /// Its counter slot (the engine's, by policy name; `u32::MAX` counts nothing).
    pub(crate) slot: u32,
    /// Its verdict cache's slots: smaller in large sets (`preflight::cache::SMALL_CAPACITY`).
    pub(crate) cache_capacity: u32,
}

impl CompiledPolicy {
    pub(crate) fn compile(policy: Arc<Policy>) -> CompiledPolicy {
        let any = if !policy.allows_any_origin() {
            AnyOrigin::No
        } else if policy.credentials() {
            AnyOrigin::Reflect
        } else {
            AnyOrigin::Star
        };
        CompiledPolicy {
            matcher: OriginMatcher::new(
                policy.origins().iter().map(OriginEntry::pattern),
                policy.regex_set().map(|set| &set.compiled),
            ),
            any,
            rules: PreflightRules::new(&policy),
            blocks: HeaderBlocks::new(&policy),
            cache: OnceLock::new(),
            slot: u32::MAX,
            cache_capacity: crate::preflight::cache::CAPACITY as u32,
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
            cache: CacheLookup::None,
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
        match self.preflight_verdict(
            requested,
            request.request_headers,
            private_network,
            &mut out.cache,
        ) {
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

    /// The outcome of a request on an `off` route: nothing to do.
    pub(crate) fn off<'r>() -> Outcome<'r> {
        Outcome {
            kind: DecisionKind::NotCors,
            verdict: Ok(Grant::RouteOff),
            origin: None,
            headers_requested: false,
            private_network: false,
            miss_unclassified: false,
            cache: CacheLookup::None,
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
        lookup: &mut CacheLookup,
    ) -> Verdict {
        let line = match headers.single() {
            Single::Absent => Some(None),
            Single::One(line) => Some(Some(line.bytes)),
            Single::Many => None,
        };
        if let Some(line) = line {
            let cache = self
                .cache
                .get_or_init(|| VerdictCache::new(self.cache_capacity as usize));
            if let Some(key) = Key::new(cache.seed(), method, line, private_network) {
                if let Some(verdict) = cache.get(&key) {
                    *lookup = CacheLookup::Hit;
                    return verdict;
                }
                *lookup = CacheLookup::Miss;
                let verdict = self.rules.verdict(method, headers, private_network);
                cache.insert(&key, verdict);
                return verdict;
            }
        }
        self.rules.verdict(method, headers, private_network)
    }
}
