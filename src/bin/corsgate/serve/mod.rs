//! `corsgate serve`: a CORS gateway in one command, built to face the internet.
//!
//! A reverse proxy on hyper (and, for bodyless requests, its own HTTP/1 lane) that applies
//! the policy to every request (through `corsgate::layer::CorsLayer`, or the same decision in
//! the lane) and streams bodies both ways; without `--upstream`, a small built-in demo API.
//! Each concern has its file:
//!
//! - `limits`: the timeouts and caps (flags and stated constants), the open-file limit;
//! - `listener`: accepting connections under `--max-connections`, backing off on `EMFILE`;
//! - `client_io`: a connection's deadlines (request head, keep-alive idle, stalled writes);
//! - `bodies`: stalled bodies, and when a response is done;
//! - `hygiene`: what is refused before any policy is consulted, and the proxy's header rules;
//! - `host_and_path`: what a valid `Host` and request path are;
//! - `upstream`: forwarding to the upstream (timeouts, retry, limits, causes logged);
//! - `pool`: the upstream's connections, idle ones kept per worker thread;
//! - `interim`: forwarding 1xx responses;
//! - `lane`: the HTTP/1 lane, serve's own path for bodyless `GET`, `HEAD` and `OPTIONS`,
//!   which hands every other request, and the rest of its connection, to hyper;
//! - `reload`: SIGHUP and `/healthz`;
//! - `admin`: `/metrics`, and `--admin-listen`'s listener for `/metrics` and `/healthz`;
//! - `access_log`: one escaped line per request;
//! - `log_rate`: a budget of log lines a second, with the dropped ones counted;
//! - `rejections`: the rejection log (denied CORS requests, structured);
//! - `shadow`: `--shadow`, a second policy set compared with the serving one;
//! - `observe`: what is done with each decision besides applying it;
//! - `demo`: the demo API.
//!
//! With `--report-only`, the CORS layer decides and counts but changes no response
//! (`corsgate::layer::CorsLayer::report_only`): preflights go to the upstream too, and
//! responses whose CORS headers a browser would read differently from corsgate's decision are
//! counted (`corsgate_report_only_disagreements_total`) and logged, target
//! `corsgate::report_only`, at most `--disagreement-log-rate` lines a second.
//!
//! A request goes: hygiene checks (refusals answered here, without CORS headers) →
//! `CorsLayer` (preflights answered, headers applied to everything else) → `/healthz`, the
//! demo API or the upstream. SIGINT/SIGTERM stop accepting and let in-flight requests finish.

mod access_log;
mod admin;
mod bodies;
mod client_io;
mod demo;
mod hop_by_hop;
mod host_and_path;
mod hygiene;
pub use hygiene::path_problem;
mod interim;
mod lane;
mod limits;
mod listener;
mod log_rate;
mod observe;
mod pool;
mod rejections;
mod reload;
mod shadow;
mod upstream;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use clap::Args;
use corsgate::file::{active_environment, PolicyFile};
use corsgate::layer::{CorsLayer, CorsService, ReportOnly};
use corsgate::watch::{PolicyWatcher, WatchOptions};
use corsgate::Cors;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body::Body as _;
use hyper::body::Incoming;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tower_layer::Layer;
use tower_service::Service;

use access_log::AccessRecord;
use bodies::{BoxedBody, RequestBody, ResponseBody};
use client_io::ConnectionClock;
use hygiene::TrustedProxies;
use limits::{parse_seconds, Limits, Seconds};
use upstream::{redact_userinfo, Forwarding, Upstream};

use access_log::Escaped;
use log_rate::LogRate;
use rejections::Rejections;
use shadow::Shadowing;

use crate::output::{self, diagnostic};
use crate::{report_policy_error, OutputFormat, EXIT_OK, EXIT_USAGE};

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
    /// Forward requests to this http:// URL (scheme, host, port, optional path prefix; no
    /// userinfo). Without it, corsgate serves a small demo API.
    #[arg(long, value_name = "URL")]
    upstream: Option<String>,
    /// How long to wait for in-flight requests on shutdown.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    grace_period: u64,
    /// Do not watch the policy file; reload only on SIGHUP.
    #[arg(long)]
    no_watch: bool,
    /// A request head must be complete within this many seconds: from the connection's start
    /// for its first request, from the first byte for later ones (0: no limit).
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_seconds)]
    header_read_timeout: Seconds,
    /// A keep-alive connection may wait this long for its next request (0: no limit).
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = parse_seconds)]
    idle_timeout: Seconds,
    /// Reading a body or writing a response may make no progress for this long (0: no
    /// limit).
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = parse_seconds)]
    io_timeout: Seconds,
    /// Connections served at once; more wait in the listen backlog until one closes.
    #[arg(long, value_name = "N", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_connections: u32,
    /// Connecting to the upstream may take this long; then 504 (0: no limit).
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_seconds)]
    upstream_connect_timeout: Seconds,
    /// The upstream's response head must arrive this long after the request was sent; then
    /// 504, with CORS headers (0: no limit).
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = parse_seconds)]
    upstream_timeout: Seconds,
    /// A reload (read, parse, validate, compile) that takes longer is abandoned and its
    /// result discarded; the serving policy stays (0: no limit).
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = parse_seconds)]
    reload_timeout: Seconds,
    /// A peer (address or network, e.g. 10.0.0.0/8; repeatable) whose X-Forwarded-Proto and
    /// X-Forwarded-Host are kept. Default: none, so both are always set by corsgate.
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    trusted_proxies: Vec<String>,
    /// Threads that serve requests, named corsgate-worker (default: one per CPU). With 1,
    /// everything runs on that one thread, without a work-stealing scheduler.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    workers: Option<u16>,
    /// Serve /metrics and /healthz on this address instead (port 0 picks a free port; the
    /// address is printed on start). The proxy port then keeps /healthz and no longer serves
    /// /metrics. Without it, /metrics is on the proxy port.
    #[arg(long, value_name = "ADDR")]
    admin_listen: Option<SocketAddr>,
    /// Write no access-log line per request (reloads, warnings and errors are still logged).
    #[arg(long)]
    no_access_log: bool,
    /// Decide every request with this policy file too (same --env), without touching any
    /// response; count and log where it disagrees. Watched and reloaded like the policy file;
    /// while it is invalid or unreadable, the shadow is off (serving is never affected).
    #[arg(long, value_name = "FILE", conflicts_with = "report_only")]
    shadow: Option<PathBuf>,
    /// Decide and count, but change no response: preflights go to the upstream too and its own
    /// CORS headers pass through; count and log the responses whose CORS headers a browser
    /// would read differently from corsgate's decision.
    #[arg(long)]
    report_only: bool,
    /// Serve every request through hyper: the HTTP/1 lane (corsgate's own path for bodyless
    /// GET, HEAD and OPTIONS, at less than half of hyper's instructions a request) off. The
    /// responses are the same either way but for the case of the upstream's header names and
    /// two malformed upstream answers (README); this is the fallback should the lane misbehave.
    #[arg(long)]
    no_lane: bool,
    /// Log format on standard error: text, or json (one object per line).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    log_format: OutputFormat,
    /// Denied CORS requests logged a second, at most (target corsgate::rejection; 0: none);
    /// the number of the others is logged once a second.
    #[arg(long, value_name = "N", default_value_t = 10)]
    rejection_log_rate: u32,
    /// Shadow and report-only disagreements logged a second, at most (0: none); the number
    /// of the others is logged once a second.
    #[arg(long, value_name = "N", default_value_t = 10)]
    disagreement_log_rate: u32,
}

pub fn run(args: ServeArgs) -> u8 {
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // A log line that cannot be written is dropped: tracing-subscriber would otherwise
        // report it with `eprintln!`, which panics on the same broken standard error and takes
        // the connection's task down with it.
        .log_internal_errors(false)
        .with_target(true);
    access_log::set_json_fields(args.log_format == OutputFormat::Json);
    let _ = match args.log_format {
        OutputFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        // One object per line, the event's fields beside `timestamp`, `level` and `target`.
        OutputFormat::Json => logs.json().flatten_event(true).with_ansi(false).try_init(),
    };
    let environment = active_environment(args.env.as_deref());
    let set =
        match PolicyFile::load(&args.policy).and_then(|f| f.policy_set(environment.as_deref())) {
            Ok(s) => s,
            Err(err) => return report_policy_error(&err),
        };
    for warning in set.warnings() {
        tracing::warn!(target: "corsgate::policy", "{warning}");
    }
    let limits = Limits {
        header_read_timeout: args.header_read_timeout.get(),
        idle_timeout: args.idle_timeout.get(),
        io_timeout: args.io_timeout.get(),
        max_connections: args.max_connections as usize,
        upstream_connect_timeout: args.upstream_connect_timeout.get(),
        upstream_timeout: args.upstream_timeout.get(),
    };
    let trusted = match TrustedProxies::parse(&args.trusted_proxies) {
        Ok(t) => t,
        Err(e) => {
            diagnostic(format_args!("corsgate serve: {e}"));
            return EXIT_USAGE;
        }
    };
    let backend = match &args.upstream {
        None => Backend::Demo,
        Some(url) => match Upstream::new(url, limits, trusted) {
            Ok(u) => Backend::Proxy(Box::new(u)),
            Err(e) => {
                let url = redact_userinfo(url);
                diagnostic(format_args!("corsgate serve: --upstream {url:?}: {e}"));
                return EXIT_USAGE;
            }
        },
    };
    limits::fit_open_file_limit(limits.max_connections);
    let cors = Arc::new(Cors::with_set(set));
    // One worker: tokio's current-thread runtime, on a thread of its own. Everything a
    // request does then stays on that thread, without the work-stealing scheduler's
    // cross-thread bookkeeping (callgrind: about 1,700 fewer instructions a proxied request).
    // More workers: the multi-threaded runtime, one thread each (its threads for blocking
    // work, such as looking up an upstream's name, are named alike).
    let workers = args.workers.map_or_else(
        || std::thread::available_parallelism().map_or(1, usize::from),
        usize::from,
    );
    let mut runtime = if workers == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(workers).thread_name(WORKER_THREAD);
        builder
    };
    let runtime = match runtime.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            diagnostic(format_args!(
                "corsgate serve: cannot start the runtime: {e}"
            ));
            return EXIT_USAGE;
        }
    };
    let run = move || {
        runtime
            .block_on(serve(args, environment, cors, backend, limits))
            .map_err(|e| e.to_string())
    };
    let outcome = if workers == 1 {
        let worker = std::thread::Builder::new()
            .name(WORKER_THREAD.to_owned())
            .spawn(run);
        match worker.map(std::thread::JoinHandle::join) {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err("the worker thread panicked".to_owned()),
            Err(e) => Err(format!("cannot start the worker thread: {e}")),
        }
    } else {
        run()
    };
    match outcome {
        Ok(()) => EXIT_OK,
        Err(e) => {
            diagnostic(format_args!("corsgate serve: {e}"));
            EXIT_USAGE
        }
    }
}

/// The name of the threads that serve requests (`--workers`).
const WORKER_THREAD: &str = "corsgate-worker";

async fn serve(
    args: ServeArgs,
    environment: Option<String>,
    cors: Arc<Cors>,
    backend: Backend,
    limits: Limits,
) -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind(args.listen).await?;
    // The lane's upstream: the same checked URL.
    let lane_upstream = match &backend {
        Backend::Proxy(upstream) => {
            let (host, port) = upstream.address();
            let prefix = upstream.prefix().as_bytes().to_vec();
            Some((host.to_owned(), port, prefix, upstream.trusted().clone()))
        }
        Backend::Demo => None,
    };
    let address = listener.local_addr()?;
    let admin_listener = match args.admin_listen {
        Some(admin) => Some(TcpListener::bind(admin).await?),
        None => None,
    };
    let watch_options = WatchOptions::default()
        .with_watch(!args.no_watch)
        .with_reload_timeout(
            args.reload_timeout
                .get()
                .unwrap_or(Duration::from_secs(86_400 * 365)),
        );
    let watcher = Arc::new(PolicyWatcher::with_options(
        cors.clone(),
        &args.policy,
        environment.clone(),
        watch_options,
    )?);
    reload::forward_sighup(watcher.clone(), args.policy.display().to_string())?;
    // Leaked like the rest of the shared state: they live as long as the process.
    let shadow: Option<&'static Shadowing> = match &args.shadow {
        Some(path) => {
            let shadowing = Shadowing::start(
                cors.clone(),
                path,
                environment.clone(),
                watch_options,
                args.disagreement_log_rate,
            )?;
            reload::forward_sighup(shadowing.watcher().clone(), shadowing.label().to_owned())?;
            Some(Box::leak(Box::new(shadowing)))
        }
        None => None,
    };
    let rejections: Option<&'static Rejections> = (args.rejection_log_rate > 0).then(|| {
        &*Box::leak(Box::new(Rejections::new(
            args.rejection_log_rate,
            !args.report_only,
        )))
    });
    let report_rate: Option<&'static LogRate> = args.report_only.then(|| {
        &*Box::leak(Box::new(LogRate::new(
            args.disagreement_log_rate,
            "report-only disagreement",
            "corsgate::report_only",
        )))
    });
    let report_only: Option<Arc<ReportOnly>> = report_rate.map(|rate| Arc::new(report_only(rate)));
    {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                if let Some(r) = rejections {
                    r.rate().report_dropped();
                }
                if let Some(s) = shadow {
                    s.log.report_dropped();
                    s.report_state();
                }
                if let Some(r) = report_rate {
                    r.report_dropped();
                }
            }
        });
    }
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;

    // For whoever started the process; a sidecar whose standard output is closed or full keeps
    // serving (`println!` would panic), so a failed write is ignored.
    let _ = output::to_stdout(|out| {
        writeln!(
            out,
            "corsgate: listening on http://{address} (policy {}, environment {}, generation {}, {})",
            args.policy.display(),
            environment.as_deref().unwrap_or("base"),
            cors.generation(),
            match &backend {
                Backend::Demo => "demo API".to_owned(),
                Backend::Proxy(p) => format!("upstream {}", p.display()),
            }
        )
    });
    if let Some(admin) = &admin_listener {
        let _ = output::to_stdout(|out| {
            writeln!(
                out,
                "corsgate: admin on http://{} (/metrics, /healthz)",
                admin.local_addr()?
            )
        });
    }
    // Shared by every connection for the life of the process: leaked once, so that a request
    // touches no reference count other cores write (the CORS layer's own handle aside).
    let state: &'static AppState = Box::leak(Box::new(AppState {
        backend,
        cors: cors.clone(),
        watcher: watcher.clone(),
        metrics: admin_listener.is_none().then(|| {
            admin::Metrics::new(
                cors.clone(),
                shadow.map(|s| s.cors.disagreements().clone()),
                report_only.as_ref().map(|r| r.disagreements().clone()),
            )
        }),
    }));
    let admin: Option<(TcpListener, &'static admin::Admin)> = admin_listener.map(|listener| {
        let admin: &'static admin::Admin = Box::leak(Box::new(admin::Admin {
            metrics: admin::Metrics::new(
                cors.clone(),
                shadow.map(|s| s.cors.disagreements().clone()),
                report_only.as_ref().map(|r| r.disagreements().clone()),
            ),
            cors: cors.clone(),
            watcher,
        }));
        (listener, admin)
    });
    let observer: Option<Arc<dyn corsgate::layer::DecisionObserver>> =
        (rejections.is_some() || shadow.is_some()).then(|| {
            Arc::new(observe::Observer { rejections, shadow })
                as Arc<dyn corsgate::layer::DecisionObserver>
        });
    let gateway: &'static Gateway = Box::leak(Box::new(Gateway {
        service: {
            let mut layer = CorsLayer::new(cors.clone());
            if let Some(observer) = &observer {
                layer = layer.observe(observer.clone());
            }
            if let Some(report) = report_only.clone() {
                layer = layer.report_only(report);
            }
            layer.layer(App { state })
        },
        io_timeout: limits.io_timeout,
        access_log: !args.no_access_log,
    }));
    // The HTTP/1 lane, for a proxy that rewrites CORS headers (report-only relays them).
    let lane: Option<&'static lane::Lane> = match lane_upstream {
        Some((host, port, prefix, trusted)) if report_only.is_none() && !args.no_lane => {
            Some(Box::leak(Box::new(lane::Lane {
                cors: cors.clone(),
                upstream: lane::Upstream {
                    host,
                    port,
                    timeout: limits.upstream_timeout,
                    connect_timeout: limits.upstream_connect_timeout,
                },
                prefix,
                header_read_timeout: limits.header_read_timeout,
                idle_timeout: limits.idle_timeout,
                io_timeout: limits.io_timeout,
                observer: observer.clone(),
                trusted,
                access_log: !args.no_access_log,
                stopping: tokio::sync::watch::channel(false).0,
            })))
        }
        _ => None,
    };
    let graceful = GracefulShutdown::new();
    let admin_loop = async {
        match admin {
            Some((listener, admin)) => admin::admin_loop(listener, admin, &graceful).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = listener::accept_loop(listener, gateway, limits, &graceful, lane) => {}
        _ = admin_loop => {}
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    tracing::info!(
        target: "corsgate::serve",
        "shutting down: waiting up to {}s for in-flight requests",
        args.grace_period
    );
    if let Some(lane) = lane {
        // Lane connections close between requests from now on; hyper's are told by
        // `graceful`, which counts both (each holds a watcher).
        lane.stopping.send_replace(true);
    }
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!(target: "corsgate::serve", "all connections closed"),
        _ = tokio::time::sleep(Duration::from_secs(args.grace_period)) => {
            tracing::warn!(target: "corsgate::serve", "grace period over; closing remaining connections");
        }
    }
    Ok(())
}

/// What every connection shares.
pub struct Gateway {
    service: CorsService<App>,
    io_timeout: Option<Duration>,
    /// `false` with `--no-access-log`: nothing of the request is kept for a log line.
    access_log: bool,
}

/// Runs one request: hygiene checks, then the CORS service; writes the access log line.
async fn handle(
    gateway: &'static Gateway,
    request: Request<Incoming>,
    peer: SocketAddr,
    clock: Arc<ConnectionClock>,
) -> Result<Response<ResponseBody>, Infallible> {
    clock.request_started();
    let logged = gateway.access_log.then(|| Logged::new(&request));
    let has_body = !request.body().is_end_stream();
    let mut response = match hygiene::check_request(&request) {
        Err(answer) => {
            if has_body {
                clock.note_body_abandoned();
            }
            answer.into_response()
        }
        Ok(host) => {
            let mut request =
                request.map(|body| RequestBody::new(body, gateway.io_timeout, clock.clone()));
            request.extensions_mut().insert(Forwarding {
                peer: peer.ip(),
                host,
                clock: clock.clone(),
            });
            let mut service = gateway.service.clone();
            service.call(request).await?
        }
    };
    if clock.take_body_abandoned() {
        // hyper closes a connection whose request body was left unread; say so (RFC 9112
        // §9.6) rather than close without warning.
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    if let Some(logged) = logged {
        logged.write(&response);
    }
    Ok(response.map(|body| ResponseBody::new(body, clock)))
}

/// What the access-log line needs of a request, kept while the request is served.
struct Logged {
    started: Instant,
    method: Method,
    uri: http::Uri,
    origin: Option<HeaderValue>,
    preflight: bool,
}

impl Logged {
    fn new<B>(request: &Request<B>) -> Logged {
        Logged {
            started: Instant::now(),
            method: request.method().clone(),
            uri: request.uri().clone(),
            origin: request.headers().get(header::ORIGIN).cloned(),
            preflight: request.method() == Method::OPTIONS
                && request
                    .headers()
                    .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD),
        }
    }

    fn write<B>(self, response: &Response<B>) {
        tracing::info!(
            target: "corsgate::access",
            "{}",
            AccessRecord {
                method: &self.method,
                path: self.uri.path().as_bytes(),
                origin: self.origin.as_ref().map(HeaderValue::as_bytes),
                preflight: self.preflight,
                status: response.status().as_u16(),
                acao: response
                    .headers()
                    .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                    .map(HeaderValue::as_bytes),
                elapsed: self.started.elapsed(),
            }
        );
    }
}

enum Backend {
    Demo,
    Proxy(Box<Upstream>),
}

/// What the service behind the CORS layer needs.
struct AppState {
    backend: Backend,
    cors: Arc<Cors>,
    watcher: Arc<PolicyWatcher>,
    /// `/metrics` on the proxy port: only without `--admin-listen`.
    metrics: Option<admin::Metrics>,
}

/// The service behind the CORS layer: `/healthz`, `/metrics` (without `--admin-listen`), then the demo API or the upstream.
#[derive(Clone, Copy)]
struct App {
    state: &'static AppState,
}

impl Service<Request<RequestBody>> for App {
    type Response = Response<BoxedBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<BoxedBody>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<RequestBody>) -> Self::Future {
        // Each branch boxes only its own future: one `async` block over all of them would be
        // as large as the largest (the proxy's, some kilobytes) for every request, and moved
        // whole into its box.
        let app = self.state;
        let answered = |response| -> Self::Future { Box::pin(std::future::ready(Ok(response))) };
        if request.method() == Method::GET && request.uri().path() == "/healthz" {
            return answered(reload::health(&app.cors, &app.watcher));
        }
        if let Some(metrics) = &app.metrics {
            if request.method() == Method::GET && request.uri().path() == "/metrics" {
                return answered(metrics.scrape());
            }
        }
        match &app.backend {
            Backend::Demo => Box::pin(async move { Ok(demo::demo(request).await) }),
            Backend::Proxy(upstream) => match request.extensions_mut().remove::<Forwarding>() {
                Some(forwarding) => {
                    Box::pin(async move { Ok(upstream.forward(request, forwarding).await) })
                }
                // `handle` always inserts it.
                None => answered(demo::json(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    serde_json::json!({"error": "request context missing"}),
                )),
            },
        }
    }
}

/// `--report-only`'s counts and its log: target `corsgate::report_only`, fields `policy`,
/// `route`, `kind`, `difference` (from the upstream's response to corsgate's decision),
/// `upstream` and `corsgate` (`allowed`/`denied`), `status`, `origin` and `upstream_acao`
/// (escaped, cut at 256 bytes).
fn report_only(rate: &'static LogRate) -> ReportOnly {
    ReportOnly::new().on_disagreement(move |d| {
        if !rate.admit() {
            return;
        }
        let verdict = |allowed: bool| if allowed { "allowed" } else { "denied" };
        tracing::info!(
            target: "corsgate::report_only",
            policy = d.policy,
            route = d.route.unwrap_or("-"),
            kind = d.kind.as_str(),
            difference = d.difference.as_str(),
            upstream = verdict(d.upstream_allowed),
            corsgate = verdict(d.corsgate_allowed),
            status = d.status.as_u16(),
            origin = %Escaped::field(d.origin, 256),
            upstream_acao = %d
                .upstream_allow_origin
                .map_or(Escaped::field(b"-", 256), |v| Escaped::field(v.as_bytes(), 256)),
            "upstream and corsgate disagree"
        );
    })
}
