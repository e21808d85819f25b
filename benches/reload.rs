//! Reloading: how long a policy takes to build and compile (1,000 and 100,000 exact origins,
//! 10,000 wildcards, 100 regexes), and decision throughput on one and two threads, without and
//! with another thread reloading every millisecond.

mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{exact_origins, regexes, wildcards};
use corsgate::{Cors, CorsRequest, Policy};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn compile(c: &mut Criterion) {
    let mut g = c.benchmark_group("compile");
    g.sample_size(10);
    for (id, entries) in [
        ("exact_1000", exact_origins(1_000)),
        ("exact_100000", exact_origins(100_000)),
        ("wildcard_10000", wildcards(10_000)),
        ("regex_100", regexes(100)),
    ] {
        let probe = CorsRequest::new(b"GET").origin(b"https://app0.tenant0.example.com");
        let _ = Cors::new(Policy::new(entries.clone()).unwrap()).decide(&probe);
        g.throughput(Throughput::Elements(entries.len() as u64));
        g.bench_function(BenchmarkId::new("build_and_compile", id), |b| {
            b.iter(|| Cors::new(Policy::new(black_box(&entries)).unwrap()))
        });
    }
    g.finish();
}

const ORIGINS: [&[u8]; 4] = [
    b"https://app7.tenant7.example.com",
    b"https://app9.tenant9.example.com",
    b"https://nobody.example.com",
    b"https://app1.tenant1.example.com",
];

/// `threads` readers each make `per_thread` decisions; with `reload`, another thread reloads
/// between two policies every millisecond meanwhile. Returns the wall time.
fn run(
    cors: &Arc<Cors>,
    policies: &[Policy; 2],
    threads: usize,
    per_thread: u64,
    reload: bool,
) -> Duration {
    let start = Arc::new(Barrier::new(threads + 1));
    let done = Arc::new(AtomicBool::new(false));
    let reloader = reload.then(|| {
        let (cors, done) = (cors.clone(), done.clone());
        let policies = policies.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while !done.load(Ordering::Relaxed) {
                cors.reload(policies[n % 2].clone());
                n += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            n
        })
    });
    let readers: Vec<_> = (0..threads)
        .map(|t| {
            let (cors, start) = (cors.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                let mut allowed = 0u64;
                for i in 0..per_thread {
                    let origin = ORIGINS[(i as usize + t) % ORIGINS.len()];
                    allowed += cors
                        .decide(&CorsRequest::new(b"GET").origin(black_box(origin)))
                        .is_allowed() as u64;
                }
                black_box(allowed)
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    for r in readers {
        r.join().unwrap();
    }
    let elapsed = began.elapsed();
    done.store(true, Ordering::Relaxed);
    if let Some(r) = reloader {
        r.join().unwrap();
    }
    elapsed
}

fn throughput(c: &mut Criterion) {
    // Small policies, so that the reloading thread's own compile work (about 10 us per reload)
    // does not take the readers' CPU; what is measured is what reloads do to readers.
    let policies = [
        Policy::new(exact_origins(10)).unwrap(),
        Policy::new(exact_origins(10).into_iter().skip(1).collect::<Vec<_>>()).unwrap(),
    ];
    let cors = Arc::new(Cors::new(policies[0].clone()));
    assert!(cors
        .decide(&CorsRequest::new(b"GET").origin(ORIGINS[0]))
        .is_allowed());
    let mut g = c.benchmark_group("throughput");
    g.sample_size(20);
    for threads in [1usize, 2] {
        for reload in [false, true] {
            let id = format!(
                "{threads}_threads{}",
                if reload { "_reloading_every_ms" } else { "" }
            );
            g.throughput(Throughput::Elements(threads as u64));
            g.bench_function(BenchmarkId::new("decide", id), |b| {
                b.iter_custom(|iters| {
                    // Each reader makes `iters` decisions: elements per iteration = threads.
                    run(&cors, &policies, threads, iters, reload)
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, compile, throughput);
criterion_main!(benches);
