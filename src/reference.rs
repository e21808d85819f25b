//! The reference implementation: a plain transcription of the design's sections 2–4, used
//! only by tests, benchmarks and fuzz targets to check the engine decision by decision.
//!
//! It shares nothing with the fast path but the validated [`Policy`]: no hash tables, no
//! automata, no caches, no precomputed headers. Origins are checked with string splitting,
//! entries with a linear scan and `ends_with` on label boundaries, and every response header is
//! rendered from scratch. Regex entries are compiled one by one, each on its own.
//!
//! Enabled by the `internal-reference` feature; not part of the supported API.

use std::net::Ipv6Addr;

use regex_automata::meta::Regex;

use crate::origin::{OriginPattern, PortPattern};
use crate::policy::Policy;

/// A decision as the reference sees it: everything the engine must agree on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferenceDecision {
    /// `"none"`, `"actual"` or `"preflight"`.
    pub kind: &'static str,
    /// Allowed (not-CORS requests count as allowed).
    pub allowed: bool,
    /// The status corsgate answers with itself, if it does.
    pub status: Option<u16>,
    /// The headers, lowercase names, in the engine's order.
    pub headers: Vec<(String, String)>,
}

/// The reference engine for one policy.
#[derive(Debug)]
pub struct Reference<'p> {
    policy: &'p Policy,
    regexes: Vec<Option<Regex>>,
}

impl<'p> Reference<'p> {
    /// Prepares the policy's regex entries, each compiled alone.
    pub fn new(policy: &'p Policy) -> Reference<'p> {
        let regexes = policy
            .origins()
            .iter()
            .map(|e| match e.pattern() {
                OriginPattern::Regex(source) => Regex::new(&format!("^(?:{source})$")).ok(),
                _ => None,
            })
            .collect();
        Reference { policy, regexes }
    }

    /// Decides a request given as a method and `(name, value)` header pairs.
    pub fn decide(&self, method: &[u8], headers: &[(&[u8], &[u8])]) -> ReferenceDecision {
        let policy = self.policy;
        let lines = |name: &str| -> Vec<&[u8]> {
            headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
                .map(|(_, v)| *v)
                .collect()
        };
        let origins = lines("origin");
        let star = policy.allows_any_origin() && !policy.credentials();
        let mut out = ReferenceDecision {
            kind: "none",
            allowed: true,
            status: None,
            headers: Vec::new(),
        };
        let add = |out: &mut ReferenceDecision, name: &str, value: String| {
            out.headers.push((name.to_owned(), value));
        };

        if origins.is_empty() {
            if star {
                add(&mut out, "access-control-allow-origin", "*".into());
                if let Some(v) = self.expose_value() {
                    add(&mut out, "access-control-expose-headers", v);
                }
            } else {
                add(&mut out, "vary", "Origin".into());
            }
            return out;
        }

        let request_methods = lines("access-control-request-method");
        let preflight = method == b"OPTIONS" && !request_methods.is_empty();
        let origin_allowed = star || (origins.len() == 1 && self.origin_allowed(origins[0]));
        let echo_origin = if star {
            "*".to_owned()
        } else {
            String::from_utf8_lossy(origins[0]).into_owned()
        };

        if !preflight {
            out.kind = "actual";
            out.allowed = origin_allowed;
            if !origin_allowed {
                add(&mut out, "vary", "Origin".into());
            } else if star {
                add(&mut out, "access-control-allow-origin", "*".into());
                if let Some(v) = self.expose_value() {
                    add(&mut out, "access-control-expose-headers", v);
                }
            } else {
                add(&mut out, "access-control-allow-origin", echo_origin);
                if policy.credentials() {
                    add(&mut out, "access-control-allow-credentials", "true".into());
                }
                if let Some(v) = self.expose_value() {
                    add(&mut out, "access-control-expose-headers", v);
                }
                add(&mut out, "vary", "Origin".into());
            }
            return out;
        }

        out.kind = "preflight";
        let vary = if star {
            "Access-Control-Request-Method, Access-Control-Request-Headers"
        } else {
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
        };
        let request_headers = lines("access-control-request-headers");
        let private_network = lines("access-control-request-private-network")
            .iter()
            .any(|v| *v == b"true");
        let verdict = if !origin_allowed || request_methods.len() != 1 {
            None
        } else {
            self.preflight_verdict(request_methods[0], &request_headers, private_network)
        };
        let Some((method_echo, header_count)) = verdict else {
            out.allowed = false;
            out.status = if policy.preflight_passthrough() {
                None
            } else {
                Some(403)
            };
            add(&mut out, "vary", vary.into());
            return out;
        };
        out.status = Some(policy.preflight_status());
        add(&mut out, "access-control-allow-origin", echo_origin);
        if policy.credentials() {
            add(&mut out, "access-control-allow-credentials", "true".into());
        }
        let methods = policy.methods();
        if methods.is_any() {
            let v = if policy.credentials() {
                method_echo
            } else {
                "*".to_owned()
            };
            add(&mut out, "access-control-allow-methods", v);
        } else if !methods.list().is_empty() {
            add(
                &mut out,
                "access-control-allow-methods",
                methods.list().join(","),
            );
        }
        if header_count > 0 {
            let allowed = policy.allow_headers();
            let v = if allowed.is_any() && policy.credentials() {
                request_headers
                    .iter()
                    .map(|l| String::from_utf8_lossy(l).into_owned())
                    .collect::<Vec<_>>()
                    .join(",")
            } else if allowed.is_any() && allowed.lists_authorization() {
                "*,authorization".to_owned()
            } else if allowed.is_any() {
                "*".to_owned()
            } else {
                allowed.list().join(",")
            };
            add(&mut out, "access-control-allow-headers", v);
        }
        // Design §4: sent on allowed preflights too, when configured.
        if let Some(v) = self.expose_value() {
            add(&mut out, "access-control-expose-headers", v);
        }
        if let Some(age) = policy.max_age() {
            add(&mut out, "access-control-max-age", age.to_string());
        }
        if private_network {
            add(
                &mut out,
                "access-control-allow-private-network",
                "true".into(),
            );
        }
        add(&mut out, "vary", vary.into());
        out
    }

    fn expose_value(&self) -> Option<String> {
        let exposed = self.policy.expose_headers();
        if exposed.is_any() {
            Some("*".to_owned())
        } else if exposed.list().is_empty() {
            None
        } else {
            Some(exposed.list().join(","))
        }
    }

    /// `Some((method to echo, number of requested header names))` when allowed.
    fn preflight_verdict(
        &self,
        requested: &[u8],
        request_headers: &[&[u8]],
        private_network: bool,
    ) -> Option<(String, usize)> {
        let policy = self.policy;
        if requested.len() > 64 || !is_token(requested) {
            return None;
        }
        let upper = String::from_utf8_lossy(requested).to_ascii_uppercase();
        if ["CONNECT", "TRACE", "TRACK"].contains(&upper.as_str()) {
            return None;
        }
        let method =
            if ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"].contains(&upper.as_str()) {
                upper
            } else {
                String::from_utf8_lossy(requested).into_owned()
            };
        let method_ok = ["GET", "HEAD", "POST"].contains(&method.as_str())
            || policy.methods().is_any()
            || policy.methods().list().contains(&method);
        if !method_ok {
            return None;
        }

        let total: usize = request_headers.iter().map(|l| l.len()).sum();
        if total > 4096 {
            return None;
        }
        let mut names = Vec::new();
        let mut empty = 0;
        for line in request_headers {
            let text = String::from_utf8_lossy(line);
            for element in text.split(',') {
                let name = element.trim_matches(|c| c == ' ' || c == '\t');
                if name.is_empty() {
                    empty += 1;
                } else {
                    names.push(name.to_owned());
                }
            }
        }
        if empty > 16 || names.len() > 64 {
            return None;
        }
        let allowed = policy.allow_headers();
        for name in &names {
            if !is_token(name.as_bytes()) || name.contains('\u{fffd}') {
                return None;
            }
            let lower = name.to_ascii_lowercase();
            let ok = if allowed.is_any() {
                lower != "authorization" || allowed.lists_authorization()
            } else {
                allowed.list().contains(&lower)
            };
            if !ok {
                return None;
            }
        }
        if private_network && !policy.private_network() {
            return None;
        }
        Some((method, names.len()))
    }

    /// Does an entry of the policy allow this one Origin value?
    fn origin_allowed(&self, value: &[u8]) -> bool {
        if !is_valid_origin(value) {
            return false;
        }
        let policy = self.policy;
        if value == b"null" {
            return policy
                .origins()
                .iter()
                .any(|e| *e.pattern() == OriginPattern::Null);
        }
        let text = String::from_utf8_lossy(value);
        let Some((scheme, rest)) = text.split_once("://") else {
            return false;
        };
        let (host, port) = split_host_port(rest);
        for (i, entry) in policy.origins().iter().enumerate() {
            let ok = match entry.pattern() {
                OriginPattern::Any => true, // with credentials: reflect (validated by the policy)
                OriginPattern::Null => false,
                OriginPattern::Regex(_) => self.regexes[i]
                    .as_ref()
                    .is_some_and(|r| r.is_match(text.as_bytes())),
                OriginPattern::Tuple(t) => {
                    let port_ok = match t.port {
                        PortPattern::Default => port.is_none(),
                        PortPattern::Exact(p) => port == Some(p),
                        PortPattern::Any => true,
                    };
                    let host_ok = if t.subdomains {
                        host.ends_with(&format!(".{}", t.host)) && !host.starts_with('[')
                    } else {
                        host == t.host
                    };
                    t.scheme == scheme && host_ok && port_ok
                }
            };
            if ok {
                return true;
            }
        }
        false
    }
}

fn split_host_port(rest: &str) -> (&str, Option<u16>) {
    let (host, port) = if rest.starts_with('[') {
        match rest.find(']') {
            Some(close) => (&rest[..=close], rest[close + 1..].strip_prefix(':')),
            None => (rest, None),
        }
    } else {
        match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    (host, port.and_then(|p| p.parse().ok()))
}

fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b))
}

/// Is `bytes` a serialized origin a browser could send (design 2.1)? Written with string
/// operations, independently of `origin::parse`.
pub fn is_valid_origin(bytes: &[u8]) -> bool {
    if bytes.is_empty() || bytes.len() > 64 + 3 + 253 + 1 + 6 {
        return false;
    }
    if bytes == b"null" {
        return true;
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    let Some((scheme, rest)) = text.split_once("://") else {
        return false;
    };
    let scheme_ok = !scheme.is_empty()
        && scheme.len() <= 64
        && scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase())
        && scheme
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
    if !scheme_ok {
        return false;
    }
    let (host, port_text) = if rest.starts_with('[') {
        let Some(close) = rest.find(']') else {
            return false;
        };
        let after = &rest[close + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return false,
        };
        if !canonical_ipv6(&rest[1..close]) {
            return false;
        }
        (&rest[..=close], port)
    } else {
        let (host, port) = match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        };
        if !valid_host(host) {
            return false;
        }
        (host, port)
    };
    let _ = host;
    match port_text {
        None => true,
        Some(p) => {
            if p.is_empty()
                || p.len() > 5
                || p.starts_with('0')
                || !p.chars().all(|c| c.is_ascii_digit())
            {
                return false;
            }
            let n: u32 = p.parse().unwrap_or(0);
            let default = match scheme {
                "http" | "ws" => Some(80),
                "https" | "wss" => Some(443),
                "ftp" => Some(21),
                _ => None,
            };
            (1..=65535).contains(&n) && default != Some(n)
        }
    }
}

fn valid_host(host: &str) -> bool {
    let trailing_dot = host.ends_with('.');
    let name = if trailing_dot {
        &host[..host.len() - 1]
    } else {
        host
    };
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    let labels: Vec<&str> = name.split('.').collect();
    for label in &labels {
        if label.is_empty()
            || label.len() > 63
            || label.starts_with('-')
            || label.ends_with('-')
            || !label
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return false;
        }
    }
    let last = labels[labels.len() - 1];
    let numeric = last.chars().all(|c| c.is_ascii_digit())
        || (last.starts_with("0x") && last[2..].chars().all(|c| c.is_ascii_hexdigit()));
    if !numeric {
        return true;
    }
    // URL parsers read it as IPv4: only the canonical dotted-decimal form, no trailing dot.
    !trailing_dot
        && labels.len() == 4
        && labels.iter().all(|l| {
            l.len() <= 3
                && l.chars().all(|c| c.is_ascii_digit())
                && (l.len() == 1 || !l.starts_with('0'))
                && l.parse::<u32>().is_ok_and(|n| n <= 255)
        })
}

/// The URL Standard's IPv6 serialization, written out plainly, compared with the input.
fn canonical_ipv6(inner: &str) -> bool {
    if !inner
        .chars()
        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c) || c == ':')
    {
        return false;
    }
    let Ok(addr) = inner.parse::<Ipv6Addr>() else {
        return false;
    };
    let pieces = addr.segments();
    // Find the first longest run of two or more zeros.
    let mut best: Option<(usize, usize)> = None;
    let mut i = 0;
    while i < 8 {
        if pieces[i] == 0 {
            let mut j = i;
            while j < 8 && pieces[j] == 0 {
                j += 1;
            }
            let len = j - i;
            if len >= 2 && best.is_none_or(|(_, l)| len > l) {
                best = Some((i, len));
            }
            i = j;
        } else {
            i += 1;
        }
    }
    let mut out = String::new();
    let mut i = 0;
    while i < 8 {
        if let Some((start, len)) = best {
            if i == start {
                out.push_str(if i == 0 { "::" } else { ":" });
                i += len;
                continue;
            }
        }
        out.push_str(&format!("{:x}", pieces[i]));
        if i < 7 {
            out.push(':');
        }
        i += 1;
    }
    out == inner
}

/// A policy set as the reference sees it: every route scanned for each request.
#[derive(Debug)]
pub struct ReferenceSet<'s> {
    set: &'s crate::policy::PolicySet,
    policies: Vec<Reference<'s>>,
}

/// Which route and policy the reference chose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferenceChoice {
    /// The route's name, `None` when no route matched.
    pub route: Option<String>,
    /// `"default"`, a name, or `"off"`.
    pub policy: String,
}

impl<'s> ReferenceSet<'s> {
    /// The reference for every policy of the set.
    pub fn new(set: &'s crate::policy::PolicySet) -> ReferenceSet<'s> {
        ReferenceSet {
            set,
            policies: set
                .policies()
                .iter()
                .map(|p| Reference::new(p.policy()))
                .collect(),
        }
    }

    /// Chooses by the design's §8 with a linear scan: every route whose host and path match,
    /// the most specific host first (exact, then wildcards by labels, then no hosts), then the
    /// longest prefix.
    pub fn choose(&self, host: Option<&[u8]>, path: &[u8]) -> (Option<usize>, ReferenceChoice) {
        let host = host.and_then(normalise_host);
        let path = reference_path(path);
        let mut best: Option<((usize, usize), usize)> = None;
        for (i, route) in self.set.routes().iter().enumerate() {
            let host_rank = match (route.hosts(), &host) {
                (None, _) => Some(0),
                (Some(_), None) => None,
                (Some(hosts), Some(h)) => hosts
                    .iter()
                    .filter(|entry| entry.matches(h))
                    .map(|entry| entry.rank())
                    .max(),
            };
            let Some(host_rank) = host_rank else { continue };
            let prefix_len = match route.path_prefix() {
                None => 0,
                Some(prefix) => {
                    let segment_wise = path == prefix
                        || (path.starts_with(prefix) && path[prefix.len()..].starts_with('/'));
                    if !segment_wise {
                        continue;
                    }
                    prefix.len()
                }
            };
            let rank = (host_rank, prefix_len);
            if best.is_none_or(|(b, _)| rank > b) {
                best = Some((rank, i));
            }
        }
        match best {
            None => (
                None,
                ReferenceChoice {
                    route: None,
                    policy: crate::policy::DEFAULT_POLICY.to_owned(),
                },
            ),
            Some((_, i)) => {
                let route = &self.set.routes()[i];
                let policy = match route.target() {
                    crate::policy::RouteTarget::Off => crate::policy::OFF_POLICY.to_owned(),
                    crate::policy::RouteTarget::Policy(p) => {
                        self.set.policies()[p].name().to_owned()
                    }
                };
                (
                    Some(i),
                    ReferenceChoice {
                        route: Some(route.name().to_owned()),
                        policy,
                    },
                )
            }
        }
    }

    /// Decides a request: chooses, then decides with the chosen policy; an `off` route adds
    /// nothing.
    pub fn decide(
        &self,
        method: &[u8],
        headers: &[(&[u8], &[u8])],
        path: &[u8],
    ) -> (ReferenceChoice, ReferenceDecision) {
        let mut hosts = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(b"host"))
            .map(|(_, v)| *v);
        let host = match (hosts.next(), hosts.next()) {
            (Some(h), None) => Some(h),
            _ => None,
        };
        let (route, choice) = self.choose(host, path);
        let target = route.map(|i| self.set.routes()[i].target());
        let decision = match target {
            Some(crate::policy::RouteTarget::Off) => ReferenceDecision {
                kind: "none",
                allowed: true,
                status: None,
                headers: Vec::new(),
            },
            Some(crate::policy::RouteTarget::Policy(p)) => self.policies[p].decide(method, headers),
            None => self.policies[0].decide(method, headers),
        };
        (choice, decision)
    }
}

/// The path without query or fragment, `/` when empty, as text (bytes outside UTF-8 never
/// match a prefix, which is ASCII).
fn reference_path(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let path = text.split(['?', '#']).next().unwrap_or("");
    if path.is_empty() {
        "/".to_owned()
    } else {
        path.to_owned()
    }
}

/// §8's host normalisation, plainly: port and one trailing dot dropped, lowercase, then the
/// host grammar of §2.1; IPv6 literals in canonical form.
fn normalise_host(raw: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(raw).ok()?;
    if let Some(rest) = text.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        let port_ok = after.is_empty()
            || after
                .strip_prefix(':')
                .is_some_and(|p| p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit()));
        if !port_ok {
            return None;
        }
        let addr: Ipv6Addr = inner.parse().ok()?;
        return Some(format!("[{}]", crate::origin::host::ipv6_to_string(addr)));
    }
    let name = match text.split_once(':') {
        None => text,
        Some((name, port)) => {
            if port.len() > 5 || !port.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            name
        }
    };
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if name.is_empty() || name.ends_with('.') || name.len() > 253 {
        return None;
    }
    let labels: Vec<&str> = name.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    };
    if !labels.iter().all(label_ok) {
        return None;
    }
    let last = labels[labels.len() - 1];
    let numeric = !last.is_empty()
        && (last.chars().all(|c| c.is_ascii_digit())
            || (last.len() >= 2
                && last[..2].eq_ignore_ascii_case("0x")
                && last[2..].chars().all(|c| c.is_ascii_hexdigit())));
    if numeric {
        // An IPv4 address must then be in canonical dotted-decimal form.
        let addr: std::net::Ipv4Addr = name.parse().ok()?;
        return (addr.to_string() == name).then_some(name);
    }
    Some(name)
}
