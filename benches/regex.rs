//! `regex:` entries at scale: building a policy (parsing, the credential proof, the grouped
//! DFAs) of 1,000 to 4,096 entries with and without credentials, proving one regex, and
//! deciding distinct hostile Origins against 100 to 4,096 entries. Peak memory is measured by
//! `examples/regex_resources.rs` (criterion measures time only).

mod common;

use std::hint::black_box;
use std::time::Duration;

use common::{hostile_origins, loop_regexes, mixed_regexes};
use corsgate::{Cors, CorsRequest, Policy};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

fn build(credentials: bool, entries: &[String]) -> Policy {
    Policy::builder()
        .origins(entries.iter().cloned())
        .credentials(credentials)
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn building(c: &mut Criterion) {
    let mut g = c.benchmark_group("regex_build");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    for (family, n, entries) in [
        ("mixed", 1_000, mixed_regexes(1_000)),
        ("mixed", 2_000, mixed_regexes(2_000)),
        ("mixed", 4_096, mixed_regexes(4_096)),
        ("loop", 1_000, loop_regexes(1_000)),
    ] {
        for credentials in [false, true] {
            let id = format!(
                "{family}_{}",
                if credentials { "credentials" } else { "plain" }
            );
            g.bench_function(BenchmarkId::new(id, n), |b| {
                b.iter(|| build(credentials, black_box(&entries)))
            });
        }
    }
    g.finish();
}

fn proving(c: &mut Criterion) {
    let mut g = c.benchmark_group("regex_proof");
    for (id, source, proven) in [
        (
            "preview",
            r"regex:https://pr-[0-9]+\.preview\.example\.com",
            true,
        ),
        (
            "any_depth",
            r"regex:https://([a-z0-9-]+\.)*example\.com(:\d+)?",
            true,
        ),
        ("any_port", r"regex:https://.*:(8443|9443)", false),
        (
            "hosting_domain",
            r"regex:https://([a-z0-9-]+\.)+amazonaws\.com",
            false,
        ),
        (
            "past_the_budget",
            r"regex:.*://\[[0-9a-f:]+\]amazonaws\.com\[[0-9a-f:]+\]example\.com",
            false,
        ),
    ] {
        let entries = [source.to_owned()];
        let run = || {
            Policy::builder()
                .origins(entries.iter().cloned())
                .credentials(true)
                .build()
        };
        assert_eq!(run().is_ok(), proven, "{source}");
        g.bench_function(id, |b| b.iter(|| black_box(run().is_ok())));
    }
    g.finish();
}

fn hostile(c: &mut Criterion) {
    let mut g = c.benchmark_group("regex_hostile");
    for (family, n, entries) in [
        ("mixed", 100, mixed_regexes(100)),
        ("mixed", 1_000, mixed_regexes(1_000)),
        ("mixed", 4_096, mixed_regexes(4_096)),
        ("loop", 1_000, loop_regexes(1_000)),
    ] {
        let cors = Cors::new(build(false, &entries));
        let origins = hostile_origins(n, 4_096);
        let allowed = origins
            .iter()
            .filter(|o| {
                cors.decide(&CorsRequest::new(b"GET").origin(o.as_bytes()))
                    .is_allowed()
            })
            .count();
        assert!(
            allowed < origins.len() / 2,
            "{family} {n}: {allowed} allowed"
        );
        let mut i = 0;
        g.bench_function(BenchmarkId::new(family, n), |b| {
            b.iter(|| {
                i = (i + 1) % origins.len();
                let request = CorsRequest::new(b"GET").origin(origins[i].as_bytes());
                black_box(cors.decide(black_box(&request)).is_allowed())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, hostile, proving, building);
criterion_main!(benches);
