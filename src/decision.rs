//! [`Decision`]: what corsgate decided for one request, the status and headers that follow
//! from it, and an explanation.
//!
//! A decision holds a snapshot of the generation that made it and borrows the request; its
//! headers are borrowed too (rendered values, or the request's own bytes where the policy
//! echoes). Nothing is rendered or allocated until the caller writes the headers somewhere: into
//! an `http::HeaderMap` ([`Decision::apply`]), as HTTP/1 bytes ([`Decision::write_http1`],
//! [`Decision::write_http1_merging_vary`]), or into an owned, allocation-free
//! [`ResponseHeaders`] to apply after an `.await`. Every writer that adds to `Vary` leaves the
//! response with one `Vary` field line ([`docs::semantics`](crate::docs::semantics)).

use std::fmt;

use http::header::HeaderMap;
use http::StatusCode;

use crate::explain::Explanation;
use crate::generation::{AnyOrigin, CacheLookup, Chosen, CompiledPolicy, Outcome, Snapshot};
use crate::headers::{vary, AllowOrigin, HeaderValueRef, ResponseHeader};
#[cfg(feature = "tower")]
use crate::owned_headers::ForwardHeaders;
use crate::owned_headers::{OwnedHeaders, ResponseHeaders, MAX_HEADERS};
use crate::policy::{OriginEntry, Policy};
use crate::preflight::PreflightRules;
use crate::request::{CorsRequest, Lines};
use crate::verdict::{DecisionKind, DenyReason, Grant};

/// The decision for one request. See the module documentation.
///
/// # Example
/// ```
/// use corsgate::{Cors, CorsRequest, DecisionKind, Policy};
///
/// let cors = Cors::new(Policy::builder().origins(["https://app.example.com"]).methods(["PUT"]).build()?);
/// let decision = cors.decide(
///     &CorsRequest::new(b"OPTIONS").origin(b"https://app.example.com").request_method(b"PUT"),
/// );
/// assert_eq!(decision.kind(), DecisionKind::Preflight);
/// assert!(decision.is_allowed());
/// assert_eq!(decision.status().map(|s| s.as_u16()), Some(204));
/// let headers: Vec<(String, String)> = decision
///     .headers()
///     .map(|(name, value)| (name.as_str().to_owned(), value.to_str_lossy()))
///     .collect();
/// assert_eq!(headers[0], ("access-control-allow-origin".into(), "https://app.example.com".into()));
/// # Ok::<(), corsgate::PolicyError>(())
/// ```
#[must_use = "a decision changes nothing until its headers are applied or written"]
pub struct Decision<'c, 'r> {
    generation: Snapshot<'c>,
    chosen: Chosen,
    /// What of the request the headers and the explanation still need.
    request_method: Lines<'r>,
    request_headers: Lines<'r>,
    outcome: Outcome<'r>,
}

impl fmt::Debug for Decision<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decision")
            .field("generation", &self.generation.number)
            .field("kind", &self.outcome.kind)
            .field("verdict", &self.outcome.verdict)
            .finish()
    }
}

impl<'c, 'r> Decision<'c, 'r> {
    pub(crate) fn new(generation: Snapshot<'c>, request: &CorsRequest<'r>) -> Decision<'c, 'r> {
        let chosen = generation.choose(request);
        let outcome = if chosen.off {
            CompiledPolicy::off()
        } else {
            generation.policy(chosen).decide(request)
        };
        // Only preflights need these later (the echoed header list, the explanation). Not
        // copying them otherwise matters: reading a request built a moment ago with wide loads
        // stalls store forwarding, which cost about 10 ns per decision, measured.
        let (request_method, request_headers) = (request.request_method, request.request_headers);
        Decision {
            generation,
            chosen,
            request_method,
            request_headers,
            outcome,
        }
    }

    /// What the engine counts: the counter slot (the policy's, or `off`'s), the kind, the
    /// classified reason of a denial, and the verdict-cache lookup.
    #[inline]
    pub(crate) fn tally(&self) -> (u32, DecisionKind, Option<DenyReason>, CacheLookup) {
        let slot = if self.chosen.off {
            self.generation.off_slot
        } else {
            self.compiled().slot
        };
        let denial = match self.outcome.verdict {
            Ok(_) => None,
            Err(_) => self.deny_reason(),
        };
        (slot, self.outcome.kind, denial, self.outcome.cache)
    }

    /// The compiled policy that decided (`default` for an `off` route, which reads nothing
    /// of it).
    #[inline(always)]
    fn compiled(&self) -> &CompiledPolicy {
        self.generation.policy(self.chosen)
    }

    /// The preflight's requested method, Fetch-normalised (what `*` with credentials echoes).
    fn requested_method(&self) -> &'r [u8] {
        PreflightRules::requested_method(self.request_method)
    }

    /// Not CORS, actual or preflight.
    pub fn kind(&self) -> DecisionKind {
        self.outcome.kind
    }

    /// `true` unless a CORS request was refused. Not-CORS requests count as allowed: nothing
    /// restricts them.
    pub fn is_allowed(&self) -> bool {
        self.outcome.verdict.is_ok()
    }

    /// Why it was allowed.
    pub fn grant(&self) -> Option<Grant> {
        self.outcome.verdict.ok()
    }

    /// Why it was refused.
    pub fn deny_reason(&self) -> Option<DenyReason> {
        self.compiled().classified(&self.outcome).err()
    }

    /// The allowlist entry that matched, if one did.
    pub fn matched_entry(&self) -> Option<&OriginEntry> {
        match self.outcome.verdict {
            Ok(Grant::Entry(i)) => self.compiled().policy.origins().get(i as usize),
            _ => None,
        }
    }

    /// The status corsgate answers with itself: `Some` for a preflight it answers (allowed:
    /// 204 or 200; denied: 403), `None` when the request goes to the upstream.
    pub fn status(&self) -> Option<StatusCode> {
        if self.outcome.kind != DecisionKind::Preflight {
            return None;
        }
        match self.outcome.verdict {
            Ok(_) => StatusCode::from_u16(self.compiled().policy.preflight_status()).ok(),
            Err(_) if self.compiled().policy.preflight_passthrough() => None,
            Err(_) => Some(StatusCode::FORBIDDEN),
        }
    }

    /// `true` when the request goes on to the upstream (actual and not-CORS requests, and
    /// denied preflights with `preflight_passthrough`).
    pub fn forwards(&self) -> bool {
        self.status().is_none()
    }

    /// The number of the generation that decided.
    pub fn generation(&self) -> u64 {
        self.generation.number
    }

    /// The policy that decided (for a request on an `off` route, which no policy decides,
    /// the set's default policy; see [`is_off`](Decision::is_off)).
    pub fn policy(&self) -> &Policy {
        &self.compiled().policy
    }

    /// The name of the policy that decided: `default`, a named policy of the set, or `off`.
    pub fn policy_name(&self) -> &str {
        if self.chosen.off {
            return crate::policy::OFF_POLICY;
        }
        self.generation.set.policies()[self.chosen.policy as usize].name()
    }

    /// The name of the route that chose the policy; `None` when no route matched (the default
    /// policy decided) or the set has no routes.
    pub fn route_name(&self) -> Option<&str> {
        self.generation
            .set
            .routes()
            .get(self.chosen.route as usize)
            .map(|r| r.name())
    }

    /// `true` when the request's route turns CORS off: nothing was checked, nothing is added.
    pub fn is_off(&self) -> bool {
        self.chosen.off
    }

    /// The headers corsgate sets: the whole header set of a preflight it answers, or what it
    /// adds to the upstream's response. In a fixed order: `Access-Control-Allow-Origin`,
    /// `-Allow-Credentials`, `-Allow-Methods`, `-Allow-Headers`, `-Expose-Headers`, `-Max-Age`,
    /// `-Allow-Private-Network`, `Vary`.
    pub fn headers(&self) -> impl Iterator<Item = (ResponseHeader, HeaderValueRef<'_>)> + '_ {
        let (items, len) = self.header_array();
        items.into_iter().take(len).flatten()
    }

    fn header_array<'a>(
        &'a self,
    ) -> (
        [Option<(ResponseHeader, HeaderValueRef<'a>)>; MAX_HEADERS],
        usize,
    ) {
        let mut items: [Option<(ResponseHeader, HeaderValueRef<'a>)>; MAX_HEADERS] =
            [None; MAX_HEADERS];
        let mut len = 0;
        self.visit_headers(|h, v| {
            items[len] = Some((h, v));
            len += 1;
        });
        (items, len)
    }

    /// Calls `f` with each header, in order. The one place that says which headers a decision
    /// has; callers that write them somewhere use it directly, without an intermediate array.
    fn visit_headers<'a>(&'a self, mut f: impl FnMut(ResponseHeader, HeaderValueRef<'a>)) {
        if self.chosen.off {
            return;
        }
        let g: &'a CompiledPolicy = self.compiled();
        let b = &g.blocks;
        let o = &self.outcome;
        let independent = g.any == AnyOrigin::Star;
        let mut push = |h: ResponseHeader, v: Option<HeaderValueRef<'a>>| {
            if let Some(v) = v {
                f(h, v);
            }
        };
        let allow_origin = || match (independent, o.origin) {
            (false, Some(line)) => Some(AllowOrigin::echo(line)),
            _ => Some(b.allow_origin.any()),
        };
        match (o.kind, o.verdict) {
            (DecisionKind::NotCors, _) | (DecisionKind::Actual, Ok(_)) if independent => {
                push(ResponseHeader::AllowOrigin, Some(b.allow_origin.any()));
                push(ResponseHeader::ExposeHeaders, b.expose_headers.value());
            }
            (DecisionKind::NotCors, _) | (DecisionKind::Actual, Err(_)) => {
                push(ResponseHeader::Vary, b.vary.actual());
            }
            (DecisionKind::Actual, Ok(_)) => {
                push(ResponseHeader::AllowOrigin, allow_origin());
                push(
                    ResponseHeader::AllowCredentials,
                    b.allow_credentials.value(),
                );
                push(ResponseHeader::ExposeHeaders, b.expose_headers.value());
                push(ResponseHeader::Vary, b.vary.actual());
            }
            (DecisionKind::Preflight, Ok(_)) => {
                push(ResponseHeader::AllowOrigin, allow_origin());
                push(
                    ResponseHeader::AllowCredentials,
                    b.allow_credentials.value(),
                );
                push(
                    ResponseHeader::AllowMethods,
                    b.allow_methods.value(self.requested_method()),
                );
                if o.headers_requested {
                    push(
                        ResponseHeader::AllowHeaders,
                        Some(b.allow_headers.value(self.request_headers)),
                    );
                }
                // Browsers ignore it on a preflight (Fetch's "main fetch", §4.1, reads it from
                // the actual response), but the Kubernetes Gateway API's conformance suite
                // requires it there, and it is harmless (see `docs::semantics`, Decisions).
                push(ResponseHeader::ExposeHeaders, b.expose_headers.value());
                push(ResponseHeader::MaxAge, b.max_age.value());
                if o.private_network {
                    push(
                        ResponseHeader::AllowPrivateNetwork,
                        Some(b.allow_private_network.value()),
                    );
                }
                push(ResponseHeader::Vary, Some(b.vary.preflight()));
            }
            (DecisionKind::Preflight, Err(_)) => {
                push(ResponseHeader::Vary, Some(b.vary.preflight()));
            }
        }
    }

    /// Writes the decision's headers into a response's header map: corsgate's
    /// `Access-Control-*` headers replace any the upstream set (never two
    /// `Access-Control-Allow-Origin` values), and `Vary` is merged into **one** field line
    /// with the upstream's, each name once (`*` stays `*`): caches such as nginx before 1.23
    /// key on the last `Vary` line alone. With no upstream `Vary`, nothing is allocated.
    ///
    /// # Example
    /// ```
    /// use corsgate::{Cors, CorsRequest, Policy};
    /// use http::header::VARY;
    ///
    /// let cors = Cors::new(Policy::new(["https://app.example.com"])?);
    /// let decision = cors.decide(&CorsRequest::new(b"GET").origin(b"https://app.example.com"));
    /// let mut headers = http::HeaderMap::new();
    /// headers.append(VARY, "Cookie".parse().unwrap());
    /// headers.append(VARY, "Accept-Encoding".parse().unwrap());
    /// decision.apply(&mut headers);
    /// let vary: Vec<_> = headers.get_all(VARY).iter().collect();
    /// assert_eq!(vary, ["Cookie, Accept-Encoding, Origin"]);
    /// # Ok::<(), corsgate::PolicyError>(())
    /// ```
    pub fn apply(&self, headers: &mut HeaderMap) {
        if self.chosen.off {
            // An `off` route: the response passes untouched, its own CORS headers included.
            return;
        }
        let mut out = OwnedHeaders::begin(headers, MAX_HEADERS);
        self.visit_headers(|h, v| out.put(h, v.to_header_value()));
    }

    /// The decision's headers as owned values, to apply after an `.await` without holding the
    /// generation. Does not allocate: rendered values are reference-counted clones.
    #[must_use]
    pub fn to_response_headers(&self) -> ResponseHeaders {
        let mut out = ResponseHeaders {
            items: Default::default(),
            len: 0,
            untouched: self.chosen.off,
        };
        for (h, v) in self.headers() {
            out.items[out.len] = Some((h, v.to_header_value()));
            out.len += 1;
        }
        out
    }

    /// The headers of a request that goes on to the upstream, for `CorsLayer`: the same as
    /// [`headers`](Decision::headers) gives for it, built without the general array (whose
    /// copies were a tenth of the layer's cost). Answered preflights never reach here.
    #[cfg(feature = "tower")]
    pub(crate) fn forward_headers(&self) -> ForwardHeaders {
        if self.chosen.off {
            return ForwardHeaders {
                untouched: true,
                ..ForwardHeaders::default()
            };
        }
        let g: &CompiledPolicy = self.compiled();
        let b = &g.blocks;
        let o = &self.outcome;
        let value = |v: HeaderValueRef<'_>| v.to_header_value();
        match (o.kind, o.verdict) {
            (DecisionKind::NotCors, _) | (DecisionKind::Actual, Ok(_))
                if g.any == AnyOrigin::Star =>
            {
                ForwardHeaders {
                    allow_origin: Some(value(b.allow_origin.any())),
                    expose: b.expose_headers.value().map(value),
                    ..ForwardHeaders::default()
                }
            }
            (DecisionKind::Actual, Ok(_)) => ForwardHeaders {
                allow_origin: o.origin.map(|line| value(AllowOrigin::echo(line))),
                allow_credentials: b.allow_credentials.value().is_some(),
                expose: b.expose_headers.value().map(value),
                vary: b.vary.actual().map(value),
                untouched: false,
            },
            (DecisionKind::Preflight, _) => ForwardHeaders {
                vary: Some(value(b.vary.preflight())),
                ..ForwardHeaders::default()
            },
            (DecisionKind::NotCors, _) | (DecisionKind::Actual, Err(_)) => ForwardHeaders {
                vary: b.vary.actual().map(value),
                ..ForwardHeaders::default()
            },
        }
    }

    /// For a preflight corsgate answers: the complete response, with an empty body.
    pub fn preflight_response<B: Default>(&self) -> Option<http::Response<B>> {
        let status = self.status()?;
        let mut response = http::Response::new(B::default());
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.reserve(MAX_HEADERS);
        self.visit_headers(|h, v| {
            headers.insert(h.name(), v.to_header_value());
        });
        Some(response)
    }

    /// Appends the headers as HTTP/1 lines (`Name: value\r\n`), from the ready lines rendered
    /// at compile time plus the echoed request bytes, for a response that has no `Vary` of
    /// its own (a preflight corsgate answers, or an upstream response without `Vary`). When
    /// the upstream's response has `Vary` lines, use
    /// [`write_http1_merging_vary`](Decision::write_http1_merging_vary) instead, so that the
    /// response keeps one `Vary` line.
    pub fn write_http1(&self, out: &mut Vec<u8>) {
        self.visit_headers(|h, v| v.write_http1_line(h, out));
    }

    /// Appends the headers as HTTP/1 lines like [`write_http1`](Decision::write_http1), with
    /// the upstream response's `Vary` field lines (`upstream_vary`, their values) and
    /// corsgate's combined into one `Vary` line, each name once (`*` stays `*`). The caller
    /// copies every other upstream header and **skips its `Vary` lines**: this writes them.
    /// Caches such as nginx before 1.23 key on the last `Vary` line alone, so a second line
    /// would let them serve one user's `Vary: Cookie` page to another.
    ///
    /// # Example
    /// ```
    /// use corsgate::{Cors, CorsRequest, Policy};
    ///
    /// let cors = Cors::new(Policy::new(["https://app.example.com"])?);
    /// let decision = cors.decide(&CorsRequest::new(b"GET").origin(b"https://evil.example"));
    /// let mut raw = Vec::new();
    /// decision.write_http1_merging_vary(&[b"Cookie", b"accept-encoding"], &mut raw);
    /// assert_eq!(raw, b"Vary: Cookie, accept-encoding, Origin\r\n");
    /// # Ok::<(), corsgate::PolicyError>(())
    /// ```
    pub fn write_http1_merging_vary(&self, upstream_vary: &[&[u8]], out: &mut Vec<u8>) {
        if self.chosen.off {
            // An `off` route: the upstream's Vary lines, as they were.
            for line in upstream_vary {
                out.extend_from_slice(b"Vary: ");
                out.extend_from_slice(line);
                out.extend_from_slice(b"\r\n");
            }
            return;
        }
        let mut wrote_vary = false;
        self.visit_headers(|h, v| match h {
            ResponseHeader::Vary => {
                wrote_vary = true;
                vary::write_http1(upstream_vary, Some(&v.as_bytes()), out);
            }
            h => v.write_http1_line(h, out),
        });
        if !wrote_vary {
            vary::write_http1(upstream_vary, None, out);
        }
    }

    /// A one-line reason, cheap to produce (no scan of the allowlist): which entry matched, or
    /// why the request was refused. [`explain`](Decision::explain) says more.
    pub fn reason(&self) -> String {
        let policy = &self.compiled().policy;
        match self.outcome.verdict {
            Ok(Grant::NotCors) => "not a CORS request (no Origin)".to_owned(),
            Ok(Grant::RouteOff) => format!(
                "CORS is off on route {}",
                self.route_name().unwrap_or_default()
            ),
            Ok(Grant::Entry(i)) => match policy.origins().get(i as usize) {
                Some(entry) => format!("origin matches {entry}"),
                None => "origin allowed".to_owned(),
            },
            Ok(Grant::AnyOrigin) => "any origin is allowed (*)".to_owned(),
            Ok(Grant::ReflectAny) => {
                "any origin is reflected (dangerously_reflect_any_origin_with_credentials)"
                    .to_owned()
            }
            Err(_) => self
                .deny_reason()
                .map_or_else(String::new, |r| r.to_string()),
        }
    }

    /// Why: which entry matched, or why nothing did, with near misses.
    pub fn explain(&self) -> Explanation {
        let explanation = Explanation::new(
            self.compiled(),
            self.request_method,
            self.request_headers,
            &self.outcome,
            self.status(),
        );
        if self.generation.selection.is_empty() {
            return explanation.with_route(None, self.policy_name(), None);
        }
        let line = match self.generation.set.routes().get(self.chosen.route as usize) {
            None => "no route matches the request's host and path, so the default policy decides"
                .to_owned(),
            Some(route) => {
                let hosts = route.hosts().map_or_else(
                    || "every host".to_owned(),
                    |h| {
                        h.iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                );
                let prefix = route
                    .path_prefix()
                    .map_or_else(|| "every path".to_owned(), |p| format!("path_prefix {p}"));
                format!(
                    "route {} ({hosts}; {prefix}) chose policy {}: the most specific route whose host and path match (exact host, then wildcards with more labels, then routes without hosts; then the longest path_prefix)",
                    route.name(),
                    self.policy_name()
                )
            }
        };
        explanation.with_route(self.route_name(), self.policy_name(), Some(line))
    }
}
