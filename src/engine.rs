//! [`Cors`]: the hot-swappable handle. An `ArcSwap` of the current compiled generation, which
//! reloads compile off the request path and swap in atomically.
//!
//! Requests read it through a per-thread snapshot: each thread keeps the generation it last
//! used and the reload version it saw, and takes a fresh one (`ArcSwap::load_full`) only when a
//! reload bumped the version. On the request path that is one shared atomic load — of a
//! counter written only by reloads — instead of `ArcSwap::load()`'s guard bookkeeping: measured
//! here, the guard alone costs about twice a bare hash lookup (12 ns against 5.4 ns), the
//! per-thread snapshot about a tenth of it. No lock, no shared reference count touched, nothing
//! allocated after a thread's first decision. When a thread's snapshot is already lent to a
//! decision it is still holding, the next decision falls back to `ArcSwap::load()`.

use std::cell::{RefCell, RefMut};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use thread_local::ThreadLocal;

use crate::cache_padded::CachePadded;
use crate::decision::Decision;
use crate::error::PolicyError;
use crate::generation::{Generation, Snapshot};
use crate::metrics::{MetricsSnapshot, Names, ReloadResult, ThreadCounters};
use crate::policy::{Policy, PolicyBuilder, PolicySet, PolicySetBuilder};
use crate::request::CorsRequest;

/// The CORS engine: a compiled policy behind a lock-free, hot-swappable pointer.
///
/// `Cors` is `Send + Sync`; share it with an `Arc` (or a `&'static`) between threads.
///
/// # Example: deciding
/// ```
/// use corsgate::{Cors, CorsRequest, Policy};
///
/// let cors = Cors::new(Policy::new(["https://app.example.com", "https://*.example.com"])?);
/// for (origin, allowed) in [
///     ("https://app.example.com", true),
///     ("https://a.b.example.com", true),
///     ("https://example.com", false),          // a wildcard never matches the apex
///     ("https://example.com.evil.com", false), // suffix confusion
///     ("https://app.example.com/", false),     // browsers never send a path
/// ] {
///     let decision = cors.decide(&CorsRequest::new(b"GET").origin(origin.as_bytes()));
///     assert_eq!(decision.is_allowed(), allowed, "{origin}");
/// }
/// # Ok::<(), corsgate::PolicyError>(())
/// ```
///
/// # Example: reloading
/// ```
/// use corsgate::{Cors, CorsRequest, Policy};
///
/// let cors = Cors::new(Policy::new(["https://a.example"])?);
/// let request = CorsRequest::new(b"GET").origin(b"https://b.example");
/// assert!(!cors.decide(&request).is_allowed());
///
/// let reloaded = cors.reload(Policy::new(["https://b.example"])?);
/// assert_eq!(reloaded.generation(), 2);
/// assert!(cors.decide(&request).is_allowed());
///
/// // A policy that fails validation leaves generation 2 serving.
/// let err = cors.try_reload(Policy::builder().origins(["https://b.example/app"])).unwrap_err();
/// assert_eq!(err.kind(), corsgate::IssueKind::OriginHasPath);
/// assert_eq!(cors.generation(), 2);
/// # Ok::<(), corsgate::PolicyError>(())
/// ```
pub struct Cors {
    current: ArcSwap<Generation>,
    /// Bumped after every swap; threads compare it with the version of their snapshot.
    version: AtomicU64,
    snapshots: ThreadLocal<CachePadded<RefCell<LocalSnapshot>>>,
    /// Serialises reloads (never taken by requests) so generation numbers grow in swap order.
    reload_lock: Mutex<()>,
    last_generation: AtomicU64,
    /// Policy names → counter slots, for every name ever compiled.
    names: Names,
    /// Each thread's decision counters, written only by that thread.
    counters: ThreadLocal<CachePadded<ThreadCounters>>,
    counting: AtomicBool,
    reloads: [AtomicU64; 4],
    /// Seconds since the Unix epoch, as `f64` bits.
    last_reload_success: AtomicU64,
}

fn now_seconds() -> u64 {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    seconds.to_bits()
}

/// One thread's view of the serving generation.
struct LocalSnapshot {
    version: u64,
    generation: Arc<Generation>,
}

impl std::fmt::Debug for Cors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cors")
            .field("generation", &self.generation())
            .finish()
    }
}

/// What a reload did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reloaded {
    generation: u64,
    changed: bool,
}

impl Reloaded {
    /// The generation now serving.
    pub fn generation(&self) -> u64 {
        self.generation
    }
    /// `false` when the new policy was built from the same settings as the serving one, in
    /// which case nothing was swapped.
    pub fn changed(&self) -> bool {
        self.changed
    }
}

impl Cors {
    /// Compiles `policy` as generation 1 (a set of one policy, `default`).
    pub fn new(policy: Policy) -> Cors {
        Cors::with_set(PolicySet::single(policy))
    }

    /// Compiles a policy set as generation 1: each request is decided by the policy its host
    /// and path choose.
    pub fn with_set(set: PolicySet) -> Cors {
        let names = Names::default();
        let off_slot = names.slot(crate::policy::OFF_POLICY);
        let first = Generation::compile(Arc::new(set), 1, |name| names.slot(name), off_slot);
        Cors {
            current: ArcSwap::from_pointee(first),
            version: AtomicU64::new(0),
            snapshots: ThreadLocal::new(),
            reload_lock: Mutex::new(()),
            last_generation: AtomicU64::new(1),
            names,
            counters: ThreadLocal::new(),
            counting: AtomicBool::new(true),
            reloads: Default::default(),
            last_reload_success: AtomicU64::new(now_seconds()),
        }
    }

    fn compile(&self, set: PolicySet) -> Generation {
        let off_slot = self.names.slot(crate::policy::OFF_POLICY);
        Generation::compile(Arc::new(set), 0, |name| self.names.slot(name), off_slot)
    }

    /// Decides one request. No allocation, no lock; the decision holds a snapshot of the
    /// generation that made it, so a concurrent reload never changes it halfway.
    ///
    /// A `Decision` belongs to the thread that made it (it is not `Send`): to apply its headers
    /// after an `.await`, take [`Decision::to_response_headers`].
    #[inline]
    pub fn decide<'c, 'r>(&'c self, request: &CorsRequest<'r>) -> Decision<'c, 'r> {
        let decision = Decision::new(self.snapshot(), request);
        if self.counting.load(Ordering::Relaxed) {
            self.count(&decision);
        }
        decision
    }

    #[inline]
    fn count(&self, decision: &Decision<'_, '_>) {
        let (slot, kind, denial, cache) = decision.tally();
        let counters = self.counters.get_or(|| CachePadded(ThreadCounters::new()));
        counters.0.count(slot, kind, denial, cache);
    }

    /// Turns counting decisions on or off (on by default). Off, a decision skips its counters
    /// (one relaxed load of a flag that only this call writes); reloads are counted either way.
    /// For measuring what counting costs, or for a caller that counts nothing.
    pub fn set_counting(&self, on: bool) {
        self.counting.store(on, Ordering::Relaxed);
    }

    /// Whether decisions are counted.
    pub fn is_counting(&self) -> bool {
        self.counting.load(Ordering::Relaxed)
    }

    /// Counts a reload attempt that ended before reaching this handle (a policy file that
    /// could not be read, or failed to validate, in a loader of your own). The reloads made
    /// through [`Cors::reload`], [`Cors::try_reload`] and their set forms count themselves;
    /// `corsgate::watch` counts its own attempts.
    pub fn record_reload(&self, result: ReloadResult) {
        self.reloads[result as usize].fetch_add(1, Ordering::Relaxed);
        if result == ReloadResult::Ok {
            self.last_reload_success
                .store(now_seconds(), Ordering::Relaxed);
        }
    }

    /// The counters, summed over every thread: decisions by policy, kind and outcome, denials
    /// by policy and reason, verdict-cache lookups, reloads by result, the serving generation
    /// and the time of the last successful reload (or of [`Cors::new`]).
    ///
    /// Counters are kept by policy name, so a policy's counts survive reloads; only policies
    /// that decided a request appear. Requests on an `off` route count under policy `off`,
    /// kind `none`, outcome allowed. Reading takes no lock a decision takes, and costs a pass
    /// over every thread's counters.
    ///
    /// # Example
    /// ```
    /// use corsgate::{Cors, CorsRequest, DecisionKind, Policy};
    /// use corsgate::metrics::ReloadResult;
    ///
    /// let cors = Cors::new(Policy::new(["https://app.example.com"])?);
    /// let _ = cors.decide(&CorsRequest::new(b"GET").origin(b"https://app.example.com"));
    /// let _ = cors.decide(&CorsRequest::new(b"GET").origin(b"https://evil.example"));
    /// cors.reload(Policy::new(["https://evil.example"])?);
    /// let _ = cors.decide(&CorsRequest::new(b"GET").origin(b"https://evil.example"));
    ///
    /// let metrics = cors.metrics();
    /// let default = metrics.policy("default").unwrap();
    /// assert_eq!(default.decisions(DecisionKind::Actual, true), 2);
    /// assert_eq!(default.decisions(DecisionKind::Actual, false), 1);
    /// assert_eq!(default.denials("origin_not_allowed"), 1);
    /// assert_eq!(metrics.reloads(ReloadResult::Ok), 1);
    /// assert_eq!(metrics.generation(), 2);
    /// # Ok::<(), corsgate::PolicyError>(())
    /// ```
    pub fn metrics(&self) -> MetricsSnapshot {
        crate::metrics::snapshot(
            &self.names,
            self.counters.iter().map(|c| &c.0),
            &self.reloads,
            self.generation(),
            f64::from_bits(self.last_reload_success.load(Ordering::Relaxed)),
        )
    }

    #[inline(always)]
    fn snapshot(&self) -> Snapshot<'_> {
        let version = self.version.load(Ordering::Acquire);
        let cell = self.snapshots.get_or(|| {
            CachePadded(RefCell::new(LocalSnapshot {
                version,
                generation: self.current.load_full(),
            }))
        });
        match cell.0.try_borrow_mut() {
            Ok(mut local) => {
                if local.version != version {
                    local.generation = self.current.load_full();
                    local.version = version;
                }
                Snapshot::Local(RefMut::map(local, |l| &mut l.generation))
            }
            Err(_) => Snapshot::Shared(self.current.load()),
        }
    }

    /// Compiles `policy` and swaps it in. Requests in flight keep the generation they loaded;
    /// the new generation starts with an empty verdict cache. Reloading the serving policy's
    /// own settings changes nothing.
    pub fn reload(&self, policy: Policy) -> Reloaded {
        self.reload_set(PolicySet::single(policy))
    }

    /// [`Cors::reload`] for a policy set: the whole set is swapped at once.
    pub fn reload_set(&self, set: PolicySet) -> Reloaded {
        let _serialised = self.reload_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.record_reload(ReloadResult::Ok);
        let current = self.current.load();
        if *current.set == set {
            return Reloaded {
                generation: current.number,
                changed: false,
            };
        }
        self.install(self.compile(set))
    }

    /// [`Cors::reload`] for the file watcher, which may abandon a reload that runs past its
    /// time limit: the policy is compiled without holding the reload lock (an abandoned
    /// compile never delays the next reload), then `commit` is asked, under the lock, whether
    /// the result is still wanted. `false` discards it (nothing changes, no generation number
    /// is used up) and returns `None`.
    #[cfg(feature = "watch")]
    pub(crate) fn reload_if(
        &self,
        set: PolicySet,
        commit: impl FnOnce() -> bool,
    ) -> Option<Reloaded> {
        let unchanged = |current: &Generation, set: &PolicySet| {
            (current.set.as_ref() == set).then_some(Reloaded {
                generation: current.number,
                changed: false,
            })
        };
        if let Some(same) = unchanged(&self.current.load(), &set) {
            return Some(same);
        }
        let next = self.compile(set);
        let _serialised = self.reload_lock.lock().unwrap_or_else(|p| p.into_inner());
        if !commit() {
            return None;
        }
        // Another reload may have swapped in the same settings while this one compiled.
        if let Some(same) = unchanged(&self.current.load(), &next.set) {
            return Some(same);
        }
        Some(self.install(next))
    }

    /// Numbers and swaps in a compiled generation. The caller holds the reload lock, so
    /// generation numbers grow in swap order.
    fn install(&self, mut next: Generation) -> Reloaded {
        let number = self.last_generation.load(Ordering::Relaxed) + 1;
        next.number = number;
        self.last_generation.store(number, Ordering::Relaxed);
        self.current.store(Arc::new(next));
        self.version.fetch_add(1, Ordering::Release);
        Reloaded {
            generation: number,
            changed: true,
        }
    }

    /// Validates and reloads; on any problem returns them all and keeps the serving policy.
    pub fn try_reload(&self, builder: &PolicyBuilder) -> Result<Reloaded, PolicyError> {
        match builder.build() {
            Ok(policy) => Ok(self.reload(policy)),
            Err(error) => {
                self.record_reload(ReloadResult::Invalid);
                Err(error)
            }
        }
    }

    /// Validates and reloads a policy set; on any problem returns them all and keeps the
    /// serving set.
    pub fn try_reload_set(&self, builder: &PolicySetBuilder) -> Result<Reloaded, PolicyError> {
        match builder.build() {
            Ok(set) => Ok(self.reload_set(set)),
            Err(error) => {
                self.record_reload(ReloadResult::Invalid);
                Err(error)
            }
        }
    }

    /// The serving generation's number (1 for the policy given to [`Cors::new`]).
    pub fn generation(&self) -> u64 {
        self.current.load().number
    }

    /// The serving set's default policy (for a single policy: the serving policy).
    pub fn policy(&self) -> Arc<Policy> {
        Arc::clone(self.current.load().set.default_policy())
    }

    /// The serving policy set.
    pub fn policy_set(&self) -> Arc<PolicySet> {
        Arc::clone(&self.current.load().set)
    }

    /// Heap bytes of the serving generation's compiled `regex:` entries, and the ceiling they
    /// are held to ([`origin::regex::MAX_SET_DFA_BYTES`], 64 MiB). The DFAs are shared by every
    /// thread and fully built when the policy is: deciding any number of requests, hostile
    /// Origins included, adds nothing, per thread or in all.
    ///
    /// [`origin::regex::MAX_SET_DFA_BYTES`]: crate::origin::regex::MAX_SET_DFA_BYTES
    pub fn regex_memory_usage(&self) -> (usize, usize) {
        (
            self.current
                .load()
                .policies
                .iter()
                .map(|p| p.matcher.regex_memory_usage())
                .sum(),
            crate::origin::regex::MAX_SET_DFA_BYTES,
        )
    }

    /// Occupied slots in the serving generation's preflight verdict caches (all policies),
    /// and the capacity of those allocated so far (a policy's cache is allocated on its first
    /// preflight).
    pub fn verdict_cache_usage(&self) -> (usize, usize) {
        let current = self.current.load();
        let caches = current.policies.iter().filter_map(|p| p.cache.get());
        caches.fold((0, 0), |(len, cap), c| (len + c.len(), cap + c.capacity()))
    }
}

#[cfg(feature = "metrics")]
impl crate::metrics::MetricsSource for Cors {
    fn metrics(&self) -> MetricsSnapshot {
        Cors::metrics(self)
    }
}
