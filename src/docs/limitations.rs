//! What corsgate does not do, and trade-offs worth knowing.
//!
//! - **Per-thread snapshots keep one old generation alive per idle thread.** Each thread keeps
//!   the generation it last decided with until its next decision; a thread that decided once
//!   and then stays idle holds the generation that was serving then. That is at most one
//!   generation per thread, and it is what makes a decision cost one shared atomic load instead
//!   of `ArcSwap::load()`'s guard (see [`performance`](super::performance)).
//! - **`Decision` is not `Send`.** It borrows the deciding thread's snapshot. Use
//!   [`Decision::to_response_headers`](crate::Decision::to_response_headers) to carry headers
//!   across threads or `.await`s (as `CorsLayer` does).
//! - **The verdict cache covers browser-shaped preflights**: one `Access-Control-Request-Headers`
//!   line of at most 112 bytes and a method of at most 16 bytes. Other preflights are decided
//!   in full every time, within the same bounds.
//! - **The first regex search on a thread allocates** that thread's search cache; after that,
//!   regex entries allocate nothing.
//! - **The Public Suffix List is the one compiled into the `psl` crate**; a newer list arrives
//!   with a newer `psl`.
//! - **Request-side `xn--` labels are not decoded**: a request Origin is compared byte for byte
//!   with entries whose Punycode was validated when the policy was built.
//! - **`corsgate serve` speaks HTTP/1.1 and proxies to `http://` upstreams only**: put TLS in
//!   front of it, as a sidecar does.
//! - **`corsgate check` ignores `CORSGATE_ENV`**, so that a deployment running one environment
//!   cannot hide a broken other; `--env` checks one on purpose.
//! - **Explanations' near misses are heuristics** (trailing slash, scheme, port, subdomain of an
//!   exact entry, apex of a wildcard, trailing dot, suffix confusion), not a proof that nothing
//!   else is close.
//! - **Rendered header values live for the life of the process.** Each distinct
//!   `Access-Control-*` value a policy renders (method and header lists, max-age, ...) is stored
//!   once per process so that responses carry it as a `'static` `HeaderValue`, whose clone
//!   touches no reference count shared between cores. Reloading the same values stores nothing
//!   new; past 1 MiB of distinct values (a process that keeps reloading different lists), new
//!   values are reference-counted instead, with the same behaviour.
//! - **A reload cannot reach what a shared cache already stored.** Under `*` without
//!   credentials responses carry `Access-Control-Allow-Origin: *` and no `Vary: Origin`, so a
//!   cache in front of corsgate stores one copy for every origin; after a reload to an
//!   allowlist it keeps serving those copies, `*` and all, until they expire (their `max-age`),
//!   and browsers keep preflight answers for their `Access-Control-Max-Age`. Purge the cache
//!   after such a reload, or shorten the lifetimes before it.
//! - **An upstream's own several `Vary` lines are combined only when corsgate adds to
//!   `Vary`.** With `*` and no credentials corsgate adds none, and `apply` leaves the
//!   upstream's lines as they are (`write_http1_merging_vary`, which writes them for the
//!   caller, always writes one).
