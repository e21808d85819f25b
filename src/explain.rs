//! [`Explanation`]: a decision in words. Which entry matched, or why nothing did, naming near
//! misses (trailing slash, uppercase, wrong scheme, wrong port, a subdomain of an exact entry,
//! the apex of a wildcard, suffix confusion).
//!
//! Explanations scan the allowlist and allocate; they are for humans, off the request path.

use std::fmt;

use http::StatusCode;

use crate::generation::{CompiledPolicy, Outcome};
use crate::origin::pattern::PortSuffix;
use crate::origin::{
    OriginDefect, OriginMiss, OriginPattern, PortPattern, RequestOrigin, TuplePattern,
};
use crate::preflight::{PreflightDenial, PreflightRules};
use crate::request::{Lines, Single};
use crate::verdict::{DecisionKind, DenyReason, Grant};

/// A decision in words: a one-line summary and details, one per line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    summary: String,
    details: Vec<String>,
    route: Option<String>,
    policy: String,
}

impl Explanation {
    /// One line: what was decided.
    pub fn summary(&self) -> &str {
        &self.summary
    }

    /// Why, and near misses.
    pub fn details(&self) -> &[String] {
        &self.details
    }

    pub(crate) fn new(
        g: &CompiledPolicy,
        request_method: Lines<'_>,
        request_headers: Lines<'_>,
        outcome: &Outcome<'_>,
        status: Option<StatusCode>,
    ) -> Explanation {
        let policy = &g.policy;
        let kind = outcome.kind;
        let verdict = match (kind, outcome.verdict.is_ok()) {
            _ if outcome.verdict == Ok(Grant::RouteOff) => "CORS is off on this route".to_owned(),
            (DecisionKind::NotCors, _) => "not a CORS request (no Origin header)".to_owned(),
            (k, true) => format!("{} allowed", k.as_str()),
            (k, false) => format!("{} denied", k.as_str()),
        };
        let summary = match status {
            Some(s) => format!("{verdict}; corsgate answers {}", s.as_u16()),
            None if kind == DecisionKind::Preflight => {
                format!("{verdict}; forwarded upstream (preflight_passthrough)")
            }
            None => format!("{verdict}; forwarded upstream"),
        };
        let mut details = Vec::new();
        match g.classified(outcome) {
            Ok(Grant::NotCors) => {
                if policy.is_origin_independent() {
                    details.push("the policy allows any origin without credentials, so every response gets Access-Control-Allow-Origin: *".to_owned());
                } else {
                    details.push("Vary: Origin is added because the answer depends on the Origin".to_owned());
                }
            }
            Ok(Grant::Entry(i)) => {
                if let Some(entry) = policy.origins().get(i as usize) {
                    details.push(format!("the Origin matches {entry}"));
                }
            }
            Ok(Grant::AnyOrigin) => details.push(
                "the policy allows any origin (`*`) without credentials; the answer does not depend on the Origin".to_owned(),
            ),
            Ok(Grant::ReflectAny) => details.push(
                "`*` with credentials and dangerously_reflect_any_origin_with_credentials echoes every valid origin".to_owned(),
            ),
            Ok(Grant::RouteOff) => details.push(
                "the route's policy is `off`: corsgate checks nothing and adds nothing, not even Vary".to_owned(),
            ),
            Err(DenyReason::MultipleOrigins) => {
                details.push("the request has several Origin values; browsers send exactly one".to_owned())
            }
            Err(DenyReason::Origin(miss)) => {
                let origin = outcome.origin.map(|l| l.bytes).unwrap_or_default();
                origin_details(g, origin, miss, &mut details);
            }
            Err(DenyReason::Preflight(denial)) => {
                details.push(denial.describe().to_owned());
                preflight_details(g, request_method, request_headers, denial, &mut details);
            }
        }
        if kind == DecisionKind::Preflight && outcome.verdict.is_ok() {
            let method = String::from_utf8_lossy(PreflightRules::requested_method(request_method));
            details.push(format!("method {method} is allowed"));
            if outcome.headers_requested {
                details.push("every requested header is allowed".to_owned());
            }
            if outcome.private_network {
                details.push("private network access was requested and is enabled".to_owned());
            }
        }
        Explanation {
            summary,
            details,
            route: None,
            policy: crate::policy::DEFAULT_POLICY.to_owned(),
        }
    }

    /// Names the route and policy that decided; `line` (first among the details) says why.
    pub(crate) fn with_route(
        mut self,
        route: Option<&str>,
        policy: &str,
        line: Option<String>,
    ) -> Explanation {
        self.route = route.map(str::to_owned);
        self.policy = policy.to_owned();
        if let Some(line) = line {
            self.details.insert(0, line);
        }
        self
    }

    /// The route that chose the policy (`None`: no route matched, or the set has none).
    pub fn route(&self) -> Option<&str> {
        self.route.as_deref()
    }

    /// The policy that decided: `default`, a named policy, or `off`.
    pub fn policy(&self) -> &str {
        &self.policy
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary)?;
        for d in &self.details {
            write!(f, "\n  - {d}")?;
        }
        Ok(())
    }
}

fn entry_label(g: &CompiledPolicy, index: usize) -> String {
    g.policy
        .origins()
        .get(index)
        .map_or_else(String::new, ToString::to_string)
}

/// Tries simple repairs of a malformed Origin and reports the ones that would be allowed.
fn origin_details(g: &CompiledPolicy, origin: &[u8], miss: OriginMiss, details: &mut Vec<String>) {
    let text = String::from_utf8_lossy(origin).into_owned();
    match miss {
        OriginMiss::Null => details.push(
            "Origin: null (sandboxed iframes, file: pages, redirects) is refused unless the policy lists \"null\" with dangerously_allow_null_origin".to_owned(),
        ),
        OriginMiss::Malformed(defect) => {
            details.push(format!("{text:?}: {}", defect.describe()));
            let mut repaired = text.to_ascii_lowercase();
            if defect == OriginDefect::Path {
                if let Some(scheme_end) = repaired.find("://") {
                    if let Some(slash) = repaired[scheme_end + 3..].find('/') {
                        repaired.truncate(scheme_end + 3 + slash);
                    }
                }
            }
            for (port, scheme) in [(":443", "https://"), (":80", "http://")] {
                if repaired.starts_with(scheme) && repaired.ends_with(port) {
                    repaired.truncate(repaired.len() - port.len());
                }
            }
            if repaired != text {
                if let Ok(i) = g.matcher.find(repaired.as_bytes()) {
                    let hint = match defect {
                        OriginDefect::Path => "your Origin has a trailing slash or path",
                        OriginDefect::Uppercase => "your Origin has uppercase letters",
                        OriginDefect::DefaultPort => "your Origin names the default port",
                        _ => "your Origin is not in the form browsers send",
                    };
                    details.push(format!(
                        "{hint}; {repaired:?} would be allowed by {}",
                        entry_label(g, i as usize)
                    ));
                }
            }
        }
        OriginMiss::NoEntry => {
            details.push(format!("no entry allows {text:?}"));
            if let Ok(RequestOrigin::Tuple(t)) = RequestOrigin::parse(origin) {
                trailing_dot_miss(g, &t, details);
                near_misses(g, &t, details);
            }
        }
    }
}

/// `https://a.example.com.` against `https://*.example.com`, and the reverse.
fn trailing_dot_miss(
    g: &CompiledPolicy,
    t: &crate::origin::TupleOrigin<'_>,
    details: &mut Vec<String>,
) {
    let host = t.host();
    let other_host = match host.strip_suffix(b".") {
        Some(without) => without.to_vec(),
        None => [host, b"."].concat(),
    };
    let mut other = t.scheme().to_vec();
    other.extend_from_slice(b"://");
    other.extend_from_slice(&other_host);
    if let Some(port) = t.port() {
        other.extend_from_slice(format!(":{port}").as_bytes());
    }
    if let Ok(i) = g.matcher.find(&other) {
        details.push(format!(
            "the trailing dot differs: {:?} would be allowed by {}; origins are compared byte for byte",
            String::from_utf8_lossy(&other),
            entry_label(g, i as usize)
        ));
    }
}

fn near_misses(g: &CompiledPolicy, t: &crate::origin::TupleOrigin<'_>, details: &mut Vec<String>) {
    let scheme = String::from_utf8_lossy(t.scheme()).into_owned();
    let host = String::from_utf8_lossy(t.host()).into_owned();
    let before = details.len();
    for entry in g.policy.origins() {
        let OriginPattern::Tuple(p) = entry.pattern() else {
            continue;
        };
        let same_host = !p.subdomains && p.host == host;
        let port_ok = p.port.matches(t.port());
        if same_host && p.scheme != scheme && port_ok {
            details.push(format!(
                "scheme differs: {scheme} vs {} in {entry}",
                p.scheme
            ));
        } else if same_host && p.scheme == scheme && !port_ok {
            details.push(format!(
                "port differs: {} vs {} in {entry}",
                t.port().map_or("none".to_owned(), |p| p.to_string()),
                port_text(p)
            ));
        } else if !p.subdomains && host.ends_with(&format!(".{}", p.host)) && p.scheme == scheme {
            details.push(format!(
                "{entry} is exact; did you mean \"{}://*.{}{}\"?",
                p.scheme,
                p.host,
                port_suffix(p)
            ));
        } else if p.subdomains && p.host == host && p.scheme == scheme {
            details.push(format!(
                "{entry} matches subdomains only, never {host} itself; add \"{scheme}://{host}{}\"",
                port_suffix(p)
            ));
        } else if p.subdomains && host.ends_with(&format!(".{}", p.host)) && p.scheme != scheme {
            details.push(format!(
                "scheme differs: {scheme} vs {} in {entry}",
                p.scheme
            ));
        } else if p.subdomains && host.ends_with(&format!(".{}", p.host)) && !port_ok {
            details.push(format!(
                "port differs: {} vs {} in {entry}",
                t.port().map_or("none".to_owned(), |p| p.to_string()),
                port_text(p)
            ));
        } else if host.trim_end_matches('.') == p.host.trim_end_matches('.') && host != p.host {
            details.push(format!(
                "the trailing dot differs from {entry}: origins are compared byte for byte"
            ));
        } else if p.host.len() < host.len()
            && host.starts_with(&format!("{}.", p.host.trim_end_matches('.')))
        {
            details.push(format!(
                "{host} is not {} or a subdomain of it; it only starts with it ({entry})",
                p.host
            ));
        } else if host.ends_with(&p.host)
            && !host.ends_with(&format!(".{}", p.host))
            && host != p.host
        {
            details.push(format!(
                "{host} is not a subdomain of {}: the match is on whole labels ({entry})",
                p.host
            ));
        }
        if details.len() - before >= 5 {
            break;
        }
    }
}

/// The port in words, for "port X instead of Y" (not as an origin writes it: see
/// `PortSuffix`).
fn port_text(p: &TuplePattern) -> String {
    match p.port {
        PortPattern::Default => "none".to_owned(),
        PortPattern::Exact(n) => n.to_string(),
        PortPattern::Any => "*".to_owned(),
    }
}

fn port_suffix(p: &TuplePattern) -> String {
    PortSuffix(p.port).to_string()
}

fn preflight_details(
    g: &CompiledPolicy,
    request_method: Lines<'_>,
    request_headers: Lines<'_>,
    denial: PreflightDenial,
    details: &mut Vec<String>,
) {
    let policy = &g.policy;
    match denial {
        PreflightDenial::MethodNotAllowed => {
            if let Single::One(line) = request_method.single() {
                let allowed = if policy.methods().list().is_empty() {
                    "only GET, HEAD and POST".to_owned()
                } else {
                    policy.methods().list().join(", ")
                };
                details.push(format!(
                    "requested {:?}; allowed: {allowed} (GET, HEAD and POST always are)",
                    String::from_utf8_lossy(line.bytes)
                ));
            }
        }
        PreflightDenial::HeaderNotAllowed | PreflightDenial::AuthorizationNotCovered => {
            if let Some(name) = g.rules.first_refused_header(request_headers) {
                let allowed = if policy.allow_headers().is_any() {
                    "`*`".to_owned()
                } else if policy.allow_headers().list().is_empty() {
                    "none".to_owned()
                } else {
                    policy.allow_headers().list().join(", ")
                };
                details.push(format!(
                    "header {name:?} is not allowed; allow_headers: {allowed}"
                ));
            }
        }
        PreflightDenial::PrivateNetworkNotEnabled => details.push(
            "set private_network = true to answer Private Network Access preflights".to_owned(),
        ),
        _ => {}
    }
}
