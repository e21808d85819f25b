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
//! | unanchored or sloppy regexes | anchored as `^(?:…)$`; an unescaped `.` between host characters is refused; with credentials every regex is probed against `.invalid` hosts, `example.com.evil.test`, `evilexample.com` and the `http://` twin of what it matches |
//! | credentials for `http://` origins (a network attacker can be any `http://` origin) | refused unless loopback, or `dangerously_allow_insecure_origins` |
//! | `https://*.github.io` with credentials (anyone can register a name there) | refused by the Public Suffix List, default rule included |
//! | `Origin: null` (sandboxed iframes, `file:` pages, redirects all send it) | refused unless `dangerously_allow_null_origin` |
//! | a missing `Vary: Origin` (a shared cache serves one origin's answer to another) | always sent when the answer depends on the Origin, merged into the upstream's `Vary` as one field line (nginx before 1.23 keys on the last `Vary` line alone, and a second line would drop the upstream's `Vary: Cookie`) |
//! | two `Access-Control-Allow-Origin` headers (upstream and gateway) | corsgate's replace the upstream's |
//! | `*` covering `Authorization` | never, as Fetch says; list it explicitly |
//!
//! On the request path: the Origin is never normalised (an uppercase or path-carrying Origin
//! is not a browser's and is simply not allowed); `Access-Control-Request-Headers` is parsed
//! within fixed bounds (4 KiB, 64 names, 16 empty elements) whatever the policy says; the
//! preflight verdict cache is a fixed table a flood of distinct hostile preflights can neither
//! grow nor use to slow down other decisions; and nothing on that path allocates, locks or
//! panics.
