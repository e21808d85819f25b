//! The engine's counters: exact totals from several threads across a reload, counters that
//! survive reloads by policy name, and `/metrics` scraped over HTTP from a running
//! `corsgate serve` (on the proxy port, and on `--admin-listen`) after known traffic: allowed,
//! denied for each reason class, preflights, verdict-cache hits, a failed and a good reload.

mod support;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use corsgate::metrics::ReloadResult;
use corsgate::{Cors, CorsRequest, DecisionKind, Policy, PolicySetBuilder, RouteBuilder};
use http::Method;
use support::gateway::Gateway;
use support::http_client::send;

fn scratch() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "corsgate-metrics-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn set(api_origin: &str) -> PolicySetBuilder {
    PolicySetBuilder::new(Policy::builder().origins(["https://app.example"]).clone())
        .policy(
            "api",
            Policy::builder()
                .origins([api_origin])
                .methods(["GET", "PUT"])
                .clone(),
        )
        .route(RouteBuilder::new("api").path_prefix("/api/"))
        .route(RouteBuilder::new("off").path_prefix("/static/"))
}

#[test]
fn four_threads_sum_exactly_across_a_reload() {
    let cors = Arc::new(Cors::with_set(set("https://api.example").build().unwrap()));
    const ROUNDS: u64 = 2_000;
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let cors = Arc::clone(&cors);
            std::thread::spawn(move || {
                for i in 0..ROUNDS {
                    if i == ROUNDS / 2 {
                        // Each thread reloads once halfway: the slots belong to names.
                        let _ = cors.try_reload_set(&set(if i % 2 == 0 {
                            "https://api2.example"
                        } else {
                            "https://api.example"
                        }));
                    }
                    let allowed = CorsRequest::new(b"GET")
                        .origin(b"https://app.example")
                        .path(b"/");
                    assert!(cors.decide(&allowed).is_allowed());
                    let denied = CorsRequest::new(b"GET").origin(b"null").path(b"/api/x");
                    assert!(!cors.decide(&denied).is_allowed());
                    let preflight = CorsRequest::new(b"OPTIONS")
                        .origin(b"https://evil.example")
                        .request_method(b"PUT")
                        .path(b"/api/x");
                    assert!(!cors.decide(&preflight).is_allowed());
                    let off = CorsRequest::new(b"GET")
                        .origin(b"https://x.example")
                        .path(b"/static/a");
                    assert!(cors.decide(&off).is_allowed());
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let metrics = cors.metrics();
    let n = 4 * ROUNDS;
    let default = metrics.policy("default").unwrap();
    assert_eq!(default.decisions(DecisionKind::Actual, true), n);
    assert_eq!(default.decision_counts().count(), 1);
    let api = metrics.policy("api").unwrap();
    assert_eq!(api.decisions(DecisionKind::Actual, false), n);
    assert_eq!(api.decisions(DecisionKind::Preflight, false), n);
    assert_eq!(api.denials("null_origin"), n);
    assert_eq!(api.denials("origin_not_allowed"), n);
    let off = metrics.policy("off").unwrap();
    assert_eq!(off.decisions(DecisionKind::NotCors, true), n);
    assert_eq!(metrics.policies().len(), 3);
    // Four reload calls: the first changes the set, the others may or may not; all are `ok`.
    assert_eq!(metrics.reloads(ReloadResult::Ok), 4);
    assert!(metrics.generation() >= 2);
}

#[test]
fn counting_off_counts_nothing_and_invalid_reloads_count() {
    let cors = Cors::new(Policy::new(["https://app.example"]).unwrap());
    cors.set_counting(false);
    let _ = cors.decide(&CorsRequest::new(b"GET").origin(b"https://app.example"));
    assert!(cors.metrics().policies().is_empty());
    cors.set_counting(true);
    let _ = cors.decide(&CorsRequest::new(b"GET").origin(b"https://app.example"));
    let mut bad = Policy::builder();
    bad.origins(["https://app.example/path"]);
    assert!(cors.try_reload(&bad).is_err());
    let metrics = cors.metrics();
    assert_eq!(
        metrics
            .policy("default")
            .unwrap()
            .decisions(DecisionKind::Actual, true),
        1
    );
    assert_eq!(metrics.reloads(ReloadResult::Invalid), 1);
    assert_eq!(metrics.reloads(ReloadResult::Ok), 0);
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

const POLICY: &str = "origins = [\"https://app.example\"]\nmethods = [\"GET\", \"PUT\"]\nallow_headers = [\"content-type\"]\n";

async fn traffic(gw: &Gateway) {
    let get = |origins: &'static [&'static str]| {
        let headers: Vec<(&str, &str)> = origins.iter().map(|o| ("origin", *o)).collect();
        async move { send(&gw.url("/api/users"), Method::GET, &headers).await }
    };
    for _ in 0..2 {
        get(&["https://app.example"]).await;
    }
    get(&["https://evil.example"]).await;
    get(&["null"]).await;
    get(&["https://app.example/"]).await;
    get(&["https://app.example", "https://app.example"]).await;
    get(&[]).await;
    let preflight = |method: &'static str| async move {
        send(
            &gw.url("/api/users"),
            Method::OPTIONS,
            &[
                ("origin", "https://app.example"),
                ("access-control-request-method", method),
                ("access-control-request-headers", "content-type"),
            ],
        )
        .await
    };
    for _ in 0..2 {
        assert!(preflight("PUT").await.0.is_success());
    }
    assert_eq!(preflight("DELETE").await.0.as_u16(), 403);
}

fn check_traffic(text: &str, none_allowed: u64) {
    let d = |kind: &str, outcome: &str| {
        sample(
            text,
            &format!(
                r#"corsgate_decisions_total{{policy="default",kind="{kind}",outcome="{outcome}"}}"#
            ),
        )
    };
    assert_eq!(d("actual", "allowed"), 2, "{text}");
    assert_eq!(d("actual", "denied"), 4, "{text}");
    assert_eq!(d("preflight", "allowed"), 2, "{text}");
    assert_eq!(d("preflight", "denied"), 1, "{text}");
    assert_eq!(d("none", "allowed"), none_allowed, "{text}");
    for reason in [
        "origin_not_allowed",
        "null_origin",
        "malformed_origin",
        "multiple_origins",
        "method_not_allowed",
    ] {
        let name = format!(r#"corsgate_denials_total{{policy="default",reason="{reason}"}}"#);
        assert_eq!(sample(text, &name), 1, "{name}\n{text}");
    }
    assert_eq!(
        sample(
            text,
            r#"corsgate_verdict_cache_lookups_total{result="hit"}"#
        ),
        1
    );
    assert_eq!(
        sample(
            text,
            r#"corsgate_verdict_cache_lookups_total{result="miss"}"#
        ),
        2
    );
}

#[tokio::test]
async fn scrape_on_the_proxy_port_after_known_traffic_and_reloads() {
    let dir = scratch();
    let policy = dir.join("cors.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let gw = Gateway::start(&policy, &["--no-watch"]);
    traffic(&gw).await;

    // The scrape is itself a request the policy decides (no Origin: kind none).
    let (status, headers, text) = send(&gw.url("/metrics"), Method::GET, &[]).await;
    assert_eq!(status, 200);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    check_traffic(&text, 2);
    assert_eq!(sample(&text, "corsgate_policy_generation"), 1);
    assert!(sample(&text, "corsgate_last_reload_success_timestamp_seconds") > 1_700_000_000);
    for outcome in ["ok", "invalid", "error", "timeout"] {
        let name = format!(r#"corsgate_reloads_total{{outcome="{outcome}"}}"#);
        assert!(text.contains(&format!("{name} 0")), "{name}\n{text}");
    }

    // A failed reload, then a good one.
    let offset = gw.log().len();
    std::fs::write(&policy, "origins = [\"https://app.example/path\"]\n").unwrap();
    gw.signal("HUP");
    gw.wait_for_log_after(offset, "policy reload failed").await;
    let offset = gw.log().len();
    std::fs::write(&policy, "origins = [\"https://other.example\"]\n").unwrap();
    gw.signal("HUP");
    gw.wait_for_log_after(offset, "policy reloaded").await;

    let (_, _, text) = send(&gw.url("/metrics"), Method::GET, &[]).await;
    assert_eq!(sample(&text, r#"corsgate_reloads_total{outcome="ok"}"#), 1);
    assert_eq!(
        sample(&text, r#"corsgate_reloads_total{outcome="invalid"}"#),
        1
    );
    assert_eq!(
        sample(&text, r#"corsgate_reloads_total{outcome="error"}"#),
        0
    );
    assert_eq!(sample(&text, "corsgate_policy_generation"), 2);
    // The counters of `default` survived the reload: one more scrape counted.
    check_traffic(&text, 3);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn admin_listen_serves_metrics_and_healthz_apart() {
    let dir = scratch();
    let policy = dir.join("cors.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let admin = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let gw = Gateway::start(
        &policy,
        &["--no-watch", "--admin-listen", &admin.to_string()],
    );
    traffic(&gw).await;

    // The proxy port keeps /healthz; /metrics there is the demo API's (a 404), not the counters.
    let (status, _, _) = send(&gw.url("/healthz"), Method::GET, &[]).await;
    assert_eq!(status, 200);
    let (_, _, body) = send(&gw.url("/metrics"), Method::GET, &[]).await;
    assert!(!body.contains("corsgate_decisions_total"), "{body}");

    let (status, _, text) = send(&format!("http://{admin}/metrics"), Method::GET, &[]).await;
    assert_eq!(status, 200);
    // No Origin: the GET without one, /healthz and /metrics on the proxy port; the admin
    // listener's own requests are not decided.
    check_traffic(&text, 3);
    let (status, _, body) = send(&format!("http://{admin}/healthz"), Method::GET, &[]).await;
    assert_eq!(status, 200);
    assert!(body.contains("\"generation\":1"), "{body}");
    let (status, _, _) = send(&format!("http://{admin}/other"), Method::GET, &[]).await;
    assert_eq!(status, 404);
    let _ = std::fs::remove_dir_all(&dir);
}
