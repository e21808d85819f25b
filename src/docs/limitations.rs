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
//! - **Regex entries cost a table walk per 32 entries.** They are compiled with the policy into
//!   dense DFAs of 32 entries each (at most 128), shared by every thread and never grown by
//!   a search, so a decision against a near-miss Origin walks each DFA until it dies: about
//!   4 µs against 1,000 entries, 16–24 µs against 4,096 (`BENCHMARKS.md`). Exact and wildcard
//!   entries stay one hash lookup whatever their number; prefer them for long lists.
//! - **A regex that determinizes badly is refused**, even without credentials: one whose DFA
//!   alone passes 1 MiB (`[a-z]*a[a-z]{20}` needs a million states), or a policy whose regex
//!   DFAs pass 64 MiB or 128 DFAs. Such a regex could only be matched in bounded time by an
//!   engine that builds states while it searches, which hostile Origins turn into
//!   milliseconds and memory per request.
//! - **A credentialed regex's candidates are its own.** The proof allows the domains a regex
//!   spells, not those of the policy's other entries: `regex:https://[a-z]+\.example\.com`
//!   beside an exact `https://example.net` does not make `example.net` hosts safe for it.
//! - **Loopback over `http` or `https` only, in regexes.** An exact or wildcard entry on a
//!   loopback host may use any scheme with credentials (`ws://localhost:*`); a regex that
//!   matches `ws://localhost` is refused as insecure (design 2.2 defines the regex's allowed
//!   language with those two schemes), unless `dangerously_allow_insecure_origins`.
//! - **The proof does not count lengths.** Its automaton for the request grammar accepts
//!   labels over 63 bytes and hosts over 253, and IPv6 literals of the right shape whatever
//!   their zero runs; a regex whose only counterexamples are such strings is refused as
//!   unprovable, not accepted (a regex that needs a 64-byte label to leak is not one anybody
//!   writes).
//! - **The Public Suffix List is vendored** (`data/public_suffix_list.dat`, the rules the `psl`
//!   crate 2.1.247 is generated from); a newer list arrives with
//!   `scripts/refresh-public-suffix-list` and a release of corsgate, never at run time.
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
