//! Prints the table of benchmark ratios from criterion's results in `target/criterion`:
//! engine against the floor, flatness across allowlist sizes, preflights, corsgate's layer
//! against tower-http's, threads and reloads, compile times, regex entries at scale — each with
//! its target.
//!
//! `scripts/bench-quick` runs a quick version of the suite and then this.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Median nanoseconds per iteration, by criterion's full benchmark id.
fn medians(dir: &Path, out: &mut HashMap<String, f64>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") {
            let read = |f: &str| -> Option<serde_json::Value> {
                serde_json::from_str(&std::fs::read_to_string(path.join(f)).ok()?).ok()
            };
            if let (Some(bench), Some(est)) = (read("benchmark.json"), read("estimates.json")) {
                if let (Some(id), Some(median)) = (
                    bench["full_id"].as_str(),
                    est["median"]["point_estimate"].as_f64(),
                ) {
                    out.insert(id.to_owned(), median);
                }
            }
        } else {
            medians(&path, out);
        }
    }
}

struct Table {
    m: HashMap<String, f64>,
    rows: Vec<[String; 4]>,
    missed: usize,
    /// The medians behind the last ratio, shown beside it.
    note: String,
}

impl Table {
    fn get(&self, id: &str) -> Option<f64> {
        self.m.get(id).copied()
    }

    fn row(&mut self, what: &str, value: Option<f64>, unit: &str, target: Option<(&str, f64)>) {
        let (shown, verdict) = match value {
            None => ("not measured".to_owned(), "-".to_owned()),
            Some(v) => {
                let shown = match unit {
                    "x" => format!("{v:.2}x"),
                    "%" => format!("{v:+.1}%"),
                    "ns" => format!("{v:.1} ns"),
                    "ms" => format!("{v:.1} ms"),
                    _ => format!("{v:.2}"),
                };
                let verdict = match target {
                    None => String::new(),
                    Some((op, limit)) => {
                        let ok = match op {
                            "<=" => v <= limit,
                            ">=" => v >= limit,
                            _ => v < limit,
                        };
                        if !ok {
                            self.missed += 1;
                        }
                        format!("{} {op} {limit}", if ok { "met" } else { "MISSED" })
                    }
                };
                (shown, verdict)
            }
        };
        let note = std::mem::take(&mut self.note);
        self.rows.push([what.to_owned(), shown, verdict, note]);
    }

    fn ratio(&mut self, a: &str, b: &str) -> Option<f64> {
        let (x, y) = (self.get(a)?, self.get(b)?);
        self.note = format!("{x:.1} ns / {y:.1} ns");
        Some(x / y)
    }
}

fn main() {
    let root = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/criterion"));
    let mut m = HashMap::new();
    medians(&root, &mut m);
    if m.is_empty() {
        eprintln!(
            "no criterion results under {}; run `cargo bench --all-features` first",
            root.display()
        );
        std::process::exit(2);
    }
    let mut t = Table {
        m,
        rows: Vec::new(),
        missed: 0,
        note: String::new(),
    };

    for n in ["1", "100", "10000", "100000"] {
        for kind in ["hit", "miss"] {
            for (input, shown, limit) in [("raw", "raw", 2.0), ("header_map", "HeaderMap", 4.0)] {
                let r = t.ratio(
                    &format!("exact_{kind}/{input}/{n}"),
                    &format!("exact_{kind}/floor/{n}"),
                );
                t.row(
                    &format!("exact {kind}, {n} origins: {shown} / floor"),
                    r,
                    "x",
                    Some(("<=", limit)),
                );
            }
        }
    }
    let r = t.ratio("exact_hit/raw/100000", "exact_hit/raw/1");
    t.row(
        "flatness: exact hit, 100,000 / 1 origins",
        r,
        "x",
        Some(("<=", 1.3)),
    );
    for labels in ["2_labels", "6_labels"] {
        let r = t.ratio(
            &format!("wildcard_hit/raw/100000/{labels}"),
            &format!("wildcard_hit/raw/10/{labels}"),
        );
        t.row(
            &format!("flatness: wildcard hit ({labels}), 100,000 / 10 patterns"),
            r,
            "x",
            Some(("<=", 1.3)),
        );
        let r = t.ratio(
            &format!("wildcard_hit/raw/100000/{labels}"),
            &format!("wildcard_hit/floor/100000/{labels}"),
        );
        t.row(
            &format!("wildcard hit ({labels}), 100,000 patterns: raw / floor"),
            r,
            "x",
            None,
        );
    }
    for n in ["1", "1000"] {
        let r = t.get(&format!("regex_hit/raw/{n}"));
        t.row(&format!("regex hit, {n} regex entries"), r, "ns", None);
        let r = t.ratio(
            &format!("reference/reference/{n}"),
            &format!("reference/raw/{n}"),
        );
        t.row(&format!("reference / engine, {n} origins"), r, "x", None);
    }
    let r = t.ratio("any/raw/star", "any/floor/star");
    t.row("`*`: raw / floor", r, "x", None);
    let r = t.ratio("malformed/raw/garbage", "malformed/floor/garbage");
    t.row("malformed Origin: raw / floor", r, "x", None);

    let r = t.ratio("preflight/warm/allowed/browser_1", "preflight/floor");
    t.row(
        "warm allowed preflight (1 header) / floor",
        r,
        "x",
        Some(("<=", 3.0)),
    );
    let r = t.ratio("preflight/warm/allowed/browser_8", "preflight/floor");
    t.row("warm allowed preflight (8 headers) / floor", r, "x", None);
    let r = t.get("preflight/hostile/4KiB_commas");
    t.row("hostile: 4 KiB of commas", r, "ns", Some(("<=", 500.0)));
    let r = t.get("preflight/cold/hostile/distinct_never_cached");
    t.row(
        "hostile: distinct values, never cached",
        r,
        "ns",
        Some(("<=", 500.0)),
    );
    let r = t.ratio(
        "preflight/hostile/4KiB_commas",
        "preflight/cold/allowed/browser_1",
    );
    t.row(
        "4 KiB of commas / cold allowed preflight",
        r,
        "x",
        Some(("<=", 5.0)),
    );
    let r = t.ratio(
        "preflight/cold/hostile/distinct_never_cached",
        "preflight/cold/allowed/browser_1",
    );
    t.row(
        "distinct hostile / cold allowed preflight",
        r,
        "x",
        Some(("<=", 5.0)),
    );

    for (case, target) in [
        ("one_origin", 2.0),
        ("list_1/last", 0.0),
        ("list_100/last", 0.0),
        ("list_10000/last", 20.0),
        ("list_10000/miss", 20.0),
        ("suffix_rule", 0.0),
        ("preflight_2_headers", 0.0),
    ] {
        let net = |who: &str| -> Option<f64> {
            Some(t.get(&format!("layer/{who}/{case}"))? - t.get(&format!("layer/bare/{case}"))?)
        };
        let (theirs, ours) = (net("tower_http"), net("corsgate"));
        if let (Some(a), Some(b)) = (theirs, ours) {
            t.note = format!("{a:.0} ns / {b:.0} ns net of the bare service");
        }
        let r = theirs.zip(ours).map(|(a, b)| a / b);
        let target = (target > 0.0).then_some((">=", target));
        t.row(
            &format!("layer {case}: tower-http / corsgate (minus bare)"),
            r,
            "x",
            target,
        );
    }

    let one = t.get("throughput/decide/1_threads");
    let two = t.get("throughput/decide/2_threads");
    if let (Some(a), Some(b)) = (one, two) {
        t.note = format!("{:.1} vs {:.1} M decisions/s", 1e3 / a, 2e3 / b);
    }
    // Each iteration is one decision per thread: throughput ratio = 2 * t1 / t2.
    t.row(
        "throughput: 2 threads / 1 thread",
        one.zip(two).map(|(a, b)| 2.0 * a / b),
        "x",
        Some((">=", 1.8)),
    );
    for threads in ["1", "2"] {
        let base = t.get(&format!("throughput/decide/{threads}_threads"));
        let loaded = t.get(&format!(
            "throughput/decide/{threads}_threads_reloading_every_ms"
        ));
        t.row(
            &format!("throughput cost of reloading every ms, {threads} thread(s)"),
            base.zip(loaded).map(|(b, l)| (l / b - 1.0) * 100.0),
            "%",
            Some(("<", 5.0)),
        );
    }
    for id in ["exact_1000", "exact_100000", "wildcard_10000", "regex_100"] {
        let v = t
            .get(&format!("compile/build_and_compile/{id}"))
            .map(|ns| ns / 1e6);
        let target = (id == "exact_100000").then_some(("<", 200.0));
        t.row(&format!("build + compile {id}"), v, "ms", target);
    }

    for (family, n) in [
        ("mixed", 1000),
        ("mixed", 2000),
        ("mixed", 4096),
        ("loop", 1000),
    ] {
        for kind in ["plain", "credentials"] {
            let v = t
                .get(&format!("regex_build/{family}_{kind}/{n}"))
                .map(|ns| ns / 1e6);
            let target =
                (family == "mixed" && n == 2000 && kind == "credentials").then_some(("<", 3000.0));
            t.row(
                &format!("build + compile {n} {family} regex entries, {kind}"),
                v,
                "ms",
                target,
            );
        }
    }
    for id in [
        "preview",
        "any_depth",
        "any_port",
        "hosting_domain",
        "past_the_budget",
    ] {
        let v = t.get(&format!("regex_proof/{id}")).map(|ns| ns / 1e6);
        t.row(&format!("prove one regex: {id}"), v, "ms", None);
    }
    for (family, n) in [
        ("mixed", 100),
        ("mixed", 1000),
        ("mixed", 4096),
        ("loop", 1000),
    ] {
        let v = t.get(&format!("regex_hostile/{family}/{n}"));
        let target = (n == 1000).then_some(("<=", 50_000.0));
        t.row(
            &format!("hostile Origin against {n} {family} regex entries"),
            v,
            "ns",
            target,
        );
    }

    println!("| measure | value | target | medians |");
    println!("|---|---|---|---|");
    for [what, value, verdict, note] in &t.rows {
        println!("| {what} | {value} | {verdict} | {note} |");
    }
    println!("\n{} target(s) missed", t.missed);
}
