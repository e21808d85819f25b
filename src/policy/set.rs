//! Policy sets (design §8): named policies, and the routes that choose one by the request's
//! host and path. [`PolicySetBuilder`] collects them raw, [`build`](PolicySetBuilder::build)
//! validates every policy as a single one is validated, checks the routes (host entries, path
//! prefixes, policy names, duplicates), and reports every problem at once, each naming its
//! policy or route. A single policy is a set with one policy, `default`, and no routes.
//!
//! Choosing a route for a request is `selection`'s job, which compiles the routes of a built
//! [`PolicySet`] into hash tables; this module only says what the routes are.

use std::fmt;
use std::net::Ipv6Addr;
use std::sync::Arc;

use ahash::AHashMap;

use crate::error::{Field, Issue, IssueKind, PolicyError};
use crate::origin::host::{self, HostKind};
use crate::suggest::did_you_mean;

use super::{Policy, PolicyBuilder};

/// The name of the policy the top-level fields make; a route may name it.
pub const DEFAULT_POLICY: &str = "default";
/// The policy name that turns CORS off on a route: request and response pass untouched.
pub const OFF_POLICY: &str = "off";
/// Longest policy name (they label metrics and log lines).
pub const MAX_POLICY_NAME_LEN: usize = 64;
/// Most named policies in one set.
pub const MAX_POLICIES: usize = 100_000;
/// Most routes in one set.
pub const MAX_ROUTES: usize = 100_000;
/// Most host entries over all routes of one set.
pub const MAX_ROUTE_HOSTS: usize = 1_000_000;
/// Longest `path_prefix`, in bytes.
pub const MAX_PATH_PREFIX_LEN: usize = 1024;

/// Whether `name` may name a policy: 1 to 64 ASCII letters, digits, `-` and `_`.
pub fn is_valid_policy_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_POLICY_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// One host entry of a route, canonical: lowercase, no trailing dot, IPv6 in brackets in its
/// canonical spelling.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RouteHost {
    /// An exact host: a DNS name or an IP literal.
    Exact(String),
    /// `*.base`: every host below `base`, at any depth, never `base` itself. Holds `base`.
    Wildcard(String),
}

impl RouteHost {
    /// How specific the entry is: exact hosts above every wildcard, wildcards by their number
    /// of labels (the Gateway API's order). Routes without hosts rank 0.
    pub fn rank(&self) -> usize {
        match self {
            RouteHost::Exact(_) => usize::MAX,
            RouteHost::Wildcard(base) => 1 + base.split('.').count(),
        }
    }

    /// Whether a normalised request host matches.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            RouteHost::Exact(h) => h == host,
            RouteHost::Wildcard(base) => {
                host.len() > base.len() + 1
                    && host.ends_with(base.as_str())
                    && host.as_bytes()[host.len() - base.len() - 1] == b'.'
            }
        }
    }
}

impl fmt::Display for RouteHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteHost::Exact(h) => f.write_str(h),
            RouteHost::Wildcard(base) => write!(f, "*.{base}"),
        }
    }
}

/// Where a route sends its requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteTarget {
    /// A policy of the set, by its position in [`PolicySet::policies`] (0 is `default`).
    Policy(usize),
    /// `off`: corsgate does nothing for these requests.
    Off,
}

/// One validated route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    name: String,
    hosts: Option<Vec<RouteHost>>,
    path_prefix: Option<String>,
    target: RouteTarget,
}

impl Route {
    /// Its name: as given, or `routes[N]` (0-based position).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Its host entries; `None` when the route matches every host.
    pub fn hosts(&self) -> Option<&[RouteHost]> {
        self.hosts.as_deref()
    }
    /// Its path prefix, canonical (no trailing `/`); `None` matches every path.
    pub fn path_prefix(&self) -> Option<&str> {
        self.path_prefix.as_deref()
    }
    /// The policy it chooses.
    pub fn target(&self) -> RouteTarget {
        self.target
    }
}

/// One route, raw, as [`PolicySetBuilder::route`] takes it.
///
/// ```
/// use corsgate::RouteBuilder;
///
/// let route = RouteBuilder::new("public")
///     .name("public-api")
///     .hosts(["api.example.com", "*.api.example.com"])
///     .path_prefix("/public");
/// # let _ = route;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteBuilder {
    pub(crate) name: Option<String>,
    pub(crate) hosts: Option<Vec<String>>,
    pub(crate) path_prefix: Option<String>,
    pub(crate) policy: String,
    /// Set by the file reader when a key of the route could not be read (already reported):
    /// its hosts and prefix are then not compared with other routes'.
    pub(crate) unreadable: bool,
}

impl RouteBuilder {
    /// A route to `policy` (a named policy, `default` or `off`), matching every host and path
    /// until [`hosts`](RouteBuilder::hosts) or [`path_prefix`](RouteBuilder::path_prefix)
    /// narrow it.
    pub fn new(policy: impl Into<String>) -> RouteBuilder {
        RouteBuilder {
            policy: policy.into(),
            ..RouteBuilder::default()
        }
    }
    /// Names the route (in decisions, `explain`, `decide`, logs); the default is `routes[N]`.
    pub fn name(mut self, name: impl Into<String>) -> RouteBuilder {
        self.name = Some(name.into());
        self
    }
    /// The hosts it matches: exact DNS names, `*.` wildcards (any depth below, never the
    /// apex), IPv4 literals or bracketed IPv6 literals; never a port.
    pub fn hosts<I, S>(mut self, hosts: I) -> RouteBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.hosts = Some(hosts.into_iter().map(Into::into).collect());
        self
    }
    /// The path prefix it matches, segment-wise: `/public` matches `/public` and `/public/x`,
    /// never `/publicity`.
    pub fn path_prefix(mut self, prefix: impl Into<String>) -> RouteBuilder {
        self.path_prefix = Some(prefix.into());
        self
    }
}

/// Named policies and routes, raw; [`build`](PolicySetBuilder::build) validates them.
///
/// # Example
/// ```
/// use corsgate::{Cors, CorsRequest, Policy, PolicySet, RouteBuilder};
///
/// let set = PolicySet::builder(Policy::builder().origins(["https://app.example.com"]).clone())
///     .policy("public", Policy::builder().origins(["*"]).clone())
///     .route(RouteBuilder::new("public").hosts(["api.example.com"]).path_prefix("/public"))
///     .route(RouteBuilder::new("off").hosts(["internal.example.com"]))
///     .build()?;
/// let cors = Cors::with_set(set);
/// let request = CorsRequest::new(b"GET")
///     .origin(b"https://elsewhere.example")
///     .host(b"api.example.com")
///     .path(b"/public/status");
/// let decision = cors.decide(&request);
/// assert!(decision.is_allowed());
/// assert_eq!(decision.policy_name(), "public");
/// assert_eq!(decision.route_name(), Some("routes[0]"));
/// # Ok::<(), corsgate::PolicyError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicySetBuilder {
    pub(crate) default: PolicyBuilder,
    pub(crate) policies: Vec<(String, PolicyBuilder)>,
    pub(crate) routes: Vec<RouteBuilder>,
}

impl PolicySetBuilder {
    /// A set whose default policy is `default` (the top-level fields of a policy file).
    pub fn new(default: PolicyBuilder) -> PolicySetBuilder {
        PolicySetBuilder {
            default,
            policies: Vec::new(),
            routes: Vec::new(),
        }
    }
    /// Adds a named policy. (A policy file's named policies start from the top-level fields;
    /// here the builder given is the whole policy.)
    pub fn policy(mut self, name: impl Into<String>, policy: PolicyBuilder) -> PolicySetBuilder {
        self.policies.push((name.into(), policy));
        self
    }
    /// Adds a route.
    pub fn route(mut self, route: RouteBuilder) -> PolicySetBuilder {
        self.routes.push(route);
        self
    }
    /// The default policy's settings.
    pub fn default_policy(&self) -> &PolicyBuilder {
        &self.default
    }
    /// The named policies' settings, in order.
    pub fn policies(&self) -> &[(String, PolicyBuilder)] {
        &self.policies
    }
    /// The routes, raw.
    pub fn routes(&self) -> &[RouteBuilder] {
        &self.routes
    }

    /// Validates every policy and route; every problem at once.
    pub fn build(&self) -> Result<PolicySet, PolicyError> {
        let mut issues = Vec::new();
        let mut policies: Vec<NamedPolicy> = Vec::with_capacity(1 + self.policies.len());
        match self.default.build() {
            Ok(p) => {
                issues.extend(p.warnings().iter().cloned());
                policies.push(NamedPolicy::new(DEFAULT_POLICY, p));
            }
            Err(e) => issues.extend(e.into_issues()),
        }
        let mut by_name: AHashMap<&str, usize> = AHashMap::new();
        if self.policies.len() > MAX_POLICIES {
            issues.push(too_many(Field::Policies, "named policies", MAX_POLICIES));
        }
        for (name, builder) in self.policies.iter().take(MAX_POLICIES) {
            let named = |i: Issue| i.in_policy(name);
            if name == DEFAULT_POLICY || name == OFF_POLICY {
                issues.push(named(
                    Issue::error(
                        IssueKind::ReservedPolicyName,
                        Field::Policies,
                        format!("{name:?} is reserved: `default` is the policy of the top-level fields, `off` turns CORS off on a route"),
                    )
                    .with_value(name.as_str())
                    .with_hint("choose another name"),
                ));
                continue;
            }
            if !is_valid_policy_name(name) {
                issues.push(named(
                    Issue::error(
                        IssueKind::InvalidPolicyName,
                        Field::Policies,
                        format!("a policy name is 1 to {MAX_POLICY_NAME_LEN} ASCII letters, digits, `-` and `_`"),
                    )
                    .with_value(name.as_str())
                    .with_hint("policy names label metrics and log lines: e.g. `public-api`"),
                ));
                continue;
            }
            if by_name.contains_key(name.as_str()) {
                issues.push(named(
                    Issue::error(
                        IssueKind::DuplicateEntry,
                        Field::Policies,
                        format!("the policy {name:?} is defined twice"),
                    )
                    .with_value(name.as_str())
                    .with_hint("keep one"),
                ));
                continue;
            }
            by_name.insert(name, 1 + by_name.len());
            match builder.build() {
                Ok(p) => {
                    issues.extend(p.warnings().iter().map(|i| named(i.clone())));
                    policies.push(NamedPolicy::new(name, p));
                }
                Err(e) => issues.extend(e.into_issues().into_iter().map(named)),
            }
        }
        let (routes, used) = check_routes(&self.routes, &by_name, &mut issues);
        for (name, &index) in &by_name {
            if !used.get(index).copied().unwrap_or(true) {
                issues.push(
                    Issue::warning(
                        IssueKind::UnusedPolicy,
                        Field::Policies,
                        format!("no route uses the policy {name:?}"),
                    )
                    .in_policy(name)
                    .with_hint(format!(
                        "add a route with policy = {name:?}, or remove the policy"
                    )),
                );
            }
        }
        if issues.iter().any(Issue::is_error) {
            return Err(PolicyError::new(issues));
        }
        // Positions in `by_name` are definition order, which is `policies` order.
        Ok(PolicySet {
            policies,
            routes,
            warnings: issues,
        })
    }
}

fn too_many(field: Field, what: &str, max: usize) -> Issue {
    Issue::error(
        IssueKind::TooManyRoutes,
        field,
        format!("a policy set holds at most {max} {what}"),
    )
    .with_hint("split the gateway's configuration, or merge policies that are the same")
}

/// Checks every route; returns the valid ones and which policies (by position) they use.
fn check_routes(
    raw: &[RouteBuilder],
    by_name: &AHashMap<&str, usize>,
    issues: &mut Vec<Issue>,
) -> (Vec<Route>, Vec<bool>) {
    let mut used = vec![false; 1 + by_name.len()];
    let mut routes = Vec::with_capacity(raw.len().min(MAX_ROUTES));
    if raw.len() > MAX_ROUTES {
        issues.push(too_many(Field::Routes, "routes", MAX_ROUTES));
    }
    let mut total_hosts = 0usize;
    let mut names: AHashMap<String, usize> = AHashMap::new();
    // (host entry or None, prefix) → first route.
    let mut seen: AHashMap<(Option<RouteHost>, Option<String>), usize> = AHashMap::new();
    for (index, route) in raw.iter().enumerate().take(MAX_ROUTES) {
        let at = |i: Issue| i.in_route(index);
        let issues_before = issues.len();
        let name = match &route.name {
            Some(name) if !is_valid_route_name(name) => {
                issues.push(at(Issue::error(
                    IssueKind::InvalidPolicyName,
                    Field::Name,
                    format!("a route name is 1 to {MAX_POLICY_NAME_LEN} ASCII letters, digits, `-`, `_` and `.`"),
                )
                .with_value(name.as_str())
                .with_hint("e.g. `public-api`")));
                name.clone()
            }
            Some(name) => name.clone(),
            None => format!("routes[{index}]"),
        };
        if let Some(first) = names.insert(name.clone(), index) {
            issues.push(at(Issue::error(
                IssueKind::DuplicateRouteName,
                Field::Name,
                format!("routes[{first}] has the same name"),
            )
            .with_value(name.as_str())
            .with_hint("give each route its own name")));
        }
        let target = match route.policy.as_str() {
            OFF_POLICY => Some(RouteTarget::Off),
            DEFAULT_POLICY => Some(RouteTarget::Policy(0)),
            other => match by_name.get(other) {
                Some(&i) => Some(RouteTarget::Policy(i)),
                None => {
                    let known: Vec<&str> = by_name.keys().copied().collect();
                    let mut issue = Issue::error(
                        IssueKind::UnknownPolicy,
                        Field::Policy,
                        format!("the set defines no policy {other:?}"),
                    )
                    .with_value(other);
                    issue = match did_you_mean(other, known.iter().copied()) {
                        Some(best) => issue.with_hint(format!("did you mean {best:?}?")),
                        None => issue.with_hint(
                            "name a policy defined under [policies.NAME], `default`, or `off`",
                        ),
                    };
                    issues.push(at(issue));
                    None
                }
            },
        };
        let shape_issues_before = issues.len();
        let path_prefix = match &route.path_prefix {
            None => None,
            Some(raw) => match canonical_path_prefix(raw) {
                Ok((prefix, changed)) => {
                    if changed {
                        issues.push(at(Issue::warning(
                            IssueKind::NonCanonicalRoute,
                            Field::PathPrefix,
                            format!("read as {prefix:?}: a prefix has no trailing `/` (it matches segment-wise)"),
                        )
                        .with_value(raw.as_str())
                        .with_hint(format!("write {prefix:?}"))));
                    }
                    // "/" is every path: the same as no prefix.
                    (prefix != "/").then_some(prefix)
                }
                Err(why) => {
                    issues.push(at(Issue::error(IssueKind::InvalidPathPrefix, Field::PathPrefix, why)
                        .with_value(raw.as_str())
                        .with_hint("a prefix is a raw path such as \"/api/v1\": no query, no `.` or `..` segment, no `%`")));
                    None
                }
            },
        };
        let hosts = match &route.hosts {
            None => None,
            Some(raw_hosts) => {
                total_hosts += raw_hosts.len();
                let mut hosts = Vec::with_capacity(raw_hosts.len());
                for (i, raw) in raw_hosts.iter().enumerate() {
                    match canonical_route_host(raw) {
                        Ok((host, changed)) => {
                            if changed {
                                issues.push(at(Issue::warning(
                                    IssueKind::NonCanonicalRoute,
                                    Field::Hosts,
                                    format!("read as \"{host}\": hosts are compared lowercase, without a trailing dot"),
                                )
                                .at(i)
                                .with_value(raw.as_str())
                                .with_hint(format!("write \"{host}\""))));
                            }
                            if hosts.contains(&host) {
                                issues.push(at(Issue::warning(
                                    IssueKind::DuplicateEntry,
                                    Field::Hosts,
                                    format!("\"{host}\" is listed twice in this route"),
                                )
                                .at(i)
                                .with_value(raw.as_str())
                                .with_hint("keep one")));
                            } else {
                                hosts.push(host);
                            }
                        }
                        Err((why, hint)) => issues.push(at(Issue::error(
                            IssueKind::InvalidRouteHost,
                            Field::Hosts,
                            why,
                        )
                        .at(i)
                        .with_value(raw.as_str())
                        .with_hint(hint))),
                    }
                }
                if raw_hosts.is_empty() {
                    issues.push(at(Issue::warning(
                        IssueKind::UnreachableRoute,
                        Field::Hosts,
                        "`hosts` is empty, so no request reaches this route",
                    )
                    .with_hint("list the hosts, or leave `hosts` out to match every host")));
                }
                Some(hosts)
            }
        };
        if total_hosts > MAX_ROUTE_HOSTS {
            issues.push(at(too_many(Field::Hosts, "route hosts", MAX_ROUTE_HOSTS)));
            break;
        }
        if let Some(RouteTarget::Policy(i)) = target {
            used[i] = true;
        }
        // Duplicates are checked whenever the hosts and prefix could be read, even if the
        // route has other problems: every problem at once.
        let shape_ok =
            !route.unreadable && !issues[shape_issues_before..].iter().any(Issue::is_error);
        if shape_ok {
            let keys: Vec<Option<RouteHost>> = match &hosts {
                None => vec![None],
                Some(h) => h.iter().cloned().map(Some).collect(),
            };
            for key in keys {
                let described = key
                    .as_ref()
                    .map_or_else(|| "every host".to_owned(), |h| format!("\"{h}\""));
                match seen.entry((key, path_prefix.clone())) {
                    std::collections::hash_map::Entry::Occupied(first) => {
                        issues.push(at(Issue::error(
                            IssueKind::DuplicateRoute,
                            Field::Routes,
                            format!(
                                "routes[{}] already matches {described} with {}",
                                first.get(),
                                path_prefix.as_deref().map_or_else(|| "no path_prefix".to_owned(), |p| format!("path_prefix {p:?}"))
                            ),
                        )
                        .with_hint("one host and prefix decide with one policy: remove one of the routes, or give one a longer path_prefix")));
                    }
                    std::collections::hash_map::Entry::Vacant(slot) => {
                        slot.insert(index);
                    }
                }
            }
        }
        let Some(target) = target else { continue };
        if issues[issues_before..].iter().any(Issue::is_error) {
            continue;
        }
        routes.push(Route {
            name,
            hosts,
            path_prefix,
            target,
        });
    }
    (routes, used)
}

fn is_valid_route_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_POLICY_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'[' | b']'))
}

/// A route's path prefix made canonical: the prefix, and whether a trailing `/` was dropped.
fn canonical_path_prefix(raw: &str) -> Result<(String, bool), String> {
    if raw.len() > MAX_PATH_PREFIX_LEN {
        return Err(format!(
            "a path prefix is at most {MAX_PATH_PREFIX_LEN} bytes"
        ));
    }
    if !raw.starts_with('/') {
        return Err("a path prefix starts with `/`".to_owned());
    }
    if let Some(b) = raw
        .bytes()
        .find(|&b| !(b.is_ascii_graphic()) || matches!(b, b'%' | b'?' | b'#' | b'\\'))
    {
        return Err(format!(
            "{:?} cannot be in a path prefix: it is compared with the raw path, never decoded",
            b as char
        ));
    }
    let trimmed = if raw.len() > 1 {
        raw.trim_end_matches('/')
    } else {
        raw
    };
    let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
    if trimmed != "/" {
        for segment in trimmed[1..].split('/') {
            match segment {
                "" => return Err("a path prefix has no empty segment (`//`)".to_owned()),
                "." | ".." => return Err(format!("a path prefix has no {segment:?} segment")),
                _ => {}
            }
        }
    }
    Ok((trimmed.to_owned(), trimmed.len() != raw.len()))
}

/// A route's host entry made canonical: the entry, and whether it was rewritten.
fn canonical_route_host(raw: &str) -> Result<(RouteHost, bool), (String, String)> {
    let fail = |why: &str, hint: &str| Err((why.to_owned(), hint.to_owned()));
    let (wildcard, rest) = match raw.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    if rest.contains('*') {
        return fail(
            "a `*` is only allowed as a whole first label (`*.example.com`)",
            "write \"*.example.com\" for every host below example.com",
        );
    }
    if let Some(inner) = rest.strip_prefix('[') {
        let Some(inner) = inner.strip_suffix(']') else {
            return fail(
                "an IPv6 literal ends with `]`",
                "write e.g. \"[2001:db8::1]\"",
            );
        };
        if wildcard {
            return fail(
                "a wildcard is over a DNS name, never an IP address",
                "list the address itself",
            );
        }
        let Ok(addr) = inner.parse::<Ipv6Addr>() else {
            return fail("not an IPv6 address", "write e.g. \"[2001:db8::1]\"");
        };
        let canonical = format!("[{}]", host::ipv6_to_string(addr));
        let changed = canonical != raw;
        return Ok((RouteHost::Exact(canonical), changed));
    }
    if rest.contains(':') {
        return fail(
            "a route host has no port (the request's port is ignored when choosing a route)",
            "drop the `:port`",
        );
    }
    let lower = rest.to_ascii_lowercase();
    let mut changed = lower != rest;
    let name = match lower.strip_suffix('.') {
        Some(stripped) => {
            changed = true;
            stripped.to_owned()
        }
        None => lower,
    };
    match host::check_host(name.as_bytes()) {
        Ok(HostKind::Domain) => {}
        Ok(HostKind::Ipv4) if !wildcard => {}
        Ok(_) => {
            return fail(
                "a wildcard is over a DNS name, never an IP address",
                "list the address itself",
            )
        }
        Err(_) => {
            return fail(
                "not a valid host: labels of letters, digits, `-` and `_`, separated by dots, at most 253 bytes",
                "write the host as the browser's URL has it, e.g. \"api.example.com\" (Unicode names in their xn-- form)",
            )
        }
    }
    if wildcard && !name.contains('.') {
        return fail(
            "a wildcard over a top-level domain would match every host under it",
            "write the wildcard over the domain you own, e.g. \"*.example.com\"",
        );
    }
    let entry = if wildcard {
        RouteHost::Wildcard(name)
    } else {
        RouteHost::Exact(name)
    };
    Ok((entry, changed))
}

/// A named policy of a set.
#[derive(Clone, Debug)]
pub struct NamedPolicy {
    name: Arc<str>,
    policy: Arc<Policy>,
}

impl NamedPolicy {
    fn new(name: &str, policy: Policy) -> NamedPolicy {
        NamedPolicy {
            name: name.into(),
            policy: Arc::new(policy),
        }
    }
    /// `default`, or the name it was given.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The policy.
    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }
}

/// A validated policy set: the default policy, the named ones, the routes. Immutable; a
/// [`Cors`](crate::Cors) compiles it into one generation.
#[derive(Clone, Debug)]
pub struct PolicySet {
    /// `policies[0]` is `default`.
    policies: Vec<NamedPolicy>,
    routes: Vec<Route>,
    warnings: Vec<Issue>,
}

impl PartialEq for PolicySet {
    /// Two sets are equal when they were built from the same settings.
    fn eq(&self, other: &PolicySet) -> bool {
        self.routes == other.routes
            && self.policies.len() == other.policies.len()
            && self
                .policies
                .iter()
                .zip(&other.policies)
                .all(|(a, b)| a.name == b.name && a.policy == b.policy)
    }
}

impl Eq for PolicySet {}

impl PolicySet {
    /// A builder whose default policy is `default`.
    pub fn builder(default: PolicyBuilder) -> PolicySetBuilder {
        PolicySetBuilder::new(default)
    }

    /// The set of one policy, `default`, and no routes: how a single policy is served.
    pub fn single(policy: Policy) -> PolicySet {
        let warnings = policy.warnings().to_vec();
        PolicySet {
            policies: vec![NamedPolicy::new(DEFAULT_POLICY, policy)],
            routes: Vec::new(),
            warnings,
        }
    }

    /// Every policy, `default` first.
    pub fn policies(&self) -> &[NamedPolicy] {
        &self.policies
    }
    /// The default policy.
    pub fn default_policy(&self) -> &Arc<Policy> {
        &self.policies[0].policy
    }
    /// A policy by name (`default` included).
    pub fn policy(&self, name: &str) -> Option<&Arc<Policy>> {
        self.policies
            .iter()
            .find(|p| &*p.name == name)
            .map(|p| &p.policy)
    }
    /// The routes, in the order given.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }
    /// `true` for a set of one policy and no routes.
    pub fn is_single(&self) -> bool {
        self.routes.is_empty() && self.policies.len() == 1
    }
    /// The warnings of every policy and route.
    pub fn warnings(&self) -> &[Issue] {
        &self.warnings
    }

    /// Replaces the warnings (a policy file locates them).
    #[cfg(feature = "file")]
    pub(crate) fn set_warnings(&mut self, warnings: Vec<Issue>) {
        self.warnings = warnings;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins(list: &[&str]) -> PolicyBuilder {
        let mut b = PolicyBuilder::new();
        b.origins(list.iter().copied());
        b
    }

    #[test]
    fn route_hosts_are_made_canonical() {
        for (raw, want, changed) in [
            ("api.example.com", "api.example.com", false),
            ("API.Example.com.", "api.example.com", true),
            ("*.example.com", "*.example.com", false),
            ("127.0.0.1", "127.0.0.1", false),
            ("[::1]", "[::1]", false),
            ("[0:0::1]", "[::1]", true),
            ("[2001:DB8::1]", "[2001:db8::1]", true),
        ] {
            let (host, was_changed) = canonical_route_host(raw).unwrap();
            assert_eq!(host.to_string(), want, "{raw}");
            assert_eq!(was_changed, changed, "{raw}");
        }
        for raw in [
            "",
            "api.example.com:443",
            "*.com",
            "*.*.example.com",
            "a.*.example.com",
            "*.127.0.0.1",
            "[::1",
            "[zz]",
            "*.[::1]",
            "exa mple.com",
            "a..b",
            "-a.com",
            "1.2.3",
            "0x7f.0.0.1",
        ] {
            assert!(canonical_route_host(raw).is_err(), "{raw:?} accepted");
        }
    }

    #[test]
    fn path_prefixes_are_checked_segment_by_segment() {
        for (raw, want, changed) in [
            ("/", "/", false),
            ("/public", "/public", false),
            ("/public/", "/public", true),
            ("/a/b//", "/a/b", true),
            ("/v1.2/x", "/v1.2/x", false),
        ] {
            assert_eq!(
                canonical_path_prefix(raw).unwrap(),
                (want.to_owned(), changed),
                "{raw}"
            );
        }
        for raw in [
            "", "public", "/a//b", "/a/./b", "/a/..", "/%2e", "/a?b", "/a b", "/a\\b", "/é",
        ] {
            assert!(canonical_path_prefix(raw).is_err(), "{raw:?} accepted");
        }
    }

    #[test]
    fn every_problem_of_a_set_at_once_each_naming_its_place() {
        let err = PolicySet::builder(origins(&["https://a.example"]))
            .policy("public", origins(&["https://b.example/x"]))
            .policy("off", origins(&["https://c.example"]))
            .policy("bad name", origins(&["https://c.example"]))
            .policy("unused", origins(&["https://d.example"]))
            .route(RouteBuilder::new("publik").hosts(["api.example.com"]))
            .route(RouteBuilder::new("public").hosts(["API.example.com", "x.example.com:80"]))
            .route(
                RouteBuilder::new("default")
                    .hosts(["b.example.com"])
                    .path_prefix("/p"),
            )
            .route(
                RouteBuilder::new("off")
                    .hosts(["b.example.com"])
                    .path_prefix("/p/"),
            )
            .build()
            .unwrap_err();
        let found: Vec<(IssueKind, String)> =
            err.issues().iter().map(|i| (i.kind(), i.path())).collect();
        let want = [
            (IssueKind::OriginHasPath, "policies.public.origins[0]"),
            (IssueKind::ReservedPolicyName, "policies.off"),
            (IssueKind::InvalidPolicyName, "policies.bad name"),
            (IssueKind::UnknownPolicy, "routes[0].policy"),
            (IssueKind::NonCanonicalRoute, "routes[1].hosts[0]"),
            (IssueKind::InvalidRouteHost, "routes[1].hosts[1]"),
            (IssueKind::NonCanonicalRoute, "routes[3].path_prefix"),
            (IssueKind::DuplicateRoute, "routes[3]"),
            (IssueKind::UnusedPolicy, "policies.unused"),
        ];
        for (kind, path) in want {
            assert!(
                found.contains(&(kind, path.to_owned())),
                "{kind:?} at {path} missing from {found:#?}"
            );
        }
        assert_eq!(found.len(), want.len(), "{found:#?}");
        let hint = err
            .issues()
            .iter()
            .find(|i| i.kind() == IssueKind::UnknownPolicy)
            .unwrap();
        assert_eq!(hint.hint(), Some("did you mean \"public\"?"));
    }

    #[test]
    fn a_valid_set_keeps_names_and_targets() {
        let set = PolicySet::builder(origins(&["https://a.example"]))
            .policy("public", origins(&["*"]))
            .route(
                RouteBuilder::new("public")
                    .name("pub")
                    .hosts(["*.Example.com"]),
            )
            .route(RouteBuilder::new("off").path_prefix("/internal"))
            .build()
            .unwrap();
        assert_eq!(set.policies().len(), 2);
        assert_eq!(set.routes()[0].name(), "pub");
        assert_eq!(set.routes()[0].target(), RouteTarget::Policy(1));
        assert_eq!(
            set.routes()[0].hosts(),
            Some(&[RouteHost::Wildcard("example.com".into())][..])
        );
        assert_eq!(set.routes()[1].name(), "routes[1]");
        assert_eq!(set.routes()[1].target(), RouteTarget::Off);
        assert_eq!(set.warnings().len(), 1, "{:?}", set.warnings());
        assert!(!set.is_single());
        assert!(PolicySet::single(Policy::new(["https://a.example"]).unwrap()).is_single());
    }

    #[test]
    fn wildcards_match_below_never_the_apex_or_a_lookalike() {
        let w = RouteHost::Wildcard("example.com".into());
        assert!(w.matches("a.example.com"));
        assert!(w.matches("a.b.example.com"));
        assert!(!w.matches("example.com"));
        assert!(!w.matches("evilexample.com"));
        assert!(!w.matches(".example.com"));
        assert!(!w.matches("example.com.evil.com"));
    }
}
