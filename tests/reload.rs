//! Hot reload under load: readers decide continuously while a writer swaps between two
//! policies 1,000 times. Every decision must be exactly what one of the two generations gives,
//! and it must agree with the generation number the decision reports.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use corsgate::{Cors, CorsRequest, Policy};

fn policy_a() -> Policy {
    Policy::builder()
        .origins(["https://a.example", "https://*.shared.example"])
        .methods(["GET", "PUT"])
        .allow_headers(["x-a"])
        .max_age(60)
        .build()
        .unwrap()
}

fn policy_b() -> Policy {
    Policy::builder()
        .origins(["https://b.example", "https://*.shared.example"])
        .methods(["GET", "DELETE"])
        .allow_headers(["x-b"])
        .credentials(true)
        .build()
        .unwrap()
}

type Snapshot = (bool, Option<u16>, Vec<(String, String)>);

fn snapshot(
    cors: &Cors,
    method: &[u8],
    origin: &[u8],
    acrm: Option<&[u8]>,
    acrh: &[&[u8]],
) -> (u64, Snapshot) {
    let mut request = CorsRequest::new(method)
        .origin(origin)
        .request_headers(acrh);
    if let Some(m) = acrm {
        request = request.request_method(m);
    }
    let d = cors.decide(&request);
    let headers = d
        .headers()
        .map(|(h, v)| (h.as_str().to_owned(), v.to_str_lossy()))
        .collect();
    (
        d.generation(),
        (d.is_allowed(), d.status().map(|s| s.as_u16()), headers),
    )
}

type Probe = (
    &'static [u8],
    &'static [u8],
    Option<&'static [u8]>,
    &'static [&'static [u8]],
);

const PROBES: &[Probe] = &[
    (b"GET", b"https://a.example", None, &[]),
    (b"GET", b"https://b.example", None, &[]),
    (b"GET", b"https://x.shared.example", None, &[]),
    (b"OPTIONS", b"https://a.example", Some(b"PUT"), &[b"x-a"]),
    (b"OPTIONS", b"https://b.example", Some(b"DELETE"), &[b"x-b"]),
    (b"OPTIONS", b"https://x.shared.example", Some(b"PUT"), &[]),
    (
        b"OPTIONS",
        b"https://x.shared.example",
        Some(b"DELETE"),
        &[b"x-b"],
    ),
];

#[test]
fn readers_see_one_generation_or_the_other() {
    // What each policy answers, computed on quiet handles.
    let expect = |p: Policy| -> Vec<Snapshot> {
        let c = Cors::new(p);
        PROBES
            .iter()
            .map(|(m, o, a, h)| snapshot(&c, m, o, *a, h).1)
            .collect()
    };
    let (answers_a, answers_b) = (expect(policy_a()), expect(policy_b()));
    assert_ne!(answers_a, answers_b);

    let cors = Arc::new(Cors::new(policy_a()));
    let done = Arc::new(AtomicBool::new(false));
    let decisions = Arc::new(AtomicUsize::new(0));
    let readers = 3;
    let start = Arc::new(Barrier::new(readers + 1));
    let handles: Vec<_> = (0..readers)
        .map(|r| {
            let (cors, done, decisions, start) =
                (cors.clone(), done.clone(), decisions.clone(), start.clone());
            let (answers_a, answers_b) = (answers_a.clone(), answers_b.clone());
            std::thread::spawn(move || {
                start.wait();
                let mut i = r;
                let mut mine = 0usize;
                while !done.load(Ordering::Relaxed) {
                    let (m, o, a, h) = PROBES[i % PROBES.len()];
                    let (generation, got) = snapshot(&cors, m, o, a, h);
                    // Odd generations serve policy A, even ones policy B.
                    let expected = if generation % 2 == 1 {
                        &answers_a
                    } else {
                        &answers_b
                    };
                    assert_eq!(
                        got,
                        expected[i % PROBES.len()],
                        "generation {generation}, probe {i}"
                    );
                    i += 1;
                    mine += 1;
                    if mine % 64 == 0 {
                        decisions.fetch_add(64, Ordering::Relaxed);
                    }
                }
                decisions.fetch_add(mine % 64, Ordering::Relaxed);
            })
        })
        .collect();

    start.wait();
    for n in 0..1_000u64 {
        let reloaded = cors.reload(if n % 2 == 0 { policy_b() } else { policy_a() });
        assert!(reloaded.changed());
        assert_eq!(reloaded.generation(), n + 2);
        if n % 100 == 0 {
            std::thread::yield_now();
        }
    }
    // Decisions the readers completed while the writer was reloading: none of them waited.
    let during_reloads = decisions.load(Ordering::Relaxed);
    done.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("no reader failed");
    }
    assert_eq!(cors.generation(), 1_001);
    assert!(
        during_reloads > 1_000,
        "readers made only {during_reloads} decisions during 1,000 reloads"
    );
}

#[test]
fn a_failed_reload_keeps_the_serving_policy() {
    let cors = Cors::new(policy_a());
    let mut broken = Policy::builder();
    broken
        .origins(["https://b.example/app", "*"])
        .credentials(true)
        .max_age(999_999);
    let err = cors.try_reload(&broken).unwrap_err();
    assert_eq!(err.errors().count(), 3);
    assert_eq!(cors.generation(), 1);
    let d = cors.decide(&CorsRequest::new(b"GET").origin(b"https://a.example"));
    assert!(d.is_allowed());
    assert_eq!(d.generation(), 1);
}

#[test]
fn reloading_the_same_settings_changes_nothing() {
    let cors = Cors::new(policy_a());
    let reloaded = cors.reload(policy_a());
    assert!(!reloaded.changed());
    assert_eq!(reloaded.generation(), 1);
    let reloaded = cors.reload(policy_b());
    assert!(reloaded.changed());
    assert_eq!(reloaded.generation(), 2);
}

#[test]
fn a_reload_starts_with_an_empty_verdict_cache() {
    let cors = Cors::new(policy_a());
    let lines: [&[u8]; 1] = [b"x-a"];
    let request = CorsRequest::new(b"OPTIONS")
        .origin(b"https://x.shared.example")
        .request_method(b"PUT")
        .request_headers(&lines);
    assert!(cors.decide(&request).is_allowed());
    assert_eq!(cors.verdict_cache_usage().0, 1);
    cors.reload(policy_b());
    assert_eq!(cors.verdict_cache_usage().0, 0);
    // Policy B refuses both PUT and x-a: a stale verdict would have allowed it.
    assert!(!cors.decide(&request).is_allowed());
}
