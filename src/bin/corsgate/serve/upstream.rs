//! The upstream: forwarding a request to `--upstream http://host:port[/prefix]` and streaming
//! its answer back, within stated bounds.
//!
//! - Connecting may take `--upstream-connect-timeout` (default 5 s) and the response head
//!   `--upstream-timeout` (default 60 s) from sending; past either the client gets 504, past
//!   nothing a connection refused or reset gets 502 — both with the policy's CORS headers (the
//!   CORS layer wraps this), both logged with their cause.
//! - Idle pooled connections close after [`UPSTREAM_POOL_IDLE`] and at most
//!   [`UPSTREAM_POOL_MAX_IDLE`] are kept. A request that cannot have changed anything (an
//!   idempotent method, RFC 9110 §9.2.2, without a body) whose connection the upstream closed
//!   before answering — the race every pool has with an upstream's own idle timeout — is
//!   retried once, on a new connection.
//! - Upstream response heads are held to the client side's limits (100 lines, about
//!   [`MAX_HEAD_BYTES`]); the upstream's body may stall at most `--io-timeout`.
//! - 1xx responses are forwarded (`interim`).
//! - A URL with userinfo (`http://user:password@host`) is refused, and never printed.

use std::error::Error as _;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderMap};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::BodyExt;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::time::Instant;

use super::access_log::Escaped;
use super::bodies::{full, BoxedBody, RequestBody, StallGuard};
use super::client_io::ConnectionClock;
use super::hygiene::{
    path_problem, scrub_request_headers, scrub_response_headers, RequestHost, TrustedProxies,
};
use super::limits::{Limits, MAX_HEAD_BYTES, UPSTREAM_POOL_IDLE, UPSTREAM_POOL_MAX_IDLE};

/// What the handler knows about a request that the upstream needs.
#[derive(Clone)]
pub struct Forwarding {
    pub peer: std::net::IpAddr,
    pub host: RequestHost,
    pub clock: Arc<ConnectionClock>,
}

/// An `http://` upstream.
pub struct Upstream {
    /// Pooled connections.
    client: Client<HttpConnector, RequestBody>,
    /// No pooling: the one retry of a request whose pooled connection was closed.
    fresh: Client<HttpConnector, RequestBody>,
    authority: http::uri::Authority,
    /// The path prefix, without a trailing `/` (empty for none).
    prefix: String,
    limits: Limits,
    trusted: TrustedProxies,
}

/// `url` with any userinfo replaced by `***`, for messages about a URL that may carry a
/// password (even one that does not parse).
pub fn redact_userinfo(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let start = scheme_end + 3;
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    match url[start..end].rfind('@') {
        Some(at) => format!("{}***@{}", &url[..start], &url[start + at + 1..]),
        None => url.to_owned(),
    }
}

impl Upstream {
    /// Checks `--upstream` and builds the clients.
    pub fn new(url: &str, limits: Limits, trusted: TrustedProxies) -> Result<Upstream, String> {
        let base: Uri = url.parse().map_err(|e| format!("not a URL: {e}"))?;
        if base.scheme_str() != Some("http") {
            return Err("only http:// upstreams are supported (put TLS in front of corsgate, or between the upstream and its clients)".into());
        }
        let Some(authority) = base.authority().cloned() else {
            return Err("the URL has no host".into());
        };
        if authority.as_str().contains('@') {
            return Err(
                "the URL has userinfo (user:password@): corsgate sends no credentials upstream, and a password on the command line leaks into process lists and logs"
                    .into(),
            );
        }
        if base.query().is_some() {
            return Err(
                "the URL has a query; give scheme, host, port and an optional path prefix".into(),
            );
        }
        if let Some(problem) = path_problem(base.path().as_bytes()) {
            return Err(format!("the path prefix has {problem}"));
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(limits.upstream_connect_timeout);
        let mut builder = Client::builder(TokioExecutor::new());
        builder
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(UPSTREAM_POOL_IDLE)
            .pool_max_idle_per_host(UPSTREAM_POOL_MAX_IDLE)
            // 100 header lines: hyper's default, unset on purpose (see `limits`).
            .http1_max_buf_size(MAX_HEAD_BYTES);
        let client = builder.build(connector.clone());
        let fresh = builder.pool_max_idle_per_host(0).build(connector);
        Ok(Upstream {
            client,
            fresh,
            authority,
            prefix: base.path().trim_end_matches('/').to_owned(),
            limits,
            trusted,
        })
    }

    /// `http://host:port/prefix`, for messages.
    pub fn display(&self) -> String {
        format!("http://{}{}", self.authority, self.prefix)
    }

    /// Forwards one request; every outcome is a response.
    pub async fn forward(
        &self,
        mut request: Request<RequestBody>,
        forwarding: Forwarding,
    ) -> Response<BoxedBody> {
        let path_and_query = request.uri().path_and_query().map_or("/", |p| p.as_str());
        let target = format!("http://{}{}{path_and_query}", self.authority, self.prefix);
        match target.parse::<Uri>() {
            Ok(uri) => *request.uri_mut() = uri,
            Err(e) => {
                return text(
                    StatusCode::BAD_REQUEST,
                    &format!("cannot forward this path: {e}"),
                )
            }
        }
        let trusted = self.trusted.contains(forwarding.peer);
        scrub_request_headers(
            request.headers_mut(),
            forwarding.peer,
            trusted,
            &forwarding.host,
        );
        let clock = forwarding.clock;
        // RFC 9110 §15.2: no 1xx to an HTTP/1.0 client.
        if request.version() != Version::HTTP_10 {
            let queue = clock.clone();
            hyper::ext::on_informational(&mut request, move |interim| {
                queue.interim.push(interim.status(), interim.headers());
            });
        }
        *request.version_mut() = Version::HTTP_11;
        let retry = retryable_copy(&request);
        let (method, uri) = (request.method().clone(), request.uri().clone());
        let deadline = self.limits.upstream_timeout.map(|t| Instant::now() + t);

        let mut outcome = self
            .wait(deadline, &clock, self.client.request(request))
            .await;
        if let (Some(Err(e)), Some(copy)) = (&outcome, retry) {
            if is_stale_connection(e) {
                tracing::debug!(
                    target: "corsgate::serve",
                    "upstream {}: the pooled connection was closed before an answer ({}); retrying once on a new connection",
                    self.display(), cause_chain(e)
                );
                outcome = self.wait(deadline, &clock, self.fresh.request(copy)).await;
            }
        }
        let response = match outcome {
            Some(Ok(response)) => {
                let (mut parts, body) = response.into_parts();
                // The gateway speaks its own HTTP version (RFC 9110 §6.2): hyper writes the
                // status line with the response's, and an HTTP/1.0 upstream's would tell an
                // HTTP/1.1 client that its connection will not be kept alive.
                parts.version = Version::HTTP_11;
                scrub_response_headers(&mut parts.headers);
                let body =
                    StallGuard::new(body, self.limits.io_timeout, "the upstream's response body");
                Response::from_parts(parts, body.boxed())
            }
            Some(Err(e)) => {
                let timed_out = is_connect_timeout(&e);
                tracing::warn!(
                    target: "corsgate::serve",
                    "upstream {}: {method} {}: {}{}",
                    self.display(),
                    Escaped::bare(uri.path().as_bytes(), 1024),
                    cause_chain(&e),
                    if timed_out { " (--upstream-connect-timeout)" } else { "" }
                );
                if timed_out {
                    text(StatusCode::GATEWAY_TIMEOUT, "upstream connect timed out")
                } else {
                    text(StatusCode::BAD_GATEWAY, "upstream unavailable")
                }
            }
            None => {
                tracing::warn!(
                    target: "corsgate::serve",
                    "upstream {}: {method} {}: no response head within {:?} (--upstream-timeout)",
                    self.display(),
                    Escaped::bare(uri.path().as_bytes(), 1024),
                    self.limits.upstream_timeout.unwrap_or_default()
                );
                text(StatusCode::GATEWAY_TIMEOUT, "upstream timed out")
            }
        };
        // Every 1xx head the upstream sent must be on the wire before this response's head.
        std::future::poll_fn(|cx| clock.interim.poll_drained(cx)).await;
        response
    }

    /// Waits for the upstream's response head until `deadline` (`None` once it passed),
    /// waking whenever a 1xx head was queued so that the connection writes it.
    async fn wait<F, E>(
        &self,
        deadline: Option<Instant>,
        clock: &ConnectionClock,
        response: F,
    ) -> Option<Result<Response<hyper::body::Incoming>, E>>
    where
        F: Future<Output = Result<Response<hyper::body::Incoming>, E>>,
    {
        let mut response = std::pin::pin!(response);
        let far = Instant::now() + Duration::from_secs(86_400 * 365);
        let sleep = tokio::time::sleep_until(deadline.unwrap_or(far));
        let mut sleep = std::pin::pin!(sleep);
        loop {
            tokio::select! {
                result = &mut response => return Some(result),
                _ = &mut sleep => return None,
                _ = clock.interim.arrived() => {}
            }
        }
    }
}

/// A copy of a request that may be sent again: an idempotent method (RFC 9110 §9.2.2) and no
/// body.
fn retryable_copy(request: &Request<RequestBody>) -> Option<Request<RequestBody>> {
    use http_body::Body;
    let idempotent = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
    );
    if !idempotent || !request.body().is_end_stream() {
        return None;
    }
    let mut copy = Request::new(RequestBody::empty());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    Some(copy)
}

/// Whether the request failed because the connection was closed under it before any answer
/// (not a refused connection, not a timeout).
fn is_stale_connection(error: &hyper_util::client::legacy::Error) -> bool {
    if error.is_connect() {
        return false;
    }
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(e) = cause.downcast_ref::<hyper::Error>() {
            if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
                return true;
            }
        }
        if let Some(e) = cause.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            if matches!(
                e.kind(),
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
            ) {
                return true;
            }
        }
        source = cause.source();
    }
    false
}

/// Whether connecting timed out (`--upstream-connect-timeout`).
fn is_connect_timeout(error: &hyper_util::client::legacy::Error) -> bool {
    if !error.is_connect() {
        return false;
    }
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(e) = cause.downcast_ref::<std::io::Error>() {
            if e.kind() == std::io::ErrorKind::TimedOut {
                return true;
            }
        }
        source = cause.source();
    }
    false
}

/// An error and its causes, joined with `: ` (hyper's own message alone is "client error
/// (Connect)").
pub fn cause_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

fn text(status: StatusCode, message: &str) -> Response<BoxedBody> {
    let mut response = Response::new(full(format!("{message}\n")));
    *response.status_mut() = status;
    let headers: &mut HeaderMap = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_redacted() {
        assert_eq!(
            redact_userinfo("http://user:secret@example.com:8080/api"),
            "http://***@example.com:8080/api"
        );
        assert_eq!(redact_userinfo("http://a@b@c/x@y"), "http://***@c/x@y");
        assert_eq!(
            redact_userinfo("http://example.com/a@b"),
            "http://example.com/a@b"
        );
        assert_eq!(redact_userinfo("not a url @ all"), "not a url @ all");
    }
}
