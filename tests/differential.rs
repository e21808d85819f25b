//! Engine vs reference on whole decisions — kind, allowed, status and the complete header set —
//! for random policies (mixing every entry kind and setting), random requests (near-miss
//! origins, browser-form and mangled request-header lists, hostile values) and sequences of
//! reloads. 10,000 generated cases per run. And the same over policy sets: random sets (2–6
//! policies, 1–12 routes with overlapping exact and wildcard hosts, prefixes sharing segments,
//! `off` and hostless routes) and requests with hosts and paths near the routes'; the engine
//! must choose the reference's route and policy and give its whole decision. 10,000 sets.

mod common;

use common::{engine_header_map, engine_pairs, reference, TestPolicy};
use corsgate::reference::ReferenceSet;
use corsgate::{Cors, CorsRequest, Policy, PolicySet, RouteBuilder};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};

const DOMAINS: &[&str] = &[
    "example.com",
    "example.org",
    "a.example.com",
    "b.a.example.com",
    "localhost",
    "app.localhost",
    "xn--bcher-kva.example",
    "my_host.example.com",
    "example.com.",
    "github.io",
    "co.uk",
];
const IPS: &[&str] = &["127.0.0.1", "[::1]", "10.0.0.1", "[2001:db8::1]"];
const SCHEMES: &[&str] = &["https", "http", "chrome-extension", "wss"];
const REGEXES: &[&str] = &[
    r"https://([a-z0-9-]+\.)*example\.com",
    r"https://[a-z]+\.example\.org(:[0-9]+)?",
    r"http://localhost:[0-9]{4}",
    r"https://(app|admin)\.example\.com",
    r"chrome-extension://[a-p]{4,}",
    r"https://.*",
    r"https://[a-z.]+",
];

fn port_suffix() -> impl Strategy<Value = String> {
    select(vec!["", "", ":8080", ":3000", ":443", ":80", ":8443"]).prop_map(str::to_owned)
}

fn entry() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (select(SCHEMES), select(DOMAINS), port_suffix()).prop_map(|(s, h, p)| format!("{s}://{h}{p}")),
        2 => (select(SCHEMES), select(IPS), port_suffix()).prop_map(|(s, h, p)| format!("{s}://{h}{p}")),
        3 => (select(SCHEMES), select(DOMAINS), select(vec!["", ":8443", ":*"]))
            .prop_map(|(s, h, p)| format!("{s}://*.{h}{p}")),
        2 => (select(SCHEMES), select(DOMAINS)).prop_map(|(s, h)| format!("{s}://{h}:*")),
        2 => select(REGEXES).prop_map(|r| format!("regex:{r}")),
        1 => Just("*".to_owned()),
        1 => Just("null".to_owned()),
        1 => (select(DOMAINS), port_suffix()).prop_map(|(h, p)| format!("HTTPS://{}{p}/", h.to_uppercase())),
    ]
}

fn policy() -> impl Strategy<Value = TestPolicy> {
    (
        prop::collection::vec(entry(), 1..6),
        any::<bool>(),
        prop::option::of(subsequence(
            vec!["GET", "PUT", "DELETE", "patch", "PROPFIND", "*"],
            0..4,
        )),
        subsequence(
            vec!["content-type", "x-token", "authorization", "*", "X-Upper"],
            0..4,
        ),
        subsequence(vec!["x-request-id", "*", "x-trace"], 0..2),
        prop::option::of(select(vec![0u32, 600, 7200])),
        any::<(bool, bool, bool)>(),
        any::<[bool; 4]>(),
    )
        .prop_map(
            |(
                origins,
                credentials,
                methods,
                allow,
                expose,
                max_age,
                (pna, passthrough, status_200),
                danger,
            )| TestPolicy {
                origins,
                methods: methods.map(|m| m.into_iter().map(str::to_owned).collect()),
                allow_headers: allow.into_iter().map(str::to_owned).collect(),
                expose_headers: expose.into_iter().map(str::to_owned).collect(),
                credentials,
                max_age,
                private_network: pna,
                preflight_status: Some(if status_200 { 200 } else { 204 }),
                preflight_passthrough: passthrough,
                dangerously_allow_null_origin: danger[0],
                dangerously_allow_insecure_origins: danger[1],
                dangerously_allow_public_suffix_wildcards: danger[2],
                dangerously_reflect_any_origin_with_credentials: danger[3],
            },
        )
}

/// Builds the policy, relaxing it until it builds: first every `dangerously_*` option, then
/// without `*` in expose_headers, then without credentials. Returns `None` only for policies
/// whose every entry is invalid.
fn build(mut p: TestPolicy) -> Option<Policy> {
    if let Ok(policy) = p.build() {
        return Some(policy);
    }
    p.dangerously_allow_null_origin = true;
    p.dangerously_allow_insecure_origins = true;
    p.dangerously_allow_public_suffix_wildcards = true;
    p.dangerously_reflect_any_origin_with_credentials = true;
    if let Ok(policy) = p.build() {
        return Some(policy);
    }
    p.expose_headers.retain(|h| h != "*");
    if let Ok(policy) = p.build() {
        return Some(policy);
    }
    p.credentials = false;
    p.build().ok()
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(DOMAINS).prop_map(str::to_owned),
        1 => select(IPS).prop_map(str::to_owned),
        2 => (select(vec!["x", "www", "a.b", "my_x"]), select(DOMAINS)).prop_map(|(p, d)| format!("{p}.{d}")),
        1 => select(DOMAINS).prop_map(|d| format!("{d}.evil.com")),
        1 => select(DOMAINS).prop_map(|d| format!("evil{d}")),
        1 => select(DOMAINS).prop_map(|d| format!("{d}.")),
        1 => select(DOMAINS).prop_map(|d| d.to_uppercase()),
        1 => select(vec!["127.1", "0x7f.0.0.1", "127.0.0.1.", "[0:0:0:0:0:0:0:1]", "[::ffff:7f00:1]", "a..b", "-a.com", "abcd", "admin.example.com", "ab.example.org"]).prop_map(str::to_owned),
    ]
}

fn origin_value() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (select(SCHEMES), host(), select(vec!["", "", ":8080", ":3000", ":443", ":80", ":8443", ":65535", ":0", ":08080"]))
            .prop_map(|(s, h, p)| format!("{s}://{h}{p}")),
        1 => (select(SCHEMES), host(), select(vec!["/", "/app", "?q", "#f"])).prop_map(|(s, h, t)| format!("{s}://{h}{t}")),
        1 => (select(SCHEMES), host()).prop_map(|(s, h)| format!("{s}://user@{h}")),
        1 => select(vec!["null", "", "NULL", "garbage", "https://", "https://example.com, https://example.org", " https://example.com", "chrome-extension://abcdefgh"]).prop_map(str::to_owned),
        1 => "[ -~]{0,40}",
    ]
}

fn request_headers() -> impl Strategy<Value = Vec<String>> {
    let name = select(vec![
        "content-type",
        "x-token",
        "authorization",
        "x-other",
        "X-Token",
        "Content-Type",
        "x-upper",
        "x y",
        "",
    ]);
    prop_oneof![
        3 => Just(vec![]),
        // Browser form: lowercase, sorted, deduplicated, one line.
        3 => subsequence(vec!["authorization", "content-type", "x-other", "x-token", "x-upper"], 0..4)
            .prop_map(|names| if names.is_empty() { vec![] } else { vec![names.join(",")] }),
        // Mangled by proxies: several lines, spaces, case, duplicates, empty elements.
        3 => prop::collection::vec(prop::collection::vec(name, 0..4), 1..4).prop_map(|lines| {
            lines.into_iter().map(|l| l.join(" , ")).collect()
        }),
        // Hostile.
        1 => select(vec![",".repeat(4096), ",".repeat(17), ",".repeat(16), "x,".repeat(64), "x,".repeat(65), "a".repeat(4097)])
            .prop_map(|l| vec![l]),
    ]
}

/// An origin that one of the policy's entries matches (when it can): entry `index` modulo the
/// allowlist's length, with a subdomain or port where the entry needs one.
fn origin_for(policy: &Policy, index: usize, port: &str) -> String {
    use corsgate::origin::{OriginPattern, PortPattern};
    let entries = policy.origins();
    if entries.is_empty() {
        return "https://example.com".to_owned();
    }
    match entries[index % entries.len()].pattern() {
        OriginPattern::Tuple(t) => {
            let host = if t.subdomains {
                format!("x.{}", t.host)
            } else {
                t.host.clone()
            };
            let port = match t.port {
                PortPattern::Default => String::new(),
                PortPattern::Exact(p) => format!(":{p}"),
                PortPattern::Any => port.to_owned(),
            };
            format!("{}://{host}{port}", t.scheme)
        }
        OriginPattern::Regex(r) => {
            let i = REGEXES.iter().position(|x| x == r).unwrap_or(0);
            [
                "https://a.example.com",
                "https://x.example.org:8080",
                "http://localhost:3000",
                "https://admin.example.com",
                "chrome-extension://abcdefgh",
                "https://anything.example",
                "https://a.b.c",
            ][i]
                .to_owned()
        }
        OriginPattern::Null => "null".to_owned(),
        OriginPattern::Any => "https://any.example".to_owned(),
    }
}

#[derive(Clone, Debug)]
struct Req {
    method: String,
    origins: Vec<String>,
    /// Replace the origin with one the serving policy's entry allows.
    from_policy: Option<(usize, &'static str)>,
    request_method: Option<String>,
    request_headers: Vec<String>,
    private_network: Option<String>,
}

impl Req {
    fn pairs(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for o in &self.origins {
            pairs.push((b"origin".to_vec(), o.clone().into_bytes()));
        }
        if let Some(m) = &self.request_method {
            pairs.push((
                b"Access-Control-Request-Method".to_vec(),
                m.clone().into_bytes(),
            ));
        }
        for l in &self.request_headers {
            pairs.push((
                b"access-control-request-headers".to_vec(),
                l.clone().into_bytes(),
            ));
        }
        if let Some(p) = &self.private_network {
            pairs.push((
                b"Access-Control-Request-Private-Network".to_vec(),
                p.clone().into_bytes(),
            ));
        }
        pairs
    }
}

fn request() -> impl Strategy<Value = Req> {
    (
        select(vec!["GET", "POST", "PUT", "OPTIONS", "OPTIONS", "OPTIONS", "options", "DELETE"]),
        prop_oneof![1 => Just(vec![]), 8 => origin_value().prop_map(|o| vec![o]), 1 => prop::collection::vec(origin_value(), 2..3)],
        prop::option::of(select(vec!["GET", "PUT", "put", "patch", "PATCH", "DELETE", "CONNECT", "PROPFIND", "", " PUT", "POST"])),
        request_headers(),
        prop::option::of(select(vec!["true", "false", "TRUE"])),
        prop::option::weighted(0.6, (0..8usize, select(vec!["", ":8080", ":3000"]))),
    )
        .prop_map(|(method, origins, request_method, request_headers, private_network, from_policy)| Req {
            method: method.to_owned(),
            origins,
            from_policy,
            request_method: request_method.map(str::to_owned),
            request_headers,
            private_network: private_network.map(str::to_owned),
        })
}

/// How often each decision shape came up, to show the generators reach them all.
#[derive(Default)]
struct Coverage {
    cases: usize,
    reloads: usize,
    shapes: std::collections::HashMap<(String, bool), usize>,
    echoed: usize,
}

/// One `Cors` handle, reloaded from policy to policy; after every reload each request must get
/// exactly the reference's decision for the policy now serving. 10,000 cases.
#[test]
fn engine_matches_reference() {
    let config = ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let coverage = std::cell::RefCell::new(Coverage::default());
    let strategy = (
        prop::collection::vec(policy(), 1..4),
        prop::collection::vec(request(), 1..10),
    );
    let result = runner.run(&strategy, |(policies, requests)| {
        let built: Vec<Policy> = policies.into_iter().filter_map(build).collect();
        prop_assume!(!built.is_empty());
        let mut cov = coverage.borrow_mut();
        cov.cases += 1;
        let cors = Cors::new(built[0].clone());
        for (i, policy) in built.iter().enumerate() {
            if i > 0 {
                cors.reload(policy.clone());
                cov.reloads += 1;
            }
            for req in &requests {
                let mut req = req.clone();
                if let Some((index, port)) = req.from_policy {
                    req.origins = vec![origin_for(policy, index, port)];
                }
                let req = &req;
                let pairs = req.pairs();
                let engine = engine_pairs(&cors, &req.method, &pairs);
                let expected = reference(policy, &req.method, &pairs);
                prop_assert_eq!(
                    &engine,
                    &expected,
                    "policy {:?}\nrequest {:?}",
                    policy.source(),
                    req
                );
                // Twice: the second preflight may come from the verdict cache.
                let again = engine_pairs(&cors, &req.method, &pairs);
                prop_assert_eq!(&again, &expected);
                if let Some(map) = engine_header_map(&cors, &req.method, &pairs) {
                    prop_assert_eq!(&map, &expected);
                }
                *cov.shapes
                    .entry((engine.kind.clone(), engine.allowed))
                    .or_default() += 1;
                if engine
                    .headers
                    .iter()
                    .any(|(n, v)| n == "access-control-allow-origin" && v != "*")
                {
                    cov.echoed += 1;
                }
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let cov = coverage.into_inner();
    eprintln!(
        "cases {}, reloads {}, shapes {:?}, echoed {}",
        cov.cases, cov.reloads, cov.shapes, cov.echoed
    );
    assert!(cov.cases >= 10_000, "only {} cases ran", cov.cases);
    assert!(cov.reloads >= 5_000, "only {} reloads", cov.reloads);
    for shape in [
        ("none", true),
        ("actual", true),
        ("actual", false),
        ("preflight", true),
        ("preflight", false),
    ] {
        let n = cov
            .shapes
            .get(&(shape.0.to_owned(), shape.1))
            .copied()
            .unwrap_or(0);
        assert!(
            n >= 1_000,
            "{shape:?} came up only {n} times: {:?}",
            cov.shapes
        );
    }
    assert!(
        cov.echoed >= 1_000,
        "an echoed origin came up only {} times",
        cov.echoed
    );
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// The request-side origin grammar agrees with the reference's independent check, and
    /// whatever parses re-serialises to exactly the same bytes.
    #[test]
    fn origin_grammar_matches_reference(value in origin_value()) {
        let parsed = corsgate::origin::RequestOrigin::parse(value.as_bytes());
        prop_assert_eq!(parsed.is_ok(), corsgate::reference::is_valid_origin(value.as_bytes()), "{:?}", value);
        if let Ok(origin) = parsed {
            prop_assert_eq!(origin.to_string(), value);
        }
    }
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
/// Prefixes sharing segments, with spellings that canonicalise onto another.
const PREFIXES: &[&str] = &[
    "/public",
    "/public/v1",
    "/pub",
    "/api",
    "/api/v1/users",
    "/api/v1",
    "/",
    "/public/",
    "/a/b/c",
];
/// Request paths: the prefixes and their near misses.
const PATHS: &[&str] = &[
    "/",
    "",
    "/public",
    "/public/",
    "/publicity",
    "/public/v1",
    "/public/v1/x",
    "/public/v10",
    "/pub",
    "/api",
    "/api/v1/users?x=1",
    "/api/v1",
    "/api/v1/users/7",
    "/public?x=/api",
    "//public",
    "/Public",
    "/a/b",
    "/a/b/c/d",
    "*",
];

#[derive(Clone, Debug)]
struct RouteSpec {
    name: Option<String>,
    hosts: Option<Vec<&'static str>>,
    prefix: Option<&'static str>,
    /// A named policy (modulo their number), or `default` (6), or `off` (7).
    policy: usize,
}

fn route_spec() -> impl Strategy<Value = RouteSpec> {
    (
        prop::option::weighted(0.2, "[a-z]{1,3}"),
        prop::option::weighted(0.75, subsequence(ROUTE_HOSTS, 1..3)),
        prop::option::weighted(0.6, select(PREFIXES)),
        0..8usize,
    )
        .prop_map(|(name, hosts, prefix, policy)| RouteSpec {
            name,
            hosts,
            prefix,
            policy,
        })
}

fn request_host() -> impl Strategy<Value = Option<String>> {
    let base = select(ROUTE_HOSTS).prop_map(|h| h.trim_start_matches("*.").to_owned());
    prop_oneof![
        4 => base.clone().prop_map(Some),
        3 => (select(vec!["x", "y.x", "a", "www"]), base.clone()).prop_map(|(p, h)| Some(format!("{p}.{h}"))),
        1 => base.clone().prop_map(|h| Some(format!("evil{h}"))),
        1 => base.clone().prop_map(|h| Some(h.to_uppercase())),
        1 => base.clone().prop_map(|h| Some(format!("{h}."))),
        1 => base.clone().prop_map(|h| Some(format!("{h}.."))),
        1 => (base, select(vec![":8080", ":443", ":", ":x", ":123456"])).prop_map(|(h, p)| Some(format!("{h}{p}"))),
        1 => select(vec!["[2001:DB8:0::1]", "[2001:db8::1]:8443", "2001:db8::1", "[0:0:0:0:0:0:0:1]", "127.1", "127.0.0.1:80", "com", "example.com.evil.com", "", "a b"]).prop_map(|h| Some(h.to_owned())),
        1 => Just(None),
    ]
}

/// Builds the set, dropping the routes the builder refuses (duplicates, names) until it builds.
/// Which routes survive does not depend on the policies' contents, so the dropping is done
/// with cheap stand-in policies and the real set is built once.
fn build_set(policies: &[Policy], routes: &[RouteSpec]) -> Option<PolicySet> {
    let stand_in = || {
        let mut b = Policy::builder();
        b.origins(["https://stand-in.example"]);
        b
    };
    let assemble = |keep: &[RouteSpec], real: bool| {
        let policy = |i: usize| {
            if real {
                policies[i].source().clone()
            } else {
                stand_in()
            }
        };
        let mut builder = PolicySet::builder(policy(0));
        for i in 1..policies.len() {
            builder = builder.policy(format!("p{i}"), policy(i));
        }
        for r in keep {
            let target = match r.policy {
                6 => "default".to_owned(),
                7 => "off".to_owned(),
                i => format!("p{}", 1 + i % (policies.len() - 1)),
            };
            let mut route = RouteBuilder::new(target);
            if let Some(n) = &r.name {
                route = route.name(n.as_str());
            }
            if let Some(h) = &r.hosts {
                route = route.hosts(h.iter().copied());
            }
            if let Some(p) = r.prefix {
                route = route.path_prefix(p);
            }
            builder = builder.route(route);
        }
        builder.build()
    };
    let mut keep: Vec<RouteSpec> = routes.to_vec();
    loop {
        match assemble(&keep, false) {
            Ok(_) => return assemble(&keep, true).ok(),
            Err(e) => {
                let bad: std::collections::HashSet<usize> =
                    e.errors().filter_map(|i| i.route()).collect();
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

/// Engine vs reference over random policy sets: the route and policy chosen, and the whole
/// decision. 10,000 sets, each with a few requests.
#[test]
fn sets_engine_matches_reference() {
    let config = ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let coverage =
        std::cell::RefCell::new((0usize, std::collections::HashMap::<String, usize>::new()));
    let strategy = (
        prop::collection::vec(policy(), 2..=6),
        prop::collection::vec(route_spec(), 1..=12),
        prop::collection::vec((request(), request_host(), select(PATHS)), 1..8),
    );
    let result = runner.run(&strategy, |(policies, routes, requests)| {
        let built: Vec<Policy> = policies.into_iter().filter_map(build).collect();
        prop_assume!(built.len() >= 2);
        let Some(set) = build_set(&built, &routes) else {
            return Err(TestCaseError::reject("no route builds"));
        };
        prop_assume!(!set.routes().is_empty());
        let cors = Cors::with_set(set.clone());
        let reference = ReferenceSet::new(&set);
        let mut cov = coverage.borrow_mut();
        cov.0 += 1;
        for (req, host, path) in &requests {
            let (_, choice) = reference.choose(host.as_deref().map(str::as_bytes), path.as_bytes());
            let mut req = req.clone();
            if let (Some((index, port)), Some(policy)) =
                (req.from_policy, set.policy(&choice.policy))
            {
                req.origins = vec![origin_for(policy, index, port)];
            }
            let mut pairs = req.pairs();
            if let Some(h) = host {
                pairs.push((b"Host".to_vec(), h.clone().into_bytes()));
            }
            let borrowed: Vec<(&[u8], &[u8])> =
                pairs.iter().map(|(n, v)| (&n[..], &v[..])).collect();
            let (ref_choice, ref_decision) =
                reference.decide(req.method.as_bytes(), &borrowed, path.as_bytes());
            prop_assert_eq!(&ref_choice, &choice);
            let expected: common::Observed = ref_decision.into();
            let request =
                CorsRequest::from_pairs(req.method.as_bytes(), &borrowed).path(path.as_bytes());
            for _ in 0..2 {
                // Twice: the second preflight may come from the verdict cache.
                let d = cors.decide(&request);
                prop_assert_eq!(
                    d.route_name(),
                    choice.route.as_deref(),
                    "host {:?} path {:?} routes {:#?}",
                    host,
                    path,
                    set.routes()
                );
                prop_assert_eq!(
                    d.policy_name(),
                    choice.policy.as_str(),
                    "host {:?} path {:?} routes {:#?}",
                    host,
                    path,
                    set.routes()
                );
                prop_assert_eq!(d.is_off(), choice.policy == "off");
                let got = common::observe(&d);
                prop_assert_eq!(
                    &got,
                    &expected,
                    "host {:?} path {:?} request {:?}",
                    host,
                    path,
                    req
                );
            }
            *cov.1
                .entry(if choice.route.is_none() {
                    "none".to_owned()
                } else {
                    choice.policy.clone()
                })
                .or_default() += 1;
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (cases, chosen) = coverage.into_inner();
    eprintln!("set cases {cases}, chosen {chosen:?}");
    assert!(cases >= 10_000, "only {cases} set cases ran");
    for key in ["none", "off", "default", "p1", "p2"] {
        let n = chosen.get(key).copied().unwrap_or(0);
        assert!(n >= 500, "{key} chosen only {n} times: {chosen:?}");
    }
}
