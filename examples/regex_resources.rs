//! Time and peak memory of `regex:` entries at scale, and the cost of hostile Origins against
//! them: the figures in BENCHMARKS.md ("Regex entries at scale").
//!
//! ```sh
//! cargo run --release --example regex_resources -- build 2000 credentials   # one build per process
//! cargo run --release --example regex_resources -- hostile 1000             # decisions
//! ```
//!
//! `build N [credentials]` builds (and compiles) a policy of N regex entries once and prints
//! the wall time and the process's peak resident memory (`VmHWM`); run it once per size, since
//! the peak never goes down. `hostile N` builds N regex entries without credentials and
//! decides a stream of distinct near-miss Origins on one thread, printing the mean and
//! worst time per decision and the thread's regex cache size.

use std::time::{Duration, Instant};

use corsgate::{Cors, CorsRequest, Policy};

/// Three shapes of entry, cycled: a PR-preview host, an alternation of service names with an
/// optional port, a tenant label.
fn entries(n: usize) -> Vec<String> {
    if std::env::var("FAMILY").as_deref() == Ok("loop") {
        return (0..n)
            .map(|i| format!(r"regex:https://([a-z0-9-]+\.)*t{i}\.example\.com"))
            .collect();
    }
    (0..n)
        .map(|i| match i % 3 {
            0 => format!(r"regex:https://pr-[0-9]+\.r{i}\.example\.net"),
            1 => format!(r"regex:https://(app|api|www)\.t{i}\.example\.com(:[0-9]{{2,5}})?"),
            _ => format!(r"regex:https://[a-z0-9-]+\.s{i}\.example\.org"),
        })
        .collect()
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

struct Xorshift(u64);

impl Xorshift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Distinct Origins that walk deep into many entries before they miss: long labels of the
/// entries' own characters, their literal parts cut short or bent, odd ports.
fn hostile(rng: &mut Xorshift, n: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-";
    let mut host = String::new();
    let labels = 1 + rng.below(4);
    for l in 0..labels {
        if l > 0 {
            host.push('.');
        }
        let len = 1 + rng.below(60);
        for _ in 0..len {
            host.push(char::from(CHARS[rng.below(CHARS.len() - 1)]));
        }
    }
    let i = rng.below(n.max(1));
    let tail = match rng.below(6) {
        0 => format!(".r{i}.example.ne"),
        1 => format!(".t{i}.example.co"),
        2 => format!(".s{i}x.example.org"),
        3 => format!(".pr-{i}.r{i}.example"),
        4 => format!(".t{i}.example.com.{}", rng.below(1000)),
        _ => format!(".s{}{i}.example.org", rng.below(10)),
    };
    host.push_str(&tail);
    host.truncate(253);
    let host = host.trim_end_matches(['.', '-']).to_owned();
    match rng.below(3) {
        0 => format!("https://{host}"),
        1 => format!("https://{host}:{}", 1 + rng.below(65535)),
        _ => format!("http://{host}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map(String::as_str).unwrap_or("build");
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let credentials = args.iter().any(|a| a == "credentials");
    match mode {
        "build" => {
            let origins = entries(n);
            let start = Instant::now();
            let result = Policy::builder()
                .origins(origins)
                .credentials(credentials)
                .build()
                .map(Cors::new);
            let elapsed = start.elapsed();
            match result {
                Ok(_) => println!(
                    "build {n} regex entries, credentials {credentials}: {:.3} s, peak RSS {:.1} MiB",
                    elapsed.as_secs_f64(),
                    peak_rss_mib()
                ),
                Err(e) => println!(
                    "build {n} regex entries, credentials {credentials}: refused in {:.3} s, peak RSS {:.1} MiB: {}",
                    elapsed.as_secs_f64(),
                    peak_rss_mib(),
                    e.errors().next().map(|i| i.to_string()).unwrap_or_default()
                ),
            }
        }
        "hostile" => {
            let cors = Cors::new(Policy::new(entries(n)).expect("the entries build"));
            let mut rng = Xorshift(0x9e37_79b9_7f4a_7c15);
            let requests = 20_000;
            let origins: Vec<String> = (0..requests).map(|_| hostile(&mut rng, n)).collect();
            let mut worst = Duration::ZERO;
            let mut allowed = 0usize;
            let mut times = Vec::with_capacity(requests);
            let start = Instant::now();
            for origin in &origins {
                let t = Instant::now();
                let d = cors.decide(&CorsRequest::new(b"GET").origin(origin.as_bytes()));
                allowed += usize::from(d.is_allowed());
                let e = t.elapsed();
                worst = worst.max(e);
                times.push(e);
            }
            let total = start.elapsed();
            times.sort();
            println!(
                "  p50 {:?} p99 {:?} p999 {:?}",
                times[requests / 2],
                times[requests * 99 / 100],
                times[requests * 999 / 1000]
            );
            let (cache, ceiling) = cors.regex_memory_usage();
            println!(
                "hostile Origins against {n} regex entries: {requests} distinct, mean {:.2} µs, \
                 worst {:.1} µs, {allowed} allowed; regex DFAs {:.1} MiB (cap {} MiB)",
                total.as_secs_f64() * 1e6 / requests as f64,
                worst.as_secs_f64() * 1e6,
                cache as f64 / (1 << 20) as f64,
                ceiling >> 20
            );
            // The same Origins again: the cache now holds what they need.
            let start = Instant::now();
            for origin in &origins {
                let _ = cors.decide(&CorsRequest::new(b"GET").origin(origin.as_bytes()));
            }
            println!(
                "  second pass: mean {:.2} µs",
                start.elapsed().as_secs_f64() * 1e6 / requests as f64
            );
        }
        "dense" => {
            use regex_automata::dfa::{dense, StartKind};
            use regex_automata::nfa::thompson;
            use regex_automata::MatchKind;
            let explosive = args.iter().any(|a| a == "explosive");
            let pats: Vec<String> = if explosive {
                (0..n)
                    .map(|i| format!(r"^(?:https://[a-z]*a[a-z]{{12}}\.t{i}\.example\.com)$"))
                    .collect()
            } else {
                entries(n)
                    .into_iter()
                    .map(|e| format!("^(?:{})$", e.strip_prefix("regex:").unwrap()))
                    .collect()
            };
            let start = Instant::now();
            let nfa = thompson::Compiler::new()
                .configure(
                    thompson::Config::new()
                        .which_captures(thompson::WhichCaptures::None)
                        .nfa_size_limit(None),
                )
                .syntax(
                    regex_automata::util::syntax::Config::new()
                        .unicode(false)
                        .utf8(false),
                )
                .build_many(&pats)
                .unwrap();
            let nfa_time = start.elapsed();
            let start = Instant::now();
            let dfa = dense::Builder::new()
                .configure(
                    dense::Config::new()
                        .match_kind(MatchKind::LeftmostFirst)
                        .start_kind(StartKind::Anchored)
                        .minimize(false)
                        .dfa_size_limit(Some(64 << 20))
                        .determinize_size_limit(Some(64 << 20)),
                )
                .build_from_nfa(&nfa);
            let t = start.elapsed();
            match dfa {
                Ok(dfa) => println!(
                    "dense {n} explosive={explosive}: nfa {:?} ({} states), dfa {:?}, {} states, {:.1} MiB, peak RSS {:.1} MiB",
                    nfa_time,
                    nfa.states().len(),
                    t,
                    regex_automata::dfa::Automaton::pattern_len(&dfa),
                    dfa.memory_usage() as f64 / (1 << 20) as f64,
                    peak_rss_mib()
                ),
                Err(e) => println!("dense {n} explosive={explosive}: failed after {t:?}: {e}; peak RSS {:.1} MiB", peak_rss_mib()),
            }
        }
        "groups" => {
            use regex_automata::dfa::{dense, StartKind};
            use regex_automata::nfa::thompson;
            use regex_automata::MatchKind;
            let size: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(64);
            let limit: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1024) << 10;
            let explosive = args.iter().any(|a| a == "explosive");
            let pats: Vec<String> = if explosive {
                (0..n)
                    .map(|i| format!(r"^(?:https://[a-z]*a[a-z]{{12}}\.t{i}\.example\.com)$"))
                    .collect()
            } else {
                entries(n)
                    .into_iter()
                    .map(|e| format!("^(?:{})$", e.strip_prefix("regex:").unwrap()))
                    .collect()
            };
            let start = Instant::now();
            let mut total = 0usize;
            let mut failed = 0usize;
            let mut worst = Duration::ZERO;
            for chunk in pats.chunks(size) {
                let t = Instant::now();
                let nfa = thompson::Compiler::new()
                    .configure(
                        thompson::Config::new().which_captures(thompson::WhichCaptures::None),
                    )
                    .syntax(
                        regex_automata::util::syntax::Config::new()
                            .unicode(false)
                            .utf8(false),
                    )
                    .build_many(chunk)
                    .unwrap();
                let dfa = dense::Builder::new()
                    .configure(
                        dense::Config::new()
                            .match_kind(MatchKind::LeftmostFirst)
                            .start_kind(StartKind::Anchored)
                            .minimize(false)
                            .dfa_size_limit(Some(limit))
                            .determinize_size_limit(Some(limit)),
                    )
                    .build_from_nfa(&nfa);
                worst = worst.max(t.elapsed());
                match dfa {
                    Ok(dfa) => total += dfa.memory_usage(),
                    Err(_) => failed += 1,
                }
            }
            println!(
                "groups {n} of {size}, limit {} KiB, explosive={explosive}: {:?} total, worst group {:?}, {:.1} MiB of DFAs, {failed} groups over the limit, peak RSS {:.1} MiB",
                limit >> 10,
                start.elapsed(),
                worst,
                total as f64 / (1 << 20) as f64,
                peak_rss_mib()
            );
        }
        "explosive" => {
            // Experiment: entries whose DFA explodes.
            let origins: Vec<String> = (0..n)
                .map(|i| format!(r"regex:https://[a-z]*a[a-z]{{12}}\.t{i}\.example\.com"))
                .collect();
            let start = Instant::now();
            let built = Policy::new(origins);
            println!(
                "explosive {n}: build {:?}: {:?}",
                start.elapsed(),
                built.as_ref().map(|_| ()).map_err(|e| e.errors().count())
            );
            let Ok(policy) = built else { return };
            let cors = Cors::new(policy);
            let mut rng = Xorshift(0x9e37_79b9_7f4a_7c15);
            let requests = 2_000;
            let origins: Vec<String> = (0..requests)
                .map(|_| {
                    let mut h = String::from("https://");
                    for _ in 0..63 {
                        h.push(if rng.below(2) == 0 { 'a' } else { 'b' });
                    }
                    h.push_str(".t5.example.co");
                    h
                })
                .collect();
            let mut times: Vec<Duration> = Vec::new();
            for origin in &origins {
                let t = Instant::now();
                let _ = cors.decide(&CorsRequest::new(b"GET").origin(origin.as_bytes()));
                times.push(t.elapsed());
            }
            times.sort();
            println!(
                "explosive {n}: median {:?} p99 {:?} max {:?}; cache {:.1} MiB",
                times[times.len() / 2],
                times[times.len() * 99 / 100],
                times[times.len() - 1],
                cors.regex_memory_usage().0 as f64 / (1 << 20) as f64
            );
        }
        _ => eprintln!("usage: regex_resources build N [credentials] | hostile N"),
    }
}
