//! The Kubernetes Gateway API's 17 HTTPRoute CORS conformance requests
//! (`tests/data/gateway_api_httproute_cors.toml`), run the way the issue found them: through
//! `corsgate decide`, one policy file per route rule. (`tests/suite.rs` runs the same table
//! through the engine, the reference implementation and `CorsLayer`.)

mod common;
mod support;

use common::{tables, TestPolicy};
use serde_json::Value;

const TABLE: &str = "gateway_api_httproute_cors.toml";

fn decide(policy: &TestPolicy, lines: &str) -> Vec<Value> {
    let dir = std::env::temp_dir().join(format!("corsgate-gateway-api-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("route.toml");
    std::fs::write(&path, toml::to_string(policy).unwrap()).unwrap();
    let (status, answers, stderr) = support::decide::decide(&path, lines);
    assert_eq!(status, Some(0), "{stderr}");
    answers
}

#[test]
fn the_httproute_cors_conformance_cases_agree_through_decide() {
    let (_, table) = tables()
        .into_iter()
        .find(|(name, _)| name == TABLE)
        .expect("the Gateway API table");
    let mut requests = 0;
    let mut opt_in = 0;
    for case in &table.case {
        let mut input = String::new();
        for req in &case.request {
            let headers: Vec<(String, String)> = req
                .pairs()
                .into_iter()
                .map(|(n, v)| (String::from_utf8(n).unwrap(), String::from_utf8(v).unwrap()))
                .collect();
            input.push_str(
                &serde_json::json!({"method": req.method(), "headers": headers}).to_string(),
            );
            input.push('\n');
        }
        let answers = decide(&case.policy, &input);
        assert_eq!(answers.len(), case.request.len(), "{}", case.name);
        for (i, (req, answer)) in case.request.iter().zip(&answers).enumerate() {
            let ctx = format!("{} (request {i}): {answer}", case.name);
            let status = answer["status"].as_u64().map(|s| s as u16);
            let headers: Vec<(String, String)> =
                serde_json::from_value(answer["headers"].clone()).unwrap();
            assert_eq!(answer["allowed"], req.allowed, "{ctx}");
            req.check_client_view(&ctx, status, &headers);
            requests += 1;
            if case.policy.dangerously_reflect_any_origin_with_credentials {
                opt_in += 1;
            }
        }
    }
    assert_eq!(requests, 17, "the suite has 17 HTTPRoute CORS requests");
    assert_eq!(
        opt_in, 2,
        "only the *-with-credentials route needs the opt-in"
    );
}
