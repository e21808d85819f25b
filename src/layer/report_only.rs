//! Report-only mode (design §9): the inner service's response passes through untouched, and
//! what a browser concludes from it is compared with what it would conclude from corsgate's
//! headers ([`BrowserCheck`]). The direction of a [`Difference`] is from the inner service's
//! response (what serves today) to corsgate's decision (what enforcing would serve):
//! `allowed_to_denied` is a request the application allows and the policy would deny.
//!
//! Requests without an `Origin` and requests on an `off` route are not compared.

use std::fmt;
use std::sync::Arc;

use http::header::{
    HeaderMap, HeaderValue, ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN,
};
use http::{Method, Request, Response, StatusCode};

use crate::browser_check::{BrowserCheck, Difference};
use crate::decision::Decision;
use crate::metrics::Disagreements;
use crate::request::CorsRequest;
use crate::verdict::DecisionKind;

/// One response whose CORS headers a browser would read differently from corsgate's.
#[derive(Debug)]
#[non_exhaustive]
pub struct ReportedDisagreement<'a> {
    /// The policy that decided (its counters' label).
    pub policy: &'a str,
    /// The route that chose it, when the set has routes.
    pub route: Option<&'a str>,
    /// `actual` or `preflight`.
    pub kind: DecisionKind,
    /// How corsgate's conclusion differs from the inner service's.
    pub difference: Difference,
    /// The request's `Origin`, as sent (an attacker writes it: escape it before logging).
    pub origin: &'a [u8],
    /// The inner service's status.
    pub status: StatusCode,
    /// The inner service's `Access-Control-Allow-Origin`, if any.
    pub upstream_allow_origin: Option<&'a HeaderValue>,
    /// Whether a browser lets the page go on with the inner service's response.
    pub upstream_allowed: bool,
    /// Whether it would with corsgate's headers.
    pub corsgate_allowed: bool,
}

type Callback = dyn Fn(&ReportedDisagreement<'_>) + Send + Sync;

/// What [`crate::layer::CorsLayer::report_only`] counts into, and whom it tells.
///
/// # Example
/// ```
/// use std::sync::Arc;
/// use corsgate::layer::{CorsLayer, ReportOnly};
/// use corsgate::{Cors, Policy};
///
/// let cors = Arc::new(Cors::new(Policy::new(["https://app.example"])?));
/// let report = Arc::new(ReportOnly::new().on_disagreement(|d| {
///     eprintln!("{} {}: {:?}", d.policy, d.difference.as_str(), d.upstream_allow_origin);
/// }));
/// let layer = CorsLayer::new(cors).report_only(report.clone());
/// // … serve with `layer`; report.disagreements().snapshot() says what differed.
/// # Ok::<(), corsgate::PolicyError>(())
/// ```
pub struct ReportOnly {
    disagreements: Arc<Disagreements>,
    on_disagreement: Option<Box<Callback>>,
}

impl fmt::Debug for ReportOnly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReportOnly")
            .field("disagreements", &self.disagreements)
            .field("on_disagreement", &self.on_disagreement.is_some())
            .finish()
    }
}

impl Default for ReportOnly {
    fn default() -> ReportOnly {
        ReportOnly::new()
    }
}

impl ReportOnly {
    /// Counts into fresh [`Disagreements`].
    pub fn new() -> ReportOnly {
        ReportOnly {
            disagreements: Arc::new(Disagreements::new()),
            on_disagreement: None,
        }
    }

    /// Also calls `f` with each disagreement (after counting it), on the request path: keep
    /// it cheap (a rate-limited log line, say).
    pub fn on_disagreement(
        mut self,
        f: impl Fn(&ReportedDisagreement<'_>) + Send + Sync + 'static,
    ) -> ReportOnly {
        self.on_disagreement = Some(Box::new(f));
        self
    }

    /// The counts (for `metrics::Collector::with_report_only`).
    pub fn disagreements(&self) -> &Arc<Disagreements> {
        &self.disagreements
    }
}

/// A request's CORS fields and corsgate's conclusion, kept until the response.
pub(super) struct Pending {
    report: Arc<ReportOnly>,
    method: Method,
    fields: HeaderMap,
    corsgate: BrowserCheck,
    kind: DecisionKind,
    policy: Box<str>,
    route: Option<Box<str>>,
}

impl Pending {
    /// `None` for what is not compared: no Origin, or an `off` route.
    pub(super) fn new<B>(
        report: &Arc<ReportOnly>,
        request: &Request<B>,
        cors_request: &CorsRequest<'_>,
        decision: &Decision<'_, '_>,
    ) -> Option<Box<Pending>> {
        if decision.kind() == DecisionKind::NotCors || decision.is_off() {
            return None;
        }
        let mut fields = HeaderMap::new();
        for name in [
            ORIGIN,
            ACCESS_CONTROL_REQUEST_METHOD,
            ACCESS_CONTROL_REQUEST_HEADERS,
        ] {
            for value in request.headers().get_all(&name) {
                fields.append(name.clone(), value.clone());
            }
        }
        Some(Box::new(Pending {
            report: Arc::clone(report),
            method: request.method().clone(),
            fields,
            corsgate: BrowserCheck::of_decision(cors_request, decision),
            kind: decision.kind(),
            policy: decision.policy_name().into(),
            route: decision.route_name().map(Into::into),
        }))
    }

    /// Compares the inner service's response; counts and reports a difference.
    pub(super) fn finish<B>(self: Box<Pending>, response: &Response<B>) {
        let request = CorsRequest::from_headers(&self.method, &self.fields);
        let upstream = BrowserCheck::of_response(&request, response.status(), response.headers());
        let Some(difference) = upstream.difference(&self.corsgate) else {
            return;
        };
        self.report.disagreements.record(&self.policy, difference);
        if let Some(tell) = &self.report.on_disagreement {
            tell(&ReportedDisagreement {
                policy: &self.policy,
                route: self.route.as_deref(),
                kind: self.kind,
                difference,
                origin: request.origin_value().unwrap_or_default(),
                status: response.status(),
                upstream_allow_origin: response
                    .headers()
                    .get(http::header::ACCESS_CONTROL_ALLOW_ORIGIN),
                upstream_allowed: upstream.is_allowed(),
                corsgate_allowed: self.corsgate.is_allowed(),
            });
        }
    }
}
