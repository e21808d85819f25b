//! What `corsgate::pingora` adds to a proxied request, per request, apart from the decision
//! itself (measured in `benches/decision.rs`): writing the decision's headers into Pingora's
//! `ResponseHeader` on the way back, against the same `ResponseHeaders::apply` into a plain
//! `http::HeaderMap` (what `CorsLayer` pays) and against cloning the upstream's response alone
//! (the baseline every variant includes, since each iteration starts from a fresh copy).
//!
//! Responses: a typical upstream answer (five headers, no `Vary`, no CORS of its own), and one
//! that brings two `Vary` lines and its own `Access-Control-Allow-Origin` (replaced and merged).

use std::hint::black_box;

use corsgate::pingora::apply_headers;
use corsgate::{Cors, CorsRequest, Policy, ResponseHeaders};
use criterion::{criterion_group, criterion_main, Criterion};
use http::HeaderMap;
use pingora_http::ResponseHeader;

fn decided() -> ResponseHeaders {
    let cors = Cors::new(
        Policy::builder()
            .origins(["https://app.example.com", "https://*.example.com"])
            .methods(["GET", "PUT"])
            .expose_headers(["x-request-id"])
            .credentials(true)
            .build()
            .unwrap(),
    );
    let origin = http::HeaderValue::from_static("https://app.example.com");
    let mut request = HeaderMap::new();
    request.insert(http::header::ORIGIN, origin);
    let decision = cors.decide(&CorsRequest::from_headers(&http::Method::GET, &request));
    decision.to_response_headers()
}

fn upstream(extra: &[(&'static str, &'static str)]) -> ResponseHeader {
    let mut response = ResponseHeader::build(200, None).unwrap();
    for (name, value) in [
        ("Content-Type", "application/json"),
        ("Content-Length", "11"),
        ("Date", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ("Cache-Control", "private"),
        ("X-Request-Id", "0b5c0a4e"),
    ]
    .iter()
    .chain(extra)
    {
        response.append_header(*name, *value).unwrap();
    }
    response
}

fn bench(c: &mut Criterion) {
    let headers = decided();
    for (label, extra) in [
        ("plain upstream response", &[][..]),
        (
            "upstream Vary x2 and its own ACAO",
            &[
                ("Vary", "Accept-Encoding"),
                ("Vary", "Cookie"),
                ("Access-Control-Allow-Origin", "*"),
            ][..],
        ),
    ] {
        let template = upstream(extra);
        let plain: HeaderMap = template.headers.clone();
        // Check the answer before timing it.
        let mut check = template.clone();
        apply_headers(&headers, &mut check).unwrap();
        assert_eq!(
            check.headers["access-control-allow-origin"],
            "https://app.example.com"
        );
        let mut group = c.benchmark_group(format!("pingora/{label}"));
        group.bench_function("clone only (baseline)", |b| {
            b.iter(|| black_box(template.clone()))
        });
        group.bench_function("corsgate::pingora::apply_headers", |b| {
            b.iter(|| {
                let mut response = template.clone();
                apply_headers(black_box(&headers), &mut response).unwrap();
                response
            })
        });
        group.bench_function("HeaderMap clone only (baseline)", |b| {
            b.iter(|| black_box(plain.clone()))
        });
        group.bench_function("ResponseHeaders::apply on a HeaderMap", |b| {
            b.iter(|| {
                let mut map = plain.clone();
                black_box(&headers).apply(&mut map);
                map
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
