//! Real-browser end-to-end tests: headless Chromium decides whether corsgate got CORS right.
//!
//! A page served from one origin (`http://127.0.0.1:A`, and for the wildcard case
//! `http://app.localhost:A` and `http://localhost:A`) runs `fetch` calls against several
//! `corsgate serve` instances on other origins (`http://127.0.0.1:B…`), each with its own policy,
//! and posts what the browser let it see back to the test's page server. Every case states the
//! outcome Chromium must show.
//!
//! Needs Chromium (Debian's `chromium`), so it is ignored by a plain `cargo test`; run it with
//! `cargo test --all-features --test browser -- --ignored` (`.ci/run` installs Chromium and
//! does). Set `CORSGATE_BROWSER_SABOTAGE` to `credentials`, `expose`, `max_age`, `preflight`,
//! `wildcard` or `sets` to break the matching policy on purpose: the suite must then fail.
//!
//! One gateway serves a policy set (design §8): the page calls `api1.localhost` and
//! `api2.localhost` (Chromium resolves `*.localhost` to loopback), which choose different
//! policies, a path prefix, and an `off` route.

mod support;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use support::gateway::Gateway;
use tokio::sync::mpsc;

fn sabotage() -> String {
    std::env::var("CORSGATE_BROWSER_SABOTAGE").unwrap_or_default()
}

fn chromium() -> PathBuf {
    if let Ok(path) = std::env::var("CHROMIUM") {
        return PathBuf::from(path);
    }
    for candidate in [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ] {
        if Path::new(candidate).exists() {
            return PathBuf::from(candidate);
        }
    }
    panic!("Chromium not found: install Debian's `chromium` (apt-get install chromium) or set CHROMIUM");
}

/// Writes `policy` to `DIR/NAME.toml` and starts `corsgate serve` on it.
fn start_gateway(dir: &Path, name: &str, policy: &str) -> (Gateway, PathBuf) {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, policy).unwrap();
    (Gateway::start(&path, &[]), path)
}

/// The page every Chromium run loads; `CONFIG` is filled in by the page server.
const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>corsgate in a browser</title></head><body>
<pre id="out">running</pre>
<script>
const CONFIG = __CONFIG__;
async function attempt(name, url, init, read) {
  try {
    const res = await fetch(url, init || {});
    const body = await res.text();
    const headers = {};
    for (const h of read || []) headers[h] = res.headers.get(h);
    return {name, ok: true, status: res.status, body: body.slice(0, 200), headers};
  } catch (e) {
    return {name, ok: false, error: String(e)};
  }
}
async function main() {
  const results = [];
  const json = {'Content-Type': 'application/json'};
  if (CONFIG.mode === 'main') {
    results.push(await attempt('simple-allowed', CONFIG.main + '/api/users'));
    results.push(await attempt('simple-denied', CONFIG.other + '/api/users'));
    results.push(await attempt('credentials-allowed', CONFIG.main + '/api/users', {credentials: 'include'}));
    results.push(await attempt('credentials-refused-with-star', CONFIG.star + '/api/users', {credentials: 'include'}));
    results.push(await attempt('star-without-credentials', CONFIG.star + '/api/users'));
    const put = {method: 'PUT', headers: {...json, 'Authorization': 'Bearer token'}, body: '{"name":"Ada"}'};
    results.push(await attempt('preflighted-allowed', CONFIG.main + '/api/users/1', put));
    results.push(await attempt('preflighted-denied', CONFIG.nopreflight + '/api/users/1', put));
    results.push(await attempt('expose', CONFIG.main + '/api/users', {}, ['x-request-id', 'x-demo-version']));
    const cached = {method: 'PUT', headers: json, body: '{}'};
    results.push(await attempt('max-age-first', CONFIG.main + '/api/users/7', cached));
    results.push(await attempt('max-age-second', CONFIG.main + '/api/users/7', cached));
    results.push(await attempt('reload-before', CONFIG.reload + '/api/users'));
    await fetch('/step', {method: 'POST'});
    results.push(await attempt('reload-after', CONFIG.reload + '/api/users'));
  } else if (CONFIG.mode === 'sets') {
    // One gateway, one policy set: the host and path choose the policy.
    results.push(await attempt('set-host-allowed', CONFIG.api1 + '/api/users'));
    results.push(await attempt('set-host-denied', CONFIG.api2 + '/api/users'));
    results.push(await attempt('set-prefix-public', CONFIG.api2 + '/public/users'));
    results.push(await attempt('set-prefix-boundary', CONFIG.api2 + '/publicity'));
    const put = {method: 'PUT', headers: {'Content-Type': 'application/json'}, body: '{}'};
    results.push(await attempt('set-preflight-allowed', CONFIG.api1 + '/api/users/1', put));
    results.push(await attempt('set-preflight-denied', CONFIG.api2 + '/public/users/1', put));
    results.push(await attempt('set-off', CONFIG.api1 + '/internal/users'));
  } else {
    results.push(await attempt('wildcard-subdomain', CONFIG.wild + '/api/users'));
  }
  document.getElementById('out').textContent = JSON.stringify(results);
  await fetch('/results', {method: 'POST', body: JSON.stringify(results)});
}
main();
</script></body></html>"#;

struct PageServer {
    port: u16,
    results: mpsc::UnboundedReceiver<Value>,
}

type StepHandler =
    Arc<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync>;

/// Serves the page (any Host) on an already bound listener, takes `/results`, and runs `step`
/// on `/step` before answering it.
async fn page_server(
    listener: tokio::net::TcpListener,
    configs: HashMap<String, Value>,
    step: StepHandler,
) -> PageServer {
    let port = listener.local_addr().unwrap().port();
    // Chromium may resolve `localhost` names to ::1 first: serve there too when possible.
    let v6 = tokio::net::TcpListener::bind(("::1", port)).await.ok();
    let (tx, results) = mpsc::unbounded_channel();
    let configs = Arc::new(configs);
    for listener in std::iter::once(listener).chain(v6) {
        let (tx, configs, step) = (tx.clone(), configs.clone(), step.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (tx, configs, step) = (tx.clone(), configs.clone(), step.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let (tx, configs, step) = (tx.clone(), configs.clone(), step.clone());
                        async move {
                            let path = req.uri().path().to_owned();
                            let mut response = Response::new(Full::new(Bytes::new()));
                            match path.as_str() {
                                "/results" => {
                                    let body = req.into_body().collect().await.unwrap().to_bytes();
                                    let _ = tx
                                        .send(serde_json::from_slice(&body).unwrap_or(Value::Null));
                                }
                                "/step" => step().await,
                                _ => match configs.get(path.trim_start_matches('/')) {
                                    Some(config) => {
                                        let html = PAGE.replace("__CONFIG__", &config.to_string());
                                        *response.body_mut() = Full::new(Bytes::from(html));
                                        response.headers_mut().insert(
                                            "content-type",
                                            "text/html; charset=utf-8".parse().unwrap(),
                                        );
                                    }
                                    None => *response.status_mut() = StatusCode::NOT_FOUND,
                                },
                            }
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    }
    PageServer { port, results }
}

/// Loads `url` in headless Chromium and returns what the page posted to `/results`.
async fn run_page(page: &mut PageServer, url: &str) -> Vec<Value> {
    let profile = std::env::temp_dir().join(format!(
        "corsgate-chromium-{}-{}",
        std::process::id(),
        page.port
    ));
    let _ = std::fs::remove_dir_all(&profile);
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--disable-dev-shm-usage",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("Chromium starts");
    let results = tokio::time::timeout(Duration::from_secs(60), page.results.recv()).await;
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&profile);
    let results = results
        .expect("the page reported within 60 s")
        .expect("results");
    results.as_array().cloned().unwrap_or_default()
}

fn by_name(results: &[Value]) -> HashMap<String, Value> {
    results
        .iter()
        .map(|r| (r["name"].as_str().unwrap_or("").to_owned(), r.clone()))
        .collect()
}

fn readable(results: &HashMap<String, Value>, name: &str) -> bool {
    let r = results
        .get(name)
        .unwrap_or_else(|| panic!("no result for {name}: {results:#?}"));
    r["ok"] == true
}

#[test]
#[ignore = "needs Chromium: cargo test --all-features --test browser -- --ignored"]
fn chromium_enforces_what_corsgate_decides() {
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = std::env::temp_dir().join(format!("corsgate-browser-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let sabotage = sabotage();

        // The page origin's port is needed in the policies: bind the page server first, with a
        // step handler that is filled in once the reload gateway exists.
        let reload_slot: Arc<Mutex<Option<(PathBuf, SocketAddr)>>> = Arc::new(Mutex::new(None));
        let slot = reload_slot.clone();
        let step: StepHandler = Arc::new(move || {
            let slot = slot.clone();
            Box::pin(async move {
                let (policy, address) = slot.lock().unwrap().clone().expect("reload gateway");
                let before = generation_of(address).await;
                std::fs::write(&policy, "origins = [\"https://nobody.example\"]\nmax_age = 0\n").unwrap();
                let deadline = Instant::now() + Duration::from_secs(10);
                while generation_of(address).await == before {
                    assert!(Instant::now() < deadline, "the reload did not happen");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        });
        // The policies name the page's origin: bind its port first, serve once they exist.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let page_port = listener.local_addr().unwrap().port();
        let page = format!("http://127.0.0.1:{page_port}");

        let main_policy = format!(
            "origins = [\"{page}\"]\nmethods = [\"GET\", \"PUT\"]\nallow_headers = [\"Content-Type\"{auth}]\nexpose_headers = [{expose}]\ncredentials = {cred}\n{age}\ndangerously_allow_insecure_origins = false\n",
            auth = if sabotage == "preflight" { "" } else { ", \"Authorization\"" },
            expose = if sabotage == "expose" { "" } else { "\"X-Request-Id\"" },
            cred = sabotage != "credentials",
            age = if sabotage == "max_age" { "max_age = 0" } else { "max_age = 600" },
        );
        let (main, _) = start_gateway(&dir, "main", &main_policy);
        let (other, _) = start_gateway(&dir, "other", "origins = [\"https://elsewhere.example\"]\n");
        let (star, _) = start_gateway(&dir, "star", "origins = [\"*\"]\n");
        let (nopreflight, _) = start_gateway(
            &dir,
            "nopreflight",
            &format!("origins = [\"{page}\"]\nmethods = [\"GET\", \"PUT\"]\nallow_headers = [\"Content-Type\"]\n"),
        );
        let wild_origin = if sabotage == "wildcard" {
            format!("http://localhost:{page_port}")
        } else {
            format!("http://*.localhost:{page_port}")
        };
        let (wild, _) = start_gateway(&dir, "wild", &format!("origins = [\"{wild_origin}\"]\n"));
        let (reload, reload_policy) =
            start_gateway(&dir, "reload", &format!("origins = [\"{page}\"]\nmax_age = 0\n"));
        // A policy set: api1.localhost allows the page (GET and PUT); api2.localhost does not,
        // except under /public, where any origin may read (GET only); /internal on api1 is
        // `off` (the demo API sends no CORS headers of its own, so the browser refuses it).
        let set_policy = format!(
            "origins = [\"https://nobody.example\"]\n\n\
             [policies.app]\norigins = [\"{page}\"]\nmethods = [\"GET\", \"PUT\"]\nallow_headers = [\"Content-Type\"]\n\n\
             [policies.public]\norigins = [\"*\"]\n\n\
             [[routes]]\nhosts = [\"api1.localhost\"]\npolicy = \"app\"\n\n\
             [[routes]]\nhosts = [\"api1.localhost\"]\npath_prefix = \"/internal\"\npolicy = \"off\"\n\n\
             [[routes]]\nhosts = [\"{api2}\"]\npath_prefix = \"/public\"\npolicy = \"public\"\n",
            api2 = if sabotage == "sets" { "api1.localhost" } else { "api2.localhost" },
        );
        let (sets, _) = start_gateway(&dir, "sets", &set_policy);
        let sets_port = sets.address.port();
        *reload_slot.lock().unwrap() = Some((reload_policy, reload.address));

        let mut configs = HashMap::new();
        configs.insert(
            "main.html".to_owned(),
            serde_json::json!({"mode": "main", "main": main.url(""), "other": other.url(""), "star": star.url(""),
                               "nopreflight": nopreflight.url(""), "reload": reload.url("")}),
        );
        configs.insert("wild.html".to_owned(), serde_json::json!({"mode": "wild", "wild": wild.url("")}));
        configs.insert(
            "sets.html".to_owned(),
            serde_json::json!({"mode": "sets", "api1": format!("http://api1.localhost:{sets_port}"),
                               "api2": format!("http://api2.localhost:{sets_port}")}),
        );
        let mut server = page_server(listener, configs, step).await;

        // Everything but the wildcard, from http://127.0.0.1:A.
        let results = by_name(&run_page(&mut server, &format!("{page}/main.html")).await);
        eprintln!("results: {}", serde_json::to_string_pretty(&results).unwrap());
        let mut failures = Vec::new();
        let mut expect = |name: &str, want: bool, why: &str| {
            if readable(&results, name) != want {
                failures.push(format!("{name}: expected {} ({why}); got {}", if want { "readable" } else { "a network error" }, results[name]));
            }
        };
        expect("simple-allowed", true, "the page origin is allowed");
        expect("simple-denied", false, "the page origin is not in that policy");
        expect("credentials-allowed", true, "explicit origin with credentials = true");
        expect("credentials-refused-with-star", false, "browsers refuse `*` for credentialed requests");
        expect("star-without-credentials", true, "`*` serves requests without credentials");
        expect("preflighted-allowed", true, "PUT with JSON and Authorization, all allowed");
        expect("preflighted-denied", false, "Authorization is not in allow_headers");
        expect("expose", true, "a simple GET");
        expect("max-age-first", true, "a preflighted PUT");
        expect("max-age-second", true, "the same PUT again");
        expect("reload-before", true, "allowed before the reload");
        expect("reload-after", false, "the reloaded policy no longer lists the page");
        if results.get("expose").is_some_and(|r| r["ok"] == true) {
            let headers = &results["expose"]["headers"];
            if headers["x-request-id"] != "demo-1" {
                failures.push(format!("x-request-id is listed in expose_headers and must be readable: {headers}"));
            }
            if !headers["x-demo-version"].is_null() {
                failures.push(format!("x-demo-version is not exposed and must not be readable: {headers}"));
            }
        }
        // Max-Age honoured: the second identical PUT sent no new preflight.
        let preflights = main.requests("OPTIONS", "/api/users/7");
        let puts = main.requests("PUT", "/api/users/7");
        if (preflights, puts) != (1, 2) {
            failures.push(format!("max-age: expected 1 preflight for 2 PUTs, the gateway logged {preflights} and {puts}"));
        }

        // The wildcard: a page on app.localhost is allowed, one on localhost is not.
        let sub = by_name(&run_page(&mut server, &format!("http://app.localhost:{page_port}/wild.html")).await);
        if !readable(&sub, "wildcard-subdomain") {
            failures.push(format!("http://app.localhost:{page_port} matches *.localhost: {}", sub["wildcard-subdomain"]));
        }
        let apex = by_name(&run_page(&mut server, &format!("http://localhost:{page_port}/wild.html")).await);
        if readable(&apex, "wildcard-subdomain") {
            failures.push(format!("http://localhost:{page_port} is not a subdomain of localhost: {}", apex["wildcard-subdomain"]));
        }

        // Policy sets: two hosts, two policies, a prefix and an `off` route on one gateway.
        let set = by_name(&run_page(&mut server, &format!("{page}/sets.html")).await);
        eprintln!("set results: {}", serde_json::to_string_pretty(&set).unwrap());
        for (name, want, why) in [
            ("set-host-allowed", true, "api1.localhost's route chooses the policy listing the page"),
            ("set-host-denied", false, "api2.localhost has no route for /api: the default policy does not list the page"),
            ("set-prefix-public", true, "api2.localhost/public chooses the `*` policy"),
            ("set-prefix-boundary", false, "/publicity is not under /public"),
            ("set-preflight-allowed", true, "api1's policy allows PUT with Content-Type"),
            ("set-preflight-denied", false, "the public policy allows only GET"),
            ("set-off", false, "an `off` route adds no CORS headers"),
        ] {
            if readable(&set, name) != want {
                failures.push(format!("{name}: expected {} ({why}); got {}", if want { "readable" } else { "a network error" }, set[name]));
            }
        }

        drop((main, other, star, nopreflight, wild, reload, sets));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(failures.is_empty(), "Chromium disagrees with the expected outcome:\n{}", failures.join("\n"));
    });
    eprintln!("browser suite: {:.1} s", started.elapsed().as_secs_f64());
}

async fn generation_of(address: SocketAddr) -> u64 {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let response = client
        .request(
            Request::get(format!("http://{address}/healthz"))
                .body(Empty::new())
                .unwrap(),
        )
        .await
        .unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice::<Value>(&body).unwrap()["generation"]
        .as_u64()
        .unwrap()
}
