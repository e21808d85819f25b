//! What a decision concluded, before any header is written: the kind of request
//! ([`DecisionKind`]), why it was allowed ([`Grant`]) or why not ([`DenyReason`]). The compiled
//! generation produces these; decisions, explanations and every adapter read them.

use std::fmt;

use crate::origin::OriginMiss;
use crate::preflight::PreflightDenial;

/// What kind of request it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecisionKind {
    /// No `Origin` header.
    NotCors,
    /// A CORS request that goes to the upstream.
    Actual,
    /// `OPTIONS` with `Origin` and `Access-Control-Request-Method`.
    Preflight,
}

impl DecisionKind {
    /// `"none"`, `"actual"` or `"preflight"`, as in the `decide` protocol.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionKind::NotCors => "none",
            DecisionKind::Actual => "actual",
            DecisionKind::Preflight => "preflight",
        }
    }
}

/// Why a request was allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Grant {
    /// Not a CORS request: nothing to allow.
    NotCors,
    /// The entry at this index of [`Policy::origins`](crate::Policy::origins) matched.
    Entry(u32),
    /// `*` without credentials.
    AnyOrigin,
    /// `*` with credentials and `dangerously_reflect_any_origin_with_credentials`.
    ReflectAny,
    /// The request's route turns CORS off (`policy = "off"`): nothing is checked or added.
    RouteOff,
}

/// Why a request was not allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DenyReason {
    /// The Origin is not allowed.
    Origin(OriginMiss),
    /// Several `Origin` field lines (or one with a comma).
    MultipleOrigins,
    /// The preflight's method, headers or private-network request.
    Preflight(PreflightDenial),
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DenyReason::Origin(OriginMiss::Malformed(defect)) => f.write_str(defect.describe()),
            DenyReason::Origin(OriginMiss::Null) => f.write_str("Origin: null is not allowed"),
            DenyReason::Origin(OriginMiss::NoEntry) => f.write_str("no entry allows this origin"),
            DenyReason::MultipleOrigins => f.write_str("the request has several Origin values"),
            DenyReason::Preflight(denial) => f.write_str(denial.describe()),
        }
    }
}
