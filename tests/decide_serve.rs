//! `corsgate decide` and `corsgate serve` give the same answer for every request (design §2.1):
//! the same generated requests — whitespace around values, names in any case, odd and invalid
//! names, control characters, non-ASCII bytes, repeated lines — go to `decide` as JSON lines
//! and to a running `serve` as raw HTTP/1 bytes on a socket, and the answers are compared.
//!
//! The correspondence: an `{"error"}` line is a request an HTTP/1 parser refuses (serve's
//! 400, never forwarded); a `status` is corsgate's own answer (serve answers it, the upstream
//! never sees the request); `null` means forwarded (the upstream's 200 arrives). In every case
//! the `Access-Control-*` and `Vary` headers are exactly `decide`'s.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::Response;
use serde_json::Value;
use support::gateway::Gateway;
use support::upstream::Upstream;

const STAR_POLICY: &str = r#"origins = ["*"]
methods = ["*"]
allow_headers = ["*"]
expose_headers = ["x-request-id"]
private_network = true
"#;

/// A small deterministic generator (a 64-bit LCG), so that a failure reproduces.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.next() % 100 < percent
    }
}

type Request = (String, Vec<(String, String)>);

fn generate(seed: u64, count: usize) -> Vec<Request> {
    let mut g = Lcg(seed);
    let origins = [
        "https://myapp.example",
        "https://a.myapp.example",
        "https://MyApp.example",
        "https://myapp.example/",
        "http://myapp.example",
        "http://localhost:3000",
        "https://evil.example",
        "https://caf\u{e9}.example",
        "null",
        "",
    ];
    let around = ["", " ", "\t", "  \t", " \t "];
    let origin_names = ["Origin", "origin", "ORIGIN", "oRiGiN"];
    let methods = [
        "GET", "OPTIONS", "OPTIONS", "OPTIONS", "POST", "PUT", "options", "PATCH",
    ];
    let requested_methods = [
        "PUT", "put", "PATCH", "DELETE", "GET", "TRACE", "", "X-Custom",
    ];
    let header_lists = [
        "content-type",
        "content-type, authorization",
        "X-Token",
        "",
        "x-other",
        "content-type,,",
        "authorization,content-type",
    ];
    // What an HTTP/1 parser refuses (serve: 400; decide: an error line).
    let bad_names = [
        "Origin ",
        "Ori gin",
        "Or\u{ef}gin",
        "Origin\t",
        "X(Y)",
        "A/B",
        "\"Origin\"",
    ];
    let bad_values = ["a\u{1}b", "\u{7f}", "x\u{0}y", "tab\u{b}"];
    let bad_methods = ["G@T", "GET/1", "(OPTIONS)", "GE\u{e9}T"];

    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let mut method = g.str(&methods).to_owned();
        let mut headers: Vec<(String, String)> = Vec::new();
        if !g.chance(10) {
            let origin = g.str(&origins);
            let name = g.str(&origin_names);
            headers.push((name.into(), g.wrap(&around, origin)));
            if g.chance(5) {
                headers.push(("Origin".into(), "https://myapp.example".into()));
            }
        }
        if method.eq_ignore_ascii_case("OPTIONS") {
            if !g.chance(10) {
                let requested = g.str(&requested_methods);
                let v = g.wrap(&around, requested);
                headers.push(("Access-Control-Request-Method".into(), v));
            }
            for _ in 0..g.next() % 3 {
                let list = g.str(&header_lists);
                let v = g.wrap(&around, list);
                let name = if g.chance(50) {
                    "access-control-request-headers"
                } else {
                    "Access-Control-Request-Headers"
                };
                headers.push((name.into(), v));
            }
            if g.chance(15) {
                let v = g.wrap(&around, "true");
                headers.push(("Access-Control-Request-Private-Network".into(), v));
            }
        }
        if g.chance(8) {
            headers.push(("X-Other".into(), "1".into()));
        }
        match g.next() % 25 {
            0 => headers.insert(0, (g.str(&bad_names).into(), "1".into())),
            1 if !headers.is_empty() => {
                let i = g.next() % headers.len();
                headers[i].1 = g.str(&bad_values).into();
            }
            2 => method = g.str(&bad_methods).into(),
            _ => {}
        }
        out.push((method, headers));
    }
    out
}

impl Lcg {
    /// One of `items`.
    fn str<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.next() % items.len()]
    }
    /// `value` with optional whitespace (spaces and tabs) of random shape around it.
    fn wrap(&mut self, around: &[&str], value: &str) -> String {
        let before = self.str(around);
        let after = self.str(around);
        format!("{before}{value}{after}")
    }
}

fn decide(policy: &Path, requests: &[Request]) -> Vec<Value> {
    let mut input = String::new();
    for (method, headers) in requests {
        input.push_str(&serde_json::json!({"method": method, "headers": headers}).to_string());
        input.push('\n');
    }
    let (status, answers, stderr) = support::decide::decide(policy, &input);
    assert!(matches!(status, Some(0 | 1)), "{stderr}");
    answers
}

/// What a client read back: the status, and every header line in order.
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
}

/// One request written as raw HTTP/1 bytes, exactly as generated; read to the end.
fn send_raw(address: SocketAddr, (method, headers): &Request) -> Raw {
    let mut request =
        format!("{method} /api/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (n, v) in headers {
        request.push_str(&format!("{n}: {v}\r\n"));
    }
    request.push_str("\r\n");
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?} for {request:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Raw { status, headers }
}

fn cors_headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    let mut cors: Vec<(String, String)> = headers
        .iter()
        .filter(|(n, _)| n.starts_with("access-control-") || n == "vary")
        .cloned()
        .collect();
    cors.sort();
    cors
}

fn scratch(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("corsgate-decide-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decide_and_serve_answer_every_request_alike() {
    let upstream = Upstream::start(|_| {
        Response::builder()
            .header("x-upstream", "yes")
            .body("upstream".to_owned())
            .unwrap()
    })
    .await;
    let example = std::fs::read_to_string("examples/policy.toml").unwrap();
    let policies = [
        ("credentials", scratch("credentials.toml", &example)),
        ("any origin", scratch("star.toml", STAR_POLICY)),
    ];
    let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
    for (seed, (name, policy)) in policies.iter().enumerate() {
        let requests = generate(seed as u64 + 1, 400);
        let answers = decide(policy, &requests);
        assert_eq!(answers.len(), requests.len(), "{name}");
        let gateway = Gateway::start(policy, &["--upstream", &upstream.url()]);
        let address = gateway.address;
        let requests_clone = requests.clone();
        let served: Vec<Raw> = tokio::task::spawn_blocking(move || {
            requests_clone
                .iter()
                .map(|r| send_raw(address, r))
                .collect()
        })
        .await
        .unwrap();
        for ((request, answer), raw) in requests.iter().zip(&answers).zip(&served) {
            let ctx = format!(
                "{name}: {request:?}\n decide: {answer}\n serve: {} {:?}",
                raw.status, raw.headers
            );
            let forwarded = raw.headers.iter().any(|(n, _)| n == "x-upstream");
            if answer.get("error").is_some() {
                *kinds.entry("refused").or_default() += 1;
                assert_eq!((raw.status, forwarded), (400, false), "{ctx}");
                continue;
            }
            *kinds
                .entry(
                    match (answer["kind"].as_str(), answer["allowed"].as_bool()) {
                        (Some("preflight"), Some(true)) => "preflight allowed",
                        (Some("preflight"), _) => "preflight denied",
                        (Some("actual"), Some(true)) => "actual allowed",
                        (Some("actual"), _) => "actual denied",
                        _ => "not CORS",
                    },
                )
                .or_default() += 1;
            match answer["status"].as_u64() {
                Some(status) => {
                    assert_eq!((raw.status as u64, forwarded), (status, false), "{ctx}")
                }
                None => assert_eq!((raw.status, forwarded), (200, true), "{ctx}"),
            }
            let mut expected: Vec<(String, String)> =
                serde_json::from_value(answer["headers"].clone()).unwrap();
            expected.sort();
            assert_eq!(cors_headers(&raw.headers), expected, "{ctx}");
        }
        drop(gateway);
    }
    // The generated set reaches every kind of answer.
    for kind in [
        "refused",
        "preflight allowed",
        "preflight denied",
        "actual allowed",
        "actual denied",
        "not CORS",
    ] {
        assert!(kinds.get(kind).copied().unwrap_or(0) >= 5, "{kinds:?}");
    }
}
