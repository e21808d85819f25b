//! A policy set through every surface of the command line (design §8): `decide` (the `path`
//! input field, `Host` from the headers, `route` and `policy` on each line, the `off` line),
//! `explain --host --path`, `check`, and `serve` with an upstream that sends CORS headers of
//! its own (an `off` route passes them through untouched).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use support::decide::decide;
use support::gateway::Gateway;
use support::raw_http::{exchange, status_of};
use support::upstream::Upstream;

/// Three named policies, exact and wildcard hosts, prefixes and an `off` route.
const GATEWAY: &str = r#"
# The default policy: what no route chooses.
origins = ["https://app.example.com"]
credentials = true
methods = ["GET", "POST", "PUT"]

[policies.public]
origins = ["*"]
credentials = false

[policies.partners]
origins = ["https://partner.example", "https://*.partner.example"]

[policies.admin]
origins = ["https://admin.example.com"]
methods = ["GET", "DELETE"]

[[routes]]
name = "public-api"
hosts = ["api.example.com"]
path_prefix = "/public"
policy = "public"

[[routes]]
hosts = ["*.partners.example.com"]
policy = "partners"

[[routes]]
name = "admin"
hosts = ["api.example.com"]
path_prefix = "/admin"
policy = "admin"

[[routes]]
name = "internal"
hosts = ["internal.example.com"]
policy = "off"
"#;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("corsgate-sets-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn gateway_file(name: &str) -> PathBuf {
    let path = scratch(name).join("gateway.toml");
    std::fs::write(&path, GATEWAY).unwrap();
    path
}

fn line(method: &str, host: Option<&str>, path: Option<&str>, origin: &str) -> String {
    let mut headers = vec![json!(["Origin", origin])];
    if let Some(host) = host {
        headers.push(json!(["Host", host]));
    }
    if method == "OPTIONS" {
        headers.push(json!(["Access-Control-Request-Method", "DELETE"]));
    }
    let mut input = json!({"method": method, "headers": headers});
    if let Some(path) = path {
        input["path"] = json!(path);
    }
    input.to_string()
}

#[test]
fn decide_names_the_route_and_the_policy_of_every_line() {
    let policy = gateway_file("decide");
    // (request, route, policy, allowed)
    let cases: Vec<(String, Value, &str, bool)> = vec![
        (
            line(
                "GET",
                Some("api.example.com"),
                Some("/public/x"),
                "https://anyone.example",
            ),
            json!("public-api"),
            "public",
            true,
        ),
        (
            line(
                "GET",
                Some("API.Example.com.:443"),
                Some("/public"),
                "https://anyone.example",
            ),
            json!("public-api"),
            "public",
            true,
        ),
        (
            line(
                "GET",
                Some("api.example.com"),
                Some("/publicity"),
                "https://anyone.example",
            ),
            Value::Null,
            "default",
            false,
        ),
        (
            line(
                "GET",
                Some("api.example.com"),
                Some("/publicity"),
                "https://app.example.com",
            ),
            Value::Null,
            "default",
            true,
        ),
        (
            line(
                "GET",
                Some("a.b.partners.example.com"),
                Some("/x"),
                "https://x.partner.example",
            ),
            json!("routes[1]"),
            "partners",
            true,
        ),
        (
            line(
                "GET",
                Some("partners.example.com"),
                Some("/x"),
                "https://x.partner.example",
            ),
            Value::Null,
            "default",
            false,
        ),
        (
            line(
                "OPTIONS",
                Some("api.example.com"),
                Some("/admin/users/1"),
                "https://admin.example.com",
            ),
            json!("admin"),
            "admin",
            true,
        ),
        (
            line(
                "OPTIONS",
                Some("api.example.com"),
                Some("/public/1"),
                "https://admin.example.com",
            ),
            json!("public-api"),
            "public",
            false,
        ),
        // No Host, no path: the default policy, as before sets existed.
        (
            line("GET", None, None, "https://app.example.com"),
            Value::Null,
            "default",
            true,
        ),
        (
            line("GET", None, Some("/public/x"), "https://anyone.example"),
            Value::Null,
            "default",
            false,
        ),
    ];
    let input: String = cases.iter().map(|c| format!("{}\n", c.0)).collect();
    let (status, answers, stderr) = decide(&policy, &input);
    assert_eq!(status, Some(0), "{stderr}");
    assert_eq!(answers.len(), cases.len());
    for ((request, route, policy, allowed), answer) in cases.iter().zip(&answers) {
        assert_eq!(&answer["route"], route, "{request} → {answer}");
        assert_eq!(answer["policy"], *policy, "{request} → {answer}");
        assert_eq!(answer["allowed"], *allowed, "{request} → {answer}");
    }

    // The `off` line, exactly as design §8 writes it: nothing added, not even Vary.
    let (status, answers, _) = decide(
        &policy,
        &format!(
            "{}\n",
            line(
                "OPTIONS",
                Some("internal.example.com"),
                Some("/x"),
                "https://evil.example"
            )
        ),
    );
    assert_eq!(status, Some(0));
    let off = answers[0].as_object().unwrap();
    // The fields in the protocol's order, as written.
    let raw = raw_decide_line(
        &policy,
        &line(
            "OPTIONS",
            Some("internal.example.com"),
            Some("/x"),
            "https://evil.example",
        ),
    );
    assert_eq!(
        raw,
        format!(
            "{{\"kind\":\"none\",\"allowed\":true,\"status\":null,\"headers\":[],\"reason\":{},\"route\":\"internal\",\"policy\":\"off\"}}",
            off["reason"]
        )
    );
    assert_eq!(off["kind"], "none");
    assert_eq!(off["allowed"], true);
    assert_eq!(off["status"], Value::Null);
    assert_eq!(off["headers"], json!([]));
    assert!(
        off["reason"].as_str().unwrap().contains("off"),
        "{}",
        answers[0]
    );
    assert_eq!(off["route"], "internal");
    assert_eq!(off["policy"], "off");
}

/// One `decide` output line, as written.
fn raw_decide_line(policy: &Path, input: &str) -> String {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_corsgate"))
        .arg("decide")
        .arg(policy)
        .env_remove("CORSGATE_ENV")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{input}").unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim_end().to_owned()
}

#[test]
fn decide_refuses_the_paths_serve_refuses() {
    let policy = gateway_file("paths");
    let input: String = [
        "/public/../admin",
        "/public/%2e%2e/admin",
        "/a%2Fb",
        "no-slash",
        "/a b",
    ]
    .iter()
    .map(|p| {
        format!(
            "{}\n",
            line("GET", Some("api.example.com"), Some(p), "https://a.example")
        )
    })
    .collect();
    let (status, answers, _) = decide(&policy, &input);
    assert_eq!(status, Some(1));
    for answer in &answers {
        assert!(
            answer["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("path")),
            "{answer}"
        );
    }
}

fn corsgate(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_corsgate"))
        .args(args)
        .env_remove("CORSGATE_ENV")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn explain_says_which_route_won_and_why() {
    let policy = gateway_file("explain");
    let p = policy.to_str().unwrap();
    let (status, out, err) = corsgate(&[
        "explain",
        p,
        "--origin",
        "https://admin.example.com",
        "--preflight",
        "--method",
        "DELETE",
        "--host",
        "api.example.com:8443",
        "--path",
        "/admin/users/1",
    ]);
    assert_eq!(status, Some(0), "{err}");
    assert!(out.contains("route: admin"), "{out}");
    assert!(out.contains("policy: admin"), "{out}");
    assert!(
        out.contains("route admin (api.example.com; path_prefix /admin) chose policy admin"),
        "{out}"
    );
    assert!(out.starts_with("preflight allowed"), "{out}");

    let (_, out, _) = corsgate(&[
        "explain",
        p,
        "--origin",
        "https://evil.example",
        "--host",
        "internal.example.com",
    ]);
    assert!(out.contains("policy: off"), "{out}");
    assert!(out.contains("CORS is off"), "{out}");

    let (_, out, _) = corsgate(&["explain", p, "--origin", "https://app.example.com"]);
    assert!(out.contains("no route matches"), "{out}");
    assert!(out.contains("policy: default"), "{out}");
}

#[test]
fn check_validates_the_set_and_names_each_problem() {
    let policy = gateway_file("check");
    let (status, out, err) = corsgate(&["check", policy.to_str().unwrap()]);
    assert_eq!(status, Some(0), "{out}{err}");

    let broken = scratch("check-broken").join("broken.toml");
    std::fs::write(
        &broken,
        "origins = [\"https://a.example\"]\n\n[policies.api]\norigins = [\"https://b.example/x\"]\n\n[[routes]]\nhosts = [\"api.example.com\"]\npolicy = \"apj\"\n\n[[routes]]\nhosts = [\"api.example.com\"]\npolicy = \"api\"\n",
    )
    .unwrap();
    let (status, out, err) = corsgate(&["check", broken.to_str().unwrap()]);
    let text = format!("{out}{err}");
    assert_eq!(status, Some(1), "{text}");
    for needle in [
        "origin_has_path",
        "policies.api.origins[0]",
        "unknown_policy",
        "did you mean \"api\"?",
        "duplicate_route",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}

/// The upstream answers every request with its own CORS headers, so that a response corsgate
/// leaves untouched is recognisable.
async fn upstream_with_its_own_cors() -> Upstream {
    Upstream::start(|_| {
        http::Response::builder()
            .header(
                "access-control-allow-origin",
                "https://upstream-says.example",
            )
            .header("vary", "Accept-Encoding")
            .header("x-upstream", "1")
            .body("from upstream".to_owned())
            .unwrap()
    })
    .await
}

fn raw_get(host: &str, target: &str, origin: &str) -> Vec<u8> {
    format!(
        "GET {target} HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

fn header_values(response: &[u8], name: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(response);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    head.lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_owned())
        .collect()
}

fn serve(policy: &Path, upstream: &Upstream) -> Gateway {
    Gateway::start(policy, &["--upstream", &upstream.url(), "--no-access-log"])
}

#[test]
fn serve_chooses_by_host_and_path_and_leaves_off_routes_untouched() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let policy = gateway_file("serve");
        let upstream = upstream_with_its_own_cors().await;
        let gateway = serve(&policy, &upstream);
        let limit = Duration::from_secs(10);
        let address = gateway.address;
        let get = |host: &str, target: &str, origin: &str| {
            let request = raw_get(host, target, origin);
            async move { exchange(address, &request, limit).await }
        };

        // The public prefix: `*`, replacing the upstream's header.
        let r = get("api.example.com", "/public/x", "https://anyone.example").await;
        assert_eq!(status_of(&r), 200);
        assert_eq!(header_values(&r, "access-control-allow-origin"), ["*"]);

        // The default policy under /publicity: the origin is refused, the upstream's
        // Access-Control-Allow-Origin removed, Vary merged.
        let r = get("api.example.com", "/publicity", "https://anyone.example").await;
        assert!(header_values(&r, "access-control-allow-origin").is_empty(), "{}", String::from_utf8_lossy(&r));
        assert_eq!(header_values(&r, "vary"), ["Accept-Encoding, Origin"]);

        // A wildcard host, any depth, with a port.
        let r = get("a.b.partners.example.com:8080", "/x", "https://x.partner.example").await;
        assert_eq!(header_values(&r, "access-control-allow-origin"), ["https://x.partner.example"]);

        // An absolute-form target: its authority chooses, not Host.
        let r = get("elsewhere.example", "http://api.example.com/public/x", "https://anyone.example").await;
        assert_eq!(header_values(&r, "access-control-allow-origin"), ["*"]);

        // `off`: the upstream's response exactly as it sent it, CORS headers and Vary included.
        let r = get("internal.example.com", "/x", "https://evil.example").await;
        assert_eq!(status_of(&r), 200);
        assert_eq!(header_values(&r, "access-control-allow-origin"), ["https://upstream-says.example"]);
        assert_eq!(header_values(&r, "vary"), ["Accept-Encoding"]);
        // An `off` route's preflight goes to the upstream too.
        let preflight = b"OPTIONS /x HTTP/1.1\r\nHost: internal.example.com\r\nOrigin: https://evil.example\r\nAccess-Control-Request-Method: PUT\r\nConnection: close\r\n\r\n";
        let before = upstream.requests();
        let r = exchange(gateway.address, preflight, limit).await;
        assert_eq!(status_of(&r), 200);
        assert_eq!(upstream.requests(), before + 1);

        // A path that could be read two ways never reaches routing.
        let r = get("api.example.com", "/public/../admin", "https://anyone.example").await;
        assert_eq!(status_of(&r), 400);
        let r = get("api.example.com", "/public/%2e%2e/admin", "https://anyone.example").await;
        assert_eq!(status_of(&r), 400);
    });
}
