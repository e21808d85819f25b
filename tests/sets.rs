//! Policy sets at the builder level: every set problem a builder can make (each with its kind
//! and path: `routes[1].hosts[0]`, `policies.x.origins[0]`), the limits on routes and policies,
//! and the swap of a whole set on reload — atomic for deciding threads, invisible to decisions
//! in flight, refused reloads keeping the generation — and verdict caches allocated on a
//! policy's first preflight only. `invalid_origins_file` is the file tests' (it needs a file).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};

use corsgate::{
    Cors, CorsRequest, IssueKind, Policy, PolicyBuilder, PolicySet, PolicySetBuilder, RouteBuilder,
};
use corsgate::{MAX_POLICIES, MAX_ROUTES};

fn origins(list: &[&str]) -> PolicyBuilder {
    let mut b = Policy::builder();
    b.origins(list.iter().copied());
    b
}

fn base() -> PolicySetBuilder {
    PolicySet::builder(origins(&["https://app.example.com"]))
}

/// A case: a name, a builder, and every issue it must produce as (kind, path), in any order.
type Case = (&'static str, PolicySetBuilder, Vec<(IssueKind, String)>);

fn cases() -> Vec<Case> {
    let at = |kind: IssueKind, path: &str| (kind, path.to_owned());
    vec![
        (
            "a policy name that labels nothing",
            base()
                .policy("bad name", origins(&["https://a.example"]))
                .policy("x".repeat(65), origins(&["https://a.example"]))
                .route(RouteBuilder::new("default").hosts(["a.example.com"])),
            vec![
                at(IssueKind::InvalidPolicyName, "policies.bad name"),
                at(
                    IssueKind::InvalidPolicyName,
                    &format!("policies.{}", "x".repeat(65)),
                ),
            ],
        ),
        (
            "a route name with a space",
            base().route(
                RouteBuilder::new("default")
                    .name("my route")
                    .hosts(["a.example.com"]),
            ),
            vec![at(IssueKind::InvalidPolicyName, "routes[0].name")],
        ),
        (
            "reserved policy names",
            base()
                .policy("default", origins(&["https://a.example"]))
                .policy("off", origins(&["https://a.example"])),
            vec![
                at(IssueKind::ReservedPolicyName, "policies.default"),
                at(IssueKind::ReservedPolicyName, "policies.off"),
            ],
        ),
        (
            "an unknown policy",
            base()
                .policy("public", origins(&["*"]))
                .route(RouteBuilder::new("public").hosts(["a.example.com"]))
                .route(RouteBuilder::new("pubic").hosts(["b.example.com"])),
            vec![at(IssueKind::UnknownPolicy, "routes[1].policy")],
        ),
        (
            "invalid route hosts, each by its index",
            base().route(RouteBuilder::new("default").hosts([
                "a.example.com",
                "a.example.com:443",
                "*.com",
                "a.*.example.com",
                "*.127.0.0.1",
                "[::1",
                "exa mple.com",
                "https://a.example.com",
            ])),
            (1..8)
                .map(|i| {
                    at(
                        IssueKind::InvalidRouteHost,
                        &format!("routes[0].hosts[{i}]"),
                    )
                })
                .collect(),
        ),
        (
            "invalid path prefixes",
            base()
                .route(
                    RouteBuilder::new("default")
                        .hosts(["a.example.com"])
                        .path_prefix("api"),
                )
                .route(
                    RouteBuilder::new("default")
                        .hosts(["b.example.com"])
                        .path_prefix("/a/../b"),
                )
                .route(
                    RouteBuilder::new("default")
                        .hosts(["c.example.com"])
                        .path_prefix("/%2e"),
                )
                .route(
                    RouteBuilder::new("default")
                        .hosts(["d.example.com"])
                        .path_prefix("/a?b"),
                )
                .route(
                    RouteBuilder::new("default")
                        .hosts(["e.example.com"])
                        .path_prefix("/a//b"),
                )
                .route(
                    RouteBuilder::new("default")
                        .hosts(["f.example.com"])
                        .path_prefix(format!("/{}", "a".repeat(1024))),
                ),
            (0..6)
                .map(|i| {
                    at(
                        IssueKind::InvalidPathPrefix,
                        &format!("routes[{i}].path_prefix"),
                    )
                })
                .collect(),
        ),
        (
            "the same host and prefix twice, across routes and spellings",
            base()
                .policy("public", origins(&["*"]))
                .route(RouteBuilder::new("public").hosts(["a.example.com", "*.b.example.com"]))
                .route(RouteBuilder::new("default").hosts(["x.example.com", "A.example.com."]))
                .route(
                    RouteBuilder::new("default")
                        .hosts(["*.b.example.com"])
                        .path_prefix("/p"),
                )
                .route(
                    RouteBuilder::new("off")
                        .hosts(["*.b.example.com"])
                        .path_prefix("/p/"),
                )
                .route(RouteBuilder::new("default").path_prefix("/q"))
                .route(RouteBuilder::new("off").path_prefix("/q"))
                .route(RouteBuilder::new("default"))
                .route(RouteBuilder::new("public").path_prefix("/")),
            vec![
                at(IssueKind::NonCanonicalRoute, "routes[1].hosts[1]"),
                at(IssueKind::DuplicateRoute, "routes[1]"),
                at(IssueKind::NonCanonicalRoute, "routes[3].path_prefix"),
                at(IssueKind::DuplicateRoute, "routes[3]"),
                at(IssueKind::DuplicateRoute, "routes[5]"),
                // "/" is every path: the same as no prefix.
                at(IssueKind::DuplicateRoute, "routes[7]"),
            ],
        ),
        (
            "two routes with one name, given and defaulted",
            base()
                .route(
                    RouteBuilder::new("default")
                        .name("api")
                        .hosts(["a.example.com"]),
                )
                .route(
                    RouteBuilder::new("default")
                        .name("api")
                        .hosts(["b.example.com"]),
                )
                .route(RouteBuilder::new("default").hosts(["c.example.com"]))
                .route(
                    RouteBuilder::new("default")
                        .name("routes[2]")
                        .hosts(["d.example.com"]),
                ),
            vec![
                at(IssueKind::DuplicateRouteName, "routes[1].name"),
                at(IssueKind::DuplicateRouteName, "routes[3].name"),
            ],
        ),
        (
            "non-canonical hosts and prefixes are warnings",
            base().route(
                RouteBuilder::new("default")
                    .hosts([
                        "API.Example.com",
                        "b.example.com.",
                        "[2001:DB8:0::1]",
                        "c.example.com",
                    ])
                    .path_prefix("/api/"),
            ),
            vec![
                at(IssueKind::NonCanonicalRoute, "routes[0].hosts[0]"),
                at(IssueKind::NonCanonicalRoute, "routes[0].hosts[1]"),
                at(IssueKind::NonCanonicalRoute, "routes[0].hosts[2]"),
                at(IssueKind::NonCanonicalRoute, "routes[0].path_prefix"),
            ],
        ),
        (
            "an unused policy, and the errors inside a named policy",
            base()
                .policy("unused", origins(&["https://u.example"]))
                .policy("broken", origins(&["https://b.example/path", "b.example"]))
                .route(RouteBuilder::new("broken").hosts(["a.example.com"])),
            vec![
                at(IssueKind::UnusedPolicy, "policies.unused"),
                at(IssueKind::OriginHasPath, "policies.broken.origins[0]"),
                at(IssueKind::MissingScheme, "policies.broken.origins[1]"),
            ],
        ),
        (
            "a route with an empty host list",
            base().route(RouteBuilder::new("default").hosts(Vec::<String>::new())),
            vec![at(IssueKind::UnreachableRoute, "routes[0].hosts")],
        ),
        (
            "more routes than MAX_ROUTES",
            (0..=MAX_ROUTES).fold(base(), |b, i| {
                b.route(RouteBuilder::new("default").path_prefix(format!("/r{i}")))
            }),
            vec![at(IssueKind::TooManyRoutes, "routes")],
        ),
    ]
}

fn run(name: &str, builder: &PolicySetBuilder, want: &[(IssueKind, String)]) -> Vec<IssueKind> {
    let issues = match builder.build() {
        Ok(set) => set.warnings().to_vec(),
        Err(e) => e.issues().to_vec(),
    };
    let found: Vec<(IssueKind, String)> = issues.iter().map(|i| (i.kind(), i.path())).collect();
    let short = |v: &[(IssueKind, String)]| -> Vec<(IssueKind, String)> {
        v.iter().take(20).cloned().collect()
    };
    for w in want {
        assert!(
            found.contains(w),
            "{name}: {w:?} missing from {:#?}",
            short(&found)
        );
    }
    assert_eq!(found.len(), want.len(), "{name}: {:#?}", short(&found));
    for issue in &issues {
        assert!(!issue.message().is_empty(), "{name}: empty message");
        if issue.path().starts_with("routes[") {
            assert!(issue.route().is_some(), "{name}: {issue:?} names no route");
        }
        if issue.path().starts_with("policies.") {
            assert!(
                issue.policy().is_some(),
                "{name}: {issue:?} names no policy"
            );
        }
        if issue.is_error() && issue.kind() != IssueKind::OriginHasPath {
            assert!(issue.hint().is_some(), "{name}: {issue:?} has no hint");
        }
    }
    issues.iter().map(|i| i.kind()).collect()
}

#[test]
fn set_problems_name_their_place() {
    for (name, builder, want) in cases() {
        run(name, &builder, &want);
    }
}

/// tests/suite.rs leaves the set kinds to this file: each is produced by some case here
/// (`invalid_origins_file` by the file tests, as it needs a file).
#[test]
fn every_set_kind_has_a_case() {
    let set_kinds = [
        IssueKind::InvalidPolicyName,
        IssueKind::ReservedPolicyName,
        IssueKind::UnknownPolicy,
        IssueKind::InvalidRouteHost,
        IssueKind::InvalidPathPrefix,
        IssueKind::DuplicateRoute,
        IssueKind::DuplicateRouteName,
        IssueKind::TooManyRoutes,
        IssueKind::NonCanonicalRoute,
        IssueKind::UnusedPolicy,
        IssueKind::UnreachableRoute,
    ];
    let mut seen = HashSet::new();
    for (name, builder, want) in cases() {
        seen.extend(run(name, &builder, &want));
    }
    for kind in set_kinds {
        assert!(seen.contains(&kind), "no case produces {kind}");
    }
}

#[test]
fn more_policies_than_the_limit_are_refused() {
    let mut builder = base();
    for i in 0..=MAX_POLICIES {
        builder = builder.policy(format!("p{i}"), origins(&["https://a.example"]));
    }
    builder = builder.route(RouteBuilder::new("p0"));
    let err = builder.build().expect_err("over the limit");
    let kinds: Vec<(IssueKind, String)> = err.errors().map(|i| (i.kind(), i.path())).collect();
    assert_eq!(
        kinds,
        vec![(IssueKind::TooManyRoutes, "policies".to_owned())]
    );
}

/// Two sets that choose differently for the same request: `alpha` in one, `beta` in the
/// other, each with its own exposed header, so a decision that mixed them would show.
fn alternating_sets() -> (PolicySet, PolicySet) {
    let make = |name: &str, expose: &str| {
        let mut p = origins(&["https://app.example.com"]);
        p.expose_headers([expose]);
        base()
            .policy(name, p)
            .route(
                RouteBuilder::new(name)
                    .name(format!("to-{name}"))
                    .hosts(["api.example.com"]),
            )
            .route(RouteBuilder::new("off").hosts(["internal.example.com"]))
            .build()
            .expect("valid set")
    };
    (make("alpha", "x-alpha"), make("beta", "x-beta"))
}

fn request() -> CorsRequest<'static> {
    CorsRequest::new(b"GET")
        .origin(b"https://app.example.com")
        .host(b"api.example.com")
        .path(b"/")
}

fn exposed(d: &corsgate::Decision<'_, '_>) -> Option<String> {
    d.headers()
        .find(|(h, _)| h.as_str() == "access-control-expose-headers")
        .map(|(_, v)| v.to_str_lossy())
}

#[test]
fn a_reload_swaps_the_whole_set_at_once() {
    let (a, b) = alternating_sets();
    let cors = Cors::with_set(a.clone());
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let deciders: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let mut seen = [0usize; 2];
                    while !stop.load(Ordering::Relaxed) {
                        let d = cors.decide(&request());
                        let generation = d.generation();
                        let (policy, route, header) = if generation % 2 == 1 {
                            ("alpha", "to-alpha", "x-alpha")
                        } else {
                            ("beta", "to-beta", "x-beta")
                        };
                        assert_eq!(d.policy_name(), policy, "generation {generation}");
                        assert_eq!(d.route_name(), Some(route), "generation {generation}");
                        assert_eq!(exposed(&d).as_deref(), Some(header));
                        assert!(d.is_allowed());
                        seen[(generation % 2) as usize] += 1;
                    }
                    seen
                })
            })
            .collect();
        for i in 0..2_000 {
            let set = if i % 2 == 0 { b.clone() } else { a.clone() };
            assert!(cors.reload_set(set).changed());
        }
        stop.store(true, Ordering::Relaxed);
        for d in deciders {
            let seen = d.join().expect("a decider panicked");
            assert!(seen[0] + seen[1] > 0);
        }
    });
    assert_eq!(cors.generation(), 2_001);
}

#[test]
fn decisions_in_flight_keep_their_set() {
    let (a, b) = alternating_sets();
    let cors = Cors::with_set(a);
    let request = request();
    let before = cors.decide(&request);
    let reloaded = cors.reload_set(b);
    assert!(reloaded.changed());
    assert_eq!(reloaded.generation(), 2);
    let after = cors.decide(&request);
    assert_eq!(before.generation(), 1);
    assert_eq!(before.policy_name(), "alpha");
    assert_eq!(before.route_name(), Some("to-alpha"));
    assert_eq!(exposed(&before).as_deref(), Some("x-alpha"));
    assert_eq!(after.generation(), 2);
    assert_eq!(after.policy_name(), "beta");
    assert_eq!(exposed(&after).as_deref(), Some("x-beta"));
    // Reloading the serving set's own settings swaps nothing.
    let (_, b) = alternating_sets();
    let same = cors.reload_set(b);
    assert!(!same.changed());
    assert_eq!(same.generation(), 2);
}

#[test]
fn a_refused_reload_keeps_the_serving_set() {
    let (a, _) = alternating_sets();
    let cors = Cors::with_set(a.clone());
    let broken = base()
        .policy("gamma", origins(&["https://app.example.com"]))
        .route(RouteBuilder::new("gama").hosts(["api.example.com"]));
    let err = cors.try_reload_set(&broken).expect_err("unknown policy");
    assert!(err.errors().any(|i| i.kind() == IssueKind::UnknownPolicy));
    assert_eq!(cors.generation(), 1);
    assert_eq!(*cors.policy_set(), a);
    assert_eq!(cors.decide(&request()).policy_name(), "alpha");
    let fixed = base()
        .policy("gamma", origins(&["https://app.example.com"]))
        .route(RouteBuilder::new("gamma").hosts(["api.example.com"]));
    let reloaded = cors.try_reload_set(&fixed).expect("valid set");
    assert_eq!(reloaded.generation(), 2);
    assert_eq!(cors.decide(&request()).policy_name(), "gamma");
}

#[test]
fn a_verdict_cache_is_allocated_on_its_policys_first_preflight() {
    let (a, _) = alternating_sets();
    let cors = Cors::with_set(a);
    assert_eq!(cors.verdict_cache_usage(), (0, 0));
    let preflight = |host: &'static [u8]| {
        CorsRequest::new(b"OPTIONS")
            .origin(b"https://app.example.com")
            .request_method(b"PUT")
            .host(host)
            .path(b"/")
    };
    // Actual requests and an `off` route's preflight allocate no cache.
    assert!(cors.decide(&request()).is_allowed());
    assert!(cors.decide(&preflight(b"internal.example.com")).is_off());
    assert_eq!(cors.verdict_cache_usage(), (0, 0));
    // alpha's first preflight allocates alpha's cache, and only it.
    let d = cors.decide(&preflight(b"api.example.com"));
    assert_eq!(d.policy_name(), "alpha");
    drop(d);
    let (len, one) = cors.verdict_cache_usage();
    assert!(one > 0, "no cache after alpha's preflight");
    assert!(len <= 1);
    // Again: same cache.
    assert_eq!(
        cors.decide(&preflight(b"api.example.com")).policy_name(),
        "alpha"
    );
    assert_eq!(cors.verdict_cache_usage().1, one);
    // The default policy's first preflight allocates a second cache.
    let d = cors.decide(&preflight(b"other.example.com"));
    assert_eq!(d.policy_name(), "default");
    assert_eq!(d.route_name(), None);
    drop(d);
    assert_eq!(cors.verdict_cache_usage().1, 2 * one);
}
