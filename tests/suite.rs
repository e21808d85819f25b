//! Runs every case table in `tests/data/*.toml` against the engine (fed three ways) and the
//! reference implementation, and checks the tables' expectations.

mod common;

use common::{engine_header_map, engine_pairs, engine_raw, reference, tables, Observed};
use corsgate::{Cors, IssueKind};

#[test]
fn case_tables() {
    let mut requests = 0;
    for (file, table) in tables() {
        for case in &table.case {
            let ctx = format!("{file}: {}", case.name);
            let policy = case
                .policy
                .build()
                .unwrap_or_else(|e| panic!("{ctx}: policy refused:\n{e}"));
            let cors = Cors::new(policy.clone());
            for (i, req) in case.request.iter().enumerate() {
                requests += 1;
                let ctx = format!(
                    "{ctx} (request {i}: {:?})",
                    req.origin
                        .as_ref()
                        .or(req.origins.as_ref().and_then(|o| o.first()))
                );
                let pairs = req.pairs();
                let method = req.method();
                let engine = engine_pairs(&cors, method, &pairs);
                let expected = reference(&policy, method, &pairs);
                assert_eq!(engine, expected, "{ctx}: engine vs reference");
                assert_eq!(
                    engine_raw(&cors, method, &pairs),
                    engine,
                    "{ctx}: raw setters"
                );
                if let Some(map) = engine_header_map(&cors, method, &pairs) {
                    assert_eq!(map, engine, "{ctx}: HeaderMap");
                }
                check_expectations(&ctx, req, &engine);

                let borrowed: Vec<(&[u8], &[u8])> =
                    pairs.iter().map(|(n, v)| (&n[..], &v[..])).collect();
                let decision = cors.decide(&corsgate::CorsRequest::from_pairs(
                    method.as_bytes(),
                    &borrowed,
                ));
                if let Some(m) = req.matched {
                    assert_eq!(
                        decision.matched_entry().map(|e| e.index()),
                        Some(m),
                        "{ctx}: matched entry"
                    );
                }
                let explanation = decision.explain().to_string();
                for needle in &req.explain {
                    assert!(
                        explanation.contains(needle.as_str()),
                        "{ctx}: explanation lacks {needle:?}:\n{explanation}"
                    );
                }
            }
        }
    }
    assert!(requests > 200, "only {requests} requests in the tables");
}

fn check_expectations(ctx: &str, req: &common::TestRequest, got: &Observed) {
    assert_eq!(got.allowed, req.allowed, "{ctx}: allowed\n{got:#?}");
    if let Some(kind) = &req.kind {
        assert_eq!(&got.kind, kind, "{ctx}: kind");
    }
    if let Some(status) = req.status {
        assert_eq!(got.status, Some(status), "{ctx}: status");
    }
    if let Some(forwarded) = req.forwarded {
        assert_eq!(got.status.is_none(), forwarded, "{ctx}: forwarded");
    }
    if let Some(headers) = &req.headers {
        assert_eq!(&got.headers, headers, "{ctx}: headers");
    }
}

/// Kinds only policy files produce; the file tests cover them.
const FILE_KINDS: [IssueKind; 5] = [
    IssueKind::Syntax,
    IssueKind::UnknownField,
    IssueKind::WrongType,
    IssueKind::UnknownEnvironment,
    IssueKind::Io,
];

const WARNING_KINDS: [IssueKind; 6] = [
    IssueKind::NonCanonicalOrigin,
    IssueKind::RedundantOrigin,
    IssueKind::DuplicateEntry,
    IssueKind::SafelistedExposedHeader,
    IssueKind::MaxAgeAboveBrowserCap,
    IssueKind::UnusedOption,
];

#[test]
fn refused_tables() {
    let mut seen = std::collections::HashSet::new();
    for (file, table) in tables() {
        for case in &table.refused {
            let ctx = format!("{file}: {}", case.name);
            let err = match case.policy.build() {
                Ok(p) => panic!(
                    "{ctx}: built, expected {:?}; warnings {:?}",
                    case.errors,
                    p.warnings()
                ),
                Err(e) => e,
            };
            let kinds: Vec<&str> = err.errors().map(|i| i.kind().as_str()).collect();
            assert_eq!(kinds, case.errors, "{ctx}:\n{err}");
            seen.extend(err.errors().map(|i| i.kind()));
            for issue in err.errors() {
                assert!(IssueKind::from_name(issue.kind().as_str()).is_some());
                assert!(!issue.message().is_empty(), "{ctx}: empty message");
            }
            for (issue, hint) in err.errors().zip(&case.hints) {
                let text = issue.hint_text().unwrap_or("");
                assert!(
                    text.contains(hint.as_str()),
                    "{ctx}: hint {text:?} lacks {hint:?}"
                );
            }
        }
    }
    for kind in IssueKind::ALL {
        if !FILE_KINDS.contains(kind) && !WARNING_KINDS.contains(kind) {
            assert!(seen.contains(kind), "no refused case produces {kind}");
        }
    }
}

#[test]
fn canonical_tables() {
    let mut seen = std::collections::HashSet::new();
    for (file, table) in tables() {
        for case in &table.canonical {
            let ctx = format!("{file}: {}", case.name);
            let policy = case
                .policy
                .build()
                .unwrap_or_else(|e| panic!("{ctx}: refused:\n{e}"));
            let origins: Vec<String> = policy
                .origins()
                .iter()
                .map(|e| e.pattern().to_string())
                .collect();
            assert_eq!(origins, case.expect_origins, "{ctx}: origins");
            let warnings: Vec<&str> = policy
                .warnings()
                .iter()
                .map(|w| w.kind().as_str())
                .collect();
            assert_eq!(
                warnings,
                case.warnings,
                "{ctx}: warnings {:#?}",
                policy.warnings()
            );
            seen.extend(policy.warnings().iter().map(|w| w.kind()));
        }
    }
    for kind in WARNING_KINDS {
        assert!(seen.contains(&kind), "no canonical case produces {kind}");
    }
}
