//! Preflights: allowed and denied, from the verdict cache (warm) and not (cold: every value
//! new), with request-header lists of 1 and 8 names in browser form (one lowercase, sorted
//! line) and in a proxy-mangled form (several lines, spaces, case), and the hostile cases: a
//! 4 KiB value of commas, and a stream of distinct values that never hit the cache.

mod common;

use std::cell::Cell;
use std::hint::black_box;

use common::Floor;
use corsgate::{Cors, CorsRequest, Policy};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const ORIGIN: &[u8] = b"https://app.example.com";
const EIGHT: [&str; 8] = [
    "accept-version",
    "authorization",
    "content-type",
    "x-a",
    "x-b",
    "x-c",
    "x-request-id",
    "x-token",
];

fn policy(any_header: bool) -> Policy {
    let mut b = Policy::builder();
    b.origins(["https://app.example.com", "https://*.example.org"])
        .methods(["GET", "PUT", "DELETE"])
        .credentials(true)
        .max_age(600);
    if any_header {
        b.allow_headers(["*", "authorization"]);
    } else {
        b.allow_headers(EIGHT);
    }
    b.build().unwrap()
}

fn decide(cors: &Cors, method: &[u8], lines: &[&[u8]]) -> bool {
    cors.decide(
        &CorsRequest::new(b"OPTIONS")
            .origin(ORIGIN)
            .request_method(method)
            .request_headers(lines),
    )
    .is_allowed()
}

fn warm(c: &mut Criterion) {
    let cors = Cors::new(policy(false));
    let floor = Floor::new(&["https://app.example.com".to_owned()]);
    let browser_1: Vec<&[u8]> = vec![b"content-type"];
    let browser_8 = EIGHT.join(",");
    let browser_8: Vec<&[u8]> = vec![browser_8.as_bytes()];
    let mangled_1: Vec<&[u8]> = vec![b" Content-Type ", b""];
    let mangled_8: Vec<&[u8]> = vec![
        b"X-Token, Content-Type ,x-a",
        b"",
        b" X-B,x-c , Authorization",
        b"x-request-id,accept-version",
    ];
    let denied: Vec<&[u8]> = vec![b"content-type,x-not-allowed"];

    let mut g = c.benchmark_group("preflight");
    g.throughput(Throughput::Elements(1));
    g.bench_function("floor", |b| b.iter(|| floor.get(black_box(ORIGIN))));
    for (id, lines, allowed) in [
        ("allowed/browser_1", &browser_1, true),
        ("allowed/browser_8", &browser_8, true),
        ("allowed/mangled_1", &mangled_1, true),
        ("allowed/mangled_8", &mangled_8, true),
        ("denied/header", &denied, false),
    ] {
        assert_eq!(decide(&cors, b"PUT", lines), allowed, "{id}");
        g.bench_function(BenchmarkId::new("warm", id), |b| {
            b.iter(|| decide(&cors, b"PUT", black_box(lines)))
        });
    }
    assert!(!decide(&cors, b"PATCH", &browser_1));
    g.bench_function(BenchmarkId::new("warm", "denied/method"), |b| {
        b.iter(|| decide(&cors, b"PATCH", black_box(&browser_1)))
    });
    g.finish();
}

/// Every iteration sends a value the cache has not seen (a pool far larger than the cache,
/// cycled), so each decision parses, checks and tries to insert.
fn cold(c: &mut Criterion) {
    let cors = Cors::new(policy(true));
    let pool_1: Vec<String> = (0..100_000).map(|i| format!("x-h{i}")).collect();
    let pool_8: Vec<String> = (0..100_000)
        .map(|i| format!("{},x-h{i}", EIGHT[..7].join(",")))
        .collect();
    let hostile: Vec<String> = (0..100_000)
        .map(|i| format!("content-type,x-unknown-{i},authorization"))
        .collect();
    let strict = Cors::new(policy(false));

    let mut g = c.benchmark_group("preflight");
    g.throughput(Throughput::Elements(1));
    for (id, cors, pool, allowed) in [
        ("allowed/browser_1", &cors, &pool_1, true),
        ("allowed/browser_8", &cors, &pool_8, true),
        ("hostile/distinct_never_cached", &strict, &hostile, false),
    ] {
        assert_eq!(decide(cors, b"PUT", &[pool[0].as_bytes()]), allowed, "{id}");
        let i = Cell::new(0usize);
        g.bench_function(BenchmarkId::new("cold", id), |b| {
            b.iter(|| {
                let n = i.get();
                i.set((n + 1) % pool.len());
                decide(cors, b"PUT", &[black_box(pool[n].as_bytes())])
            })
        });
    }
    // 4 KiB of commas: the bound on empty elements stops the parse early.
    let commas = vec![b','; 4096];
    let lines: Vec<&[u8]> = vec![&commas];
    assert!(!decide(&strict, b"PUT", &lines));
    g.bench_function(BenchmarkId::new("hostile", "4KiB_commas"), |b| {
        b.iter(|| decide(&strict, b"PUT", black_box(&lines)))
    });
    // Just over 4 KiB: refused after summing the line lengths, nothing parsed.
    let long = vec![b'a'; 4097];
    let lines: Vec<&[u8]> = vec![&long];
    assert!(!decide(&strict, b"PUT", &lines));
    g.bench_function(BenchmarkId::new("hostile", "over_4KiB"), |b| {
        b.iter(|| decide(&strict, b"PUT", black_box(&lines)))
    });
    g.finish();
}

criterion_group!(benches, warm, cold);
criterion_main!(benches);
