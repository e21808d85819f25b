//! `corsgate::pingora` in a real Pingora server: the `pingora_gateway` example, run as a child
//! process (Pingora's server loop never returns) on loopback in front of an upstream that
//! records every request it receives. Allowed and denied actual requests, requests without an
//! Origin, preflights (answered, never forwarded; forwarded only under
//! `preflight_passthrough`), the upstream's own CORS headers replaced and its `Vary` merged,
//! Pingora's own 502s with CORS headers, reloads by file and SIGHUP, and requests flowing
//! during reloads without a failure.
//!
//! Expected headers come from the library deciding the same request with the same policy
//! file, so these tests check the adapter (what reaches the wire, and what reaches the
//! upstream), not a second copy of the CORS rules.

mod support;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use corsgate::file::load_policy;
use corsgate::{Cors, CorsRequest};
use http::{HeaderMap, HeaderValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use support::gateway::Gateway;
use support::raw_http::{
    exchange, read_until_close, response, RawUpstream, Recorded, Reply, READ_LIMIT,
};
use support::rewrites::{requests_during_rewrites, POLICY_A};

const POLICY: &str = r#"origins = ["https://app.example", "https://*.tenant.example"]
methods = ["GET", "POST", "PUT", "DELETE"]
allow_headers = ["content-type", "authorization"]
expose_headers = ["x-request-id"]
credentials = true
max_age = 600
"#;

fn scratch() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "corsgate-pingora-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn policy_file(text: &str) -> PathBuf {
    let path = scratch().join("policy.toml");
    std::fs::write(&path, text).unwrap();
    path
}

// ---- the gateway process -----------------------------------------------------------------

/// The example's binary, built by `cargo test --all-features` (which builds every example)
/// next to this test's own binary. Refuses a binary older than the sources it is built from,
/// so that a run of this test alone never checks yesterday's gateway.
fn example_binary() -> PathBuf {
    let deps = std::env::current_exe().unwrap();
    let profile_dir = deps.parent().and_then(Path::parent).unwrap();
    let binary = profile_dir.join("examples").join("pingora_gateway");
    let built = std::fs::metadata(&binary)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| {
            panic!(
                "{} is missing: `cargo test --all-features` builds it (or `cargo build --features pingora --example pingora_gateway`)",
                binary.display()
            )
        });
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The library and the example; the `corsgate` binary's sources (src/bin) are not in it.
    let newest = std::fs::read_dir(root.join("src"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| !path.ends_with("bin"))
        .chain([root.join("examples/pingora_gateway.rs")])
        .map(|path| newest_source(&path))
        .max()
        .unwrap();
    assert!(
        newest <= built,
        "{} is older than its sources: rebuild it (`cargo test --all-features`, or `cargo build --features pingora --example pingora_gateway`)",
        binary.display()
    );
    binary
}

fn newest_source(path: &Path) -> std::time::SystemTime {
    let meta = std::fs::metadata(path).unwrap();
    if !meta.is_dir() {
        return meta.modified().unwrap();
    }
    std::fs::read_dir(path)
        .unwrap()
        .map(|entry| newest_source(&entry.unwrap().path()))
        .max()
        .unwrap_or(std::time::UNIX_EPOCH)
}

/// Starts the example on a free loopback port in front of `upstream` and waits (10 s at most)
/// until it accepts connections. Pingora binds the port itself, after printing its address:
/// pick a free one, and try again in the unlikely case that another process takes it first.
fn start(policy: &Path, upstream: SocketAddr, extra: &[&str]) -> Gateway {
    let binary = example_binary();
    for _ in 0..3 {
        let mut command = Command::new(&binary);
        command
            .arg(policy)
            .args(["--listen", &free_port().to_string()])
            .args(["--upstream", &format!("http://{upstream}")])
            .args(["--workers", "2"])
            .args(extra);
        let mut gateway = Gateway::spawn(command);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = gateway.child.try_wait() {
                eprintln!("gateway exited with {status}:\n{}", gateway.log());
                break;
            }
            if std::net::TcpStream::connect(gateway.address).is_ok() {
                return gateway;
            }
            assert!(
                Instant::now() < deadline,
                "the gateway does not answer:\n{}",
                gateway.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("the gateway did not start three times");
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

// ---- requests and what came back ----------------------------------------------------------

/// A response as it was on the wire.
#[derive(Debug)]
struct Answer {
    status: u16,
    /// Every header line, in order, names lowercased.
    lines: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn all(&self, name: &str) -> Vec<&str> {
        self.lines
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn one(&self, name: &str) -> Option<&str> {
        let all = self.all(name);
        assert!(all.len() <= 1, "several {name} lines: {self:?}");
        all.first().copied()
    }

    /// The `Access-Control-*` lines.
    fn cors(&self) -> Vec<(String, String)> {
        self.lines
            .iter()
            .filter(|(n, _)| n.starts_with("access-control-"))
            .cloned()
            .collect()
    }
}

/// Sends one request on a new connection (`Connection: close`) and reads the whole answer.
async fn call(address: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: gateway.test\r\n");
    for (n, v) in headers {
        request.push_str(&format!("{n}: {v}\r\n"));
    }
    request.push_str("Connection: close\r\n\r\n");
    let bytes = exchange(address, request.as_bytes(), Duration::from_secs(10)).await;
    parse_answer(&bytes)
}

async fn get(address: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Answer {
    call(address, "GET", path, headers).await
}

fn parse_answer(bytes: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let lines = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Answer {
        status,
        lines,
        body: body.to_owned(),
    }
}

/// What the library decides for the same request: its headers as `(name, value)` lines (the
/// `Access-Control-*` ones), and the `Vary` lines a response with `upstream_vary` ends with.
fn expected(
    policy: &Path,
    method: &str,
    headers: &[(&str, &str)],
    upstream_vary: &[&str],
) -> (Vec<(String, String)>, Vec<String>, Option<u16>) {
    let cors = Cors::new(load_policy(policy, None).unwrap());
    let method = http::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = HeaderMap::new();
    for (n, v) in headers {
        request.append(
            http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    let decision = cors.decide(&CorsRequest::from_headers(&method, &request));
    let mut response = HeaderMap::new();
    for v in upstream_vary {
        response.append(http::header::VARY, HeaderValue::from_str(v).unwrap());
    }
    decision.apply(&mut response);
    let cors_lines = response
        .iter()
        .filter(|(n, _)| n.as_str().starts_with("access-control-"))
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    let vary = response
        .get_all(http::header::VARY)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    (cors_lines, vary, decision.status().map(|s| s.as_u16()))
}

fn sorted(mut lines: Vec<(String, String)>) -> Vec<(String, String)> {
    lines.sort();
    lines
}

/// An upstream that answers every request `200 hello` with `headers`.
async fn upstream_with(headers: &'static [(&'static str, &'static str)]) -> RawUpstream {
    RawUpstream::start(move |_| Reply::Send(response("200 OK", headers, "hello"))).await
}

fn methods(received: &[Recorded]) -> Vec<String> {
    received.iter().map(Recorded::request_line).collect()
}

// ---- the tests ----------------------------------------------------------------------------

const ALLOWED: &str = "https://app.example";
const ALLOWED_WILDCARD: &str = "https://a.b.tenant.example";
const DENIED: &str = "https://evil.example";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actual_requests_allowed_denied_and_without_origin() {
    let policy = policy_file(POLICY);
    let up = upstream_with(&[("x-request-id", "42")]).await;
    let gw = start(&policy, up.address, &[]);
    for (origin, allowed) in [
        (Some(ALLOWED), true),
        (Some(ALLOWED_WILDCARD), true),
        (Some(DENIED), false),
        (Some("https://app.example/"), false),
        (None, true),
    ] {
        let headers: Vec<(&str, &str)> = origin.iter().map(|o| ("Origin", *o)).collect();
        let answer = get(gw.address, "/api/items", &headers).await;
        assert_eq!(answer.status, 200, "{origin:?}: {answer:?}");
        assert_eq!(answer.body, "hello", "the upstream's body passes");
        assert_eq!(answer.one("x-request-id"), Some("42"));
        let (cors, vary, status) = expected(&policy, "GET", &headers, &[]);
        assert_eq!(status, None, "forwarded");
        assert_eq!(sorted(answer.cors()), sorted(cors), "{origin:?}");
        assert_eq!(answer.all("vary"), vary, "{origin:?}");
        // The class, stated without the library: echo for allowed origins, nothing otherwise.
        match (origin, allowed) {
            (Some(o), true) => {
                assert_eq!(answer.one("access-control-allow-origin"), Some(o));
                assert_eq!(answer.one("access-control-allow-credentials"), Some("true"));
                assert_eq!(
                    answer.one("access-control-expose-headers"),
                    Some("x-request-id")
                );
            }
            _ => assert!(answer.cors().is_empty(), "{origin:?}: {answer:?}"),
        }
        assert_eq!(answer.all("vary").join(","), "Origin");
    }
    let received = up.received();
    assert_eq!(
        received.len(),
        5,
        "every actual request reached the upstream"
    );
    assert_eq!(
        received[0].header("origin"),
        [ALLOWED],
        "the Origin is forwarded as sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflights_are_answered_and_never_reach_the_upstream() {
    let policy = policy_file(POLICY);
    let up = upstream_with(&[]).await;
    let gw = start(&policy, up.address, &[]);
    let cases: [(&[(&str, &str)], u16); 6] = [
        (
            &[
                ("Origin", ALLOWED),
                ("Access-Control-Request-Method", "PUT"),
                (
                    "Access-Control-Request-Headers",
                    "authorization,content-type",
                ),
            ],
            204,
        ),
        (
            &[
                ("Origin", ALLOWED_WILDCARD),
                ("Access-Control-Request-Method", "DELETE"),
            ],
            204,
        ),
        (
            &[("Origin", DENIED), ("Access-Control-Request-Method", "PUT")],
            403,
        ),
        (
            &[
                ("Origin", ALLOWED),
                ("Access-Control-Request-Method", "PATCH"),
            ],
            403,
        ),
        (
            &[
                ("Origin", ALLOWED),
                ("Access-Control-Request-Method", "PUT"),
                ("Access-Control-Request-Headers", "x-not-allowed"),
            ],
            403,
        ),
        (
            &[("Origin", "null"), ("Access-Control-Request-Method", "GET")],
            403,
        ),
    ];
    for (headers, status) in cases {
        let answer = call(gw.address, "OPTIONS", "/api/items/1", headers).await;
        let (cors, vary, decided) = expected(&policy, "OPTIONS", headers, &[]);
        assert_eq!(decided, Some(status));
        assert_eq!(answer.status, status, "{headers:?}: {answer:?}");
        assert_eq!(sorted(answer.cors()), sorted(cors), "{headers:?}");
        assert_eq!(answer.all("vary"), vary, "{headers:?}");
        assert_eq!(answer.body, "", "{headers:?}");
        if status == 204 {
            assert_eq!(answer.one("content-length"), None, "RFC 9110 §8.6");
            assert_eq!(answer.one("access-control-max-age"), Some("600"));
        } else {
            assert!(answer.cors().is_empty(), "a denied preflight: only Vary");
            assert_eq!(answer.one("content-length"), Some("0"));
        }
    }
    // An OPTIONS without Access-Control-Request-Method is not a preflight: it is forwarded.
    let answer = call(
        gw.address,
        "OPTIONS",
        "/api/items/1",
        &[("Origin", ALLOWED)],
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        methods(&up.received()),
        ["OPTIONS /api/items/1 HTTP/1.1"],
        "only the non-preflight OPTIONS reached the upstream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_status_200_keeps_the_connection_and_passthrough_forwards_denied_ones() {
    let policy = policy_file(&format!(
        "{POLICY}preflight_status = 200\npreflight_passthrough = true\n"
    ));
    let up = upstream_with(&[("access-control-allow-origin", "https://evil.example")]).await;
    let gw = start(&policy, up.address, &[]);
    // Two preflights, one after the other, on one keep-alive connection: the 200 says its
    // body is empty, so the connection stays usable.
    let one = "OPTIONS /a HTTP/1.1\r\nHost: gateway.test\r\nOrigin: https://app.example\r\nAccess-Control-Request-Method: PUT\r\n\r\n";
    let two = "OPTIONS /b HTTP/1.1\r\nHost: gateway.test\r\nOrigin: https://app.example\r\nAccess-Control-Request-Method: GET\r\nConnection: close\r\n\r\n";
    let mut stream = tokio::net::TcpStream::connect(gw.address).await.unwrap();
    stream.write_all(one.as_bytes()).await.unwrap();
    let mut first = Vec::new();
    let mut buf = [0u8; 4096];
    while !first.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(READ_LIMIT, stream.read(&mut buf))
            .await
            .expect("the first answer comes")
            .unwrap();
        assert!(n > 0, "closed after the first preflight");
        first.extend_from_slice(&buf[..n]);
    }
    stream.write_all(two.as_bytes()).await.unwrap();
    let second = read_until_close(&mut stream, READ_LIMIT).await;
    for answer in [parse_answer(&first), parse_answer(&second)] {
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.one("content-length"), Some("0"));
        assert_eq!(answer.one("access-control-allow-origin"), Some(ALLOWED));
    }
    assert!(up.received().is_empty(), "{:?}", methods(&up.received()));

    // A denied preflight goes to the upstream, and the upstream's CORS headers are dropped.
    let headers = [("Origin", DENIED), ("Access-Control-Request-Method", "PUT")];
    let answer = call(gw.address, "OPTIONS", "/c", &headers).await;
    let (cors, vary, decided) = expected(&policy, "OPTIONS", &headers, &[]);
    assert_eq!(decided, None, "passthrough: forwarded");
    assert_eq!(answer.status, 200, "the upstream's answer");
    assert_eq!(answer.body, "hello");
    assert_eq!(sorted(answer.cors()), sorted(cors));
    assert!(answer.cors().is_empty());
    assert_eq!(answer.all("vary"), vary);
    assert_eq!(methods(&up.received()), ["OPTIONS /c HTTP/1.1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_cors_headers_are_replaced_and_vary_merged() {
    let policy = policy_file(POLICY);
    // The upstream's own guesses, in assorted case, and two Vary lines.
    let up = upstream_with(&[
        ("Access-Control-Allow-Origin", "*"),
        ("access-control-allow-credentials", "false"),
        ("ACCESS-CONTROL-ALLOW-METHODS", "PATCH"),
        ("Access-Control-Expose-Headers", "x-secret"),
        ("Access-Control-Max-Age", "99999"),
        ("Vary", "Accept-Encoding"),
        ("vary", "Cookie"),
        ("X-Upstream-Case", "kept"),
    ])
    .await;
    let gw = start(&policy, up.address, &[]);
    let upstream_vary = ["Accept-Encoding", "Cookie"];
    for origin in [ALLOWED, DENIED] {
        let headers = [("Origin", origin)];
        let answer = get(gw.address, "/page", &headers).await;
        let (cors, vary, _) = expected(&policy, "GET", &headers, &upstream_vary);
        assert_eq!(answer.status, 200);
        assert_eq!(sorted(answer.cors()), sorted(cors), "{origin}: {answer:?}");
        assert_eq!(answer.all("vary"), vary, "{origin}: the library's merge");
        // Each name once across the Vary lines, none lost.
        let mut names: Vec<String> = answer
            .all("vary")
            .iter()
            .flat_map(|l| l.split(','))
            .map(|n| n.trim().to_ascii_lowercase())
            .collect();
        names.sort();
        assert_eq!(names, ["accept-encoding", "cookie", "origin"], "{origin}");
        assert_eq!(answer.one("x-upstream-case"), Some("kept"));
        if origin == ALLOWED {
            assert_eq!(answer.one("access-control-allow-origin"), Some(ALLOWED));
            assert_eq!(answer.one("access-control-allow-credentials"), Some("true"));
            assert_eq!(answer.one("access-control-allow-methods"), None);
            assert_eq!(answer.one("access-control-max-age"), None);
        } else {
            assert!(answer.cors().is_empty(), "{answer:?}");
        }
    }
    // `Vary: *` stays `*`, and an upstream `Vary: origin` is not repeated.
    for (line, want) in [("*", "*"), ("origin", "origin")] {
        let up = RawUpstream::start(move |_| {
            Reply::Send(response("200 OK", &[("Vary", line)], "hello"))
        })
        .await;
        let gw = start(&policy, up.address, &[]);
        let answer = get(gw.address, "/", &[("Origin", ALLOWED)]).await;
        assert_eq!(answer.all("vary"), [want]);
        assert_eq!(answer.one("access-control-allow-origin"), Some(ALLOWED));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pingoras_own_errors_carry_cors_headers() {
    let policy = policy_file(POLICY);
    // Upstream down: nothing listens on the port.
    let gw = start(&policy, free_port(), &["--upstream-connect-timeout", "1"]);
    for origin in [Some(ALLOWED), Some(DENIED), None] {
        let headers: Vec<(&str, &str)> = origin.iter().map(|o| ("Origin", *o)).collect();
        let answer = get(gw.address, "/api/items", &headers).await;
        assert_eq!(answer.status, 502, "{answer:?}");
        let (cors, vary, _) = expected(&policy, "GET", &headers, &[]);
        assert_eq!(sorted(answer.cors()), sorted(cors), "{origin:?}");
        assert_eq!(answer.all("vary"), vary);
        if origin == Some(ALLOWED) {
            assert_eq!(answer.one("access-control-allow-origin"), Some(ALLOWED));
        }
    }
    // Preflights are still answered: they never needed the upstream.
    let answer = call(
        gw.address,
        "OPTIONS",
        "/api/items",
        &[
            ("Origin", ALLOWED),
            ("Access-Control-Request-Method", "PUT"),
        ],
    )
    .await;
    assert_eq!(answer.status, 204);

    // An upstream that never answers, past --upstream-timeout.
    let up = RawUpstream::start(|_| Reply::Hang).await;
    let gw = start(&policy, up.address, &["--upstream-timeout", "0.5"]);
    let started = Instant::now();
    let answer = get(gw.address, "/slow", &[("Origin", ALLOWED_WILDCARD)]).await;
    assert_eq!(answer.status, 502, "{answer:?}");
    assert!(started.elapsed() < Duration::from_secs(8));
    assert_eq!(
        answer.one("access-control-allow-origin"),
        Some(ALLOWED_WILDCARD)
    );
    assert_eq!(answer.one("access-control-allow-credentials"), Some("true"));
    assert_eq!(answer.all("vary"), ["Origin"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_reload_by_file_and_sighup() {
    let policy = policy_file(POLICY);
    let up = upstream_with(&[]).await;
    // SIGHUP right away: the handler is installed before the server runs.
    let gw = start(&policy, up.address, &["--no-watch"]);
    gw.signal("HUP");
    gw.wait_for_log("policy file re-read: unchanged").await;
    let answer = get(gw.address, "/healthz", &[("Origin", ALLOWED)]).await;
    assert_eq!(answer.status, 200, "{}", gw.log());
    assert!(answer.body.contains("\"status\":\"ok\""), "{}", answer.body);
    assert_eq!(answer.one("access-control-allow-origin"), Some(ALLOWED));
    assert!(
        up.received().is_empty(),
        "/healthz is answered by the gateway"
    );

    let other = [("Origin", "https://other.example")];
    assert!(get(gw.address, "/", &other).await.cors().is_empty());
    std::fs::write(
        &policy,
        POLICY.replace("\"https://app.example\"", "\"https://other.example\""),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(gw.generation().await, 1, "--no-watch: no reload on its own");
    gw.signal("HUP");
    gw.wait_for_generation(2).await;
    let answer = get(gw.address, "/", &other).await;
    assert_eq!(
        answer.one("access-control-allow-origin"),
        Some("https://other.example")
    );

    // With the watcher: an atomic rename is picked up without a signal; a broken file keeps
    // the last good policy serving and says so on /healthz.
    let gw = start(&policy, up.address, &[]);
    let tmp = policy.with_extension("tmp");
    std::fs::write(&tmp, POLICY).unwrap();
    std::fs::rename(&tmp, &policy).unwrap();
    gw.wait_for_generation(2).await;
    assert_eq!(
        get(gw.address, "/", &[("Origin", ALLOWED)])
            .await
            .one("access-control-allow-origin"),
        Some(ALLOWED)
    );
    std::fs::write(&tmp, "origins = [\"https://app.example/path\"]\n").unwrap();
    std::fs::rename(&tmp, &policy).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let health = get(gw.address, "/healthz", &[]).await;
        if health.body.contains("\"policy_file\":\"invalid\"") {
            assert!(health.body.contains("\"generation\":2"), "{}", health.body);
            break;
        }
        assert!(Instant::now() < deadline, "{}", gw.log());
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        get(gw.address, "/", &[("Origin", ALLOWED)])
            .await
            .one("access-control-allow-origin"),
        Some(ALLOWED),
        "the last good policy serves"
    );
}

#[test]
fn bad_flags_and_policies_are_refused() {
    let policy = policy_file(POLICY);
    let run = |args: &[&str]| {
        let out = Command::new(example_binary())
            .args(args)
            .env_remove("CORSGATE_ENV")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let p = policy.to_str().unwrap();
    let (code, err) = run(&[
        p,
        "--upstream",
        "http://127.0.0.1:9",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--listen needs a port"), "{err}");
    for (upstream, message) in [
        ("https://127.0.0.1:9", "only http://"),
        ("http://user:secret@127.0.0.1:9", "userinfo"),
        ("http://127.0.0.1:9/prefix", "no path prefix"),
    ] {
        let (code, err) = run(&[p, "--upstream", upstream, "--listen", "127.0.0.1:1"]);
        assert_eq!(code, Some(2), "{upstream}");
        assert!(err.contains(message), "{upstream}: {err}");
        assert!(
            !err.contains("secret"),
            "a password is never printed: {err}"
        );
    }
    let bad = policy_file("origins = [\"https://app.example/path\"]\n");
    let (code, err) = run(&[
        bad.to_str().unwrap(),
        "--upstream",
        "http://127.0.0.1:9",
        "--listen",
        "127.0.0.1:1",
    ]);
    assert_eq!(code, Some(1), "an invalid policy");
    assert!(err.contains("origin_has_path"), "{err}");
}

/// Requests flow continuously (4 keep-alive clients, actual requests and preflights) while the
/// policy file is rewritten 100 times by atomic renames, alternating two policies: every
/// response comes whole from one policy or the other, and not one request fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_fails_while_the_policy_reloads() {
    let dir = scratch();
    let policy = dir.join("policy.toml");
    std::fs::write(&policy, POLICY_A).unwrap();
    let up = upstream_with(&[]).await;
    let gw = start(&policy, up.address, &[]);
    let seen = requests_during_rewrites(gw.url("/api/items"), &dir, &policy, 10, 10).await;
    let generation = gw.generation().await;
    assert!(seen.total > 100, "only {} requests", seen.total);
    assert!(
        seen.by_a > 0 && seen.by_b > 0,
        "both policies served: {} A, {} B",
        seen.by_a,
        seen.by_b
    );
    assert!(generation >= 5, "reloads happened: generation {generation}");
    eprintln!(
        "{} requests, 0 failed; {} preflights answered by A, {} by B; generation {generation}",
        seen.total, seen.by_a, seen.by_b
    );
}
