//! The per-request decision: the floor (a bare hash lookup of the Origin bytes) beside
//! `Cors::decide` from raw bytes and from an `http::HeaderMap`, for exact origins, wildcards,
//! regexes, `*` and a malformed Origin, at allowlist sizes from 1 to 100,000; and the
//! reference implementation at 1 and 1,000 origins for contrast.

mod common;

use std::hint::black_box;

use common::{exact_origins, regexes, wildcards, Floor};
use corsgate::reference::Reference;
use corsgate::{Cors, CorsRequest, Policy};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use http::header::{HeaderMap, HeaderValue, ORIGIN};

struct Setup {
    cors: Cors,
    floor: Floor,
}

fn setup(entries: &[String]) -> Setup {
    Setup {
        cors: Cors::new(Policy::new(entries.to_vec()).expect("valid policy")),
        floor: Floor::new(entries),
    }
}

/// Benchmarks one case in `group`: floor, engine from raw bytes, engine from a HeaderMap.
fn case(c: &mut Criterion, group: &str, id: &str, s: &Setup, origin: &str, allowed: bool) {
    let o = origin.as_bytes();
    // Check the answer once before timing it.
    assert_eq!(
        s.cors
            .decide(&CorsRequest::new(b"GET").origin(o))
            .is_allowed(),
        allowed,
        "{group}/{id}"
    );
    let mut map = HeaderMap::new();
    map.insert(ORIGIN, HeaderValue::from_str(origin).unwrap());
    let get = http::Method::GET;
    assert_eq!(
        s.cors
            .decide(&CorsRequest::from_headers(&get, &map))
            .is_allowed(),
        allowed
    );

    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(1));
    g.bench_function(BenchmarkId::new("floor", id), |b| {
        b.iter(|| s.floor.get(black_box(o)))
    });
    // The request, not the slice, goes through `black_box`: `black_box(o)` spills the slice as
    // two 8-byte stores that building the request then reloads as one 16-byte load, a
    // store-forwarding stall (~10 ns) that is the harness's, not corsgate's.
    g.bench_function(BenchmarkId::new("raw", id), |b| {
        b.iter(|| {
            s.cors
                .decide(black_box(&CorsRequest::new(b"GET").origin(o)))
                .is_allowed()
        })
    });
    g.bench_function(BenchmarkId::new("header_map", id), |b| {
        b.iter(|| {
            s.cors
                .decide(&CorsRequest::from_headers(&get, black_box(&map)))
                .is_allowed()
        })
    });
    g.finish();
}

fn exact(c: &mut Criterion) {
    for n in [1, 100, 10_000, 100_000] {
        let origins = exact_origins(n);
        let s = setup(&origins);
        case(c, "exact_hit", &n.to_string(), &s, &origins[n - 1], true);
        case(
            c,
            "exact_miss",
            &n.to_string(),
            &s,
            "https://app1.tenant2.example.com",
            false,
        );
    }
}

fn wildcard(c: &mut Criterion) {
    for n in [10, 100_000] {
        let s = setup(&wildcards(n));
        let last = n - 1;
        for (labels, prefix) in [("2_labels", "x"), ("6_labels", "a.b.c.x")] {
            let id = format!("{n}/{labels}");
            let hit = format!("https://{prefix}.tenant{last}.example.com");
            let miss = format!("https://{prefix}.nobody.example.com");
            case(c, "wildcard_hit", &id, &s, &hit, true);
            case(c, "wildcard_miss", &id, &s, &miss, false);
        }
    }
}

fn regex(c: &mut Criterion) {
    for n in [1, 1_000] {
        let s = setup(&regexes(n));
        case(
            c,
            "regex_hit",
            &n.to_string(),
            &s,
            &format!("https://pr-42.r{}.example.net", n - 1),
            true,
        );
    }
}

fn any_and_malformed(c: &mut Criterion) {
    let s = setup(&["*".to_owned()]);
    case(c, "any", "star", &s, "https://anything.example", true);
    let s = setup(&exact_origins(1_000));
    case(
        c,
        "malformed",
        "trailing_slash",
        &s,
        "https://app999.tenant29.example.com/",
        false,
    );
    case(
        c,
        "malformed",
        "garbage",
        &s,
        "not an origin, really",
        false,
    );
}

fn reference(c: &mut Criterion) {
    let mut g = c.benchmark_group("reference");
    g.throughput(Throughput::Elements(1));
    for n in [1, 1_000] {
        let origins = exact_origins(n);
        let policy = Policy::new(origins.clone()).unwrap();
        let reference = Reference::new(&policy);
        let cors = Cors::new(policy.clone());
        let origin = origins[n - 1].as_bytes();
        let pairs: [(&[u8], &[u8]); 1] = [(b"origin", origin)];
        assert!(reference.decide(b"GET", &pairs).allowed);
        g.bench_function(BenchmarkId::new("reference", n), |b| {
            b.iter(|| reference.decide(b"GET", black_box(&pairs)).allowed)
        });
        g.bench_function(BenchmarkId::new("raw", n), |b| {
            b.iter(|| {
                cors.decide(black_box(&CorsRequest::new(b"GET").origin(origin)))
                    .is_allowed()
            })
        });
    }
    g.finish();
}

/// What counting costs a decision: the same exact hit, miss and preflight with counting on
/// (the default) and off, in one sitting.
fn counting(c: &mut Criterion) {
    let origins = exact_origins(100);
    let cors = Cors::new(
        Policy::builder()
            .origins(origins.clone())
            .methods(["GET", "PUT"])
            .allow_headers(["content-type"])
            .build()
            .expect("valid policy"),
    );
    let hit = origins[99].as_bytes();
    let miss = b"https://app1.tenant2.example.com".as_slice();
    let mut g = c.benchmark_group("counting");
    g.throughput(Throughput::Elements(1));
    for on in [true, false] {
        cors.set_counting(on);
        let state = if on { "on" } else { "off" };
        assert!(cors
            .decide(&CorsRequest::new(b"GET").origin(hit))
            .is_allowed());
        assert!(!cors
            .decide(&CorsRequest::new(b"GET").origin(miss))
            .is_allowed());
        g.bench_function(BenchmarkId::new("exact_hit", state), |b| {
            b.iter(|| {
                cors.decide(black_box(&CorsRequest::new(b"GET").origin(hit)))
                    .is_allowed()
            })
        });
        g.bench_function(BenchmarkId::new("exact_miss", state), |b| {
            b.iter(|| {
                cors.decide(black_box(&CorsRequest::new(b"GET").origin(miss)))
                    .is_allowed()
            })
        });
        g.bench_function(BenchmarkId::new("preflight", state), |b| {
            b.iter(|| {
                cors.decide(black_box(
                    &CorsRequest::new(b"OPTIONS")
                        .origin(hit)
                        .request_method(b"PUT")
                        .request_headers(&[b"content-type"]),
                ))
                .is_allowed()
            })
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    counting,
    exact,
    wildcard,
    regex,
    any_and_malformed,
    reference
);
criterion_main!(benches);
