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

impl DenyReason {
    /// How many [`DenyReason::kind`] names there are.
    pub const KIND_COUNT: usize = 16;

    /// Every [`DenyReason::kind`] name, in a stable order: the origin's four, then one per
    /// [`PreflightDenial`] in its declaration order.
    pub const KINDS: [&'static str; DenyReason::KIND_COUNT] = [
        "origin_not_allowed",
        "malformed_origin",
        "null_origin",
        "multiple_origins",
        "multiple_request_methods",
        "invalid_request_method",
        "forbidden_method",
        "method_not_allowed",
        "request_headers_too_long",
        "too_many_request_headers",
        "too_many_empty_elements",
        "invalid_request_header_name",
        "header_not_allowed",
        "authorization_not_covered",
        "private_network_not_enabled",
        "request_method_too_long",
    ];

    /// The reason's kind, snake_case and stable (a metric label): `origin_not_allowed`,
    /// `malformed_origin`, `null_origin`, `multiple_origins`, or the [`PreflightDenial`]'s
    /// name (`method_not_allowed`, `header_not_allowed`, …).
    ///
    /// ```
    /// use corsgate::{Cors, CorsRequest, Policy};
    ///
    /// let cors = Cors::new(Policy::new(["https://app.example.com"])?);
    /// let denied = cors.decide(&CorsRequest::new(b"GET").origin(b"https://evil.example"));
    /// assert_eq!(denied.deny_reason().map(|r| r.kind()), Some("origin_not_allowed"));
    /// # Ok::<(), corsgate::PolicyError>(())
    /// ```
    pub fn kind(&self) -> &'static str {
        DenyReason::KINDS[self.kind_index()]
    }

    /// The position of [`DenyReason::kind`] in [`DenyReason::KINDS`].
    #[inline]
    pub(crate) fn kind_index(&self) -> usize {
        match self {
            DenyReason::Origin(OriginMiss::NoEntry) => 0,
            DenyReason::Origin(OriginMiss::Malformed(_)) => 1,
            DenyReason::Origin(OriginMiss::Null) => 2,
            DenyReason::MultipleOrigins => 3,
            DenyReason::Preflight(denial) => 4 + *denial as usize,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preflight_denial_has_its_snake_case_kind() {
        for (i, denial) in PreflightDenial::ALL.iter().enumerate() {
            let kind = DenyReason::Preflight(*denial).kind();
            assert_eq!(kind, DenyReason::KINDS[4 + i]);
            // The Debug name, in snake_case.
            let debug = format!("{denial:?}");
            let mut snake = String::new();
            for c in debug.chars() {
                if c.is_ascii_uppercase() && !snake.is_empty() {
                    snake.push('_');
                }
                snake.push(c.to_ascii_lowercase());
            }
            assert_eq!(kind, snake);
        }
    }
}
