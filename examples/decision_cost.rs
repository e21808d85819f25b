//! A fixed workload of single-policy decisions, for counting instructions with
//! `valgrind --tool=cachegrind` (deterministic where timings on a shared machine are not):
//! `cargo build --release --example decision_cost`, then run it under cachegrind with
//! `ROUNDS=0` and with `ROUNDS=N`; the difference divided by N is the cost of one round
//! (one decision of each kind below). It uses only the API every version since the first has,
//! so that an older checkout can run the same file.

use std::hint::black_box;

use corsgate::{Cors, CorsRequest, Policy};

fn main() {
    let rounds: u64 = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(100_000);
    let mut origins: Vec<String> = (0..1_000)
        .map(|i| format!("https://app{i}.example.com"))
        .collect();
    origins.push("https://*.tenant.example.net".to_owned());
    let policy = Policy::builder()
        .origins(origins)
        .methods(["GET", "PUT"])
        .allow_headers(["content-type", "x-token"])
        .credentials(true)
        .max_age(600)
        .build()
        .expect("the workload's policy is valid");
    let cors = Cors::new(policy);
    let mut map = http::HeaderMap::new();
    map.insert(
        http::header::ORIGIN,
        http::HeaderValue::from_static("https://app500.example.com"),
    );
    let get = http::Method::GET;
    let preflight_headers: [&[u8]; 1] = [b"content-type,x-token"];
    let mut allowed = 0u64;
    for _ in 0..rounds {
        for origin in [
            &b"https://app999.example.com"[..],
            b"https://evil.example.com",
            b"https://a.b.tenant.example.net",
        ] {
            let request = CorsRequest::new(black_box(b"GET")).origin(black_box(origin));
            allowed += u64::from(cors.decide(&request).is_allowed());
        }
        let request = CorsRequest::from_headers(black_box(&get), black_box(&map));
        allowed += u64::from(cors.decide(&request).is_allowed());
        let request = CorsRequest::new(black_box(b"OPTIONS"))
            .origin(black_box(b"https://app1.example.com"))
            .request_method(b"PUT")
            .request_headers(&preflight_headers);
        allowed += u64::from(cors.decide(&request).is_allowed());
    }
    black_box(allowed);
}
