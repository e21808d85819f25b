//! [`Cors`]: the hot-swappable handle. An `ArcSwap` of the current compiled generation;
//! requests load it with a guard (no lock, no reference-count traffic on the shared pointer),
//! reloads compile a new generation off the request path and swap it in atomically.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use crate::compiled::Generation;
use crate::decision::Decision;
use crate::error::PolicyError;
use crate::policy::{Policy, PolicyBuilder};
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
    /// Serialises reloads (never taken by requests) so generation numbers grow in swap order.
    reload_lock: Mutex<()>,
    last_generation: AtomicU64,
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
    /// Compiles `policy` as generation 1.
    pub fn new(policy: Policy) -> Cors {
        Cors {
            current: ArcSwap::from_pointee(Generation::compile(Arc::new(policy), 1)),
            reload_lock: Mutex::new(()),
            last_generation: AtomicU64::new(1),
        }
    }

    /// Decides one request. No allocation, no lock; the decision holds a snapshot of the
    /// generation that made it, so a concurrent reload never changes it halfway.
    ///
    /// Do not hold a `Decision` across an `.await`: take
    /// [`Decision::to_response_headers`] instead.
    #[inline]
    pub fn decide<'r>(&self, request: &CorsRequest<'r>) -> Decision<'r> {
        Decision::new(self.current.load(), request)
    }

    /// Compiles `policy` and swaps it in. Requests in flight keep the generation they loaded;
    /// the new generation starts with an empty verdict cache. Reloading the serving policy's
    /// own settings changes nothing.
    pub fn reload(&self, policy: Policy) -> Reloaded {
        let _serialised = self.reload_lock.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.current.load();
        if *current.policy == policy {
            return Reloaded {
                generation: current.number,
                changed: false,
            };
        }
        let number = self.last_generation.fetch_add(1, Ordering::Relaxed) + 1;
        let next = Generation::compile(Arc::new(policy), number);
        self.current.store(Arc::new(next));
        Reloaded {
            generation: number,
            changed: true,
        }
    }

    /// Validates and reloads; on any problem returns them all and keeps the serving policy.
    pub fn try_reload(&self, builder: &PolicyBuilder) -> Result<Reloaded, PolicyError> {
        builder.build().map(|policy| self.reload(policy))
    }

    /// The serving generation's number (1 for the policy given to [`Cors::new`]).
    pub fn generation(&self) -> u64 {
        self.current.load().number
    }

    /// The serving policy.
    pub fn policy(&self) -> Arc<Policy> {
        Arc::clone(&self.current.load().policy)
    }

    /// Occupied slots in the serving generation's preflight verdict cache, and its capacity.
    pub fn verdict_cache_usage(&self) -> (usize, usize) {
        (
            self.current.load().cache.len(),
            crate::preflight::cache::CAPACITY,
        )
    }
}
