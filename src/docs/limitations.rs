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
//!   matches `ws://localhost` is refused as insecure ([`semantics`](super::semantics) defines
//!   the regex's allowed language with those two schemes), unless
//!   `dangerously_allow_insecure_origins`.
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
//!   front of it, as a sidecar does. It does not proxy protocol upgrades: a WebSocket handshake
//!   gets 501, and other `Upgrade` offers (`h2c`) are ignored, the request served over HTTP/1.1.
//!   It adds no `Via` field, and it removes a `Forwarded` field rather than extend it (it
//!   maintains `X-Forwarded-For`, `-Proto` and `-Host`).
//! - **`serve`'s limits, and their defaults** (README, "Limits and timeouts"): a request head
//!   within `--header-read-timeout` (10 s; from the connection's start for the first request,
//!   from the head's first byte for later ones), keep-alive idle `--idle-timeout` (60 s), no
//!   progress on a body or a response write for `--io-timeout` (30 s), `--max-connections`
//!   (4096; the rest wait in the listen backlog), upstream connect `--upstream-connect-timeout`
//!   (5 s) and response head `--upstream-timeout` (60 s, then 504), a reload within
//!   `--reload-timeout` (30 s). Request heads: 100 lines, 64 KiB, exactly. Upstream response
//!   heads: 100 lines exactly, and about 64 KiB (hyper's client has no exact head-size limit;
//!   its read buffer is capped at 64 KiB). Idle upstream connections: 30 s, at most 256 per
//!   worker thread (each worker reuses only its own; a connection is idle again once the
//!   response body it carried ended, and one dropped half-read is closed). 1xx
//!   responses: 16 KiB a request. A pipelined request whose head was partly read together with
//!   the previous request's body waits under the idle deadline, not the head deadline (the
//!   connection cannot tell those bytes apart without parsing them).
//! - **Only requests that cannot have changed anything are retried**, once, on a new
//!   connection: GET, HEAD, OPTIONS, PUT and DELETE without a body whose pooled upstream
//!   connection closed before any answer. A POST, or any request with a body, gets the 502.
//!   (A request hyper never wrote, because its pooled connection had already closed, is sent
//!   on a new connection whatever its method: the upstream cannot have seen it.)
//! - **Policy files are read only when they are regular files** (symbolic links followed) of at
//!   most 16 MiB ([`MAX_POLICY_FILE_BYTES`](crate::file::MAX_POLICY_FILE_BYTES)), opened
//!   without blocking. **In-place writes**: a change is loaded once the file has been quiet for
//!   the debounce window (100 ms) and two reads a window apart agree, so a file rewritten in
//!   place in steps with pauses under 100 ms is never loaded half-written; a writer that pauses
//!   longer mid-write can be. **Atomic renames are the supported way** to change a policy file.
//! - **A reload that runs past its time limit cannot be stopped**, only abandoned: its result is
//!   discarded (never swapped in, even late), and its thread runs until it ends. The same
//!   bytes are not tried again until the file changes or SIGHUP asks. At most two
//!   reload threads exist (the one running and one abandoned); with two abandoned, the next
//!   reload waits for one to end. A panic while reloading is contained; a stack overflow cannot
//!   be (the parsers bound nesting depth so that none happens; reload threads have the main
//!   thread's 8 MiB stack).
//! - **`/healthz` reports what the last look at the policy file found**: with watching, at most
//!   a second old; with `--no-watch`, as of the last SIGHUP. It answers 200 whenever a policy
//!   serves (`"status":"degraded"` with `"policy_file"` when the file is missing, unreadable,
//!   invalid, or its reload timed out or panicked), so that a probe never removes or restarts a
//!   gateway that is serving its last good policy.
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
//! - **`corsgate::pingora` (feature `pingora`) works on what Pingora gives it.** It uses
//!   pingora-proxy 0.9 without a TLS backend (TLS is the embedder's choice of Pingora feature).
//!   The request is decided from `session.req_header()` in `request_filter`, after Pingora's
//!   downstream modules; a filter that rewrites the `Origin` earlier decides what corsgate sees.
//!   1xx responses get no CORS headers (the final response does). `fail_to_proxy` answers with
//!   the status Pingora's default picks (502 for any upstream error, timeouts included; `serve`
//!   answers 504 for those). Responses written before `request_filter` ran (Pingora's own 400
//!   for an unparsable request, 405 for `CONNECT`) have no request to decide and get nothing;
//!   responses an embedder writes in its own filters get the headers through
//!   `CorsFilter::apply` or `respond_error`. `reload_on_hangup` and the policy watcher run on
//!   threads started before `Server::run_forever`: not with Pingora's `daemon: true`, whose
//!   fork keeps only the forking thread.
