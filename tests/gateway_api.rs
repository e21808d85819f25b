//! The Kubernetes Gateway API's 17 HTTPRoute CORS conformance requests
//! (`tests/data/gateway_api_httproute_cors.toml`), run the way the issue found them: through
//! `corsgate decide`, one policy file per route rule. (`tests/suite.rs` runs the same table
//! through the engine, the reference implementation and `CorsLayer`.)

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{tables, TestPolicy};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_corsgate");
const TABLE: &str = "gateway_api_httproute_cors.toml";

fn decide(policy: &TestPolicy, lines: &str) -> Vec<Value> {
    let dir = std::env::temp_dir().join(format!("corsgate-gateway-api-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("route.toml");
    std::fs::write(&path, toml::to_string(policy).unwrap()).unwrap();
    let mut child = Command::new(BIN)
        .arg("decide")
        .arg(&path)
        .env_remove("CORSGATE_ENV")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
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
