//! corsgate decides CORS for HTTP gateways.
//!
//! It compiles an origin allowlist — exact origins, `https://*.example.com` subdomain
//! patterns, port wildcards, anchored regexes — into an immutable matcher whose per-request
//! decision is about one hash lookup and returns precomputed response headers. The compiled
//! policy sits behind a lock-free, hot-swappable pointer, so the allowlist can change without a
//! restart and without a request ever waiting.
//!
//! The semantics (what matches what, which headers a response gets, what is refused) follow
//! the WHATWG Fetch standard and are written down in the crate's design document; the
//! highlights:
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
//!     assert!(issue.hint_text().is_some());
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
//! - `watch` (default): reload a policy when its file changes.
//! - `cli` (default): the `corsgate` command line. Library users who want the engine only:
//!   `default-features = false`.
//! - `pingora`: [`pingora`], CORS for a Pingora `ProxyHttp` (pingora-proxy without a TLS
//!   backend), with hot reload and SIGHUP.
//! - `internal-reference`: the plain reference implementation, for tests, benches and fuzzing.

#![deny(unsafe_code)]
#![warn(missing_docs)]

mod compiled;
mod decision;
pub mod docs;
mod engine;
mod error;
mod explain;
#[cfg(feature = "file")]
pub mod file;
mod header_name;
pub mod headers;
#[cfg(feature = "tower")]
pub mod layer;
mod method;
pub mod origin;
#[cfg(feature = "pingora")]
pub mod pingora;
mod policy;
pub mod preflight;
mod public_suffix;
mod request;
#[cfg(feature = "watch")]
pub mod watch;

#[cfg(feature = "internal-reference")]
pub mod fuzzing;
#[cfg(feature = "internal-reference")]
pub mod reference;

pub use decision::{Decision, DecisionKind, DenyReason, Grant, ResponseHeaders};
pub use engine::{Cors, Reloaded};
pub use error::{Field, Issue, IssueKind, Location, PolicyError, Severity};
pub use explain::Explanation;
pub use headers::{HeaderValueRef, ResponseHeader};
pub use policy::{
    AllowedHeaders, AllowedMethods, ExposedHeaders, OriginEntry, Policy, PolicyBuilder,
    MAX_AGE_CHROMIUM_CAP, MAX_AGE_LIMIT,
};
pub use request::{CorsRequest, ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK};
