//! Peak memory (and wall time) of building a policy of `regex:` entries, and the time of
//! hostile Origins against them, one measurement per process: the memory figures of
//! BENCHMARKS.md ("Regex entries at scale"), which criterion cannot take.
//!
//! ```sh
//! cargo run --release --example regex_resources -- build mixed 2000 credentials
//! cargo run --release --example regex_resources -- hostile loop 1000
//! ```
//!
//! `build FAMILY N [credentials]` builds and compiles a policy of N entries of `mixed_regexes`
//! or `loop_regexes` (benches/common) once, and prints the wall time and the process's peak
//! resident memory (`VmHWM`); run one size per process, since the peak never goes down.
//! `hostile FAMILY N` decides 20,000 distinct hostile Origins against N entries on one thread
//! and prints the distribution of the time per decision and the size of the regex DFAs, which
//! deciding never changes.

#[path = "../benches/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use corsgate::{Cors, CorsRequest, Policy};

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map(String::as_str).unwrap_or("build");
    let family = args.get(1).map(String::as_str).unwrap_or("mixed");
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let credentials = args.iter().any(|a| a == "credentials");
    let entries = match family {
        "loop" => common::loop_regexes(n),
        _ => common::mixed_regexes(n),
    };
    match mode {
        "build" => {
            let start = Instant::now();
            let built = Policy::builder()
                .origins(entries)
                .credentials(credentials)
                .build()
                .map(Cors::new);
            let elapsed = start.elapsed().as_secs_f64();
            let outcome = match &built {
                Ok(cors) => format!(
                    "built; regex DFAs {:.1} MiB",
                    cors.regex_memory_usage().0 as f64 / (1 << 20) as f64
                ),
                Err(e) => format!(
                    "refused: {}",
                    e.errors().next().map(|i| i.to_string()).unwrap_or_default()
                ),
            };
            println!(
                "build {n} {family} regex entries, credentials {credentials}: {elapsed:.3} s, \
                 peak RSS {:.1} MiB, {outcome}",
                peak_rss_mib()
            );
        }
        "hostile" => {
            let cors = Cors::new(Policy::new(entries).expect("the entries build"));
            let before = cors.regex_memory_usage();
            let origins = common::hostile_origins(n, 20_000);
            let mut times: Vec<Duration> = Vec::with_capacity(origins.len());
            let mut allowed = 0usize;
            for origin in &origins {
                let t = Instant::now();
                let d = cors.decide(&CorsRequest::new(b"GET").origin(origin.as_bytes()));
                allowed += usize::from(d.is_allowed());
                times.push(t.elapsed());
            }
            times.sort();
            let mean = times.iter().sum::<Duration>() / times.len() as u32;
            let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
            assert_eq!(cors.regex_memory_usage(), before);
            println!(
                "hostile Origins against {n} {family} regex entries: {} distinct, {allowed} \
                 allowed; mean {mean:?}, p50 {:?}, p99 {:?}, p99.9 {:?}, max {:?}; regex DFAs \
                 {:.1} MiB before and after",
                times.len(),
                at(0.5),
                at(0.99),
                at(0.999),
                at(1.0),
                before.0 as f64 / (1 << 20) as f64
            );
        }
        _ => eprintln!("usage: regex_resources build|hostile mixed|loop N [credentials]"),
    }
}
