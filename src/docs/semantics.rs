//! The semantics: what corsgate decides, and why, in one place. Everything here is enforced by
//! the code and by the case tables under `tests/data`; where a rule comes from the WHATWG
//! [Fetch standard](https://fetch.spec.whatwg.org/), it is linked.
//!
//! # The pipeline
//!
//! A policy (from [`PolicyBuilder`](crate::PolicyBuilder), a policy file, or a file's
//! environment) is validated once: every problem is reported at once, each with a kind, the
//! field, the value, a hint and, from a file, `file:line:column`; cosmetic differences are
//! canonicalised with a warning. A valid [`Policy`](crate::Policy) compiles into a generation —
//! origin matchers, every request-independent header value rendered once, a verdict cache of
//! its own — that [`Cors`](crate::Cors) serves behind a lock-free pointer. A reload compiles
//! off the request path and swaps atomically; a policy that fails validation leaves the old one
//! serving. Deciding allocates nothing, takes no lock, and costs about one hash lookup for an
//! exact origin whatever the size of the allowlist.
//!
//! # The request's `Origin`
//!
//! Browsers send only serialized origins ([Fetch, the `Origin` header](https://fetch.spec.whatwg.org/#origin-header), `origin-or-null`): a lowercase scheme, a
//! lowercase ASCII host (IDNs as punycode), canonical IPv4, bracketed RFC 5952 IPv6, no default
//! port, no path; or `null`. corsgate never normalises the request's Origin: it checks it
//! against that grammar in one pass (scheme ≤ 64 bytes, host ≤ 253, label ≤ 63, port 1–65535
//! without a leading zero), and anything else is not allowed. `Access-Control-Allow-Origin`
//! echoes the request's bytes. Two relaxations, because the URL Standard produces them and
//! browsers send them: labels may hold `_`, and a host may end in one `.` (which is then part
//! of the origin: `https://example.com.` is not `https://example.com`). Several `Origin` lines,
//! or a comma in one, are not allowed; an empty `Origin` is a CORS request that is not allowed.
//!
//! # The allowlist
//!
//! | entry | matches |
//! |---|---|
//! | `https://example.com` | that origin exactly |
//! | `https://*.example.com` | subdomains at any depth, never `example.com` itself; scheme and port must match |
//! | `http://localhost:*` | any port, or none |
//! | `regex:<pattern>` | an origin the pattern matches whole (anchored), among those that pass the grammar above |
//! | `*` | any origin: `Access-Control-Allow-Origin: *` |
//! | `null` | `Origin: null`, only with `dangerously_allow_null_origin` |
//!
//! Uppercase, a trailing `/`, an explicit default port or a Unicode host are canonicalised with
//! a warning; a path, a query, userinfo, a misplaced `*`, a bad port or IP literal, a scheme
//! whose pages send `null`, or a regex whose host has an unescaped `.` where a label boundary
//! belongs are errors. Redundant entries are merged with a warning.
//!
//! With `credentials = true`, a browser sends cookies, so corsgate refuses what would hand them
//! to someone else, unless a `dangerously_*` option says the risk is taken: `*`
//! (`dangerously_reflect_any_origin_with_credentials` echoes any origin instead); a scheme other
//! than `https` on a host that is not loopback (`dangerously_allow_insecure_origins`); a
//! wildcard over a public suffix, or over a subtree that holds one, by the vendored Public
//! Suffix List (`dangerously_allow_public_suffix_wildcards`); and a regex that is not *proven*
//! to match only `https` hosts under the registrable domains it spells (plus loopback) — the
//! proof is exact, on automata, never by sampling; a regex beyond its analysis budget is
//! refused as unprovable.
//!
//! # Methods and headers
//!
//! Methods are tokens; the six standard ones compare case-insensitively and are written
//! uppercase, every other method is case-sensitive ([Fetch, "normalize"](https://fetch.spec.whatwg.org/#concept-method-normalize)). `CONNECT`,
//! `TRACE` and `TRACK` are refused ([Fetch's forbidden methods](https://fetch.spec.whatwg.org/#forbidden-method)), also as a requested method
//! under `*`. `GET`, `HEAD` and `POST` are always allowed ([CORS-safelisted methods](https://fetch.spec.whatwg.org/#cors-safelisted-method)). Allowed
//! request headers are tokens compared case-insensitively; [forbidden request headers](https://fetch.spec.whatwg.org/#forbidden-request-header)
//! (`Cookie`, `Host`, `Proxy-*`, `Sec-*`, …) are refused. `*` allows any header but
//! `Authorization`, which Fetch never lets a wildcard cover (a
//! [CORS non-wildcard request-header name](https://fetch.spec.whatwg.org/#cors-non-wildcard-request-header-name)). With credentials, `*` methods or headers echo the
//! request's. Exposed headers: `Set-Cookie` and names that never appear on an actual response
//! are refused, `*` with credentials is refused, safelisted ones are dropped with a warning.
//! `max_age` is 0–86400 seconds (a warning above Chromium's 7200).
//!
//! The preflight's `Access-Control-Request-Headers` is parsed tolerantly but bounded, whatever
//! the policy allows: several lines, any case, optional whitespace, duplicates; at most 4 KiB
//! and 64 names, at most 16 empty elements; a requested method over 64 bytes fails.
//!
//! # Decisions
//!
//! A request is a preflight when its method is `OPTIONS` and it has `Origin` and
//! `Access-Control-Request-Method` ([Fetch, the CORS protocol](https://fetch.spec.whatwg.org/#http-cors-protocol)); with an `Origin`
//! otherwise it is an actual CORS request; without one, not CORS.
//!
//! | case | response |
//! |---|---|
//! | not CORS | untouched, plus `Vary: Origin` when the answer depends on the Origin |
//! | actual, allowed | `Access-Control-Allow-Origin`, `-Allow-Credentials: true` with credentials, `-Expose-Headers` when configured, `Vary: Origin` |
//! | actual, not allowed | forwarded; no CORS headers; `Vary: Origin` |
//! | preflight, allowed | answered, never forwarded: 204 (or 200), the origin's headers, `-Allow-Methods`, `-Allow-Headers` when headers were requested, `-Max-Age`, `-Allow-Private-Network: true` when enabled and requested, `Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers` |
//! | preflight, not allowed | 403 without CORS headers (or forwarded, with `preflight_passthrough`), the same `Vary` |
//!
//! A browser's [CORS check](https://fetch.spec.whatwg.org/#concept-cors-check) accepts one `Access-Control-Allow-Origin` value that is
//! `*` or the request's origin byte for byte, and `Access-Control-Allow-Credentials: true` for
//! a credentialed request; its [CORS-preflight fetch](https://fetch.spec.whatwg.org/#cors-preflight-fetch) compares the
//! requested method and headers with `-Allow-Methods` and `-Allow-Headers`. With `*` and no
//! credentials the answer never depends on the Origin, so every response gets
//! `Access-Control-Allow-Origin: *` and no `Vary: Origin`.
//!
//! corsgate owns the `Access-Control-*` response headers: any an upstream set are replaced,
//! never duplicated (two `Access-Control-Allow-Origin` values fail in every browser). `Vary`
//! (RFC 9110 §12.5.5; [Fetch, "CORS protocol and HTTP caches"](https://fetch.spec.whatwg.org/#cors-protocol-and-http-caches)
//! asks for `Vary: Origin` whenever the answer depends on the Origin)
//! is merged into the upstream's and written as one field line, `Vary: *` staying `*`: caches
//! such as nginx before 1.23 key on the last `Vary` line only.
//!
//! # Policy files and reloads
//!
//! Files are TOML (JSON when the name ends in `.json`) with the builder's field names;
//! `[environments.NAME]` sections add origins to the base list and override other fields; the
//! active environment is an argument or `CORSGATE_ENV`, and naming one that does not exist is
//! an error. A reload (by [`Cors::reload`](crate::Cors::reload), a watched file or SIGHUP in
//! the command line) never stops a request and never serves a stale verdict: the verdict cache
//! belongs to the generation.
//!
//! # Policy sets: many hosts and routes
//!
//! A [`PolicySet`](crate::PolicySet) holds named policies and routes that choose one by the
//! request's host and path; a file with only top-level fields (and [`Cors::new`](crate::Cors::new))
//! is a set of one policy, `default`, and no routes, and decides exactly as before.
//!
//! - **The host** is the URI's authority when the request has one (absolute form, HTTP/2), else
//!   the single `Host` field; its port and one trailing dot are dropped and it is compared
//!   ASCII-lowercase, IPv6 literals in their canonical spelling. A missing host, several `Host`
//!   lines, or a host outside the host grammar of the allowlist (the one browsers serialise)
//!   matches only routes without `hosts`.
//! - **The path** is the raw request path without its query, never percent-decoded or
//!   normalised; `/` when empty. A `path_prefix` matches segment-wise: `/public` matches
//!   `/public` and `/public/x`, never `/publicity`. Because the path is not normalised, a layer
//!   in front of an application that normalises paths must come **after** that normalisation,
//!   or refuse what could be read two ways: `corsgate serve` answers 400 to `.`/`..` segments,
//!   percent-encoded `.`, `/` and `\`, and backslashes, before routing.
//! - **The order** is the Gateway API's: among the routes whose host and path both match, an
//!   exact host beats every wildcard, a wildcard with more labels beats one with fewer, and both
//!   beat routes without `hosts`; within that, the longest `path_prefix` wins. `*.example.com`
//!   matches hosts below `example.com` at any depth, never `example.com` or `evilexample.com`.
//!   No route matches → the default policy. Two routes with the same host entry and prefix are
//!   refused (`duplicate_route`), so there are no ties.
//! - **`off`** turns CORS off on a route: nothing is checked, nothing is added (not even
//!   `Vary`), and the upstream's own `Access-Control-*` headers pass through untouched.
//! - **Cost**: choosing is a hash probe per label of the host and per segment of the path (no
//!   deeper than the longest prefix), whatever the number of routes; a set without routes reads
//!   neither host nor path. Each policy has its own header values and its own verdict cache,
//!   allocated on its first preflight. One reload swaps the whole set.
//!
//! # Dependencies
//!
//! The engine (`default-features = false`) depends on `http`, `ahash`, `arc-swap`,
//! `regex-automata` and `regex-syntax`, `idna` and `thread_local`, and carries the Public
//! Suffix List itself. The default features add policy files (`serde`, `serde_json`, `toml`,
//! `libc`) and the tower layer (`tower-layer`, `tower-service`, `pin-project-lite`); `watch`
//! adds `notify` and `tracing`; `cli` adds `clap`, `tokio`, `hyper`, `hyper-util`, `http-body`,
//! `http-body-util`, `bytes`, `tracing-subscriber` and `rustix`; `pingora` adds Pingora.
