//! corsgate decides CORS for HTTP gateways.
//!
//! It compiles an origin allowlist — exact origins, `https://*.example.com` subdomain
//! patterns, port wildcards, anchored regexes — into an immutable matcher whose per-request
//! decision is about one hash lookup and returns precomputed response headers. The compiled
//! policy sits behind a lock-free, hot-swappable pointer, so the allowlist can change without a
//! restart and without a request ever waiting.
//!
//! The semantics — what matches what, which headers a response gets, what is refused, and
//! which rule of the WHATWG Fetch standard each comes from — are written down in
//! [`docs::semantics`]; the highlights:
//!
//! - The request's `Origin` is never normalised: it must be exactly what a browser sends, and
//!   `Access-Control-Allow-Origin` echoes its bytes.
//! - `https://*.example.com` matches subdomains at any depth, never `example.com` itself, and
//!   never `example.com.evil.com` or `evilexample.com`.
//! - With `credentials = true`, `*`, insecure schemes, wildcards over public suffixes and
//!   regexes that match origins nobody configured are refused unless a `dangerously_*` option
//!   says otherwise.
//! - `Vary` is always right: `Origin` whenever the answer depends on it, merged into the
//!   upstream's `Vary` as one field line.
//! - Every problem in a policy is reported at once, each with a kind, the field, the value and
//!   a hint; nothing after a successful build can fail or panic.
//!
//! # A map of the crate
//!
//! **A request** is read into a [`CorsRequest`] (its CORS field lines, borrowed) and given to
//! [`Cors::decide`]. The handle (`engine`) lends the decision this thread's snapshot of the
//! serving generation (`generation`), which runs the origin matcher ([`origin`]: one hash
//! lookup for an exact origin), then for a preflight the method and header checks and the
//! verdict cache ([`preflight`]), and concludes a verdict ([`DecisionKind`], [`Grant`] or
//! [`DenyReason`]). The [`Decision`] it returns holds that verdict and borrows the header
//! values the generation rendered once (`headers`); [`Decision::apply`] and
//! [`ResponseHeaders`] write them into a response by one rule (corsgate's `Access-Control-*`
//! replace the upstream's, `Vary` merged into one line), [`Decision::write_http1`] and
//! [`ResponseHeaders::write_http1_merging_vary`] as bytes;
//! [`Decision::explain`] says why, in words ([`Explanation`]).
//!
//! **A policy** comes from a [`PolicyBuilder`] or a policy file (`file`), is validated into a
//! [`Policy`] (every problem at once, as [`Issue`]s in a [`PolicyError`]), and compiles into a
//! generation that [`Cors::reload`] swaps in atomically; `watch` reloads it when its file
//! changes. The adapters sit on top: the tower layer (`layer`) and `corsgate::pingora` in the
//! library, and the `corsgate` command line, a binary that uses only the public API.
//!
//! **Further reading**: [`docs::semantics`] (the rules, with their sources in Fetch),
//! [`docs::performance`] (what a decision costs, measured), [`docs::security`] (what corsgate
//! protects against) and [`docs::limitations`] (what it does not do).
//!
//! # Architecture: the layers
//!
//! Each module imports only the modules of lower layers, and within its layer only the ones
//! listed above it; `tests/layers.rs` reads `src/` and fails on any import that runs back up
//! (`use crate::…` grouped or nested, inline `crate::x::f()` paths, `super::` chains, `self::`
//! and `pub use` re-exports). Modules inside a folder (`origin/`, `headers/`, …) belong to their
//! folder's row. The binary (`src/bin/corsgate`, feature `cli`) is a crate of its own above all
//! of these and sees only the public API.
//!
//! | Layer | Module | What it owns |
//! |---|---|---|
//! | 1 vocabulary | `error` | [`Issue`], [`PolicyError`], the issue kinds, and the `Problem` a check reports before the policy places it |
//! | 1 vocabulary | `token` | RFC 9110 `token` and optional whitespace |
//! | 1 vocabulary | `cache_padded` | a value alone on its cache line |
//! | 1 vocabulary | `suggest` | "did you mean": the closest name to a misspelt one |
//! | 1 vocabulary | `public_suffix` | the vendored Public Suffix List |
//! | 1 vocabulary | `request` | [`CorsRequest`]: the request's CORS field lines, borrowed |
//! | 2 grammar | [`origin`] | origins as sent, patterns as configured, the compiled matcher, the regex proof |
//! | 2 grammar | `method` | methods: tokens, Fetch's normalisation, the forbidden ones |
//! | 3 policy | `policy` | [`PolicyBuilder`] → validated [`Policy`]: the allowlist's checks, the other fields' checks, header-name rules; [`PolicySet`]: named policies and the routes that choose one |
//! | 4 rendering | `headers` | every response header value rendered once per policy, `Vary` merging |
//! | 5 preflight | [`preflight`] | the preflight's method and header checks, the verdict cache |
//! | 6 compiled | `selection` | a set's routes compiled into hash tables: the request's host and path → route and policy |
//! | 6 compiled | `verdict` | what a decision concluded: [`DecisionKind`], [`Grant`], [`DenyReason`] |
//! | 6 compiled | `generation` | one compiled policy (the unit a reload swaps; a compiled policy set later) and the snapshot a decision holds |
//! | 7 deciding | `explain` | [`Explanation`]: why, in words |
//! | 7 deciding | `owned_headers` | the one rule for applying corsgate's headers to a response; [`ResponseHeaders`], the layer's forwarded headers |
//! | 7 deciding | `decision` | [`Decision`]: the headers a request gets, as values, into a response, or as HTTP/1 bytes |
//! | 7 deciding | `browser_check` | [`BrowserCheck`]: what a browser concludes from a response's CORS headers; [`Difference`] between two conclusions |
//! | 8 handle | [`metrics`] | per-thread decision counters summed on read, reload counters, [`metrics::Disagreements`] |
//! | 8 handle | `engine` | [`Cors`]: the hot-swappable generation and its counters |
//! | 8 handle | [`shadow`] | [`shadow::ShadowCors`]: a shadow policy set decided beside the serving one, disagreements counted |
//! | 9 adapters | `file` | policy files and environments (feature `file`) |
//! | 9 adapters | `layer` | the tower layer (feature `tower`) |
//! | 9 adapters | `watch` | reloading a policy when its file changes (feature `watch`) |
//! | 9 adapters | `pingora` | CORS for a Pingora proxy (feature `pingora`) |
//! | 10 proof | `reference` | the plain reference implementation (hidden, feature `internal-reference`) |
//! | 10 proof | `fuzzing` | the fuzz checks (hidden, feature `internal-reference`) |
//! | 11 documentation | [`docs`] | performance, security, limitations; no code |
//!
//! # Example: a policy, a decision, the headers
//! ```
//! use corsgate::{Cors, CorsRequest, Policy};
//!
//! let policy = Policy::builder()
//!     .origins(["https://app.example.com", "https://*.example.com"])
//!     .methods(["GET", "PUT"])
//!     .allow_headers(["content-type"])
//!     .credentials(true)
//!     .max_age(600)
//!     .build()?;
//! let cors = Cors::new(policy);
//!
//! let request = CorsRequest::new(b"OPTIONS")
//!     .origin(b"https://admin.example.com")
//!     .request_method(b"PUT")
//!     .request_headers(&[b"content-type"]);
//! let decision = cors.decide(&request);
//! assert!(decision.is_allowed());
//!
//! let mut raw = Vec::new();
//! decision.write_http1(&mut raw);
//! assert_eq!(
//!     String::from_utf8(raw).unwrap(),
//!     "Access-Control-Allow-Origin: https://admin.example.com\r\n\
//!      Access-Control-Allow-Credentials: true\r\n\
//!      Access-Control-Allow-Methods: GET,PUT\r\n\
//!      Access-Control-Allow-Headers: content-type\r\n\
//!      Access-Control-Max-Age: 600\r\n\
//!      Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers\r\n"
//! );
//! # Ok::<(), corsgate::PolicyError>(())
//! ```
//!
//! # Example: every problem at once
//! ```
//! use corsgate::Policy;
//!
//! let err = Policy::builder()
//!     .origins(["https://example.com/app", "https://*.github.io", "http://api.example.com"])
//!     .credentials(true)
//!     .max_age(100_000)
//!     .build()
//!     .unwrap_err();
//! assert_eq!(err.errors().count(), 4);
//! for issue in err.errors() {
//!     assert!(issue.hint().is_some());
//! }
//! println!("{err}");
//! ```
//!
//! # Example: applying a decision to an `http` response
//! ```
//! use corsgate::{Cors, CorsRequest, Policy};
//! use http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, VARY};
//!
//! let cors = Cors::new(Policy::new(["https://app.example.com"])?);
//! let request = http::Request::get("/").header("origin", "https://app.example.com").body(()).unwrap();
//! let decision = cors.decide(&CorsRequest::from_request(&request));
//!
//! let mut response = http::Response::builder()
//!     .header(ACCESS_CONTROL_ALLOW_ORIGIN, "*")      // the upstream's own guess: replaced
//!     .header(VARY, "Accept-Encoding")               // merged, not overwritten
//!     .body(())
//!     .unwrap();
//! decision.apply(response.headers_mut());
//! assert_eq!(response.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example.com");
//! // One `Vary` line: caches such as nginx before 1.23 key on the last line alone.
//! let vary: Vec<_> = response.headers().get_all(VARY).iter().collect();
//! assert_eq!(vary, ["Accept-Encoding, Origin"]);
//! # Ok::<(), corsgate::PolicyError>(())
//! ```
//!
//! # Features
//! - `file` (default): policy files in TOML or JSON, with environments.
//! - `tower` (default): `CorsLayer` for tower, axum and hyper.
//! - `watch`: reload a policy when its file changes (adds notify and tracing).
//! - `cli`: the `corsgate` command line (`cargo install corsgate --features cli`); it adds
//!   clap, tokio, hyper and tracing-subscriber, which a library user does not compile.
//! - `pingora`: `corsgate::pingora`, CORS for a Pingora `ProxyHttp` (pingora-proxy without a
//!   TLS backend), with hot reload and SIGHUP.
//! - `internal-reference`: the plain reference implementation, for tests, benches and fuzzing.
//!
//! With `default-features = false` the engine alone depends on `http`, `ahash`, `arc-swap`,
//! `regex-automata`, `regex-syntax`, `idna` and `thread_local`, and carries the Public Suffix
//! List itself (`data/public_suffix_list.dat`, pinned).

#![deny(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

mod browser_check;
mod cache_padded;
mod decision;
pub mod docs;
mod engine;
mod error;
mod explain;
#[cfg(feature = "file")]
pub mod file;
mod generation;
mod headers;
#[cfg(feature = "tower")]
pub mod layer;
mod method;
pub mod metrics;
pub mod origin;
mod owned_headers;
#[cfg(feature = "pingora")]
pub mod pingora;
mod policy;
pub mod preflight;
mod public_suffix;
mod request;
mod selection;
pub mod shadow;
mod suggest;
mod token;
mod verdict;
#[cfg(feature = "watch")]
pub mod watch;

#[cfg(feature = "internal-reference")]
#[doc(hidden)]
pub mod fuzzing;
#[cfg(feature = "internal-reference")]
#[doc(hidden)]
pub mod reference;

pub use browser_check::{BrowserCheck, Difference};
pub use decision::Decision;
pub use engine::{Cors, Reloaded};
pub use error::{Field, Issue, IssueKind, Location, PolicyError, Severity};
pub use explain::Explanation;
pub use headers::{HeaderValueRef, ResponseHeader, ACCESS_CONTROL_ALLOW_PRIVATE_NETWORK};
pub use owned_headers::ResponseHeaders;
pub use policy::{
    is_valid_policy_name, AllowedHeaders, AllowedMethods, ExposedHeaders, NamedPolicy, OriginEntry,
    Policy, PolicyBuilder, PolicySet, PolicySetBuilder, Route, RouteBuilder, RouteHost,
    RouteTarget, DEFAULT_POLICY, MAX_AGE_CHROMIUM_CAP, MAX_AGE_LIMIT, MAX_PATH_PREFIX_LEN,
    MAX_POLICIES, MAX_POLICY_NAME_LEN, MAX_ROUTES, MAX_ROUTE_HOSTS, OFF_POLICY,
};
pub use request::{CorsRequest, ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK};
pub use verdict::{DecisionKind, DenyReason, Grant};
