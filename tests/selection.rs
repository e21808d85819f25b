//! Route selection by the case table `tests/data/sets/selection.toml`: every case through the
//! engine fed three ways (raw `host`/`path` setters; an `http::Request` with a `Host` header;
//! an absolute-form URI whose authority wins over a decoy `Host`) and through the reference
//! (`ReferenceSet::choose` and `decide`). All must agree with the table on the route and the
//! policy, and the engine's headers must be the reference's: the echoed origin is the chosen
//! policy's own, and an `off` route adds nothing, not even `Vary`.

mod common;

use std::collections::BTreeMap;

use common::{observe, Observed};
use corsgate::reference::ReferenceSet;
use corsgate::{Cors, CorsRequest, Decision, Policy, PolicyBuilder, PolicySet, RouteBuilder};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    set: Vec<SetCase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetCase {
    name: String,
    default: Vec<String>,
    #[serde(default)]
    policies: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    routes: Vec<RouteSpec>,
    case: Vec<SelectionCase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteSpec {
    name: Option<String>,
    hosts: Option<Vec<String>>,
    path_prefix: Option<String>,
    policy: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SelectionCase {
    host: Option<String>,
    path: String,
    route: Option<String>,
    policy: String,
}

fn origins(list: &[String]) -> PolicyBuilder {
    let mut b = Policy::builder();
    b.origins(list.iter().map(String::as_str));
    b
}

fn build(spec: &SetCase) -> PolicySet {
    let mut builder = PolicySet::builder(origins(&spec.default));
    for (name, list) in &spec.policies {
        builder = builder.policy(name.as_str(), origins(list));
    }
    for r in &spec.routes {
        let mut route = RouteBuilder::new(r.policy.as_str());
        if let Some(name) = &r.name {
            route = route.name(name.as_str());
        }
        if let Some(hosts) = &r.hosts {
            route = route.hosts(hosts.iter().map(String::as_str));
        }
        if let Some(prefix) = &r.path_prefix {
            route = route.path_prefix(prefix.as_str());
        }
        builder = builder.route(route);
    }
    builder
        .build()
        .unwrap_or_else(|e| panic!("{}: the set does not build:\n{e}", spec.name))
}

fn table() -> Table {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/sets/selection.toml"
    );
    let text = std::fs::read_to_string(path).expect("readable table");
    toml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// What a decision said about its route, policy and response.
fn seen(d: &Decision<'_, '_>) -> (Option<String>, String, bool, Observed) {
    (
        d.route_name().map(str::to_owned),
        d.policy_name().to_owned(),
        d.is_off(),
        observe(d),
    )
}

#[test]
fn selection_table() {
    let mut cases = 0;
    let mut via_request = 0;
    let mut via_absolute = 0;
    for spec in table().set {
        let set = build(&spec);
        let cors = Cors::with_set(set.clone());
        let reference = ReferenceSet::new(&set);
        for case in &spec.case {
            cases += 1;
            let ctx = format!("{}: host {:?} path {:?}", spec.name, case.host, case.path);
            // The chosen policy's own origin (each policy has its own), so the echo names it.
            let origin = match case.policy.as_str() {
                "off" => spec.default[0].clone(),
                "default" => spec.default[0].clone(),
                name => spec.policies[name][0].clone(),
            };
            let want_off = case.policy == "off";

            let (route, choice) = reference.choose(
                case.host.as_deref().map(str::as_bytes),
                case.path.as_bytes(),
            );
            assert_eq!(choice.route, case.route, "{ctx}: reference route");
            assert_eq!(choice.policy, case.policy, "{ctx}: reference policy");
            assert_eq!(
                route.map(|i| set.routes()[i].name()),
                case.route.as_deref(),
                "{ctx}: reference index"
            );

            for method in ["GET", "OPTIONS"] {
                let ctx = format!("{ctx} {method}");
                let mut pairs: Vec<(&[u8], &[u8])> = vec![(b"origin", origin.as_bytes())];
                if method == "OPTIONS" {
                    pairs.push((b"access-control-request-method", b"GET"));
                }
                if let Some(h) = &case.host {
                    pairs.push((b"host", h.as_bytes()));
                }
                let (ref_choice, ref_decision) =
                    reference.decide(method.as_bytes(), &pairs, case.path.as_bytes());
                assert_eq!(
                    ref_choice, choice,
                    "{ctx}: reference decide chose otherwise"
                );
                let expected: Observed = ref_decision.into();

                // Raw setters.
                let mut request = CorsRequest::new(method.as_bytes())
                    .origin(origin.as_bytes())
                    .path(case.path.as_bytes());
                if method == "OPTIONS" {
                    request = request.request_method(b"GET");
                }
                if let Some(h) = &case.host {
                    request = request.host(h.as_bytes());
                }
                let got = seen(&cors.decide(&request));
                check(&ctx, "raw", &got, case, want_off, &origin, &expected);

                // An http::Request: origin-form target, Host header.
                let target = if case.path.is_empty() {
                    "/"
                } else {
                    &case.path
                };
                let mut builder = http::Request::builder().method(method).uri(target);
                builder = builder.header("origin", &origin);
                if method == "OPTIONS" {
                    builder = builder.header("access-control-request-method", "GET");
                }
                if let Some(h) = &case.host {
                    builder = builder.header("host", h.as_str());
                }
                if let Ok(req) = builder.body(()) {
                    via_request += 1;
                    let got = seen(&cors.decide(&CorsRequest::from_request(&req)));
                    check(
                        &ctx,
                        "http::Request",
                        &got,
                        case,
                        want_off,
                        &origin,
                        &expected,
                    );
                }

                // Absolute form: the authority wins over a Host header that would choose
                // otherwise.
                let Some(h) = &case.host else { continue };
                let Ok(uri) = format!("http://{h}{}", case.path).parse::<http::Uri>() else {
                    continue;
                };
                if uri.authority().map(|a| a.as_str()) != Some(h.as_str()) {
                    continue;
                }
                let mut builder = http::Request::builder()
                    .method(method)
                    .uri(uri)
                    .header("origin", &origin)
                    .header("host", "api.example.com");
                if method == "OPTIONS" {
                    builder = builder.header("access-control-request-method", "GET");
                }
                let req = builder.body(()).expect("a valid request");
                via_absolute += 1;
                let got = seen(&cors.decide(&CorsRequest::from_request(&req)));
                check(
                    &ctx,
                    "absolute form",
                    &got,
                    case,
                    want_off,
                    &origin,
                    &expected,
                );
            }
        }
    }
    assert!(cases >= 80, "only {cases} cases");
    assert!(
        via_request >= 2 * cases - 10,
        "{via_request} through http::Request"
    );
    assert!(
        via_absolute >= cases,
        "{via_absolute} through absolute-form URIs"
    );
}

fn check(
    ctx: &str,
    how: &str,
    got: &(Option<String>, String, bool, Observed),
    case: &SelectionCase,
    want_off: bool,
    origin: &str,
    expected: &Observed,
) {
    let (route, policy, off, observed) = got;
    assert_eq!(route, &case.route, "{ctx} ({how}): route");
    assert_eq!(policy, &case.policy, "{ctx} ({how}): policy");
    assert_eq!(*off, want_off, "{ctx} ({how}): is_off");
    assert_eq!(observed, expected, "{ctx} ({how}): decision");
    if want_off {
        assert_eq!(observed.kind, "none", "{ctx} ({how})");
        assert!(observed.headers.is_empty(), "{ctx} ({how}): {observed:?}");
    } else {
        assert!(observed.allowed, "{ctx} ({how}): {observed:?}");
        let echoed = observed
            .headers
            .iter()
            .find(|(n, _)| n == "access-control-allow-origin")
            .map(|(_, v)| v.as_str());
        assert_eq!(echoed, Some(origin), "{ctx} ({how}): {observed:?}");
    }
}

/// Two `Host` lines are no host: only hostless routes.
#[test]
fn two_host_lines_are_no_host() {
    let table = table();
    let spec = &table.set[0];
    let set = build(spec);
    let cors = Cors::with_set(set.clone());
    let reference = ReferenceSet::new(&set);
    let req = http::Request::builder()
        .uri("/status")
        .header("origin", "https://status.example")
        .header("host", "api.example.com")
        .header("host", "api.example.com")
        .body(())
        .expect("a valid request");
    let d = cors.decide(&CorsRequest::from_request(&req));
    assert_eq!(d.route_name(), Some("status"));
    assert_eq!(d.policy_name(), "status");
    let pairs: [(&[u8], &[u8]); 3] = [
        (b"origin", b"https://status.example"),
        (b"host", b"api.example.com"),
        (b"host", b"api.example.com"),
    ];
    let (choice, decision) = reference.decide(b"GET", &pairs, b"/status");
    assert_eq!(choice.route.as_deref(), Some("status"));
    assert_eq!(observe(&d), Observed::from(decision));
}
