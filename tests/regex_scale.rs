//! `regex:` entries at scale: thousands of entries with credentials build, hostile Origins
//! against a thousand entries add no memory (the DFAs are built with the policy and shared),
//! and what passes a stated cap is refused with a clear error. Memory is asserted through
//! `Cors::regex_memory_usage`; time is measured in `benches/regex.rs`, never asserted here.
//! The workloads are the benchmarks' (`benches/common`).

#[path = "../benches/common/mod.rs"]
mod workloads;

use corsgate::origin::regex::{MAX_REGEX_ENTRIES, MAX_SET_DFA_BYTES};
use corsgate::reference::Reference;
use corsgate::{Cors, CorsRequest, IssueKind, Policy};
use workloads::{hostile_origins, mixed_regexes as entries};

#[test]
fn two_thousand_credentialed_regexes_are_proven_and_compiled() {
    let origins = entries(2_000);
    let policy = Policy::builder()
        .origins(origins)
        .credentials(true)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let cors = Cors::new(policy);
    let (used, cap) = cors.regex_memory_usage();
    assert!(used > 0 && used <= cap, "{used} of {cap}");
    let d = cors.decide(&CorsRequest::new(b"GET").origin(b"https://www.t1999.example.com:8443"));
    assert_eq!(d.matched_entry().map(|e| e.index()), Some(1999));
}

#[test]
fn hostile_origins_against_a_thousand_regexes_add_no_memory() {
    let policy = Policy::new(entries(1_000)).unwrap();
    let reference = Reference::new(&policy);
    let cors = Cors::new(policy.clone());
    let before = cors.regex_memory_usage();
    assert!(before.0 <= MAX_SET_DFA_BYTES);
    let mut allowed = 0;
    for (i, origin) in hostile_origins(1_000, 20_000).into_iter().enumerate() {
        let decision = cors.decide(&CorsRequest::new(b"GET").origin(origin.as_bytes()));
        allowed += usize::from(decision.is_allowed());
        if i % 40 == 0 {
            let expected = reference.decide(b"GET", &[(b"origin", origin.as_bytes())]);
            assert_eq!(decision.is_allowed(), expected.allowed, "{origin}");
        }
    }
    assert!(allowed > 0, "the hostile stream should contain some hits");
    // Nothing grew: no per-thread cache, no lazily built state.
    assert_eq!(cors.regex_memory_usage(), before);
    // From other threads too.
    std::thread::scope(|s| {
        for _ in 0..2 {
            let cors = &cors;
            s.spawn(move || {
                for origin in hostile_origins(1_000, 2_000) {
                    let _ = cors.decide(&CorsRequest::new(b"GET").origin(origin.as_bytes()));
                }
            });
        }
    });
    assert_eq!(cors.regex_memory_usage(), before);
}

#[test]
fn more_regex_entries_than_the_cap_are_refused() {
    let err = Policy::new(entries(MAX_REGEX_ENTRIES + 1)).unwrap_err();
    let issue = err.errors().next().unwrap();
    assert_eq!(issue.kind(), IssueKind::InvalidRegex);
    assert_eq!(issue.index(), Some(MAX_REGEX_ENTRIES));
    assert!(
        issue.message().contains(&MAX_REGEX_ENTRIES.to_string()),
        "{issue}"
    );
    assert!(issue.hint().unwrap().contains("exact"), "{issue}");
    assert!(Policy::new(entries(MAX_REGEX_ENTRIES)).is_ok());
}

#[test]
fn exploding_regexes_are_refused_each_by_name_or_together() {
    // Each of these needs a DFA of 2^20 states to match in one pass.
    let origins: Vec<String> = (0..4)
        .map(|i| format!(r"regex:https://[a-z]*a[a-z]{{20}}\.t{i}\.example\.com"))
        .collect();
    let err = Policy::new(origins).unwrap_err();
    let indices: Vec<Option<usize>> = err.errors().map(|i| i.index()).collect();
    assert_eq!(indices, [Some(0), Some(1), Some(2), Some(3)], "{err}");
    for issue in err.errors() {
        assert!(issue.message().contains("bounded time"), "{issue}");
    }
    // Many of them exhaust the policy's budget: one error for the set, quickly.
    let many: Vec<String> = (0..200)
        .map(|i| format!(r"regex:https://[a-z]*a[a-z]{{20}}\.t{i}\.example\.com"))
        .collect();
    let err = Policy::new(many).unwrap_err();
    assert!(
        err.errors()
            .any(|i| i.index().is_none() && i.message().contains("MiB")),
        "{err}"
    );
}

/// A reload with a regex the proof refuses returns every problem and leaves the serving
/// policy answering, as `corsgate serve` relies on when a file changes.
#[test]
fn a_refused_regex_never_replaces_the_serving_policy() {
    let cors = Cors::new(
        Policy::builder()
            .origins([r"regex:https://(app|api)\.example\.com"])
            .credentials(true)
            .build()
            .unwrap(),
    );
    for leaking in [
        r"regex:https://.*:(8443|9443)",
        r"regex:https?://app\.example\.com:\d+",
        r"regex:https://([a-z0-9-]+\.)+amazonaws\.com",
        r"regex:https://(www|app).(example\.com|example\.net)",
    ] {
        let mut builder = Policy::builder();
        builder.origins([leaking]).credentials(true);
        let err = cors.try_reload(&builder).unwrap_err();
        assert!(err.errors().next().unwrap().hint().is_some(), "{err}");
        assert_eq!(cors.generation(), 1);
        let app = cors.decide(&CorsRequest::new(b"GET").origin(b"https://app.example.com"));
        assert!(app.is_allowed());
        let evil = cors.decide(&CorsRequest::new(b"GET").origin(b"https://evil.com:8443"));
        assert!(!evil.is_allowed());
    }
}
