//! A CORS gateway on Pingora: `corsgate::pingora` in a complete `ProxyHttp`, with the policy
//! reloaded when its file changes and on SIGHUP.
//!
//! ```sh
//! python3 -m http.server 9000 &    # any HTTP upstream
//! cargo run --release --features pingora --example pingora_gateway -- \
//!     examples/policy.toml --upstream http://127.0.0.1:9000 --listen 127.0.0.1:8081
//! curl -si http://127.0.0.1:8081/ -H 'Origin: https://app.myapp.example'
//! ```
//!
//! The flags are `corsgate serve`'s where they mean the same here: `POLICY`, `--env`,
//! `--listen`, `--upstream`, `--no-watch`, `--workers`, `--idle-timeout`, `--grace-period`,
//! `--reload-timeout`, `--upstream-connect-timeout` and `--upstream-timeout`; `GET /healthz`
//! answers as `serve`'s does. What differs, and why:
//!
//! - `--upstream` is required and is `http://host:port` only: Pingora is a proxy (no demo API),
//!   and a path prefix would need `serve`'s path hygiene to be safe. The host is resolved once,
//!   at start.
//! - `--listen` needs a port (not `:0`): Pingora binds the listener itself once the server
//!   runs, after the first line is printed, and cannot report a port it picked.
//! - `--upstream-timeout` is Pingora's per-read timeout towards the upstream: it bounds the
//!   wait for the response head and each later read of the body (`serve` bounds the head with
//!   it and the body with `--io-timeout`).
//! - `--grace-period`: after SIGTERM, Pingora stops accepting and waits the whole period before
//!   it stops its runtimes (it does not end early when the last request finishes).
//! - `--idle-timeout` is in whole seconds (rounded up).
//! - Not here: `serve`'s client-side limits and hygiene (`--header-read-timeout`,
//!   `--io-timeout`, `--max-connections`, `--trusted-proxy`, the
//!   `X-Forwarded-*` rules), which are Pingora's business in a Pingora gateway, and the access
//!   log (Pingora's `logging` filter is where a gateway writes one; this example writes none,
//!   so it has no `--no-access-log`).

use std::io::Write as _;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use clap::Parser;
use corsgate::file::{active_environment, PolicyFile};
use corsgate::pingora::{reload_on_hangup, CorsContext, CorsFilter};
use corsgate::watch::{FileStatus, PolicyWatcher, WatchOptions};
use corsgate::{Cors, IssueKind};
use pingora_core::server::configuration::ServerConf;
use pingora_core::server::Server;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_error::{Error, Result};
use pingora_http::ResponseHeader;
use pingora_proxy::{FailToProxy, ProxyHttp, Session};

#[derive(Parser)]
#[command(about = "A CORS gateway on Pingora, with corsgate's policy files")]
struct Args {
    /// The policy file (TOML, or JSON when it ends in .json).
    policy: PathBuf,
    /// The environment (default: CORSGATE_ENV, else the base policy).
    #[arg(long)]
    env: Option<String>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Forward requests to this http://host:port.
    #[arg(long, value_name = "URL")]
    upstream: String,
    /// Do not watch the policy file; reload only on SIGHUP.
    #[arg(long)]
    no_watch: bool,
    /// Worker threads (default: one per CPU).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    workers: Option<u16>,
    /// A keep-alive connection may wait this long for its next request (0: no limit).
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    idle_timeout: f64,
    /// After SIGTERM, how long to let in-flight requests finish.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    grace_period: u64,
    /// A reload that takes longer is abandoned; the serving policy stays (0: no limit).
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    reload_timeout: f64,
    /// Connecting to the upstream may take this long; then 502 (0: no limit).
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    upstream_connect_timeout: f64,
    /// Each read from the upstream may wait this long; then 502 (0: no limit).
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    upstream_timeout: f64,
}

/// The gateway: CORS in three filters, `/healthz`, one upstream.
struct Gateway {
    cors: CorsFilter,
    watcher: Arc<PolicyWatcher>,
    peer: HttpPeer,
    /// Whole seconds (Pingora's unit); `None`: no limit.
    idle_timeout: Option<u64>,
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = CorsContext;

    fn new_ctx(&self) -> CorsContext {
        CorsContext::new()
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut CorsContext) -> Result<bool> {
        // Pingora keeps an HTTP/1.1 connection open for as long as the client likes; bound
        // the wait for the next request (never turning keep-alive on where it is off).
        if let (Some(_), Some(idle)) = (session.get_keepalive(), self.idle_timeout) {
            session.set_keepalive(Some(idle));
        }
        if self.cors.request_filter(session, ctx).await? {
            return Ok(true); // a preflight, answered
        }
        let request = session.req_header();
        if request.method == http::Method::GET && request.uri.path() == "/healthz" {
            self.health(session, ctx).await?;
            return Ok(true);
        }
        Ok(false)
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut CorsContext,
    ) -> Result<Box<HttpPeer>> {
        Ok(Box::new(self.peer.clone()))
    }

    async fn response_filter(
        &self,
        session: &mut Session,
        response: &mut ResponseHeader,
        ctx: &mut CorsContext,
    ) -> Result<()> {
        self.cors.response_filter(session, response, ctx)
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        error: &Error,
        ctx: &mut CorsContext,
    ) -> FailToProxy {
        self.cors.fail_to_proxy(session, error, ctx).await
    }
}

impl Gateway {
    /// `GET /healthz`, as `corsgate serve` answers it, with the request's CORS headers.
    async fn health(&self, session: &mut Session, ctx: &CorsContext) -> Result<()> {
        let generation = self.cors.cors().generation();
        let body = match self.watcher.file_status() {
            FileStatus::Loaded => serde_json::json!({"status": "ok", "generation": generation}),
            other => serde_json::json!({
                "status": "degraded",
                "generation": generation,
                "policy_file": other.as_str(),
            }),
        };
        let body = Bytes::from(body.to_string());
        let mut response = ResponseHeader::build(200, Some(4))?;
        response.insert_header(http::header::CONTENT_TYPE, "application/json")?;
        response.insert_header(http::header::CONTENT_LENGTH, body.len())?;
        response.insert_header(http::header::CACHE_CONTROL, "no-store")?;
        self.cors.apply(session, ctx, &mut response)?;
        session
            .write_response_header(Box::new(response), false)
            .await?;
        session.write_response_body(Some(body), true).await
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // An unwritable log line is dropped instead of reported with a panicking `eprintln!`.
        .log_internal_errors(false)
        .try_init();
    match run(args) {
        Ok(never) => match never {},
        Err(Failure::Usage(message)) => {
            eprintln!("pingora_gateway: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Policy(status)) => ExitCode::from(status),
    }
}

enum Failure {
    /// A bad flag or an environment problem: exit 2.
    Usage(String),
    /// The policy failed to load; the problems are printed. Exit 1 (invalid) or 2 (I/O).
    Policy(u8),
}

fn run(args: Args) -> Result<std::convert::Infallible, Failure> {
    if args.listen.port() == 0 {
        return Err(Failure::Usage(
            "--listen needs a port: Pingora binds the listener itself and cannot report a port it picked".into(),
        ));
    }
    // The URL itself is not repeated: it may carry a password.
    let upstream =
        upstream_address(&args.upstream).map_err(|e| Failure::Usage(format!("--upstream: {e}")))?;
    let environment = active_environment(args.env.as_deref());
    let policy = PolicyFile::load(&args.policy)
        .and_then(|f| f.policy(environment.as_deref()))
        .map_err(|err| {
            for issue in err.issues() {
                eprintln!("{issue}");
            }
            let io_only = err
                .errors()
                .all(|i| matches!(i.kind(), IssueKind::Io | IssueKind::UnknownEnvironment));
            Failure::Policy(if io_only { 2 } else { 1 })
        })?;
    for warning in policy.warnings() {
        tracing::warn!(target: "corsgate::policy", "{warning}");
    }
    let cors = Arc::new(Cors::new(policy));
    let watcher = PolicyWatcher::with_options(
        cors.clone(),
        &args.policy,
        environment.clone(),
        WatchOptions::default()
            .with_watch(!args.no_watch)
            .with_reload_timeout(
                seconds(args.reload_timeout)
                    .map_err(|e| Failure::Usage(format!("--reload-timeout: {e}")))?
                    .unwrap_or(Duration::from_secs(86_400 * 365)),
            ),
    )
    .map_err(|e| Failure::Usage(format!("cannot watch {}: {e}", args.policy.display())))?;
    let watcher = Arc::new(watcher);
    // Before the server runs: from here on a SIGHUP reloads instead of ending the process.
    reload_on_hangup(watcher.clone())
        .map_err(|e| Failure::Usage(format!("cannot handle SIGHUP: {e}")))?;

    let mut peer = HttpPeer::new(upstream, false, String::new());
    peer.options.connection_timeout = seconds(args.upstream_connect_timeout)
        .map_err(|e| Failure::Usage(format!("--upstream-connect-timeout: {e}")))?;
    peer.options.read_timeout = seconds(args.upstream_timeout)
        .map_err(|e| Failure::Usage(format!("--upstream-timeout: {e}")))?;
    // Idle pooled upstream connections, as `serve` keeps them.
    peer.options.idle_timeout = Some(Duration::from_secs(30));

    let idle_timeout = seconds(args.idle_timeout)
        .map_err(|e| Failure::Usage(format!("--idle-timeout: {e}")))?
        .map(|d| d.as_secs_f64().ceil() as u64);

    let workers = args.workers.map_or_else(
        || std::thread::available_parallelism().map_or(1, usize::from),
        usize::from,
    );
    let conf = ServerConf {
        threads: workers,
        grace_period_seconds: Some(args.grace_period),
        graceful_shutdown_timeout_seconds: Some(5),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let generation = cors.generation();
    let mut proxy = pingora_proxy::http_proxy_service(
        &server.configuration,
        Gateway {
            cors: CorsFilter::new(cors),
            watcher,
            peer,
            idle_timeout,
        },
    );
    proxy.add_tcp(&args.listen.to_string());
    server.add_service(proxy);
    // A gateway whose standard output is closed keeps running (`println!` would panic).
    let _ = writeln!(
        std::io::stdout(),
        "pingora_gateway: listening on http://{} (policy {}, environment {}, generation {generation}, upstream http://{upstream}, {workers} workers)",
        args.listen,
        args.policy.display(),
        environment.as_deref().unwrap_or("base"),
    );
    server.run_forever()
}

/// `http://host:port` (port 80 when absent), resolved once.
fn upstream_address(url: &str) -> std::result::Result<SocketAddr, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("not a URL: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err("only http:// upstreams".into());
    }
    let authority = uri.authority().ok_or("the URL has no host")?;
    if authority.as_str().contains('@') {
        return Err(
            "the URL has userinfo (user:password@); the gateway sends no credentials upstream"
                .into(),
        );
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err("give scheme, host and port only (no path prefix, no query)".into());
    }
    let port = authority.port_u16().unwrap_or(80);
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} resolves to no address"))
}

/// A timeout flag: seconds, decimals allowed, `0` for none.
fn seconds(value: f64) -> std::result::Result<Option<Duration>, String> {
    if value == 0.0 {
        return Ok(None);
    }
    Duration::try_from_secs_f64(value)
        .map(Some)
        .map_err(|_| format!("{value} is not a number of seconds"))
}
