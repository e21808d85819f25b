//! Operating `corsgate serve` (design §9), tested on a running gateway in front of an upstream
//! that sends its own CORS headers: `--shadow` (counts and logs disagreements, never touches a
//! response; a broken shadow file turns the shadow off, at start and on reload, until it is
//! valid), `--report-only` (the upstream's response passes through as it was sent; the
//! responses a browser would read differently are counted), the rate-limited rejection log
//! under a flood (`--log-format json`), and no failed request while the policy file is
//! rewritten with the shadow or report-only on.

mod support;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderMap, Method, Response, StatusCode};
use support::gateway::Gateway;
use support::http_client::send;
use support::rewrites::{requests_during_rewrites, POLICY_A};
use support::upstream::Upstream;

fn scratch() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "corsgate-operations-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The value of the sample `name` in OpenMetrics text, 0 when absent.
fn sample(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            (series == name).then(|| value.parse::<f64>().unwrap() as u64)
        })
        .unwrap_or(0)
}

fn disagreements(text: &str, family: &str, difference: &str) -> u64 {
    sample(
        text,
        &format!(
            r#"corsgate_{family}_disagreements_total{{policy="default",difference="{difference}"}}"#
        ),
    )
}

async fn scrape(gw: &Gateway) -> String {
    let (status, _, text) = send(&gw.url("/metrics"), Method::GET, &[]).await;
    assert_eq!(status, 200);
    text
}

fn count(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}

const APP: &str = "https://app.example";
const OLD: &str = "https://old.example";
const NEW: &str = "https://new.example";

/// Serving: app and old, methods GET and PUT.
const SERVING: &str =
    "origins = [\"https://app.example\", \"https://old.example\"]\nmethods = [\"GET\", \"PUT\"]\n";
/// The shadow: app and new, with credentials.
const SHADOW: &str = "origins = [\"https://app.example\", \"https://new.example\"]\nmethods = [\"GET\", \"PUT\"]\ncredentials = true\n";
/// A shadow for the rewrite test: both of its policies' origins, with credentials.
const SHADOW_AB: &str = "origins = [\"https://a.example\", \"https://b.example\", \"https://shared.example\"]\nmethods = [\"GET\", \"PUT\", \"DELETE\"]\ncredentials = true\n";
const BROKEN: &str = "origins = [\"https://app.example/path\"]\n";

/// An upstream that sends CORS headers of its own (corsgate replaces them when enforcing).
async fn upstream_with_its_own_cors() -> Upstream {
    Upstream::start(|parts| {
        Response::builder()
            .header(
                "access-control-allow-origin",
                "https://upstream-own.example",
            )
            .header("x-upstream", "1")
            .body(format!("upstream saw {}", parts.uri.path()))
            .unwrap()
    })
    .await
}

/// (method, Origin, Access-Control-Request-Method)
const REQUESTS: [(&str, Option<&str>, Option<&str>); 7] = [
    ("GET", Some(APP), None),
    ("GET", Some(OLD), None),
    ("GET", Some(NEW), None),
    ("GET", Some("https://evil.example"), None),
    ("GET", None, None),
    ("OPTIONS", Some(APP), Some("PUT")),
    ("OPTIONS", Some(OLD), Some("PUT")),
];

async fn request(
    gw: &Gateway,
    (method, origin, acrm): (&str, Option<&str>, Option<&str>),
) -> (StatusCode, HeaderMap, String) {
    let mut headers = Vec::new();
    if let Some(origin) = origin {
        headers.push(("origin", origin));
    }
    if let Some(acrm) = acrm {
        headers.push(("access-control-request-method", acrm));
    }
    let (status, mut map, body) = send(
        &gw.url("/api/items"),
        Method::from_bytes(method.as_bytes()).unwrap(),
        &headers,
    )
    .await;
    map.remove("date");
    (status, map, body)
}

/// Every request gets the same response with the shadow as without it; the disagreements are
/// counted by kind and logged; a shadow file broken on reload turns the shadow off, a fixed
/// one turns it back on.
#[tokio::test]
async fn a_shadow_is_compared_and_never_touches_a_response() {
    let upstream = upstream_with_its_own_cors().await;
    let dir = scratch();
    let (policy, shadow) = (dir.join("cors.toml"), dir.join("shadow.toml"));
    std::fs::write(&policy, SERVING).unwrap();
    std::fs::write(&shadow, SHADOW).unwrap();
    let upstream_url = upstream.url();
    let plain = Gateway::start(&policy, &["--no-watch", "--upstream", &upstream_url]);
    let shadowed = Gateway::start(
        &policy,
        &[
            "--no-watch",
            "--upstream",
            &upstream_url,
            "--shadow",
            shadow.to_str().unwrap(),
        ],
    );
    for r in REQUESTS {
        assert_eq!(
            request(&shadowed, r).await,
            request(&plain, r).await,
            "{r:?}"
        );
    }
    // app: both allow, the shadow with credentials (headers); old: allowed, the shadow denies;
    // new: denied, the shadow allows; the preflight from old: allowed, the shadow denies.
    let text = scrape(&shadowed).await;
    assert_eq!(disagreements(&text, "shadow", "headers"), 2, "{text}");
    assert_eq!(
        disagreements(&text, "shadow", "allowed_to_denied"),
        2,
        "{text}"
    );
    assert_eq!(
        disagreements(&text, "shadow", "denied_to_allowed"),
        1,
        "{text}"
    );
    // The shadow's decisions are not traffic: the serving counters saw each request once.
    assert_eq!(
        sample(
            &text,
            r#"corsgate_decisions_total{policy="default",kind="actual",outcome="allowed"}"#
        ),
        2,
        "{text}"
    );
    assert!(!scrape(&plain)
        .await
        .contains("corsgate_shadow_disagreements_total{"));
    let log = shadowed.log();
    assert_eq!(count(&log, "shadow disagrees"), 5, "{log}");
    assert!(
        log.contains("difference=\"denied_to_allowed\"")
            || log.contains("difference=denied_to_allowed"),
        "{log}"
    );

    // Broken on reload: off (after the state is next checked, within a second), nothing
    // compared; serving goes on.
    let offset = shadowed.log().len();
    std::fs::write(&shadow, BROKEN).unwrap();
    shadowed.signal("HUP");
    shadowed
        .wait_for_log_after(offset, "shadow policy off until its file is valid")
        .await;
    assert_eq!(
        request(&shadowed, REQUESTS[1]).await,
        request(&plain, REQUESTS[1]).await
    );
    let text = scrape(&shadowed).await;
    assert_eq!(
        disagreements(&text, "shadow", "allowed_to_denied"),
        2,
        "{text}"
    );

    // Fixed: on again.
    let offset = shadowed.log().len();
    std::fs::write(&shadow, SHADOW).unwrap();
    shadowed.signal("HUP");
    shadowed
        .wait_for_log_after(offset, "shadow policy on")
        .await;
    let _ = request(&shadowed, REQUESTS[1]).await;
    let text = scrape(&shadowed).await;
    assert_eq!(
        disagreements(&text, "shadow", "allowed_to_denied"),
        3,
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A shadow file invalid at start does not stop the gateway: the shadow is off until the file
/// is valid.
#[tokio::test]
async fn a_shadow_file_invalid_at_start_is_off_until_it_is_valid() {
    let dir = scratch();
    let (policy, shadow) = (dir.join("cors.toml"), dir.join("shadow.toml"));
    std::fs::write(&policy, SERVING).unwrap();
    std::fs::write(&shadow, BROKEN).unwrap();
    let gw = Gateway::start(
        &policy,
        &["--no-watch", "--shadow", shadow.to_str().unwrap()],
    );
    gw.wait_for_log("shadow policy is invalid").await;
    gw.wait_for_log("origin_has_path").await;
    let (status, _, _) = send(&gw.url("/api/users"), Method::GET, &[("origin", OLD)]).await;
    assert_eq!(status, 200);
    let text = scrape(&gw).await;
    assert_eq!(
        disagreements(&text, "shadow", "allowed_to_denied"),
        0,
        "{text}"
    );

    let offset = gw.log().len();
    std::fs::write(&shadow, SHADOW).unwrap();
    gw.signal("HUP");
    gw.wait_for_log_after(offset, "shadow policy on").await;
    let _ = send(&gw.url("/api/items"), Method::GET, &[("origin", OLD)]).await;
    let text = scrape(&gw).await;
    assert_eq!(
        disagreements(&text, "shadow", "allowed_to_denied"),
        1,
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--shadow` and `--report-only` do not combine (design §9).
#[test]
fn shadow_and_report_only_do_not_combine() {
    let dir = scratch();
    let policy = dir.join("cors.toml");
    std::fs::write(&policy, SERVING).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_corsgate"))
        .arg("serve")
        .arg(&policy)
        .args(["--report-only", "--shadow"])
        .arg(&policy)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// An application that does its own CORS, by path.
async fn application() -> Upstream {
    Upstream::start(|parts| {
        let origin = parts
            .headers
            .get("origin")
            .map(|v| v.to_str().unwrap_or("").to_owned());
        let mut response = Response::builder()
            .status(if parts.method == Method::OPTIONS {
                204
            } else {
                200
            })
            .header("x-application", "yes")
            .header("Cache-Control", "no-store");
        let echo = origin.clone().unwrap_or_default();
        let path = parts.uri.path().to_owned();
        response = match path.as_str() {
            // Agrees with the policy: echo, Vary, the policy's methods.
            "/agree" => response
                .header("Access-Control-Allow-Origin", echo.as_str())
                .header("Vary", "Accept-Encoding")
                .header("Vary", "origin")
                .header("access-control-allow-methods", "PUT, GET"),
            // `*` where corsgate echoes: the same for a browser without credentials.
            "/star" => response.header("access-control-allow-origin", "*"),
            // Credentials corsgate would not allow.
            "/credentials" => response
                .header("access-control-allow-origin", echo.as_str())
                .header("access-control-allow-credentials", "true")
                .header("vary", "Origin"),
            // No CORS at all.
            "/none" => response,
            // Reflects any origin, and allows DELETE.
            _ => response
                .header("access-control-allow-origin", echo.as_str())
                .header("vary", "Origin")
                .header("access-control-allow-methods", "GET, PUT, DELETE"),
        };
        response
            .body(format!("application body for {path}"))
            .unwrap()
    })
    .await
}

/// (path, method, Origin, Access-Control-Request-Method, expected difference)
type ReportCase = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);

/// The response through `--report-only` is the application's: same status, same header
/// fields (names compared case-insensitively, values exactly, `date` aside), same body; the
/// differences a browser would see are counted, and formatting differences are not.
#[tokio::test]
async fn report_only_passes_the_upstream_response_through_and_counts_differences() {
    let app = application().await;
    let dir = scratch();
    let policy = dir.join("cors.toml");
    std::fs::write(&policy, SERVING).unwrap();
    let app_url = app.url();
    let gw = Gateway::start(
        &policy,
        &["--no-watch", "--upstream", &app_url, "--report-only"],
    );
    let cases: [ReportCase; 11] = [
        ("/agree", "GET", Some(APP), None, None),
        ("/agree", "OPTIONS", Some(APP), Some("PUT"), None),
        ("/star", "GET", Some(APP), None, None),
        ("/none", "GET", None, None, None),
        ("/none", "GET", Some("https://evil.example"), None, None),
        ("/credentials", "GET", Some(APP), None, Some("headers")),
        ("/none", "GET", Some(OLD), None, Some("denied_to_allowed")),
        (
            "/reflect",
            "GET",
            Some("https://evil.example"),
            None,
            Some("allowed_to_denied"),
        ),
        (
            "/reflect",
            "OPTIONS",
            Some(APP),
            Some("DELETE"),
            Some("allowed_to_denied"),
        ),
        (
            "/reflect",
            "OPTIONS",
            Some("https://evil.example"),
            Some("PUT"),
            Some("allowed_to_denied"),
        ),
        ("/reflect", "GET", Some(APP), None, None),
    ];
    let mut expected = std::collections::BTreeMap::<&str, u64>::new();
    for (path, method, origin, acrm, difference) in cases {
        let mut headers = Vec::new();
        if let Some(origin) = origin {
            headers.push(("origin", origin));
        }
        if let Some(acrm) = acrm {
            headers.push(("access-control-request-method", acrm));
        }
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let direct = send(&format!("{app_url}{path}"), method.clone(), &headers).await;
        let through = send(&gw.url(path), method.clone(), &headers).await;
        assert_eq!(through.0, direct.0, "{path} {method}");
        assert_eq!(through.2, direct.2, "{path} {method}");
        let fields = |map: &HeaderMap| {
            let mut fields: Vec<(String, Vec<u8>)> = map
                .iter()
                .filter(|(name, _)| *name != "date")
                .map(|(name, value)| {
                    (
                        name.as_str().to_ascii_lowercase(),
                        value.as_bytes().to_vec(),
                    )
                })
                .collect();
            fields.sort();
            fields
        };
        assert_eq!(fields(&through.1), fields(&direct.1), "{path} {method}");
        if let Some(difference) = difference {
            *expected.entry(difference).or_default() += 1;
        }
    }
    // Preflights went to the application: each case was sent twice (direct and through).
    assert_eq!(app.requests(), 2 * cases.len());
    let text = scrape(&gw).await;
    for difference in ["allowed_to_denied", "denied_to_allowed", "headers"] {
        assert_eq!(
            disagreements(&text, "report_only", difference),
            expected.get(difference).copied().unwrap_or(0),
            "{difference}\n{text}"
        );
    }
    // Decisions are still counted: app's GETs (/agree, /star, /credentials, /reflect) and old's.
    assert_eq!(
        sample(
            &text,
            r#"corsgate_decisions_total{policy="default",kind="actual",outcome="allowed"}"#
        ),
        5,
        "{text}"
    );
    let log = gw.log();
    assert_eq!(count(&log, "upstream and corsgate disagree"), 5, "{log}");
    // Denials are logged as what corsgate would have done.
    assert!(log.contains("enforced=false"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A flood of denied requests: at most 10 rejection lines a second are written, the rest are
/// counted, and written + dropped is every denial. Lines are JSON with escaped, bounded
/// origins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rejection_log_is_rate_limited_under_a_flood() {
    let dir = scratch();
    let policy = dir.join("cors.toml");
    std::fs::write(&policy, SERVING).unwrap();
    let gw = Gateway::start(
        &policy,
        &["--no-watch", "--no-access-log", "--log-format", "json"],
    );
    let long = format!("https://{}.example", "a".repeat(1000));
    const FLOOD: usize = 400;
    let started = Instant::now();
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (url, long) = (gw.url("/api/users"), long.clone());
            tokio::spawn(async move {
                for i in 0..FLOOD / 4 {
                    let origin = match (c + i) % 3 {
                        0 => "https://evil.example\"quoted".to_owned(),
                        1 => long.clone(),
                        _ => "null".to_owned(),
                    };
                    let (status, headers, _) =
                        send(&url, Method::GET, &[("origin", origin.as_str())]).await;
                    assert_eq!(status, 200);
                    assert!(headers.get("access-control-allow-origin").is_none());
                }
            })
        })
        .collect();
    for client in clients {
        client.await.unwrap();
    }
    let seconds = started.elapsed().as_secs() + 1;
    // The dropped count is logged once a second.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (written, dropped) = loop {
        let log = gw.log();
        let mut written = 0u64;
        let mut dropped = 0u64;
        for line in log.lines() {
            let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else {
                panic!("not JSON: {line}");
            };
            match event["target"].as_str() {
                Some("corsgate::rejection") => {
                    written += 1;
                    assert_eq!(event["message"], "denied");
                    assert_eq!(event["policy"], "default");
                    assert_eq!(event["kind"], "actual");
                    let origin = event["origin"].as_str().unwrap();
                    let reason = event["reason"].as_str().unwrap();
                    assert!(
                        ["origin_not_allowed", "malformed_origin", "null_origin"].contains(&reason),
                        "{reason}"
                    );
                    // Escaped as in the text log, without its quotes (JSON has its own).
                    if origin.contains("quoted") {
                        assert_eq!(origin, r#"https://evil.example\"quoted"#);
                    } else if origin.starts_with("https://aaa") {
                        let cut = format!("(+{} bytes)", long.len() - 256);
                        assert!(origin.ends_with(&cut), "{origin}");
                        assert_eq!(origin.len(), 256 + cut.len());
                    } else {
                        assert_eq!((origin, reason), ("null", "null_origin"));
                    }
                }
                Some("corsgate::log_rate") if event["log"] == "corsgate::rejection" => {
                    dropped += event["dropped"].as_u64().unwrap();
                }
                _ => {}
            }
        }
        if written + dropped == FLOOD as u64 || Instant::now() > deadline {
            break (written, dropped);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        written + dropped,
        FLOOD as u64,
        "{written} written, {dropped} dropped"
    );
    assert!(
        written <= 10 * (seconds + 1),
        "{written} lines in {seconds} s"
    );
    assert!(dropped > 0);
    eprintln!(
        "{FLOOD} denials in ~{seconds} s: {written} lines written, {dropped} counted as dropped"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// 4 clients while the policy file is rewritten `rewrites` times: every response must pass
/// `check`; returns the number of requests.
async fn load_during_rewrites(
    url: String,
    dir: &Path,
    policy: &Path,
    contents: [&str; 2],
    rewrites: usize,
    check: fn(usize, StatusCode, &HeaderMap, &str),
) -> usize {
    let done = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (url, done) = (url.clone(), done.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !done.load(Ordering::Relaxed) {
                    let origin = [APP, OLD, NEW, "https://evil.example"][(c + n) % 4];
                    let (method, acrm) = if n % 3 == 0 {
                        (
                            Method::OPTIONS,
                            vec![("access-control-request-method", "PUT")],
                        )
                    } else {
                        (Method::GET, vec![])
                    };
                    let mut headers = vec![("origin", origin)];
                    headers.extend(acrm);
                    let (status, map, body) = send(&url, method, &headers).await;
                    check(n, status, &map, &body);
                    n += 1;
                }
                n
            })
        })
        .collect();
    for n in 0..rewrites {
        let tmp = dir.join(format!("rewrite.{n}"));
        std::fs::write(&tmp, contents[n % 2]).unwrap();
        std::fs::rename(&tmp, policy).unwrap();
        tokio::time::sleep(Duration::from_millis(if n % 5 == 4 { 400 } else { 20 })).await;
    }
    done.store(true, Ordering::Relaxed);
    let mut total = 0;
    for client in clients {
        total += client.await.unwrap();
    }
    total
}

/// The reload load test of `tests/serve.rs` (4 clients, the policy file rewritten in bursts
/// between two policies; every response whole from one of them, none failed) with a shadow
/// on, and `/metrics` scraped after it: the shadow never decides a response.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_fails_during_rewrites_with_a_shadow() {
    let dir = scratch();
    let (policy, shadow) = (dir.join("policy.toml"), dir.join("shadow.toml"));
    std::fs::write(&policy, POLICY_A).unwrap();
    // Allows a.example and b.example, with credentials: differs from both policies.
    std::fs::write(&shadow, SHADOW_AB).unwrap();
    let gw = Gateway::start(
        &policy,
        &["--shadow", shadow.to_str().unwrap(), "--no-access-log"],
    );
    let seen = requests_during_rewrites(gw.url("/api/users"), &dir, &policy, 10, 10).await;
    assert!(seen.total > 100, "only {} requests", seen.total);
    assert!(
        seen.by_a > 0 && seen.by_b > 0,
        "both policies served: {} A, {} B",
        seen.by_a,
        seen.by_b
    );
    let text = scrape(&gw).await;
    assert!(
        disagreements(&text, "shadow", "denied_to_allowed") > 0,
        "{text}"
    );
    assert!(disagreements(&text, "shadow", "headers") > 0, "{text}");
    eprintln!(
        "{} requests, 0 failed, while the policy file was rewritten 100 times with a shadow on",
        seen.total
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// No failed request while the policy file is rewritten in report-only mode; every response
/// is the upstream's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_fails_during_rewrites_in_report_only_mode() {
    let upstream = upstream_with_its_own_cors().await;
    let dir = scratch();
    let policy = dir.join("cors.toml");
    std::fs::write(&policy, SERVING).unwrap();
    let upstream_url = upstream.url();
    let gw = Gateway::start(
        &policy,
        &[
            "--upstream",
            &upstream_url,
            "--report-only",
            "--no-access-log",
        ],
    );
    let total = load_during_rewrites(
        gw.url("/api/items"),
        &dir,
        &policy,
        [SHADOW, SERVING],
        40,
        |n, status, headers, body| {
            assert_eq!(status, 200, "request {n}");
            assert_eq!(
                headers["access-control-allow-origin"], "https://upstream-own.example",
                "request {n}"
            );
            assert_eq!(body, "upstream saw /api/items", "request {n}");
        },
    )
    .await;
    assert!(gw.generation().await >= 2);
    let text = scrape(&gw).await;
    assert!(
        disagreements(&text, "report_only", "denied_to_allowed") > 0,
        "{text}"
    );
    eprintln!("{total} requests, 0 failed, while the policy file was rewritten 40 times in report-only mode");
    let _ = std::fs::remove_dir_all(&dir);
}
