//! [`ShadowCors`]: a second policy set decided beside the serving one, for trying a change on
//! live traffic before it serves (design §9). The shadow never touches a response: each
//! request is decided by both, the two decisions are compared as a browser would read them
//! ([`BrowserCheck`]), and disagreements are counted in [`Disagreements`] under the serving
//! request's policy name.
//!
//! What it costs: one more decision per request (the shadow handle counts nothing of its own),
//! and a comparison only when both allow — two decisions that both deny, or that differ in
//! outcome, are told apart without building a [`BrowserCheck`]. Requests without an `Origin`
//! and requests on an `off` route (of either set) are not compared.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::browser_check::{BrowserCheck, Difference};
use crate::decision::Decision;
use crate::engine::Cors;
use crate::metrics::Disagreements;
use crate::request::CorsRequest;
use crate::verdict::DecisionKind;

/// A serving [`Cors`] handle and a shadow one.
///
/// # Example
/// ```
/// use std::sync::Arc;
/// use corsgate::{shadow::ShadowCors, Cors, CorsRequest, Difference, Policy};
///
/// let serving = Arc::new(Cors::new(Policy::new(["https://app.example", "https://old.example"])?));
/// let candidate = Arc::new(Cors::new(Policy::new(["https://app.example"])?));
/// let shadowed = ShadowCors::new(serving, candidate);
///
/// let (decision, difference) =
///     shadowed.decide(&CorsRequest::new(b"GET").origin(b"https://old.example"));
/// assert!(decision.is_allowed()); // served by the serving policy
/// assert_eq!(difference, Some(Difference::AllowedToDenied));
/// assert_eq!(
///     shadowed.disagreements().snapshot(),
///     [("default".to_string(), Difference::AllowedToDenied, 1)]
/// );
/// # Ok::<(), corsgate::PolicyError>(())
/// ```
#[derive(Debug)]
pub struct ShadowCors {
    serving: Arc<Cors>,
    shadow: Arc<Cors>,
    enabled: AtomicBool,
    disagreements: Arc<Disagreements>,
}

impl ShadowCors {
    /// Decides with `serving`, compares with `shadow`. Turns the shadow handle's own counting
    /// off: its decisions are not traffic.
    pub fn new(serving: Arc<Cors>, shadow: Arc<Cors>) -> ShadowCors {
        shadow.set_counting(false);
        ShadowCors {
            serving,
            shadow,
            enabled: AtomicBool::new(true),
            disagreements: Arc::new(Disagreements::new()),
        }
    }

    /// The handle that serves.
    pub fn serving(&self) -> &Arc<Cors> {
        &self.serving
    }

    /// The shadow handle (reload it to change the shadow policy).
    pub fn shadow(&self) -> &Arc<Cors> {
        &self.shadow
    }

    /// The disagreements counted so far (for `metrics::Collector::with_shadow`).
    pub fn disagreements(&self) -> &Arc<Disagreements> {
        &self.disagreements
    }

    /// Turns comparing on or off (on from the start): off while the shadow's policy file is
    /// broken, say, so that a stale shadow is not compared.
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::Relaxed);
    }

    /// Whether requests are compared.
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Decides `request` with the serving handle, and compares the shadow's decision with it.
    pub fn decide<'c, 'r>(
        &'c self,
        request: &CorsRequest<'r>,
    ) -> (Decision<'c, 'r>, Option<Difference>) {
        let decision = self.serving.decide(request);
        let difference = self.compare(request, &decision);
        (decision, difference)
    }

    /// Compares the shadow's decision of `request` with `serving` (the serving handle's, made
    /// by a layer, say) and counts a disagreement under `serving`'s policy name.
    pub fn compare(
        &self,
        request: &CorsRequest<'_>,
        serving: &Decision<'_, '_>,
    ) -> Option<Difference> {
        if !self.is_enabled() || serving.kind() == DecisionKind::NotCors || serving.is_off() {
            return None;
        }
        let shadow = self.shadow.decide(request);
        if shadow.is_off() {
            return None;
        }
        let difference = match (serving.is_allowed(), shadow.is_allowed()) {
            (true, false) => Some(Difference::AllowedToDenied),
            (false, true) => Some(Difference::DeniedToAllowed),
            // A denial sends no Allow-Origin: a browser concludes the same from any two.
            (false, false) => None,
            // The same status and header bytes: a browser concludes the same, and the usual
            // case (a shadow that adds origins or routes) is decided without parsing a field.
            (true, true) if same_response(serving, &shadow) => None,
            (true, true) => BrowserCheck::of_decision(request, serving)
                .difference(&BrowserCheck::of_decision(request, &shadow)),
        };
        if let Some(difference) = difference {
            self.disagreements.record(serving.policy_name(), difference);
        }
        difference
    }
}

/// Whether two decisions would write the same status and the same header fields, byte for byte
/// and in the same order.
fn same_response(a: &Decision<'_, '_>, b: &Decision<'_, '_>) -> bool {
    a.status() == b.status()
        && a.headers()
            .map(|(name, value)| (name, value.as_bytes()))
            .eq(b.headers().map(|(name, value)| (name, value.as_bytes())))
}
