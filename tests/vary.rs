//! Every writer of `Vary` leaves a response with one `Vary` field line: `Decision::apply`,
//! `ResponseHeaders::apply`, `CorsLayer` (its forwarded headers) and
//! `Decision::write_http1_merging_vary`, for upstream `Vary` sets of every shape and every
//! kind of decision, checked against a plain model of the rule (design §4): the upstream's
//! names first, then corsgate's, each once (case-insensitively, first spelling kept), `*`
//! alone when any member is `*`, and an upstream line left as sent when it already names
//! everything corsgate adds.

use std::convert::Infallible;
use std::sync::Arc;

use corsgate::layer::CorsLayer;
use corsgate::{Cors, CorsRequest, Policy, ResponseHeader};
use http::header::VARY;
use http::{HeaderMap, HeaderValue, Method, Request, Response};
use tower::{Layer, ServiceExt};

/// Upstream `Vary` field lines, one set per response.
const UPSTREAMS: &[&[&str]] = &[
    &[],
    &["Cookie"],
    &["Accept-Encoding"],
    &["Cookie", "Accept-Encoding"],
    &["origin"],
    &["Accept-Encoding, Origin"],
    &["*"],
    &["Cookie", "*"],
    &["Cookie, *"],
    &["", "Cookie,,"],
    &["ORIGIN", "cookie", "Cookie"],
    &["access-control-request-method", "Origin"],
    &["User-Agent\t,  Accept-Language"],
];

fn policies() -> Vec<(&'static str, Policy)> {
    let mut passthrough = Policy::builder();
    passthrough
        .origins(["https://app.example.com"])
        .credentials(true)
        .preflight_passthrough(true);
    vec![
        (
            "credentials",
            Policy::builder()
                .origins(["https://app.example.com", "https://*.example.org"])
                .credentials(true)
                .build()
                .unwrap(),
        ),
        (
            "any origin",
            Policy::builder()
                .origins(["*"])
                .expose_headers(["x-id"])
                .build()
                .unwrap(),
        ),
        ("passthrough", passthrough.build().unwrap()),
    ]
}

/// A named request: method and header pairs.
type NamedRequest = (&'static str, Method, Vec<(&'static str, &'static str)>);

/// Requests that reach the upstream, so that a `Vary` of its own can meet corsgate's.
fn requests() -> Vec<NamedRequest> {
    vec![
        ("not CORS", Method::GET, vec![]),
        (
            "allowed",
            Method::GET,
            vec![("origin", "https://app.example.com")],
        ),
        (
            "denied",
            Method::GET,
            vec![("origin", "https://evil.example")],
        ),
        (
            "denied preflight",
            Method::OPTIONS,
            vec![
                ("origin", "https://evil.example"),
                ("access-control-request-method", "PUT"),
            ],
        ),
    ]
}

/// The rule, written plainly over strings.
fn model(upstream: &[&str], ours: Option<&str>, raw_writer: bool) -> Vec<String> {
    let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let Some(ours) = ours else {
        // corsgate adds nothing: a map keeps the upstream's lines; the raw writer, which
        // writes them on the caller's behalf, still writes one line.
        if !raw_writer || upstream.len() <= 1 {
            return owned(upstream);
        }
        return model(upstream, Some(""), raw_writer);
    };
    if upstream.is_empty() {
        return if ours.is_empty() {
            vec![]
        } else {
            vec![ours.to_owned()]
        };
    }
    let members = |line: &str| -> Vec<String> {
        line.split(',')
            .map(|m| m.trim_matches([' ', '\t']).to_owned())
            .filter(|m| !m.is_empty())
            .collect()
    };
    let theirs: Vec<String> = upstream.iter().flat_map(|l| members(l)).collect();
    if theirs.iter().any(|m| m == "*") {
        return if upstream.len() == 1 && upstream[0].trim() == "*" {
            owned(upstream)
        } else {
            vec!["*".to_owned()]
        };
    }
    let ours = members(ours);
    if upstream.len() == 1
        && ours
            .iter()
            .all(|o| theirs.iter().any(|t| t.eq_ignore_ascii_case(o)))
    {
        return owned(upstream);
    }
    let mut kept: Vec<String> = Vec::new();
    for m in theirs.into_iter().chain(ours) {
        if !kept.iter().any(|k| k.eq_ignore_ascii_case(&m)) {
            kept.push(m);
        }
    }
    vec![kept.join(", ")]
}

fn upstream_map(upstream: &[&str]) -> HeaderMap {
    let mut map = HeaderMap::new();
    map.insert("x-upstream", HeaderValue::from_static("1"));
    for line in upstream {
        map.append(VARY, HeaderValue::from_str(line).unwrap());
    }
    map
}

fn vary_lines(map: &HeaderMap) -> Vec<String> {
    map.get_all(VARY)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The `Vary` lines of an HTTP/1 header block.
fn raw_vary_lines(raw: &[u8]) -> Vec<String> {
    String::from_utf8(raw.to_vec())
        .unwrap()
        .split("\r\n")
        .filter_map(|line| line.strip_prefix("Vary: ").map(str::to_owned))
        .collect()
}

/// The response `CorsLayer` gives when the inner service answers with `upstream`.
fn through_layer(cors: &Arc<Cors>, request: Request<()>, upstream: &[&str]) -> HeaderMap {
    let upstream: Vec<String> = upstream.iter().map(|s| s.to_string()).collect();
    let inner = tower::service_fn(move |_req: Request<()>| {
        let mut response = Response::new(String::new());
        for line in &upstream {
            response
                .headers_mut()
                .append(VARY, HeaderValue::from_str(line).unwrap());
        }
        async move { Ok::<_, Infallible>(response) }
    });
    let service = CorsLayer::new(cors.clone()).layer(inner);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime
        .block_on(service.oneshot(request))
        .unwrap()
        .headers()
        .clone()
}

#[test]
fn every_writer_leaves_one_vary_line() {
    let mut checked = 0;
    for (policy_name, policy) in policies() {
        let cors = Arc::new(Cors::new(policy));
        for (request_name, method, headers) in requests() {
            let mut builder = Request::builder().method(method.clone()).uri("/");
            for (n, v) in &headers {
                builder = builder.header(*n, *v);
            }
            let request = builder.body(()).unwrap();
            let decision = cors.decide(&CorsRequest::from_request(&request));
            if !decision.forwards() {
                continue;
            }
            let ours = decision
                .headers()
                .find(|(h, _)| *h == ResponseHeader::Vary)
                .map(|(_, v)| v.to_str_lossy());
            for upstream in UPSTREAMS {
                let ctx = format!("{policy_name}, {request_name}, upstream {upstream:?}");
                let expected = model(upstream, ours.as_deref(), false);

                let mut map = upstream_map(upstream);
                decision.apply(&mut map);
                assert_eq!(vary_lines(&map), expected, "{ctx}: Decision::apply");
                assert_eq!(map["x-upstream"], "1", "{ctx}");

                let mut map = upstream_map(upstream);
                decision.to_response_headers().apply(&mut map);
                assert_eq!(vary_lines(&map), expected, "{ctx}: ResponseHeaders::apply");

                let map = through_layer(&cors, request.clone(), upstream);
                assert_eq!(vary_lines(&map), expected, "{ctx}: CorsLayer");

                let lines: Vec<&[u8]> = upstream.iter().map(|l| l.as_bytes()).collect();
                let mut raw = Vec::new();
                decision.write_http1_merging_vary(&lines, &mut raw);
                assert_eq!(
                    raw_vary_lines(&raw),
                    model(upstream, ours.as_deref(), true),
                    "{ctx}: write_http1_merging_vary"
                );
                // The other headers are the ones write_http1 writes.
                let mut plain = Vec::new();
                decision.write_http1(&mut plain);
                let without_vary = |raw: &[u8]| -> Vec<String> {
                    String::from_utf8(raw.to_vec())
                        .unwrap()
                        .split("\r\n")
                        .filter(|l| !l.starts_with("Vary: "))
                        .map(str::to_owned)
                        .collect()
                };
                assert_eq!(without_vary(&raw), without_vary(&plain), "{ctx}");
                // The owned headers, carried across an await, write the same bytes.
                let owned = decision.to_response_headers();
                let mut owned_raw = Vec::new();
                owned.write_http1_merging_vary(&lines, &mut owned_raw);
                assert_eq!(
                    String::from_utf8_lossy(&owned_raw),
                    String::from_utf8_lossy(&raw),
                    "{ctx}: ResponseHeaders::write_http1_merging_vary"
                );
                let mut owned_plain = Vec::new();
                owned.write_http1(&mut owned_plain);
                assert_eq!(
                    String::from_utf8_lossy(&owned_plain),
                    String::from_utf8_lossy(&plain),
                    "{ctx}: ResponseHeaders::write_http1"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} combinations");
}

/// The cases that leaked through nginx's cache, spelled out.
#[test]
fn the_upstreams_vary_and_corsgates_share_one_line() {
    let cors = Cors::new(
        Policy::builder()
            .origins(["https://app.example.com"])
            .credentials(true)
            .build()
            .unwrap(),
    );
    let request = CorsRequest::new(b"GET").origin(b"https://app.example.com");
    let decision = cors.decide(&request);
    for (upstream, expected) in [
        (&["Cookie"][..], "Cookie, Origin"),
        (&["Accept-Encoding"][..], "Accept-Encoding, Origin"),
        (
            &["Cookie", "Accept-Encoding"][..],
            "Cookie, Accept-Encoding, Origin",
        ),
    ] {
        let mut map = upstream_map(upstream);
        decision.apply(&mut map);
        assert_eq!(vary_lines(&map), [expected]);
    }
    // An answered preflight has no upstream: its one line as rendered.
    let preflight = CorsRequest::new(b"OPTIONS")
        .origin(b"https://app.example.com")
        .request_method(b"GET");
    let mut raw = Vec::new();
    cors.decide(&preflight).write_http1(&mut raw);
    assert_eq!(
        raw_vary_lines(&raw),
        ["Origin, Access-Control-Request-Method, Access-Control-Request-Headers"]
    );
    let response = cors
        .decide(&preflight)
        .preflight_response::<()>()
        .expect("answered");
    assert_eq!(vary_lines(response.headers()).len(), 1);
}

/// The owned headers write what the decision writes where the table above does not reach: an
/// answered preflight (allowed or denied) and a request on an `off` route, whose upstream
/// `Vary` lines pass as they were.
#[test]
fn owned_writers_match_for_answered_preflights_and_off_routes() {
    use corsgate::{PolicySet, RouteBuilder};
    let set = PolicySet::builder(
        Policy::builder()
            .origins(["https://app.example.com"])
            .methods(["GET", "PUT"])
            .credentials(true)
            .max_age(600)
            .clone(),
    )
    .route(RouteBuilder::new("off").hosts(["internal.example.com"]))
    .build()
    .unwrap();
    let cors = Cors::with_set(set);
    let preflight = |origin: &'static [u8]| {
        CorsRequest::new(b"OPTIONS")
            .origin(origin)
            .request_method(b"PUT")
            .host(b"api.example.com")
    };
    for (name, request) in [
        ("allowed preflight", preflight(b"https://app.example.com")),
        ("denied preflight", preflight(b"https://evil.example")),
    ] {
        let decision = cors.decide(&request);
        assert!(decision.status().is_some(), "{name}: answered");
        let (mut raw, mut owned) = (Vec::new(), Vec::new());
        decision.write_http1(&mut raw);
        decision.to_response_headers().write_http1(&mut owned);
        assert!(!raw.is_empty(), "{name}");
        assert_eq!(
            String::from_utf8_lossy(&owned),
            String::from_utf8_lossy(&raw),
            "{name}"
        );
    }
    let off = CorsRequest::new(b"GET")
        .origin(b"https://evil.example")
        .host(b"internal.example.com");
    let decision = cors.decide(&off);
    assert!(decision.is_off());
    let owned = decision.to_response_headers();
    assert!(owned.is_untouched());
    for upstream in UPSTREAMS {
        let lines: Vec<&[u8]> = upstream.iter().map(|l| l.as_bytes()).collect();
        let (mut raw, mut owned_raw) = (Vec::new(), Vec::new());
        decision.write_http1_merging_vary(&lines, &mut raw);
        owned.write_http1_merging_vary(&lines, &mut owned_raw);
        assert_eq!(owned_raw, raw, "off route, upstream {upstream:?}");
        assert_eq!(
            raw_vary_lines(&raw),
            *upstream,
            "off route: lines as they were"
        );
        let mut plain = Vec::new();
        owned.write_http1(&mut plain);
        assert!(plain.is_empty(), "off route: nothing of corsgate's");
    }
}
