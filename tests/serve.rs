//! `corsgate serve`, run for real on loopback: in front of an upstream test server (status,
//! headers and streamed bodies pass through), with the demo API, reloading by file rewrite,
//! atomic rename, ConfigMap-style symlink swap, delete and re-create, and SIGHUP; a broken file
//! that leaves the old policy answering; graceful shutdown; and a bounded load test during 200
//! rewrites.

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::channel::Channel;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::{mpsc, Notify};

fn scratch() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "corsgate-serve-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

use support::gateway::Gateway;
use support::http_client::send;
use support::rewrites::{requests_during_rewrites, POLICY_A};

fn acao(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_owned())
}

// ---- an upstream to proxy to --------------------------------------------------------------

type UpBody = BoxBody<Bytes, Infallible>;

struct Upstream {
    address: SocketAddr,
    /// Released by the test to let `/stream` send its last chunk.
    release: Arc<Notify>,
    /// Told when `/upload` received its first chunk.
    uploads: tokio::sync::Mutex<mpsc::UnboundedReceiver<usize>>,
}

async fn upstream() -> Upstream {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let release = Arc::new(Notify::new());
    let (tx, rx) = mpsc::unbounded_channel();
    let (rel, tx) = (release.clone(), tx);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (rel, tx) = (rel.clone(), tx.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let (rel, tx) = (rel.clone(), tx.clone());
                    async move { Ok::<_, Infallible>(upstream_handle(req, rel, tx).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Upstream {
        address,
        release,
        uploads: tokio::sync::Mutex::new(rx),
    }
}

async fn upstream_handle(
    req: Request<Incoming>,
    release: Arc<Notify>,
    uploads: mpsc::UnboundedSender<usize>,
) -> Response<UpBody> {
    let full = |b: String| Full::new(Bytes::from(b)).boxed();
    match req.uri().path() {
        "/stream" => {
            let (mut sender, body) = Channel::<Bytes, Infallible>::new(1);
            tokio::spawn(async move {
                sender
                    .send_data(Bytes::from_static(b"first chunk\n"))
                    .await
                    .unwrap();
                release.notified().await;
                sender
                    .send_data(Bytes::from_static(b"last chunk\n"))
                    .await
                    .unwrap();
            });
            Response::new(body.boxed())
        }
        "/upload" => {
            let mut body = req.into_body();
            let mut total = 0;
            let mut first = true;
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame.unwrap().into_data() {
                    total += data.len();
                    if first {
                        first = false;
                        let _ = uploads.send(total);
                    }
                }
            }
            Response::new(full(format!("received {total} bytes")))
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(800)).await;
            Response::new(full("slow done".into()))
        }
        path => {
            let status: u16 = req
                .headers()
                .get("x-want-status")
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .unwrap_or(200);
            let seen: Vec<(String, String)> = req
                .headers()
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("?").to_owned()))
                .collect();
            let body = serde_json::json!({"method": req.method().as_str(), "path": path, "query": req.uri().query(), "headers": seen});
            let mut response = Response::new(full(body.to_string()));
            *response.status_mut() = StatusCode::from_u16(status).unwrap();
            let h = response.headers_mut();
            h.insert("x-upstream", "yes".parse().unwrap());
            h.insert("vary", "Accept-Encoding".parse().unwrap());
            h.insert("access-control-allow-origin", "*".parse().unwrap());
            response
        }
    }
}

const POLICY: &str = r#"
origins = ["https://app.example", "https://*.app.example"]
methods = ["GET", "PUT"]
allow_headers = ["content-type", "x-token"]
expose_headers = ["x-upstream"]
credentials = true
max_age = 60
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxies_status_headers_and_applies_cors() {
    let dir = scratch();
    let policy = dir.join("policy.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let up = upstream().await;
    let gw = Gateway::start(&policy, &["--upstream", &format!("http://{}", up.address)]);

    let (status, headers, body) = send(
        &gw.url("/some/path?x=1"),
        Method::GET,
        &[
            ("origin", "https://a.app.example"),
            ("x-want-status", "418"),
            ("x-custom", "passed"),
            ("connection", "keep-alive, x-drop-me"),
            ("x-drop-me", "hop"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::IM_A_TEAPOT);
    let seen: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(seen["path"], "/some/path");
    assert_eq!(seen["query"], "x=1");
    let upstream_headers: Vec<(String, String)> =
        serde_json::from_value(seen["headers"].clone()).unwrap();
    let has = |n: &str| {
        upstream_headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(has("x-custom").as_deref(), Some("passed"));
    assert_eq!(has("origin").as_deref(), Some("https://a.app.example"));
    assert_eq!(has("x-forwarded-for").as_deref(), Some("127.0.0.1"));
    assert_eq!(has("host"), Some(gw.address.to_string()));
    assert_eq!(
        has("x-drop-me"),
        None,
        "hop-by-hop headers named in Connection are not forwarded"
    );
    assert_eq!(headers.get("x-upstream").unwrap(), "yes");
    assert_eq!(acao(&headers).as_deref(), Some("https://a.app.example"));
    assert_eq!(
        headers
            .get_all("access-control-allow-origin")
            .iter()
            .count(),
        1
    );
    let vary: Vec<_> = headers
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(vary, ["Accept-Encoding, Origin"]);

    // Preflights are answered by corsgate.
    let (status, headers, body) = send(
        &gw.url("/x"),
        Method::OPTIONS,
        &[
            ("origin", "https://app.example"),
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", "content-type"),
        ],
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::NO_CONTENT, ""));
    assert_eq!(
        headers.get("access-control-allow-methods").unwrap(),
        "GET,PUT"
    );
    let (status, _, _) = send(
        &gw.url("/x"),
        Method::OPTIONS,
        &[
            ("origin", "https://evil.example"),
            ("access-control-request-method", "PUT"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Denied actual request: forwarded, the upstream's `*` removed.
    let (status, headers, _) = send(
        &gw.url("/x"),
        Method::GET,
        &[("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(acao(&headers), None);

    // An unreachable upstream is a 502 that still carries CORS headers.
    drop(gw);
    let gw = Gateway::start(&policy, &["--upstream", "http://127.0.0.1:9"]);
    let (status, headers, _) = send(
        &gw.url("/x"),
        Method::GET,
        &[("origin", "https://app.example")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(acao(&headers).as_deref(), Some("https://app.example"));
    gw.wait_for_log("corsgate::access").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_stream_both_ways() {
    let dir = scratch();
    let policy = dir.join("policy.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let up = upstream().await;
    let gw = Gateway::start(&policy, &["--upstream", &format!("http://{}", up.address)]);

    // Response: the first chunk arrives while the upstream still holds back the last.
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let response = client
        .request(
            Request::get(gw.url("/stream"))
                .header("origin", "https://app.example")
                .body(Empty::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        acao(response.headers()).as_deref(),
        Some("https://app.example")
    );
    let mut body = response.into_body();
    let first = tokio::time::timeout(Duration::from_secs(5), body.frame())
        .await
        .expect("first chunk before the last is sent");
    assert_eq!(
        first.unwrap().unwrap().into_data().unwrap(),
        Bytes::from_static(b"first chunk\n")
    );
    up.release.notify_one();
    let rest = body.collect().await.unwrap().to_bytes();
    assert_eq!(rest, Bytes::from_static(b"last chunk\n"));

    // Request: the upstream sees the first chunk while the client still holds back the rest.
    let client = Client::builder(TokioExecutor::new()).build_http::<Channel<Bytes, Infallible>>();
    let (mut sender, body) = Channel::<Bytes, Infallible>::new(1);
    let request = Request::put(gw.url("/upload"))
        .header("origin", "https://app.example")
        .body(body)
        .unwrap();
    let pending = tokio::spawn(async move { client.request(request).await });
    sender
        .send_data(Bytes::from(vec![b'a'; 1000]))
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), async {
        up.uploads.lock().await.recv().await
    })
    .await
    .expect("upstream got the first chunk before the body ended");
    assert_eq!(got, Some(1000));
    sender
        .send_data(Bytes::from(vec![b'b'; 500]))
        .await
        .unwrap();
    drop(sender);
    let response = pending.await.unwrap().unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, Bytes::from_static(b"received 1500 bytes"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_api_and_healthz() {
    let gw = Gateway::start(Path::new("examples/policy.toml"), &[]);
    let (status, headers, body) = send(
        &gw.url("/api/users"),
        Method::GET,
        &[("origin", "https://myapp.example")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Ada"));
    assert_eq!(acao(&headers).as_deref(), Some("https://myapp.example"));
    assert_eq!(
        headers.get("access-control-expose-headers").unwrap(),
        "x-request-id"
    );
    let (status, _, body) = send(&gw.url("/healthz"), Method::GET, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, r#"{"generation":1,"status":"ok"}"#);
}

fn allows(origin: &str) -> String {
    format!("origins = [\"{origin}\"]\n")
}

async fn allowed(gw: &Gateway, origin: &str) -> bool {
    let (_, headers, _) = send(&gw.url("/api/users"), Method::GET, &[("origin", origin)]).await;
    acao(&headers).as_deref() == Some(origin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_on_rewrite_rename_delete_and_broken_files() {
    let dir = scratch();
    let policy = dir.join("policy.toml");
    std::fs::write(&policy, allows("https://one.example")).unwrap();
    let gw = Gateway::start(&policy, &[]);
    assert!(allowed(&gw, "https://one.example").await);

    // In-place rewrite.
    std::fs::write(&policy, allows("https://two.example")).unwrap();
    let g = gw.wait_for_generation(2).await;
    assert!(allowed(&gw, "https://two.example").await);
    assert!(!allowed(&gw, "https://one.example").await);

    // An editor's atomic rename.
    let tmp = dir.join(".policy.toml.swp");
    std::fs::write(&tmp, allows("https://three.example")).unwrap();
    std::fs::rename(&tmp, &policy).unwrap();
    let g = gw.wait_for_generation(g + 1).await;
    assert!(allowed(&gw, "https://three.example").await);

    // A broken file: every problem logged, the old policy keeps answering.
    std::fs::write(
        &policy,
        "origins = [\"https://four.example/app\", \"*\"]\ncredentials = true\n",
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !gw.log().contains("policy reload failed") {
        assert!(
            Instant::now() < deadline,
            "no failure logged:\n{}",
            gw.log()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let log = gw.log();
    assert!(
        log.contains("origin_has_path") && log.contains("any_origin_with_credentials"),
        "{log}"
    );
    assert!(
        log.contains(&format!("generation {g} keeps serving")),
        "{log}"
    );
    assert_eq!(gw.generation().await, g);
    assert!(allowed(&gw, "https://three.example").await);
    assert!(!allowed(&gw, "https://four.example").await);

    // Delete, then re-create.
    std::fs::remove_file(&policy).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        allowed(&gw, "https://three.example").await,
        "a missing file keeps the old policy"
    );
    std::fs::write(&policy, allows("https://five.example")).unwrap();
    gw.wait_for_generation(g + 1).await;
    assert!(allowed(&gw, "https://five.example").await);
    gw.wait_for_log("policy reloaded: generation").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_on_a_configmap_symlink_swap() {
    use std::os::unix::fs::symlink;
    let dir = scratch();
    let v1 = dir.join("..2026_11_27_01");
    std::fs::create_dir(&v1).unwrap();
    std::fs::write(v1.join("policy.toml"), allows("https://one.example")).unwrap();
    symlink("..2026_11_27_01", dir.join("..data")).unwrap();
    symlink("..data/policy.toml", dir.join("policy.toml")).unwrap();
    let gw = Gateway::start(&dir.join("policy.toml"), &[]);
    assert!(allowed(&gw, "https://one.example").await);

    // What the kubelet does: a new timestamped directory, a new `..data` link renamed over the
    // old one, the old directory removed.
    let v2 = dir.join("..2026_11_27_02");
    std::fs::create_dir(&v2).unwrap();
    std::fs::write(v2.join("policy.toml"), allows("https://two.example")).unwrap();
    symlink("..2026_11_27_02", dir.join("..data_tmp")).unwrap();
    std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
    std::fs::remove_dir_all(&v1).unwrap();
    gw.wait_for_generation(2).await;
    assert!(allowed(&gw, "https://two.example").await);
    assert!(!allowed(&gw, "https://one.example").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads() {
    let dir = scratch();
    let policy = dir.join("policy.toml");
    std::fs::write(&policy, allows("https://one.example")).unwrap();
    // Without the watcher, only SIGHUP reloads.
    let gw = Gateway::start(&policy, &["--no-watch"]);
    std::fs::write(&policy, allows("https://two.example")).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        gw.generation().await,
        1,
        "--no-watch must not reload on its own"
    );
    gw.signal("HUP");
    gw.wait_for_generation(2).await;
    assert!(allowed(&gw, "https://two.example").await);
    gw.wait_for_log("SIGHUP").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shuts_down_gracefully() {
    let dir = scratch();
    let policy = dir.join("policy.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let up = upstream().await;
    let mut gw = Gateway::start(&policy, &["--upstream", &format!("http://{}", up.address)]);
    let url = gw.url("/slow");
    let in_flight =
        tokio::spawn(
            async move { send(&url, Method::GET, &[("origin", "https://app.example")]).await },
        );
    tokio::time::sleep(Duration::from_millis(200)).await;
    gw.signal("TERM");
    let (status, headers, body) = in_flight.await.unwrap();
    assert_eq!((status, body.as_str()), (StatusCode::OK, "slow done"));
    assert_eq!(acao(&headers).as_deref(), Some("https://app.example"));
    let (status, gw) = tokio::task::spawn_blocking(move || {
        let status = gw.child.wait().unwrap();
        (status, gw)
    })
    .await
    .unwrap();
    assert!(status.success(), "{status:?}\n{}", gw.log());
    gw.wait_for_log("all connections closed").await;
}

/// Requests flow continuously while the policy file is rewritten 200 times (atomic renames,
/// alternating two policies). Bounded: 200 rewrites, 4 clients, stops by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_fails_during_200_rewrites() {
    let dir = scratch();
    let policy = dir.join("policy.toml");
    std::fs::write(&policy, POLICY_A).unwrap();
    let gw = Gateway::start(&policy, &[]);
    // 10 bursts of 20 rewrites; each burst ends on the other policy and is followed by a pause
    // long enough for the watcher to settle, so both policies serve in turn.
    let seen = requests_during_rewrites(gw.url("/api/users"), &dir, &policy, 10, 20).await;
    let (total, a, b) = (seen.total, seen.by_a, seen.by_b);
    // The file ends as policy A: it serves once the watcher settles (on a loaded machine that
    // can take longer than the pauses above).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, headers, _) = send(
            &gw.url("/x"),
            Method::OPTIONS,
            &[
                ("origin", "https://shared.example"),
                ("access-control-request-method", "GET"),
            ],
        )
        .await;
        if headers
            .get("access-control-max-age")
            .is_some_and(|v| v == "10")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "policy A does not serve at the end"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let generation = gw.generation().await;
    assert!(total > 200, "only {total} requests");
    assert!(a > 0 && b > 0, "both policies served: {a} A, {b} B");
    // Ten bursts, each ending on the other policy: ten reloads when the machine keeps up;
    // fewer bursts are told apart when it is loaded, but several always are.
    assert!(generation >= 5, "reloads happened: generation {generation}");
    eprintln!("{total} requests, 0 failed; {a} preflights answered by A, {b} by B; final generation {generation}");
}

/// The threads of a running `serve` that serve requests, by the name it gives them.
fn worker_threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim() == "corsgate-worker")
        .count()
}

/// `--workers N` sizes the runtime that serves requests; `--no-access-log` drops the line per
/// request and nothing else (reload lines stay).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_and_no_access_log() {
    for (flags, workers, access_lines) in [
        (&["--workers", "1", "--no-access-log"][..], 1, 0),
        (&["--workers", "3"][..], 3, 1),
    ] {
        let gw = Gateway::start(Path::new("examples/policy.toml"), flags);
        let (status, headers, _) = send(
            &gw.url("/api/users"),
            Method::GET,
            &[("origin", "https://myapp.example")],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(acao(&headers).as_deref(), Some("https://myapp.example"));
        // Worker threads name themselves once they run: under load the last one may not have
        // yet when the first response arrives, so wait (bounded) for the count to settle.
        let deadline = Instant::now() + Duration::from_secs(5);
        while worker_threads(gw.child.id()) != workers && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(worker_threads(gw.child.id()), workers, "{flags:?}");
        gw.signal("HUP");
        gw.wait_for_log("policy file re-read").await;
        assert_eq!(
            gw.requests("GET", "/api/users"),
            access_lines,
            "{flags:?}:\n{}",
            gw.log()
        );
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_corsgate"))
        .args(["serve", "examples/policy.toml", "--workers", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "--workers 0 is refused");
}
