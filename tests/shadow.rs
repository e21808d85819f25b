//! `ShadowCors` in the library: a table of serving/shadow pairs and the difference each
//! request must show; every pair of a pool of policies against every request of a pool, where
//! `compare` must equal the difference of the two decisions as a browser reads them (so the
//! shortcut for byte-identical responses never hides one); disagreements counted under the
//! serving request's policy; and what is never compared (no `Origin`, `off` routes, a
//! disabled shadow).

use std::sync::Arc;

use corsgate::shadow::ShadowCors;
use corsgate::{
    BrowserCheck, Cors, CorsRequest, DecisionKind, Difference, Policy, PolicyBuilder, PolicySet,
    RouteBuilder,
};

const APP: &[u8] = b"https://app.example.com";
const NEW: &[u8] = b"https://new.example.com";
const EVIL: &[u8] = b"https://evil.example.net";

/// The serving policy of most cases: one origin, GET and PUT, two request headers, one
/// exposed header, credentials.
fn base() -> PolicyBuilder {
    let mut b = Policy::builder();
    b.origins(["https://app.example.com"])
        .methods(["GET", "PUT"])
        .allow_headers(["content-type", "x-token"])
        .expose_headers(["x-request-id"])
        .credentials(true)
        .max_age(600);
    b
}

fn cors(builder: &PolicyBuilder) -> Arc<Cors> {
    Arc::new(Cors::new(builder.build().expect("a valid test policy")))
}

/// The requests every pair is tried with.
fn requests() -> Vec<(&'static str, CorsRequest<'static>)> {
    const CT: &[&[u8]] = &[b"content-type"];
    const TOKEN: &[&[u8]] = &[b"x-token"];
    const AUTH: &[&[u8]] = &[b"authorization"];
    vec![
        ("GET from app", CorsRequest::new(b"GET").origin(APP)),
        ("GET from new", CorsRequest::new(b"GET").origin(NEW)),
        ("GET from evil", CorsRequest::new(b"GET").origin(EVIL)),
        ("GET without Origin", CorsRequest::new(b"GET")),
        ("null Origin", CorsRequest::new(b"GET").origin(b"null")),
        (
            "preflight PUT from app",
            CorsRequest::new(b"OPTIONS")
                .origin(APP)
                .request_method(b"PUT"),
        ),
        (
            "preflight DELETE from app",
            CorsRequest::new(b"OPTIONS")
                .origin(APP)
                .request_method(b"DELETE"),
        ),
        (
            "preflight PUT content-type from app",
            CorsRequest::new(b"OPTIONS")
                .origin(APP)
                .request_method(b"PUT")
                .request_headers(CT),
        ),
        (
            "preflight PUT x-token from new",
            CorsRequest::new(b"OPTIONS")
                .origin(NEW)
                .request_method(b"PUT")
                .request_headers(TOKEN),
        ),
        (
            "preflight GET authorization from app",
            CorsRequest::new(b"OPTIONS")
                .origin(APP)
                .request_method(b"GET")
                .request_headers(AUTH),
        ),
    ]
}

/// Policies a shadow might be: the serving one changed in one way each.
fn pool() -> Vec<(&'static str, PolicyBuilder)> {
    let changed = |change: fn(&mut PolicyBuilder)| {
        let mut b = base();
        change(&mut b);
        b
    };
    vec![
        ("base", base()),
        (
            "one more origin",
            changed(|b| {
                b.origins(["https://app.example.com", "https://new.example.com"]);
            }),
        ),
        (
            "another origin only",
            changed(|b| {
                b.origins(["https://new.example.com"]);
            }),
        ),
        (
            "no credentials",
            changed(|b| {
                b.credentials(false);
            }),
        ),
        (
            "DELETE too",
            changed(|b| {
                b.methods(["GET", "PUT", "DELETE"]);
            }),
        ),
        (
            "no x-token",
            changed(|b| {
                b.allow_headers(["content-type"]);
            }),
        ),
        (
            "authorization too",
            changed(|b| {
                b.allow_headers(["content-type", "x-token", "authorization"]);
            }),
        ),
        (
            "other exposed header",
            changed(|b| {
                b.expose_headers(["x-trace-id"]);
            }),
        ),
        (
            "longer max-age",
            changed(|b| {
                b.max_age(3600);
            }),
        ),
        (
            "methods in another order",
            changed(|b| {
                b.methods(["PUT", "GET"]);
            }),
        ),
    ]
}

#[test]
fn each_change_shows_the_difference_a_browser_would_see() {
    use Difference::*;
    let pool = pool();
    let policy = |name: &str| {
        &pool
            .iter()
            .find(|(n, _)| *n == name)
            .expect("a policy of the pool")
            .1
    };
    // (shadow, request, expected difference); the serving policy is `base`.
    let table: &[(&str, &str, Option<Difference>)] = &[
        ("base", "GET from app", None),
        ("base", "preflight PUT content-type from app", None),
        ("one more origin", "GET from app", None),
        ("one more origin", "GET from new", Some(DeniedToAllowed)),
        ("one more origin", "GET from evil", None),
        (
            "one more origin",
            "preflight PUT x-token from new",
            Some(DeniedToAllowed),
        ),
        ("another origin only", "GET from app", Some(AllowedToDenied)),
        ("another origin only", "GET from new", Some(DeniedToAllowed)),
        ("no credentials", "GET from app", Some(Headers)),
        ("no credentials", "preflight PUT from app", Some(Headers)),
        (
            "DELETE too",
            "preflight DELETE from app",
            Some(DeniedToAllowed),
        ),
        ("DELETE too", "preflight PUT from app", None),
        // Allowing one more method where the request asks for another changes nothing a
        // browser concludes, though Allow-Methods differs.
        ("DELETE too", "GET from app", None),
        ("no x-token", "preflight PUT content-type from app", None),
        (
            "authorization too",
            "preflight GET authorization from app",
            Some(DeniedToAllowed),
        ),
        ("other exposed header", "GET from app", Some(Headers)),
        ("other exposed header", "preflight PUT from app", None),
        // Max-Age is how long a browser keeps the answer, not what it concludes.
        ("longer max-age", "preflight PUT from app", None),
        // Formatting is never a difference.
        ("methods in another order", "preflight PUT from app", None),
        ("base", "GET without Origin", None),
        ("another origin only", "GET without Origin", None),
        ("one more origin", "null Origin", None),
    ];
    let requests = requests();
    let serving = cors(&base());
    for (shadow_name, request_name, expected) in table {
        let request = &requests
            .iter()
            .find(|(n, _)| n == request_name)
            .expect("a request of the list")
            .1;
        let shadowed = ShadowCors::new(Arc::clone(&serving), cors(policy(shadow_name)));
        let (_, difference) = shadowed.decide(request);
        assert_eq!(
            difference, *expected,
            "shadow {shadow_name:?}, request {request_name:?}"
        );
        let counted: u64 = shadowed
            .disagreements()
            .snapshot()
            .iter()
            .map(|(_, _, n)| n)
            .sum();
        assert_eq!(counted, u64::from(expected.is_some()), "{shadow_name:?}");
    }
}

/// Every serving policy of the pool against every shadow of it and every request: `compare`
/// equals the browser's reading of the two decisions, and the serving decision is the serving
/// handle's own.
#[test]
fn compare_equals_the_browser_reading_of_both_decisions_for_every_pair() {
    let pool = pool();
    let requests = requests();
    let mut compared = 0;
    let mut differing = 0;
    for (serving_name, serving_builder) in &pool {
        let serving = cors(serving_builder);
        for (shadow_name, shadow_builder) in &pool {
            let shadow = cors(shadow_builder);
            let shadowed = ShadowCors::new(Arc::clone(&serving), Arc::clone(&shadow));
            for (request_name, request) in &requests {
                let (decision, difference) = shadowed.decide(request);
                let alone = serving.decide(request);
                assert_eq!(decision.is_allowed(), alone.is_allowed());
                assert_eq!(
                    decision
                        .headers()
                        .map(|(h, v)| (h, v.as_bytes().to_vec()))
                        .collect::<Vec<_>>(),
                    alone
                        .headers()
                        .map(|(h, v)| (h, v.as_bytes().to_vec()))
                        .collect::<Vec<_>>(),
                );
                let expected = if decision.kind() == DecisionKind::NotCors {
                    None
                } else {
                    let theirs = shadow.decide(request);
                    BrowserCheck::of_decision(request, &decision)
                        .difference(&BrowserCheck::of_decision(request, &theirs))
                };
                assert_eq!(
                    difference, expected,
                    "serving {serving_name:?}, shadow {shadow_name:?}, request {request_name:?}"
                );
                if serving_name == shadow_name {
                    assert_eq!(difference, None, "a policy never disagrees with itself");
                }
                compared += 1;
                differing += usize::from(difference.is_some());
            }
        }
    }
    assert_eq!(compared, pool.len() * pool.len() * requests.len());
    // The pool is made of real changes: a good share of the pairs differ.
    assert!(differing > compared / 5, "{differing} of {compared}");
}

#[test]
fn disagreements_are_counted_under_the_serving_requests_policy() {
    let set = |partner: &[&str]| {
        let mut partner_policy = base();
        partner_policy.origins(partner.iter().copied());
        PolicySet::builder(base())
            .policy("partner", partner_policy)
            .route(RouteBuilder::new("partner").hosts(["partner.example.com"]))
            .route(
                RouteBuilder::new("off")
                    .hosts(["partner.example.com"])
                    .path_prefix("/health"),
            )
            .build()
            .expect("a valid set")
    };
    let serving = Arc::new(Cors::with_set(set(&["https://partner-app.example.com"])));
    // The shadow opens the partner API to `new` and closes it to the partner's own app.
    let shadow = Arc::new(Cors::with_set(set(&["https://new.example.com"])));
    let shadowed = ShadowCors::new(serving, Arc::clone(&shadow));

    let partner = |origin: &'static [u8]| {
        CorsRequest::new(b"GET")
            .origin(origin)
            .host(b"partner.example.com")
            .path(b"/v1/orders")
    };
    for _ in 0..3 {
        assert_eq!(
            shadowed.decide(&partner(NEW)).1,
            Some(Difference::DeniedToAllowed)
        );
    }
    assert_eq!(
        shadowed
            .decide(&partner(b"https://partner-app.example.com"))
            .1,
        Some(Difference::AllowedToDenied)
    );
    // The default policy is the same in both: no disagreement.
    for _ in 0..5 {
        let (decision, difference) = shadowed.decide(
            &CorsRequest::new(b"GET")
                .origin(APP)
                .host(b"api.example.com"),
        );
        assert!(decision.is_allowed());
        assert_eq!(decision.policy_name(), "default");
        assert_eq!(difference, None);
    }
    // An `off` route is never compared, nor is a request without Origin.
    let (decision, difference) = shadowed.decide(
        &CorsRequest::new(b"GET")
            .origin(EVIL)
            .host(b"partner.example.com")
            .path(b"/health"),
    );
    assert!(decision.is_off());
    assert_eq!(difference, None);
    assert_eq!(
        shadowed
            .decide(&CorsRequest::new(b"GET").host(b"partner.example.com"))
            .1,
        None
    );

    let mut counts = shadowed.disagreements().snapshot();
    counts.sort();
    assert_eq!(
        counts,
        [
            ("partner".to_owned(), Difference::AllowedToDenied, 1),
            ("partner".to_owned(), Difference::DeniedToAllowed, 3),
        ]
    );
    // The shadow's own decisions are not traffic.
    assert!(shadow.metrics().policies().is_empty());

    // Disabled: decided by the serving handle alone, nothing compared or counted.
    shadowed.set_enabled(false);
    let (decision, difference) = shadowed.decide(&partner(NEW));
    assert!(!decision.is_allowed());
    assert_eq!(difference, None);
    shadowed.set_enabled(true);
    assert_eq!(
        shadowed.decide(&partner(NEW)).1,
        Some(Difference::DeniedToAllowed)
    );
    let total: u64 = shadowed
        .disagreements()
        .snapshot()
        .iter()
        .map(|(_, _, n)| n)
        .sum();
    assert_eq!(total, 5);
}
