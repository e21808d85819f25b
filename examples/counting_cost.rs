//! Instructions per decision, counted rather than timed: five decisions (an exact hit, an
//! exact miss, a wildcard hit, a preflight, a request without Origin) repeated `ROUNDS` times
//! (default 100,000). Run it under cachegrind twice and subtract:
//!
//! ```text
//! cargo build --release --example counting_cost
//! ROUNDS=0      valgrind --tool=cachegrind --cache-sim=no target/release/examples/counting_cost
//! ROUNDS=100000 valgrind --tool=cachegrind --cache-sim=no target/release/examples/counting_cost
//! ```
//!
//! (difference of the two `I refs`) / 100,000 = instructions per round of 5 decisions.
//! `COUNTING=0` turns the engine's counters off (`Cors::set_counting(false)`), to see what
//! counting costs.

use std::hint::black_box;

use corsgate::{Cors, CorsRequest, Policy};

fn main() {
    let rounds: u64 = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(100_000);
    let counting = std::env::var("COUNTING").map_or(true, |v| v != "0");
    let policy = Policy::builder()
        .origins(["https://app.example.com", "https://*.tenant.example.com"])
        .methods(["GET", "PUT"])
        .allow_headers(["content-type"])
        .build();
    let cors = match policy {
        Ok(policy) => Cors::new(policy),
        Err(error) => {
            eprintln!("{error}");
            std::process::exit(1);
        }
    };
    cors.set_counting(counting);
    let requests = [
        CorsRequest::new(b"GET").origin(b"https://app.example.com"),
        CorsRequest::new(b"GET").origin(b"https://evil.example.com"),
        CorsRequest::new(b"GET").origin(b"https://a.tenant.example.com"),
        CorsRequest::new(b"OPTIONS")
            .origin(b"https://app.example.com")
            .request_method(b"PUT")
            .request_headers(&[b"content-type"]),
        CorsRequest::new(b"GET"),
    ];
    let mut allowed = 0u64;
    for _ in 0..rounds {
        for request in &requests {
            allowed += u64::from(cors.decide(black_box(request)).is_allowed());
        }
    }
    println!("{allowed} allowed of {} (counting {counting})", rounds * 5);
}
