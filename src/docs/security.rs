//! What corsgate protects against, and how.
//!
//! CORS is a browser's decision about whether a page may *read* a cross-origin response; it is
//! not authentication, and a server that answers a forbidden request has still answered it.
//! Within that frame, the mistakes that leak data are configuration mistakes, and corsgate
//! refuses them at build time:
//!
//! | mistake | what corsgate does |
//! |---|---|
//! | `Access-Control-Allow-Origin: *` with credentials (browsers refuse it, so teams "fix" it by reflecting any origin) | refused; reflection only as `dangerously_reflect_any_origin_with_credentials` |
//! | reflecting the request's Origin unchecked | never: an Origin is echoed only after it matched an entry (or the explicit reflect option), and only if it is a serialized origin a browser could send |
//! | suffix checks (`ends_with("example.com")`) | wildcards match whole labels: `*.example.com` never matches `evilexample.com`, `example.com.evil.com` or `example.com` |
//! | unanchored or sloppy regexes | anchored as `^(?:…)$` (a pattern cannot close the group to escape it); a dot that matches any character, or an optional dot, where a label boundary belongs is refused in every spelling; with credentials every regex is *proven* to match only origins on the domains it names (below) |
//! | credentials for `http://` origins (a network attacker can be any `http://` origin) | refused unless loopback, or `dangerously_allow_insecure_origins` |
//! | `https://*.github.io` with credentials (anyone can register a name there) | refused by the Public Suffix List, default rule and private section included |
//! | `https://*.amazonaws.com` with credentials (`bucket.s3.amazonaws.com` belongs to whoever made the bucket) | refused: a rule of the list lies beneath the wildcard's base |
//! | `Origin: null` (sandboxed iframes, `file:` pages, redirects all send it) | refused unless `dangerously_allow_null_origin` |
//! | a missing `Vary: Origin` (a shared cache serves one origin's answer to another) | always sent when the answer depends on the Origin, merged into the upstream's `Vary` as one field line (nginx before 1.23 keys on the last `Vary` line alone, and a second line would drop the upstream's `Vary: Cookie`) |
//! | two `Access-Control-Allow-Origin` headers (upstream and gateway) | corsgate's replace the upstream's |
//! | `*` covering `Authorization` | never, as Fetch says; list it explicitly |
//!
//! # Regex entries with credentials: proven, not sampled
//!
//! A `regex:` entry says what it allows only implicitly, and the plausible ones leak:
//! `https://.*:(8443|9443)` allows `https://evil.com:8443`, `https?://app\.example\.com:\d+`
//! allows `http://app.example.com:8080`, `https://example\.com(\.[a-z]{2})?` allows
//! `https://example.com.br`, `https://([a-z0-9-]+\.)+amazonaws\.com` allows anyone's bucket.
//! Trying sample origins against a regex misses such cases by construction, so with
//! `credentials = true` corsgate decides exactly which origins a regex matches
//! ([`semantics`](super::semantics)):
//!
//! 1. **Candidate domains**: the registrable domains (public suffix plus one label, by the
//!    Public Suffix List) of the hosts the pattern spells out literally, alternations and
//!    optional parts expanded, character classes and repetitions never.
//!    `https://(app|api)\.example\.(com|net)` names `example.com` and `example.net`;
//!    `https://pr-[0-9]+\.preview\.example\.com` names `example.com`; `https://[a-z.]+com`
//!    names none.
//! 2. **Allowed language**: every origin a browser can send (the request grammar) with scheme
//!    `https` and a host whose registrable domain is a candidate — so a host beneath a rule of
//!    the list below a candidate, such as `x.s3.amazonaws.com` for `amazonaws.com`, is *not*
//!    allowed —, any port, one trailing dot; plus the loopback hosts (`localhost`,
//!    `*.localhost`, `127.0.0.0/8`, `[::1]`) over `http` or `https`.
//! 3. **Proof**: the regex's language, intersected with the request grammar, must lie inside
//!    the allowed language. corsgate decides it with automata: the regex's dense DFA
//!    (`regex-automata`) and a deterministic automaton for the allowed language (the grammar,
//!    and an Aho–Corasick automaton over the candidates, the names the list has beneath them
//!    and `localhost`, which settles each host's registrable domain left to right) are walked
//!    together, breadth first, looking for an origin the first accepts and the second refuses.
//!    None: the regex is accepted. One: it is refused, and the refusal shows the shortest
//!    such origin, checked against the real request grammar.
//!
//! | found | refused as | lifted by |
//! |---|---|---|
//! | an origin whose scheme is not `https` (nor `http` on loopback) | `insecure_origin_with_credentials` | `dangerously_allow_insecure_origins` |
//! | an origin whose host is outside the candidates | `regex_reflection` | `dangerously_reflect_any_origin_with_credentials` |
//! | both | `regex_reflection`, naming both options | both options |
//! | no verdict within the analysis budget | `regex_unprovable` | both options |
//!
//! The hints name the fix: list the hosts (`regex:https://(app|api)\.example\.com`), or use a
//! wildcard (`https://*.example.com`), or set the option.
//!
//! Only ASCII matters: a valid Origin is ASCII, so both the proof and the serving matcher use
//! the pattern's ASCII form — classes cut to ASCII, non-ASCII literals (which can never match
//! an Origin) removed, Unicode word boundaries as ASCII ones. On ASCII text it matches exactly
//! what the pattern matches, so what is proven is what serves.
//!
//! The proof is exact where it concludes. Its automaton for the request grammar counts no
//! lengths (scheme ≤ 64, label ≤ 63, host ≤ 253 bytes) and checks IPv6 literals' shape but
//! not which run of zeros is compressed: it accepts a little more than browsers send, never
//! less, so an accepted regex is safe; a counterexample that is not a valid Origin is not
//! reported, and a regex whose only counterexamples are such strings is refused as
//! unprovable rather than accepted.
//!
//! Budgets (each refusal past them names the entry): 4,096 literal expansions, 256 KiB of
//! list names beneath the candidates, a 1 MiB DFA, 100,000 product states per regex and
//! 1,000,000 per policy. The regexes of `semantics` take fewer than 400 product states, a
//! label loop over `amazonaws.com` (600 names of the list beneath it) about 10,000.
//!
//! Without credentials the proof does not apply (a regex then only decides who may read
//! responses without cookies), but the anchoring, the unescaped-dot lint and every bound
//! below do.
//!
//! # The Public Suffix List
//!
//! One copy, `data/public_suffix_list.dat`, at a pinned version (its header names the source
//! and checksum; `scripts/refresh-public-suffix-list` refreshes it), ICANN and private sections,
//! parsed once per process into one trie that serves the three questions: is a wildcard's base
//! a public suffix (`*.github.io`, any unlisted TLD by the default rule), does a rule lie
//! beneath it (`*.amazonaws.com`), and which names lie beneath a regex's candidates (the
//! proof). `*.localhost` is loopback and never refused.
//!
//! # Every input is bounded
//!
//! | input | bound |
//! |---|---|
//! | request `Origin` | the serialized-origin grammar: scheme ≤ 64, host ≤ 253, label ≤ 63 bytes, port 1..65535; anything else is not allowed |
//! | `Access-Control-Request-Method` | 64 bytes; a longer one fails the preflight (403) and is never echoed |
//! | `Access-Control-Request-Headers` | 4 KiB in all, 64 names, 16 empty elements |
//! | configured hosts | 253 bytes (a wildcard's base 251: anything beneath a longer one is longer than 253) |
//! | configured methods | 64 bytes (a longer one could never be requested) |
//! | a `regex:` pattern | 8 KiB of text, 64 levels of nesting, 1 MiB compiled, a DFA of 1 MiB on its own |
//! | `regex:` entries in a policy | 4,096, compiled into at most 128 DFAs of 64 MiB in all |
//! | policy files | 32 levels of nesting (arrays, tables, inline tables, dotted keys), checked before any parser recurses |
//! | `corsgate check` | linear in environments and issues: one policy built at a time, issues deduplicated by hash |
//!
//! On the request path: the Origin is never normalised (an uppercase or path-carrying Origin
//! is not a browser's and is simply not allowed); the preflight verdict cache is a fixed table
//! a flood of distinct hostile preflights can neither grow nor use to slow down other
//! decisions; regex entries are matched by DFAs built with the policy and shared by every
//! thread, so a decision is at most 128 table walks of the Origin's bytes whatever Origin
//! arrives, and no thread keeps a cache that hostile Origins could grow; and nothing on that
//! path allocates, locks or panics.
