//! The upstream: forwarding a request to `--upstream http://host:port[/prefix]` and streaming
//! its answer back, within stated bounds.
//!
//! - Connecting may take `--upstream-connect-timeout` (default 5 s) and the response head
//!   `--upstream-timeout` (default 60 s) from sending; past either the client gets 504, past
//!   nothing a connection refused or reset gets 502 — both with the policy's CORS headers (the
//!   CORS layer wraps this), both logged with their cause.
//! - Connections come from `pool` (idle ones per worker thread, closed after 30 s). A request
//!   that cannot have changed anything (an idempotent method, RFC 9110 §9.2.2, without a
//!   body) whose reused connection the upstream closed before answering — the race every pool
//!   has with an upstream's own idle timeout — is retried once, on a new connection.
//! - Upstream response heads are held to the client side's limits (100 lines, about 64 KiB:
//!   `limits::MAX_HEAD_BYTES`); the upstream's body may stall at most `--io-timeout`.
//! - 1xx responses are forwarded (`interim`).
//! - A URL with userinfo (`http://user:password@host`) is refused, and never printed.

use std::error::Error as _;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderMap, HeaderValue};
use http::uri::PathAndQuery;
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::BodyExt;
use tokio::time::Instant;

use super::access_log::Escaped;
use super::bodies::{full, BoxedBody, RequestBody, StallGuard};
use super::client_io::ConnectionClock;
use super::hygiene::{
    path_problem, scrub_request_headers, scrub_response_headers, RequestHost, TrustedProxies,
};
use super::limits::Limits;
use super::pool::{Pool, PooledBody, UpstreamError};

/// What the handler knows about a request that the upstream needs.
#[derive(Clone)]
pub struct Forwarding {
    pub peer: std::net::IpAddr,
    pub host: RequestHost,
    pub clock: Arc<ConnectionClock>,
}

/// An `http://` upstream.
pub struct Upstream {
    /// Its connections, idle ones kept per worker thread.
    pool: Pool,
    authority: http::uri::Authority,
    /// `Host` for a request that has none (HTTP/1.0): the upstream's authority.
    authority_host: HeaderValue,
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
        let authority_host = HeaderValue::from_str(authority.as_str())
            .map_err(|e| format!("the host is not a header value: {e}"))?;
        Ok(Upstream {
            pool: Pool::new(&authority, limits.upstream_connect_timeout),
            authority,
            authority_host,
            prefix: base.path().trim_end_matches('/').to_owned(),
            limits,
            trusted,
        })
    }

    /// The host and port connections go to, for the HTTP/1 lane.
    pub fn address(&self) -> (&str, u16) {
        self.pool.address()
    }

    /// The path prefix (without a trailing `/`), for the HTTP/1 lane.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `--trusted-proxy`'s peers, for the HTTP/1 lane.
    pub fn trusted(&self) -> &TrustedProxies {
        &self.trusted
    }

    /// `http://host:port/prefix`, for messages.
    pub fn display(&self) -> String {
        format!("http://{}{}", self.authority, self.prefix)
    }

    /// Forwards one request; every outcome is a response.
    pub async fn forward(
        &'static self,
        mut request: Request<RequestBody>,
        forwarding: Forwarding,
    ) -> Response<BoxedBody> {
        // Origin form (RFC 9112 §3.2.1), the prefix before the path: what the upstream reads.
        let path_and_query = request
            .uri()
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        let target = if self.prefix.is_empty() {
            Ok(Uri::from(path_and_query))
        } else {
            format!("{}{path_and_query}", self.prefix).parse::<Uri>()
        };
        match target {
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
        if !request.headers().contains_key(header::HOST) {
            // HTTP/1.0 without Host: the upstream's own name (RFC 9112 §3.2: 1.1 requires it).
            request
                .headers_mut()
                .insert(header::HOST, self.authority_host.clone());
        }
        let clock = forwarding.clock;
        // RFC 9110 §15.2: no 1xx to an HTTP/1.0 client.
        if request.version() != Version::HTTP_10 {
            let queue = clock.clone();
            hyper::ext::on_informational(&mut request, move |interim| {
                queue.interim.push(interim.status(), interim.headers());
            });
        }
        *request.version_mut() = Version::HTTP_11;
        let (method, uri) = (request.method().clone(), request.uri().clone());
        let deadline = self.limits.upstream_timeout.map(|t| Instant::now() + t);
        // Boxed: the exchange's future is some kilobytes, and this one's would carry it twice.
        let exchange = Box::pin(self.exchange(request));
        let outcome = self.wait(deadline, &clock, exchange).await;
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

    /// Sends the request on a pooled connection (or a new one) and waits for the response
    /// head; a request the upstream may not have read, whose reused connection closed
    /// under it, is sent once more on a new connection.
    async fn exchange(
        &'static self,
        request: Request<RequestBody>,
    ) -> Result<Response<PooledBody>, UpstreamError> {
        let pool = &self.pool;
        let connection = pool.checkout().await?;
        // Only a reused connection can have been closed by the upstream's idle timeout under
        // the request; only then is a copy kept.
        let retry = if connection.is_reused() {
            retryable_copy(&request)
        } else {
            None
        };
        match (connection.send(pool, request).await, retry) {
            (Err(e), Some(copy)) if is_stale_connection(&e) => {
                tracing::debug!(
                    target: "corsgate::serve",
                    "upstream {}: the pooled connection was closed before an answer ({}); retrying once on a new connection",
                    self.display(), cause_chain(&e)
                );
                pool.connect().await?.send(pool, copy).await
            }
            (outcome, _) => outcome,
        }
    }

    /// Waits for the upstream's response head until `deadline` (`None` once it passed),
    /// waking whenever a 1xx head was queued so that the connection writes it.
    async fn wait<F, E>(
        &self,
        deadline: Option<Instant>,
        clock: &ConnectionClock,
        response: F,
    ) -> Option<Result<Response<PooledBody>, E>>
    where
        F: Future<Output = Result<Response<PooledBody>, E>>,
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

/// Whether the request failed because its reused connection was closed under it before any
/// answer (not a refused connection, not a timeout).
fn is_stale_connection(error: &UpstreamError) -> bool {
    let UpstreamError::Request {
        error,
        reused: true,
    } = error
    else {
        return false;
    };
    if error.is_incomplete_message() || error.is_canceled() || error.is_closed() {
        return true;
    }
    let mut source = error.source();
    while let Some(cause) = source {
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
fn is_connect_timeout(error: &UpstreamError) -> bool {
    matches!(error, UpstreamError::Connect(e) if e.kind() == std::io::ErrorKind::TimedOut)
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
