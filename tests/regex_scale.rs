//! `regex:` entries at scale: thousands of entries with credentials build, hostile Origins
//! against a thousand entries add no memory (the DFAs are built with the policy and shared),
//! and what passes a stated cap is refused with a clear error. Memory is asserted through
//! `Cors::regex_memory_usage`; time is measured in `benches/regex.rs`, never asserted here.

use corsgate::origin::regex::{MAX_REGEX_ENTRIES, MAX_SET_DFA_BYTES};
use corsgate::reference::Reference;
use corsgate::{Cors, CorsRequest, IssueKind, Policy};

/// Three shapes of entry, cycled (the same as `benches/regex.rs`).
fn entries(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| match i % 3 {
            0 => format!(r"regex:https://pr-[0-9]+\.r{i}\.example\.net"),
            1 => format!(r"regex:https://(app|api|www)\.t{i}\.example\.com(:[0-9]{{2,5}})?"),
            _ => format!(r"regex:https://[a-z0-9-]+\.s{i}\.example\.org"),
        })
        .collect()
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

/// Near misses that walk deep into many entries: long labels of their characters, their
/// literal parts cut short or bent, odd ports.
fn hostile(rng: &mut Xorshift, n: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-";
    let mut host = String::new();
    for l in 0..1 + rng.below(4) {
        if l > 0 {
            host.push('.');
        }
        for _ in 0..1 + rng.below(60) {
            host.push(char::from(CHARS[rng.below(CHARS.len() - 1)]));
        }
    }
    let i = rng.below(n);
    host.push_str(&match rng.below(5) {
        0 => format!(".r{i}.example.ne"),
        1 => format!(".t{i}.example.co"),
        2 => format!(".s{i}x.example.org"),
        3 => format!(".t{i}.example.com.{}", rng.below(1000)),
        _ => format!(".s{i}.example.org"),
    });
    match rng.below(3) {
        0 => format!("https://{host}"),
        1 => format!("https://{host}:{}", 1 + rng.below(65535)),
        _ => format!("http://{host}"),
    }
}

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
    let mut rng = Xorshift(0x2545_f491_4f6c_dd1d);
    let mut allowed = 0;
    for i in 0..20_000 {
        let origin = hostile(&mut rng, 1_000);
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
        for t in 0..2u64 {
            let cors = &cors;
            s.spawn(move || {
                let mut rng = Xorshift(0x9e37_79b9 + t);
                for _ in 0..2_000 {
                    let origin = hostile(&mut rng, 1_000);
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
    assert!(issue.hint_text().unwrap().contains("exact"), "{issue}");
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
