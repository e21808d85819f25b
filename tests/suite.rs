//! Runs every case table in `tests/data/*.toml` against the engine (fed three ways) and the
//! reference implementation, and checks the tables' expectations.

mod common;

use common::{engine_header_map, engine_pairs, engine_raw, reference, tables, Observed};
use corsgate::{Cors, IssueKind};

#[test]
fn case_tables() {
    let mut requests = 0;
    let mut through_layers = 0;
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
                drop(decision);
                if let Some((status, headers)) = through_layer(&cors, method, &pairs) {
                    through_layers += 1;
                    assert_eq!(status, engine.status, "{ctx}: CorsLayer status");
                    assert_eq!(headers, engine.headers, "{ctx}: CorsLayer headers");
                }
            }
        }
    }
    assert!(requests > 200, "only {requests} requests in the tables");
    assert!(
        through_layers > requests * 9 / 10,
        "only {through_layers} of {requests} requests went through the layer"
    );
}

/// What a client of `CorsLayer` sees: corsgate's own status (or `None` when the request
/// reached the inner service) and the CORS headers.
type LayerResult = (Option<u16>, Vec<(String, String)>);

/// The request through `CorsLayer` around a service that answers an empty 200. Returns the
/// status if corsgate answered itself (`None` if the request reached the inner service) and
/// the CORS headers the client received, in the engine's order. `None` when the request cannot
/// be expressed with `http` types.
fn through_layer(cors: &Cors, method: &str, pairs: &[(Vec<u8>, Vec<u8>)]) -> Option<LayerResult> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use tower::{Layer, ServiceExt};

    let mut request = http::Request::builder()
        .method(http::Method::from_bytes(method.as_bytes()).ok()?)
        .uri("/");
    for (n, v) in pairs {
        request = request.header(
            http::HeaderName::from_bytes(n).ok()?,
            http::HeaderValue::from_bytes(v).ok()?,
        );
    }
    let request = request.body(()).ok()?;
    let reached = Arc::new(AtomicBool::new(false));
    let flag = reached.clone();
    let inner = tower::service_fn(move |_req: http::Request<()>| {
        flag.store(true, Ordering::SeqCst);
        async { Ok::<_, std::convert::Infallible>(http::Response::new(String::new())) }
    });
    let cors = Arc::new(Cors::new(cors.policy().as_ref().clone()));
    let service = corsgate::layer::CorsLayer::new(cors).layer(inner);
    let runtime = tokio::runtime::Builder::new_current_thread().build().ok()?;
    let response = runtime.block_on(service.oneshot(request)).ok()?;
    let forwarded = reached.load(Ordering::SeqCst);
    let names = corsgate::ResponseHeader::OWNED
        .iter()
        .chain(&[corsgate::ResponseHeader::Vary]);
    let headers = names
        .flat_map(|h| {
            response
                .headers()
                .get_all(h.name())
                .iter()
                .map(|v| (h.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                .collect::<Vec<_>>()
        })
        .collect();
    Some(((!forwarded).then(|| response.status().as_u16()), headers))
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
    req.check_client_view(ctx, got.status, &got.headers);
}

/// Kinds only policy files produce; the file tests cover them.
const FILE_KINDS: [IssueKind; 8] = [
    IssueKind::Syntax,
    IssueKind::NestingTooDeep,
    IssueKind::UnknownField,
    IssueKind::WrongType,
    IssueKind::UnknownEnvironment,
    IssueKind::InvalidEnvironmentName,
    IssueKind::DangerousOptionInEnvironment,
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

/// Policy-set kinds (named policies, routes, origins files): their cases are in
/// `tests/sets.rs`, whose `every_set_kind_has_a_case` checks each of these is produced.
const SET_KINDS: [IssueKind; 12] = [
    IssueKind::InvalidPolicyName,
    IssueKind::ReservedPolicyName,
    IssueKind::UnknownPolicy,
    IssueKind::InvalidRouteHost,
    IssueKind::InvalidPathPrefix,
    IssueKind::DuplicateRoute,
    IssueKind::DuplicateRouteName,
    IssueKind::TooManyRoutes,
    IssueKind::NonCanonicalRoute,
    IssueKind::UnusedPolicy,
    IssueKind::UnreachableRoute,
    IssueKind::InvalidOriginsFile,
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
                let text = issue.hint().unwrap_or("");
                assert!(
                    text.contains(hint.as_str()),
                    "{ctx}: hint {text:?} lacks {hint:?}"
                );
            }
        }
    }
    for kind in IssueKind::ALL {
        if !FILE_KINDS.contains(kind) && !WARNING_KINDS.contains(kind) && !SET_KINDS.contains(kind)
        {
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
