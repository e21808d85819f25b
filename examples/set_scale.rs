//! How long 10,000 policies of 10 origins each, chosen by 10,000 exact-host routes, take to
//! build and compile, and how much memory they hold: before any request, and after one
//! preflight per policy (each allocates that policy's verdict cache). Memory is counted two
//! ways: bytes held by the allocator (a counting global allocator) and the resident set size.
//!
//! `cargo run --profile bench --example set_scale` (or `--release`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use corsgate::{Cors, CorsRequest, Policy, PolicySet, RouteBuilder};

struct Counting;

static HELD: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts bytes held.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HELD.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        HELD.fetch_add(new_size, Ordering::Relaxed);
        HELD.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Resident set size in KiB (Linux), 0 elsewhere.
fn rss_kib() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

const POLICIES: usize = 10_000;

fn main() {
    let held0 = HELD.load(Ordering::Relaxed);
    let rss0 = rss_kib();

    let start = Instant::now();
    let mut builder = PolicySet::builder({
        let mut b = Policy::builder();
        b.origins(["https://app.example.com"]);
        b
    });
    for i in 0..POLICIES {
        let mut p = Policy::builder();
        p.origins((0..10).map(|j| format!("https://app{j}.tenant{i}.example.com")));
        builder = builder
            .policy(format!("p{i}"), p)
            .route(RouteBuilder::new(format!("p{i}")).hosts([format!("tenant{i}.example.com")]));
    }
    let raw = start.elapsed();
    let start = Instant::now();
    let set = builder.build().expect("valid set");
    let built = start.elapsed();
    drop(builder);
    let start = Instant::now();
    let cors = Cors::with_set(set);
    let compiled = start.elapsed();
    let held1 = HELD.load(Ordering::Relaxed);
    let rss1 = rss_kib();

    let start = Instant::now();
    let hosts: Vec<String> = (0..POLICIES)
        .map(|i| format!("tenant{i}.example.com"))
        .collect();
    let origins: Vec<String> = (0..POLICIES)
        .map(|i| format!("https://app3.tenant{i}.example.com"))
        .collect();
    let held_strings = HELD.load(Ordering::Relaxed) - held1;
    for i in 0..POLICIES {
        let request = CorsRequest::new(b"OPTIONS")
            .origin(origins[i].as_bytes())
            .request_method(b"GET")
            .host(hosts[i].as_bytes())
            .path(b"/");
        let d = cors.decide(&request);
        assert!(d.is_allowed(), "tenant {i}");
        assert_eq!(d.policy_name(), format!("p{i}"));
    }
    let preflights = start.elapsed();
    let held2 = HELD.load(Ordering::Relaxed) - held_strings;
    let rss2 = rss_kib();
    let (_, cache_capacity) = cors.verdict_cache_usage();

    println!("{POLICIES} policies x 10 origins, {POLICIES} exact-host routes");
    println!("  builders assembled:        {raw:.2?}");
    println!("  PolicySetBuilder::build:   {built:.2?}");
    println!("  Cors::with_set (compile):  {compiled:.2?}");
    println!("  build + compile:           {:.2?}", built + compiled);
    println!(
        "  held after compile:        {:.1} MiB allocated, RSS +{:.1} MiB",
        mib(held1 - held0),
        (rss1 - rss0) as f64 / 1024.0
    );
    println!("  {POLICIES} preflights (one per policy): {preflights:.2?}");
    println!(
        "  held after the preflights: {:.1} MiB allocated, RSS +{:.1} MiB ({cache_capacity} verdict cache slots)",
        mib(held2 - held0),
        (rss2 - rss0) as f64 / 1024.0
    );
}
