//! Policy sets: choosing the route and deciding, with one route and with 100 and 10,000 hosts
//! (exact, and wildcard), each host with its own policy of 10 origins; beside a single policy
//! served directly and a single-policy file served through the set path (`policy_set`).

use std::hint::black_box;

use corsgate::file::{Format, PolicyFile};
use corsgate::{Cors, CorsRequest, Policy, PolicyBuilder, PolicySet, RouteBuilder};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// Policy `i`'s 10 origins.
fn origins(i: usize) -> PolicyBuilder {
    let mut b = Policy::builder();
    b.origins((0..10).map(|j| format!("https://app{j}.tenant{i}.example.com")));
    b
}

/// `n` policies, each chosen by its own host: `tenant{i}.example.com`, or
/// `*.tenant{i}.example.com` when `wildcard`.
fn set(n: usize, wildcard: bool) -> PolicySet {
    let mut builder = PolicySet::builder(origins(usize::MAX));
    for i in 0..n {
        let host = if wildcard {
            format!("*.tenant{i}.example.com")
        } else {
            format!("tenant{i}.example.com")
        };
        builder = builder
            .policy(format!("p{i}"), origins(i))
            .route(RouteBuilder::new(format!("p{i}")).hosts([host]));
    }
    builder.build().expect("valid set")
}

fn bench(c: &mut Criterion, group: &str, id: &str, cors: &Cors, host: &[u8], origin: &[u8]) {
    let get = CorsRequest::new(b"GET")
        .origin(origin)
        .host(host)
        .path(b"/api/v1/items");
    assert!(cors.decide(&get).is_allowed(), "{group}/{id}");
    let preflight = CorsRequest::new(b"OPTIONS")
        .origin(origin)
        .request_method(b"GET")
        .host(host)
        .path(b"/api/v1/items");
    assert!(cors.decide(&preflight).is_allowed(), "{group}/{id}");
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(1));
    g.bench_function(BenchmarkId::new("actual", id), |b| {
        b.iter(|| cors.decide(black_box(&get)).is_allowed())
    });
    g.bench_function(BenchmarkId::new("preflight", id), |b| {
        b.iter(|| cors.decide(black_box(&preflight)).is_allowed())
    });
    g.finish();
}

fn hosts(c: &mut Criterion) {
    let single = Cors::new(origins(0).build().expect("valid policy"));
    bench(
        c,
        "set_single",
        "policy",
        &single,
        b"tenant0.example.com",
        b"https://app9.tenant0.example.com",
    );
    let one = Cors::with_set(set(1, false));
    bench(
        c,
        "set_exact",
        "1",
        &one,
        b"tenant0.example.com",
        b"https://app9.tenant0.example.com",
    );
    for n in [100, 10_000] {
        let last = n - 1;
        let origin = format!("https://app9.tenant{last}.example.com");
        let cors = Cors::with_set(set(n, false));
        let host = format!("tenant{last}.example.com");
        bench(
            c,
            "set_exact",
            &n.to_string(),
            &cors,
            host.as_bytes(),
            origin.as_bytes(),
        );
        let cors = Cors::with_set(set(n, true));
        let host = format!("a.b.tenant{last}.example.com");
        bench(
            c,
            "set_wildcard",
            &n.to_string(),
            &cors,
            host.as_bytes(),
            origin.as_bytes(),
        );
    }
}

fn single_policy_file(c: &mut Criterion) {
    let text = r#"
origins = ["https://app.example.com", "https://*.tenant.example.com"]
methods = ["GET", "PUT"]
allow_headers = ["content-type"]
"#;
    let file = PolicyFile::parse(text, "policy.toml", Format::Toml).expect("valid file");
    let cors = Cors::with_set(file.policy_set(None).expect("valid policy"));
    bench(
        c,
        "set_file",
        "single_policy",
        &cors,
        b"api.example.com",
        b"https://a.tenant.example.com",
    );
}

criterion_group!(benches, hosts, single_policy_file);
criterion_main!(benches);
