//! Fuzz check `differential`: a policy, then requests and reloads; the engine must give the
//! reference's decision — kind, allowed, status, complete header set — every time. A step may
//! also swap in a policy set (named policies, routes over overlapping hosts and prefixes,
//! `off` and hostless routes) and decide requests with hosts and paths near the routes'; the
//! engine must then choose the reference's route and policy as well.

use std::fmt;

use arbitrary::{Arbitrary, Unstructured};
use serde::Deserialize;

use super::spec::{PolicySpec, Rendered, RequestSpec};
use crate::file::{to_toml, Format, PolicyFile};
use crate::policy::PolicyBuilder;
use crate::policy::{PolicySet, RouteBuilder};
use crate::reference::{Reference, ReferenceSet};
use crate::{Cors, CorsRequest, Policy};

/// One step after the first policy.
#[derive(Arbitrary, Clone, Debug)]
pub enum Op {
    /// Decide a request.
    Request(RequestSpec),
    /// Reload another policy.
    Reload(PolicySpec),
    /// Reload a policy set whose default policy is the serving one.
    ReloadSet(SetSpec),
    /// Decide a request with a host and a path.
    Routed(RoutedRequest),
}

/// Route hosts: overlapping exact names and wildcards of several depths, IPs, and spellings
/// that canonicalise onto another entry.
const ROUTE_HOSTS: &[&str] = &[
    "api.example.com",
    "*.example.com",
    "*.a.example.com",
    "a.example.com",
    "x.a.example.com",
    "*.x.a.example.com",
    "example.org",
    "*.example.org",
    "127.0.0.1",
    "[2001:db8::1]",
    "API.Example.com.",
    "[::1]",
];
/// Path prefixes sharing segments.
const PREFIXES: &[&str] = &[
    "/public",
    "/public/v1",
    "/pub",
    "/api",
    "/api/v1/users",
    "/api/v1",
    "/",
    "/public/",
];
/// Request paths: the prefixes and their near misses.
const PATHS: &[&str] = &[
    "/",
    "",
    "/public",
    "/public/",
    "/publicity",
    "/public/v1/x",
    "/public/v10",
    "/pub",
    "/api/v1/users?x=1",
    "/api/v1",
    "/public?x=/api",
    "//public",
    "/Public",
    "*",
];
/// Ways to bend a route host into a request host.
const HOST_BENDS: &[&str] = &[
    "{}",
    "{}",
    "x.{}",
    "y.x.{}",
    "evil{}",
    "UPPER",
    "{}.",
    "{}..",
    "{}:8080",
    "{}:x",
    "[2001:DB8:0::1]",
    "2001:db8::1",
    "127.1",
    "",
];

/// One route: host entries and prefix by index into fixed lists, a policy by index.
#[derive(Arbitrary, Clone, Debug)]
pub struct RouteSpec {
    /// Indices into the route hosts; `None` for a hostless route.
    pub hosts: Option<Vec<u8>>,
    /// Index into the prefixes.
    pub prefix: Option<u8>,
    /// A named policy, `default` or `off`, modulo their number.
    pub policy: u8,
}

/// A policy set: named policies (up to 4) and routes (up to 12).
#[derive(Arbitrary, Clone, Debug)]
pub struct SetSpec {
    /// The named policies.
    pub policies: Vec<PolicySpec>,
    /// The routes.
    pub routes: Vec<RouteSpec>,
}

/// A request with a host (a route host, bent) and a path.
#[derive(Arbitrary, Clone, Debug)]
pub struct RoutedRequest {
    /// The CORS part.
    pub request: RequestSpec,
    /// A route host and a bend; `None` for no Host.
    pub host: Option<(u8, u8)>,
    /// Index into the paths.
    pub path: u8,
}

impl RoutedRequest {
    fn host(&self) -> Option<String> {
        let (h, bend) = self.host?;
        let base = ROUTE_HOSTS[usize::from(h) % ROUTE_HOSTS.len()].trim_start_matches("*.");
        let bend = HOST_BENDS[usize::from(bend) % HOST_BENDS.len()];
        Some(if bend == "UPPER" {
            base.to_ascii_uppercase()
        } else {
            bend.replace("{}", base)
        })
    }
    fn path(&self) -> &'static str {
        PATHS[usize::from(self.path) % PATHS.len()]
    }
}

impl SetSpec {
    /// The set, with `default` as its default policy; routes the builder refuses are dropped
    /// (which survive does not depend on the policies' contents).
    fn build(&self, default: &PolicyBuilder) -> Option<PolicySet> {
        let named: Vec<PolicyBuilder> = self
            .policies
            .iter()
            .take(4)
            .filter_map(first_that_builds)
            .map(|(b, _)| b)
            .collect();
        let mut keep: Vec<&RouteSpec> = self.routes.iter().take(12).collect();
        loop {
            let mut builder = PolicySet::builder(default.clone());
            for (i, p) in named.iter().enumerate() {
                builder = builder.policy(format!("p{i}"), p.clone());
            }
            for r in &keep {
                let choice = usize::from(r.policy) % (named.len() + 2);
                let target = match choice {
                    0 => "default".to_owned(),
                    1 => "off".to_owned(),
                    i => format!("p{}", i - 2),
                };
                let mut route = RouteBuilder::new(target);
                if let Some(hosts) = &r.hosts {
                    route = route.hosts(
                        hosts
                            .iter()
                            .take(3)
                            .map(|&h| ROUTE_HOSTS[usize::from(h) % ROUTE_HOSTS.len()]),
                    );
                }
                if let Some(p) = r.prefix {
                    route = route.path_prefix(PREFIXES[usize::from(p) % PREFIXES.len()]);
                }
                builder = builder.route(route);
            }
            match builder.build() {
                Ok(set) => return Some(set),
                Err(e) => {
                    let bad: Vec<usize> = e.errors().filter_map(|i| i.route()).collect();
                    if bad.is_empty() {
                        return None;
                    }
                    keep = keep
                        .into_iter()
                        .enumerate()
                        .filter(|(i, _)| !bad.contains(i))
                        .map(|(_, r)| r)
                        .collect();
                }
            }
        }
    }
}

/// A first policy and up to 16 steps; or, when the first byte is 0, the same as JSON text
/// (`{"policy": {…}, "requests": [["GET", [["Origin", "…"]]], …]}`), which is how the seed
/// corpus carries the case tables.
pub enum DiffInput {
    /// Structured.
    Steps(PolicySpec, Vec<Op>),
    /// JSON text.
    Text(String),
}

impl<'a> Arbitrary<'a> for DiffInput {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        if u8::arbitrary(u)? == 0 {
            return Ok(DiffInput::Text(
                String::from_utf8_lossy(u.bytes(u.len())?).into_owned(),
            ));
        }
        Ok(DiffInput::Steps(
            PolicySpec::arbitrary(u)?,
            Vec::arbitrary(u)?,
        ))
    }

    fn arbitrary_take_rest(mut u: Unstructured<'a>) -> arbitrary::Result<Self> {
        if u8::arbitrary(&mut u)? == 0 {
            return Ok(DiffInput::Text(
                String::from_utf8_lossy(u.bytes(u.len())?).into_owned(),
            ));
        }
        let policy = PolicySpec::arbitrary(&mut u)?;
        Ok(DiffInput::Steps(policy, Vec::arbitrary_take_rest(u)?))
    }
}

/// The builder that builds, trying the relaxations in order.
fn first_that_builds(spec: &PolicySpec) -> Option<(PolicyBuilder, Policy)> {
    spec.relaxed_builders()
        .into_iter()
        .find_map(|b| b.build().ok().map(|p| (b, p)))
}

fn canonical_entries(policy: &Policy) -> Vec<String> {
    policy
        .origins()
        .iter()
        .map(|e| e.pattern().to_string())
        .collect()
}

impl fmt::Debug for DiffInput {
    /// A reproducer: the policy file, then one `corsgate decide` line per request (and each
    /// reload's policy file).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiffInput::Text(t) => write!(f, "{t}"),
            DiffInput::Steps(first, ops) => {
                let Some((builder, mut policy)) = first_that_builds(first) else {
                    return write!(f, "(no policy builds from {first:?})");
                };
                writeln!(f, "# policy.toml\n{}", to_toml(&builder))?;
                for op in ops.iter().take(16) {
                    match op {
                        Op::Request(r) => {
                            writeln!(f, "{:?}", r.render(&canonical_entries(&policy)))?
                        }
                        Op::Reload(spec) => match first_that_builds(spec) {
                            Some((b, p)) => {
                                writeln!(f, "# reload: policy.toml\n{}", to_toml(&b))?;
                                policy = p;
                            }
                            None => writeln!(f, "# reload refused: {:?}", spec.builder())?,
                        },
                        Op::ReloadSet(spec) => match spec.build(policy.source()) {
                            Some(set) => writeln!(f, "# reload set: routes {:?}", set.routes())?,
                            None => writeln!(f, "# set refused: {spec:?}")?,
                        },
                        Op::Routed(r) => writeln!(
                            f,
                            "# host {:?} path {:?}: {:?}",
                            r.host(),
                            r.path(),
                            r.request.render(&canonical_entries(&policy))
                        )?,
                    }
                }
                Ok(())
            }
        }
    }
}

fn compare(cors: &Cors, policy: &Policy, request: &Rendered) {
    let pairs = request.pairs();
    let decision = cors.decide(&CorsRequest::from_pairs(&request.method, &pairs));
    let expected = Reference::new(policy).decide(&request.method, &pairs);
    let headers: Vec<(String, String)> = decision
        .headers()
        .map(|(h, v)| (h.as_str().to_owned(), v.to_str_lossy()))
        .collect();
    let got = (
        decision.kind().as_str(),
        decision.is_allowed(),
        decision.status().map(|s| s.as_u16()),
        &headers,
    );
    let want = (
        expected.kind,
        expected.allowed,
        expected.status,
        &expected.headers,
    );
    assert_eq!(got, want, "request {request:?}");
}

/// A request to a policy set, with its host (as a `Host` line) and path: the engine must choose
/// the reference's route and policy, and give its decision.
fn compare_routed(
    cors: &Cors,
    set: &PolicySet,
    request: &Rendered,
    host: Option<&str>,
    path: &str,
) {
    let mut pairs = request.pairs();
    if let Some(h) = host {
        pairs.push((b"Host", h.as_bytes()));
    }
    let decision =
        cors.decide(&CorsRequest::from_pairs(&request.method, &pairs).path(path.as_bytes()));
    let (choice, expected) =
        ReferenceSet::new(set).decide(&request.method, &pairs, path.as_bytes());
    let headers: Vec<(String, String)> = decision
        .headers()
        .map(|(h, v)| (h.as_str().to_owned(), v.to_str_lossy()))
        .collect();
    let got = (
        decision.route_name(),
        decision.policy_name(),
        decision.kind().as_str(),
        decision.is_allowed(),
        decision.status().map(|s| s.as_u16()),
        &headers,
    );
    let want = (
        choice.route.as_deref(),
        choice.policy.as_str(),
        expected.kind,
        expected.allowed,
        expected.status,
        &expected.headers,
    );
    assert_eq!(
        got,
        want,
        "host {host:?} path {path:?} request {request:?} routes {:?}",
        set.routes()
    );
}

#[derive(Deserialize)]
struct TextInput {
    policy: serde_json::Value,
    #[serde(default)]
    requests: Vec<(String, Vec<(String, String)>)>,
}

/// Checks one input; panics when engine and reference disagree.
pub fn check(input: &DiffInput) {
    match input {
        DiffInput::Steps(first, ops) => {
            let Some((_, mut policy)) = first_that_builds(first) else {
                return;
            };
            let cors = Cors::new(policy.clone());
            // The serving set, when a set step swapped one in.
            let mut set: Option<PolicySet> = None;
            for op in ops.iter().take(16) {
                match op {
                    Op::Request(r) => match &set {
                        None => compare(&cors, &policy, &r.render(&canonical_entries(&policy))),
                        Some(s) => compare_routed(
                            &cors,
                            s,
                            &r.render(&canonical_entries(&policy)),
                            None,
                            "",
                        ),
                    },
                    Op::Routed(r) => {
                        let owned;
                        let serving = match &set {
                            Some(s) => s,
                            None => {
                                owned = PolicySet::single(policy.clone());
                                &owned
                            }
                        };
                        let host = r.host();
                        let reference = ReferenceSet::new(serving);
                        let (_, choice) = reference
                            .choose(host.as_deref().map(str::as_bytes), r.path().as_bytes());
                        let chosen = serving
                            .policy(&choice.policy)
                            .map_or_else(Vec::new, |p| canonical_entries(p));
                        compare_routed(
                            &cors,
                            serving,
                            &r.request.render(&chosen),
                            host.as_deref(),
                            r.path(),
                        );
                    }
                    Op::ReloadSet(spec) => {
                        if let Some(next) = spec.build(policy.source()) {
                            cors.reload_set(next.clone());
                            set = Some(next);
                        }
                    }
                    Op::Reload(spec) => match first_that_builds(spec) {
                        Some((_, next)) => {
                            cors.reload(next.clone());
                            policy = next;
                            set = None;
                        }
                        None => {
                            let before = cors.generation();
                            assert!(cors.try_reload(&spec.builder()).is_err());
                            assert_eq!(cors.generation(), before, "a failed reload swapped");
                        }
                    },
                }
            }
        }
        DiffInput::Text(text) => {
            let Ok(parsed) = serde_json::from_str::<TextInput>(text) else {
                return;
            };
            let Ok(policy) =
                PolicyFile::parse(&parsed.policy.to_string(), "seed.json", Format::Json)
                    .and_then(|f| f.policy(None))
            else {
                return;
            };
            let cors = Cors::new(policy.clone());
            for (method, headers) in parsed.requests.iter().take(64) {
                let request = Rendered {
                    method: method.clone().into_bytes(),
                    headers: headers
                        .iter()
                        .map(|(n, v)| (n.clone().into_bytes(), v.clone().into_bytes()))
                        .collect(),
                };
                compare(&cors, &policy, &request);
            }
        }
    }
}

/// Decodes fuzzer bytes and checks them.
pub fn check_bytes(data: &[u8]) {
    if let Some(input) = super::decode::<DiffInput>(data) {
        check(&input);
    }
}
