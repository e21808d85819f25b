use super::language::{Language, Verdict};
use super::*;
use crate::origin::regex;

fn prove(source: &str, tolerance: Tolerance) -> Proof {
    let hir = regex::parse(source)
        .unwrap_or_else(|p| panic!("{source}: {p:?}"))
        .hir;
    Prover::new().prove(&hir, tolerance)
}

fn refused(source: &str) -> Problem {
    prove(source, Tolerance::default())
        .problem
        .unwrap_or_else(|| panic!("{source} was proven safe"))
}

#[test]
fn the_designs_examples() {
    for source in [
        r"https://.*:(8443|9443)",
        r"https://.+:[0-9]{4}",
        r"https?://app\.example\.com:\d+",
        r"http://app\.example\.com:\d+",
        r"https://example\.[a-z]{2,}",
        r"https://[a-z.]+com",
        r"https://([a-z0-9-]+\.)+amazonaws\.com",
        r"https://example\.com(\.[a-z]{2})?",
    ] {
        refused(source);
    }
    for source in [
        r"https://pr-[0-9]+\.preview\.example\.com",
        r"https://(app|api)\.example\.(com|net)",
        r"http://localhost:[0-9]+",
    ] {
        let proof = prove(source, Tolerance::default());
        assert!(proof.problem.is_none(), "{source}: {:?}", proof.problem);
    }
}

#[test]
fn kinds_counterexamples_and_the_options_that_lift_them() {
    let p = refused(r"https://.*:(8443|9443)");
    assert_eq!(p.kind, IssueKind::RegexReflection);
    assert!(p.message.contains("\"https://a:8443\""), "{}", p.message);
    assert!(p
        .hint
        .as_deref()
        .unwrap()
        .contains("dangerously_reflect_any_origin_with_credentials"));
    assert!(!p
        .hint
        .as_deref()
        .unwrap()
        .contains("dangerously_allow_insecure_origins"));

    let p = refused(r"https?://app\.example\.com:\d+");
    assert_eq!(p.kind, IssueKind::InsecureOriginWithCredentials);
    assert!(
        p.message.contains("\"http://app.example.com:1\""),
        "{}",
        p.message
    );
    let lifted = prove(
        r"https?://app\.example\.com:\d+",
        Tolerance {
            insecure: true,
            reflect: false,
        },
    );
    assert!(lifted.problem.is_none() && lifted.used_insecure && !lifted.used_reflect);

    // Both: the hint names both options; one option alone does not lift it.
    let p = refused(r"https?://.*");
    assert_eq!(p.kind, IssueKind::RegexReflection);
    let hint = p.hint.as_deref().unwrap();
    assert!(
        hint.contains("dangerously_reflect_any_origin_with_credentials"),
        "{hint}"
    );
    assert!(
        hint.contains("dangerously_allow_insecure_origins"),
        "{hint}"
    );
    let half = prove(
        r"https?://.*",
        Tolerance {
            insecure: false,
            reflect: true,
        },
    );
    assert_eq!(
        half.problem.map(|p| p.kind),
        Some(IssueKind::InsecureOriginWithCredentials)
    );
    let both = prove(
        r"https?://.*",
        Tolerance {
            insecure: true,
            reflect: true,
        },
    );
    assert!(both.problem.is_none() && both.used_insecure && both.used_reflect);
}

#[test]
fn classes_of_leaks() {
    for (source, witness) in [
        // Suffix confusion, any TLD, any .com.
        (
            r"https://example\.com(\.[a-z]{2})?",
            "https://example.com.aa",
        ),
        (r"https://example\.[a-z]{2,}", "https://example.aa"),
        (r"https://[a-z.]+com", "https://acom"),
        // IP literals.
        (r"https://[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+", "https://0.0.0.0"),
        (r"https://\[[0-9a-f:]+\]", "https://[::]"),
        (
            r"http://127\.0\.0\.1|https://\d+\.\d+\.\d+\.\d+",
            "https://0.0.0.0",
        ),
        // Hosting domains: a rule beneath the candidate.
        (
            r"https://([a-z0-9-]+\.)+amazonaws\.com",
            "https://s3.amazonaws.com",
        ),
        (
            r"https://[a-z]+\.core\.windows\.net",
            "https://web.core.windows.net",
        ),
        // Ports and insecure alternatives anywhere in an alternation.
        (
            r"https://a\.example\.com|https://b\.example\.com|https://c\.example\.com|http://d\.example\.com",
            "http://d.example.com",
        ),
        (
            r"https://app\.example\.com(:[0-9]+)?|ws://app\.example\.com",
            "ws://app.example.com",
        ),
        // Subdomain wildcard in disguise over a public suffix.
        (r"https://[a-z]+\.github\.io", "https://a.github.io"),
        (r"https://.*\.co\.uk", "https://a.co.uk"),
    ] {
        let p = refused(source);
        assert!(
            p.message.contains(&format!("{witness:?}")),
            "{source}: expected {witness}: {}",
            p.message
        );
    }
}

#[test]
fn safe_patterns_are_proven() {
    for source in [
        r"https://[a-z0-9-]+\.tenants\.example\.com(:[0-9]{4})?",
        r"https://([a-z0-9-]+\.)*example\.com",
        r"https://(www\.)?example\.com\.?",
        r"https://[a-z]+\.mybucket\.s3\.amazonaws\.com",
        r"https://y\.x\.compute\.amazonaws\.com",
        r"https?://localhost(:[0-9]+)?",
        r"https?://([a-z]+\.)*localhost(:\d+)?",
        r"http://127\.0\.0\.[0-9]+(:[0-9]+)?",
        r"http://\[::1\]:[0-9]+",
        r"https://(?i)APP\.EXAMPLE\.COM",
        r"https://app\.example\.com|https://api\.example\.net",
        r"https://www\.city\.kawasaki\.jp",
        // Userinfo never passes the grammar, so `@` cannot smuggle in another host.
        r"https://[a-z@.]+\.example\.com",
        // Matches nothing a browser sends: vacuously safe.
        r"https://Example\.com",
        r"https://example\.com:443",
        r"https://example\.com/",
    ] {
        let proof = prove(source, Tolerance::default());
        assert!(proof.problem.is_none(), "{source}: {:?}", proof.problem);
        assert!(!proof.used_insecure && !proof.used_reflect, "{source}");
    }
}

#[test]
fn past_the_budget_is_unprovable() {
    // Many alternatives multiply the literal expansions.
    let many = format!("https://{}x\\.example\\.com", "(aa|bb|cc|dd)".repeat(7));
    assert_eq!(refused(&many).kind, IssueKind::RegexUnprovable);
    // A DFA that explodes: the 20th character from the end is an `a`.
    let exploding = r"https://[a-z]*a[a-z]{20}\.example\.com";
    let p = refused(exploding);
    assert_eq!(p.kind, IssueKind::RegexUnprovable, "{}", p.message);
    assert!(p
        .hint
        .as_deref()
        .unwrap()
        .contains("dangerously_allow_insecure_origins"));
}

/// The origin-language automaton against brute force: the request grammar and the Public
/// Suffix List's registrable domain, on strings assembled from fragments around the edge
/// cases (schemes, labels, numbers, IP literals, ports, dots).
#[test]
fn language_agrees_with_brute_force() {
    const SCHEMES: &[&str] = &[
        "https",
        "http",
        "ws",
        "wss",
        "ftp",
        "chrome-extension",
        "HTTPS",
        "h",
        "x+y",
        "1a",
        "httpss",
    ];
    const LABELS: &[&str] = &[
        "example",
        "com",
        "amazonaws",
        "s3",
        "x",
        "localhost",
        "127",
        "0",
        "1",
        "255",
        "256",
        "0x1f",
        "0x",
        "a-b",
        "-a",
        "a-",
        "a_",
        "xn--p1ai",
        "co",
        "uk",
        "kawasaki",
        "jp",
        "city",
        "evil",
        "compute",
        "github",
        "io",
        "net",
        "01",
        "Ex",
        "",
    ];
    const V6: &[&str] = &[
        "[::1]",
        "[::]",
        "[1::]",
        "[0:0::1]",
        "[::ffff:7f00:1]",
        "[1:2:3:4:5:6:7:8]",
        "[1:2:3:4:5:6:7::]",
        "[:1]",
        "[1:]",
        "[1::2::3]",
        "[00::1]",
        "[::1:]",
        "[12345::]",
        "[]",
    ];
    const PORTS: &[&str] = &[
        "", ":1", ":443", ":80", ":0", ":65535", ":65536", ":08", ":21", ":", ":8080", ":99999",
    ];
    let candidate_sets: Vec<Vec<String>> = vec![
        vec![],
        vec!["example.com".to_owned()],
        vec!["amazonaws.com".to_owned(), "example.co.uk".to_owned()],
        vec![
            "city.kawasaki.jp".to_owned(),
            "x.s3.amazonaws.com".to_owned(),
        ],
    ];
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n as u64) as usize
    };
    let list = crate::public_suffix::list();
    for candidates in &candidate_sets {
        let mut language = Language::new(candidates).unwrap();
        let mut agreed = 0;
        for _ in 0..40_000 {
            let mut s = String::from(SCHEMES[next(SCHEMES.len())]);
            s.push_str(["://", "://", "://", ":/", "//"][next(5)]);
            if next(6) == 0 {
                s.push_str(V6[next(V6.len())]);
            } else {
                let labels = 1 + next(4);
                for i in 0..labels {
                    if i > 0 {
                        s.push('.');
                    }
                    s.push_str(LABELS[next(LABELS.len())]);
                }
                if next(5) == 0 {
                    s.push('.');
                }
            }
            s.push_str(PORTS[next(PORTS.len())]);

            let mut state = language.start();
            for b in s.bytes() {
                state = language.next(state, b);
            }
            let ours = language.verdict(state);
            let truth = match RequestOrigin::parse(s.as_bytes()) {
                Ok(RequestOrigin::Tuple(t)) => {
                    let loopback = t.is_loopback();
                    let host = String::from_utf8_lossy(t.host()).into_owned();
                    let registrable = (t.host_kind() == HostKind::Domain)
                        .then(|| list.registrable_domain(&host))
                        .flatten();
                    let host_ok =
                        loopback || registrable.is_some_and(|d| candidates.iter().any(|c| c == d));
                    Some(Verdict {
                        scheme_ok: t.scheme() == b"https" || (t.scheme() == b"http" && loopback),
                        host_ok,
                    })
                }
                _ => None,
            };
            match truth {
                Some(v) => {
                    assert_eq!(ours, Some(v), "{s} with {candidates:?}");
                    agreed += 1;
                }
                // Only what the automaton does not check may differ: IPv6 canonical form.
                None => assert!(
                    ours.is_none() || s.contains('['),
                    "{s}: the automaton accepts what the grammar refuses ({ours:?})"
                ),
            }
        }
        assert!(agreed > 5_000, "{agreed}");
    }
}

#[test]
#[ignore]
fn print_search_sizes() {
    for source in [
        r"https://pr-[0-9]+\.preview\.example\.com",
        r"https://(app|api)\.example\.(com|net)",
        r"http://localhost:[0-9]+",
        r"https://[a-z0-9-]+\.tenants\.example\.com(:[0-9]{4})?",
        r"https://([a-z0-9-]+\.)*example\.com",
        r"https://[a-z]+\.mybucket\.s3\.amazonaws\.com",
        r"https://.*:(8443|9443)",
        r"https?://app\.example\.com:\d+",
        r"https://([a-z0-9-]+\.)+amazonaws\.com",
        r"https://pr-[0-9]+\.r17\.example\.net",
        r"https://(app|api|www)\.t18\.example\.com(:[0-9]{2,5})?",
        r"https://[a-z0-9-]+\.s19\.example\.org",
        r".*://\[[0-9a-f:]+\]amazonaws\.com\[[0-9a-f:]+\]example\.com",
        r"https?://\[[0-9a-f:]+\](:\d+)?",
        r".*",
    ] {
        let hir = regex::parse(source).unwrap().hir;
        let candidates = candidates::candidates(&hir).unwrap();
        let mut language = language::Language::new(&candidates).unwrap();
        let nfa = regex::compile(std::slice::from_ref(&hir), regex::MAX_ENTRY_NFA_BYTES).unwrap();
        let dfa = regex::dense_dfa(&nfa, 64 << 20, MatchKind::All).unwrap();
        let start = std::time::Instant::now();
        let found = search::search(
            &dfa,
            &mut language,
            (false, false),
            search::MAX_PRODUCT_STATES,
        );
        eprintln!(
            "{source}: {} pairs, {} language states, {:?}, outside {:?} insecure {:?}",
            found.visited,
            language.len(),
            start.elapsed(),
            found.outside.witness,
            found.insecure.witness
        );
    }
}
