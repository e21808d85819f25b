//! `corsgate serve`: a CORS gateway in one command.
//!
//! A reverse proxy on hyper that applies the policy to every request (through
//! `corsgate::layer::CorsLayer`) and streams bodies both ways; without `--upstream`, a small
//! built-in demo API. It reloads the policy when its file changes and on SIGHUP, answers
//! `GET /healthz` with the serving generation, writes an access log line per request, and shuts
//! down gracefully on SIGINT or SIGTERM (in-flight requests finish).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Args;
use corsgate::file::{active_environment, PolicyFile};
use corsgate::layer::{CorsLayer, CorsService};
use corsgate::watch::{PolicyWatcher, WatchOptions};
use corsgate::Cors;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tower_layer::Layer;
use tower_service::Service;

use crate::{report_policy_error, EXIT_OK, EXIT_USAGE};

#[derive(Args)]
pub struct ServeArgs {
    /// The policy file (TOML, or JSON when it ends in .json).
    policy: PathBuf,
    /// The environment (default: CORSGATE_ENV, else the base policy).
    #[arg(long)]
    env: Option<String>,
    /// Address to listen on (port 0 picks a free port; the address is printed on start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Forward requests to this http:// URL (scheme, host, port, optional path prefix).
    /// Without it, corsgate serves a small demo API.
    #[arg(long, value_name = "URL")]
    upstream: Option<String>,
    /// How long to wait for in-flight requests on shutdown.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    grace_period: u64,
    /// Do not watch the policy file; reload only on SIGHUP.
    #[arg(long)]
    no_watch: bool,
}

type Body = BoxBody<Bytes, hyper::Error>;

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never: Infallible| match never {})
        .boxed()
}

fn json(status: StatusCode, value: serde_json::Value) -> Response<Body> {
    let mut response = Response::new(full(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub fn run(args: ServeArgs) -> u8 {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(true)
        .try_init();
    let environment = active_environment(args.env.as_deref());
    let policy = match PolicyFile::load(&args.policy).and_then(|f| f.policy(environment.as_deref()))
    {
        Ok(p) => p,
        Err(err) => return report_policy_error(&err),
    };
    for warning in policy.warnings() {
        tracing::warn!(target: "corsgate::policy", "{warning}");
    }
    let backend = match &args.upstream {
        None => Backend::Demo,
        Some(url) => match Proxy::new(url) {
            Ok(p) => Backend::Proxy(Box::new(p)),
            Err(e) => {
                eprintln!("corsgate serve: --upstream {url:?}: {e}");
                return EXIT_USAGE;
            }
        },
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("corsgate serve: cannot start the runtime: {e}");
            return EXIT_USAGE;
        }
    };
    let cors = Arc::new(Cors::new(policy));
    match runtime.block_on(serve(args, environment, cors, backend)) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("corsgate serve: {e}");
            EXIT_USAGE
        }
    }
}

async fn serve(
    args: ServeArgs,
    environment: Option<String>,
    cors: Arc<Cors>,
    backend: Backend,
) -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind(args.listen).await?;
    let address = listener.local_addr()?;
    let watcher = Arc::new(PolicyWatcher::with_options(
        cors.clone(),
        &args.policy,
        environment.clone(),
        WatchOptions {
            watch: !args.no_watch,
            ..WatchOptions::default()
        },
    )?);
    let mut hangup = signal(SignalKind::hangup())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;

    println!(
        "corsgate: listening on http://{address} (policy {}, environment {}, generation {}, {})",
        args.policy.display(),
        environment.as_deref().unwrap_or("base"),
        cors.generation(),
        match &backend {
            Backend::Demo => "demo API".to_owned(),
            Backend::Proxy(p) => format!("upstream {}", p.base),
        }
    );
    let app = App {
        backend: Arc::new(backend),
        cors: cors.clone(),
    };
    let service = CorsLayer::new(cors.clone()).layer(app);
    let graceful = GracefulShutdown::new();

    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(target: "corsgate::serve", "accept failed: {e}");
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let service = service.clone();
                let handler = hyper::service::service_fn(move |request: Request<Incoming>| {
                    handle(service.clone(), request, peer)
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), handler);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::debug!(target: "corsgate::serve", "connection from {peer}: {e}");
                    }
                });
            }
            _ = hangup.recv() => {
                tracing::info!(target: "corsgate::watch", "SIGHUP: reloading {}", args.policy.display());
                let watcher = watcher.clone();
                let _ = tokio::task::spawn_blocking(move || watcher.reload_now()).await;
            }
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
        }
    }
    drop(listener);
    tracing::info!(
        target: "corsgate::serve",
        "shutting down: waiting up to {}s for in-flight requests",
        args.grace_period
    );
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!(target: "corsgate::serve", "all connections closed"),
        _ = tokio::time::sleep(Duration::from_secs(args.grace_period)) => {
            tracing::warn!(target: "corsgate::serve", "grace period over; closing remaining connections");
        }
    }
    Ok(())
}

/// Runs one request through the CORS service and writes the access log line.
async fn handle(
    mut service: CorsService<App>,
    mut request: Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response<Body>, Infallible> {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let preflight = method == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    request.extensions_mut().insert(Peer(peer));
    let response = service.call(request).await?;
    tracing::info!(
        target: "corsgate::access",
        "{method} {path} origin={} preflight={preflight} status={} acao={} {}us",
        origin.as_deref().unwrap_or("-"),
        response.status().as_u16(),
        response
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .map_or("-".into(), |v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        started.elapsed().as_micros()
    );
    Ok(response)
}

#[derive(Clone, Copy)]
struct Peer(SocketAddr);

enum Backend {
    Demo,
    Proxy(Box<Proxy>),
}

/// The service behind the CORS layer: `/healthz`, then the demo API or the upstream.
#[derive(Clone)]
struct App {
    backend: Arc<Backend>,
    cors: Arc<Cors>,
}

impl Service<Request<Incoming>> for App {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        let app = self.clone();
        Box::pin(async move {
            if request.method() == Method::GET && request.uri().path() == "/healthz" {
                return Ok(json(
                    StatusCode::OK,
                    serde_json::json!({"status": "ok", "generation": app.cors.generation()}),
                ));
            }
            Ok(match &*app.backend {
                Backend::Demo => demo(request).await,
                Backend::Proxy(proxy) => proxy.forward(request).await,
            })
        })
    }
}

/// The demo API: enough for a page to try simple and preflighted requests.
async fn demo(request: Request<Incoming>) -> Response<Body> {
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut response = match (request.method().clone(), segments.as_slice()) {
        (Method::GET, ["api", "users"]) => json(
            StatusCode::OK,
            serde_json::json!([{"id": 1, "name": "Ada"}, {"id": 2, "name": "Grace"}]),
        ),
        (Method::GET, ["api", "users", id]) => match id.parse::<u64>() {
            Ok(id) => json(StatusCode::OK, serde_json::json!({"id": id, "name": "Ada"})),
            Err(_) => json(
                StatusCode::NOT_FOUND,
                serde_json::json!({"error": "no such user"}),
            ),
        },
        (Method::PUT, ["api", "users", id]) => {
            let id = id.to_string();
            match Limited::new(request.into_body(), 1 << 20).collect().await {
                Ok(body) => {
                    let body = body.to_bytes();
                    let parsed: serde_json::Value =
                        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                    json(
                        StatusCode::OK,
                        serde_json::json!({"id": id, "updated": parsed}),
                    )
                }
                Err(_) => json(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    serde_json::json!({"error": "body over 1 MiB"}),
                ),
            }
        }
        (Method::DELETE, ["api", "users", _]) => {
            let mut r = Response::new(full(Bytes::new()));
            *r.status_mut() = StatusCode::NO_CONTENT;
            r
        }
        _ => json(
            StatusCode::NOT_FOUND,
            serde_json::json!({"error": "not found", "path": path}),
        ),
    };
    let headers = response.headers_mut();
    headers.insert("x-request-id", HeaderValue::from_static("demo-1"));
    // A header no example policy exposes: pages cannot read it.
    headers.insert("x-demo-version", HeaderValue::from_static("1"));
    response
}

/// Forwards requests to an `http://` upstream, streaming bodies both ways.
struct Proxy {
    client: Client<HttpConnector, Incoming>,
    base: Uri,
}

/// Connection-level headers, never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn strip_hop_by_hop(headers: &mut http::HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("").split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for name in listed {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

impl Proxy {
    fn new(url: &str) -> Result<Proxy, String> {
        let base: Uri = url.parse().map_err(|e| format!("not a URL: {e}"))?;
        if base.scheme_str() != Some("http") {
            return Err("only http:// upstreams are supported (put TLS in front of corsgate, or between the upstream and its clients)".into());
        }
        if base.authority().is_none() {
            return Err("the URL has no host".into());
        }
        if base.query().is_some() {
            return Err(
                "the URL has a query; give scheme, host, port and an optional path prefix".into(),
            );
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Proxy { client, base })
    }

    async fn forward(&self, mut request: Request<Incoming>) -> Response<Body> {
        let prefix = self.base.path().trim_end_matches('/');
        let path_and_query = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let target = format!(
            "http://{}{prefix}{path_and_query}",
            self.base.authority().map_or("", |a| a.as_str())
        );
        match target.parse::<Uri>() {
            Ok(uri) => *request.uri_mut() = uri,
            Err(e) => {
                return json(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({"error": format!("cannot forward this path: {e}")}),
                )
            }
        }
        let peer = request.extensions().get::<Peer>().map(|p| p.0);
        let original_host = request.headers().get(header::HOST).cloned();
        let headers = request.headers_mut();
        strip_hop_by_hop(headers);
        if let Some(peer) = peer {
            let forwarded_for = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
                Some(prior) => format!("{prior}, {}", peer.ip()),
                None => peer.ip().to_string(),
            };
            if let Ok(v) = HeaderValue::from_str(&forwarded_for) {
                headers.insert("x-forwarded-for", v);
            }
        }
        if let Some(host) = original_host {
            headers.insert("x-forwarded-host", host);
        }
        headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
        match self.client.request(request).await {
            Ok(response) => {
                let mut response = response.map(|body| body.boxed());
                strip_hop_by_hop(response.headers_mut());
                response
            }
            Err(e) => {
                tracing::warn!(target: "corsgate::serve", "upstream {}: {e}", self.base);
                json(
                    StatusCode::BAD_GATEWAY,
                    serde_json::json!({"error": "upstream unavailable"}),
                )
            }
        }
    }
}
