//! corsgate's `CorsLayer` against tower-http's `CorsLayer`, each configured with the same
//! policy around the same no-op service (an empty 200), and the bare service as the baseline;
//! driven the same way: `poll_ready`, `call`, one poll of the (ready) future.

mod common;

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use common::exact_origins;
use corsgate::{Cors, Policy};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use http::{HeaderValue, Method, Request, Response};
use tower::{Layer, Service};
use tower_http::cors::{
    AllowHeaders, AllowMethods, AllowOrigin, CorsLayer as TowerHttpCors, ExposeHeaders,
};

type Req = Request<()>;
type Res = Response<String>;

/// The inner service: an empty 200, ready at once.
#[derive(Clone)]
struct Noop;

impl Service<Req> for Noop {
    type Response = Res;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Res, Self::Error>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, _: Req) -> Self::Future {
        std::future::ready(Ok(Response::new(String::new())))
    }
}

/// One request through a service: poll_ready, call, poll once.
fn drive<S: Service<Req, Response = Res>>(service: &mut S, request: Req) -> Res
where
    S::Error: std::fmt::Debug,
{
    let mut cx = Context::from_waker(Waker::noop());
    match service.poll_ready(&mut cx) {
        Poll::Ready(Ok(())) => {}
        _ => panic!("not ready"),
    }
    match pin!(service.call(request)).poll(&mut cx) {
        Poll::Ready(Ok(response)) => response,
        _ => panic!("not ready"),
    }
}

fn request(origin: &str, preflight: bool) -> Req {
    let mut b = Request::builder().uri("/api").header("origin", origin);
    if preflight {
        b = b
            .method(Method::OPTIONS)
            .header("access-control-request-method", "PUT")
            .header("access-control-request-headers", "content-type,x-token");
    }
    b.body(()).unwrap()
}

fn corsgate_policy(origins: Vec<String>) -> Arc<Cors> {
    Arc::new(Cors::new(
        Policy::builder()
            .origins(origins)
            .methods(["GET", "PUT"])
            .allow_headers(["content-type", "x-token"])
            .expose_headers(["x-request-id"])
            .credentials(true)
            .max_age(600)
            .build()
            .unwrap(),
    ))
}

fn tower_http(origin: AllowOrigin) -> TowerHttpCors {
    TowerHttpCors::new()
        .allow_origin(origin)
        .allow_methods(AllowMethods::list([Method::GET, Method::PUT]))
        .allow_headers(AllowHeaders::list([
            http::HeaderName::from_static("content-type"),
            http::HeaderName::from_static("x-token"),
        ]))
        .expose_headers(ExposeHeaders::list([http::HeaderName::from_static(
            "x-request-id",
        )]))
        .allow_credentials(true)
        .max_age(std::time::Duration::from_secs(600))
}

fn acao(response: &Res) -> Option<&HeaderValue> {
    response.headers().get("access-control-allow-origin")
}

fn compare(
    c: &mut Criterion,
    id: &str,
    cors: Arc<Cors>,
    tower_origin: AllowOrigin,
    origin: &str,
    preflight: bool,
    allowed: bool,
) {
    let template = request(origin, preflight);
    let mut ours = corsgate::layer::CorsLayer::new(cors).layer(Noop);
    let mut theirs = tower_http(tower_origin).layer(Noop);
    let mut bare = Noop;
    // Both must give the same answer before either is timed.
    let (a, b) = (
        drive(&mut ours, template.clone()),
        drive(&mut theirs, template.clone()),
    );
    assert_eq!(acao(&a).is_some(), allowed, "corsgate {id}");
    assert_eq!(acao(&b).is_some(), allowed, "tower-http {id}");
    if allowed {
        assert_eq!(acao(&a), acao(&b));
    }

    let mut g = c.benchmark_group("layer");
    g.throughput(Throughput::Elements(1));
    g.bench_function(BenchmarkId::new("bare", id), |b| {
        b.iter(|| drive(&mut bare, black_box(template.clone())))
    });
    g.bench_function(BenchmarkId::new("corsgate", id), |b| {
        b.iter(|| drive(&mut ours, black_box(template.clone())))
    });
    g.bench_function(BenchmarkId::new("tower_http", id), |b| {
        b.iter(|| drive(&mut theirs, black_box(template.clone())))
    });
    g.finish();
}

fn list(origins: &[String]) -> AllowOrigin {
    AllowOrigin::list(origins.iter().map(|o| HeaderValue::from_str(o).unwrap()))
}

fn layers(c: &mut Criterion) {
    let one = vec!["https://app.example.com".to_owned()];
    compare(
        c,
        "one_origin",
        corsgate_policy(one.clone()),
        AllowOrigin::exact(HeaderValue::from_static("https://app.example.com")),
        "https://app.example.com",
        false,
        true,
    );
    for n in [1, 100, 10_000] {
        let origins = exact_origins(n);
        let last = origins[n - 1].clone();
        compare(
            c,
            &format!("list_{n}/last"),
            corsgate_policy(origins.clone()),
            list(&origins),
            &last,
            false,
            true,
        );
        compare(
            c,
            &format!("list_{n}/miss"),
            corsgate_policy(origins.clone()),
            list(&origins),
            "https://nobody.example.com",
            false,
            false,
        );
    }
    compare(
        c,
        "suffix_rule",
        corsgate_policy(vec!["https://*.example.com".to_owned()]),
        AllowOrigin::predicate(|origin: &HeaderValue, _| {
            let o = origin.as_bytes();
            o.starts_with(b"https://") && o.ends_with(b".example.com")
        }),
        "https://tenant42.example.com",
        false,
        true,
    );
    compare(
        c,
        "preflight_2_headers",
        corsgate_policy(one),
        AllowOrigin::exact(HeaderValue::from_static("https://app.example.com")),
        "https://app.example.com",
        true,
        true,
    );
}

/// What counting costs through the layer: one origin, an actual request and a preflight,
/// counting on and off, in one sitting.
fn counting(c: &mut Criterion) {
    let cors = corsgate_policy(vec!["https://app.example.com".to_owned()]);
    let mut g = c.benchmark_group("layer_counting");
    g.throughput(Throughput::Elements(1));
    for on in [true, false] {
        cors.set_counting(on);
        let state = if on { "on" } else { "off" };
        for (id, preflight) in [("actual", false), ("preflight", true)] {
            let template = request("https://app.example.com", preflight);
            let mut ours = corsgate::layer::CorsLayer::new(Arc::clone(&cors)).layer(Noop);
            assert!(acao(&drive(&mut ours, template.clone())).is_some());
            g.bench_function(BenchmarkId::new(id, state), |b| {
                b.iter(|| drive(&mut ours, black_box(template.clone())))
            });
        }
    }
    g.finish();
}

/// What the operations options cost a request through the layer (one origin, an allowed
/// actual request and an allowed preflight; a denied actual request too): the plain layer; a
/// shadow that adds one origin (the usual change: allowed requests get the same headers from
/// both); a shadow that also drops the exposed header and the max-age (every allowed request
/// disagrees on headers, so both decisions are read as a browser would); and report-only (the
/// preflight is not answered but passed to the inner service, whose empty 200 is then
/// compared).
fn operations(c: &mut Criterion) {
    let cors = corsgate_policy(vec!["https://app.example.com".to_owned()]);
    let added_origin = corsgate_policy(vec![
        "https://app.example.com".to_owned(),
        "https://new.example.com".to_owned(),
    ]);
    let shadow = Arc::new(Cors::new(
        Policy::builder()
            .origins(["https://app.example.com", "https://new.example.com"])
            .methods(["GET", "PUT"])
            .allow_headers(["content-type", "x-token"])
            .credentials(true)
            .build()
            .unwrap(),
    ));
    let mut g = c.benchmark_group("layer_operations");
    g.throughput(Throughput::Elements(1));
    let layers = [
        ("plain", corsgate::layer::CorsLayer::new(Arc::clone(&cors))),
        (
            "shadow_agrees",
            corsgate::layer::CorsLayer::new(Arc::clone(&cors)).observe(Arc::new(
                corsgate::shadow::ShadowCors::new(Arc::clone(&cors), Arc::clone(&added_origin)),
            )),
        ),
        (
            "shadow_differs",
            corsgate::layer::CorsLayer::new(Arc::clone(&cors)).observe(Arc::new(
                corsgate::shadow::ShadowCors::new(Arc::clone(&cors), Arc::clone(&shadow)),
            )),
        ),
        (
            "report_only",
            corsgate::layer::CorsLayer::new(Arc::clone(&cors))
                .report_only(Arc::new(corsgate::layer::ReportOnly::new())),
        ),
    ];
    for (mode, layer) in layers {
        for (id, origin, preflight) in [
            ("actual", "https://app.example.com", false),
            ("denied", "https://evil.example.com", false),
            ("preflight", "https://app.example.com", true),
        ] {
            let template = request(origin, preflight);
            let mut ours = layer.clone().layer(Noop);
            g.bench_function(BenchmarkId::new(id, mode), |b| {
                b.iter(|| drive(&mut ours, black_box(template.clone())))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, counting, operations, layers);
criterion_main!(benches);
