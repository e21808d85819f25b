//! Accepting connections: at most `--max-connections` at once (the rest wait in the listen
//! backlog until one closes), each served by hyper over the deadline-keeping `client_io`
//! wrapper, and accept errors that back off instead of spinning.
//!
//! When the process runs out of file descriptors, `accept(2)` fails at once for as long as the
//! condition lasts; retrying immediately burns a core and writes a log line per attempt. On
//! `EMFILE`, `ENFILE`, `ENOBUFS` and `ENOMEM` the loop sleeps (10 ms, doubling to 1 s, reset by
//! the next accepted connection) and logs at most one line per 5 seconds with the count of
//! what it did not log. Errors that concern one connection (`ECONNABORTED`, a peer reset) are
//! skipped without a pause, at debug level.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::client_io::{ConnectionClock, GuardedIo};
use super::limits::{Limits, MAX_HEAD_BYTES};
use super::Gateway;

/// Logs a recurring condition at most once per `every`, counting what it held back.
pub struct RateLimitedLog {
    every: Duration,
    last: Option<Instant>,
    held_back: u64,
}

impl RateLimitedLog {
    pub fn new(every: Duration) -> RateLimitedLog {
        RateLimitedLog {
            every,
            last: None,
            held_back: 0,
        }
    }

    /// Calls `log` with the number of occurrences not logged since the last line, when a
    /// line is due.
    pub fn event(&mut self, log: impl FnOnce(u64)) {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < self.every)
        {
            self.held_back += 1;
            return;
        }
        log(self.held_back);
        self.held_back = 0;
        self.last = Some(now);
    }
}

/// Whether an accept error means the process (or the system) is out of a resource, so that
/// retrying at once would fail the same way.
fn is_resource_exhaustion(error: &io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(
            error.raw_os_error(),
            Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
        )
    }
    #[cfg(not(unix))]
    {
        let _ = error;
        false
    }
}

/// Accepts and serves connections until the future is dropped (on shutdown).
pub async fn accept_loop(
    listener: TcpListener,
    gateway: &'static Gateway,
    limits: Limits,
    graceful: &GracefulShutdown,
    lane: Option<&'static super::lane::Lane>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut builder = hyper::server::conn::http1::Builder::new();
    // 100 header lines: hyper's default, unset on purpose (see `limits`).
    builder.max_header_size(MAX_HEAD_BYTES).keep_alive(true);
    let mut full_log = RateLimitedLog::new(Duration::from_secs(5));
    let mut error_log = RateLimitedLog::new(Duration::from_secs(5));
    let mut backoff = Duration::ZERO;
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                full_log.event(|held_back| {
                    tracing::warn!(
                        target: "corsgate::serve",
                        "{} connections open (--max-connections): new connections wait in the listen backlog{}",
                        limits.max_connections,
                        if held_back > 0 { format!(" ({held_back} more times since the last line)") } else { String::new() }
                    );
                });
                match slots.clone().acquire_owned().await {
                    Ok(slot) => slot,
                    // The semaphore is never closed.
                    Err(_) => return,
                }
            }
        };
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => {
                backoff = Duration::ZERO;
                accepted
            }
            Err(e) if is_resource_exhaustion(&e) => {
                backoff = (backoff * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
                error_log.event(|held_back| {
                    tracing::warn!(
                        target: "corsgate::serve",
                        "accept failed: {e}; pausing accepts for {backoff:?}{}",
                        if held_back > 0 { format!(" ({held_back} more failures since the last line)") } else { String::new() }
                    );
                });
                drop(slot);
                tokio::time::sleep(backoff).await;
                continue;
            }
            Err(e) => {
                tracing::debug!(target: "corsgate::serve", "accept failed: {e}");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let watcher = graceful.watcher();
        let builder = builder.clone();
        tokio::spawn(async move {
            match lane {
                Some(lane) => {
                    if let Ok(Some(handoff)) =
                        super::lane::serve_connection(stream, peer, lane).await
                    {
                        let io = super::lane::Replayed::new(handoff);
                        serve_with_hyper(io, peer, gateway, limits, &builder, watcher).await;
                    }
                }
                None => serve_with_hyper(stream, peer, gateway, limits, &builder, watcher).await,
            }
            drop(slot);
        });
    }
}

/// Serves a connection with hyper, through the deadline-keeping wrapper, until it closes.
async fn serve_with_hyper<T>(
    stream: T,
    peer: SocketAddr,
    gateway: &'static Gateway,
    limits: Limits,
    builder: &hyper::server::conn::http1::Builder,
    watcher: hyper_util::server::graceful::Watcher,
) where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let clock = Arc::new(ConnectionClock::new());
    let io = TokioIo::new(GuardedIo::new(stream, clock.clone(), limits));
    let handler = hyper::service::service_fn(move |request: Request<Incoming>| {
        super::handle(gateway, request, peer, clock.clone())
    });
    if let Err(e) = watcher.watch(builder.serve_connection(io, handler)).await {
        log_connection_error(peer, &e);
    }
}

fn log_connection_error(peer: SocketAddr, error: &hyper::Error) {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    tracing::debug!(target: "corsgate::serve", "connection from {peer}: {message}");
}
