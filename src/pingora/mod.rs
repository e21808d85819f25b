//! CORS for [Pingora](https://github.com/cloudflare/pingora) proxies (feature `pingora`): what
//! a `ProxyHttp` implementation calls, in three of its filters, so that every response it sends
//! has the policy's CORS headers.
//!
//! | filter | call | what it does |
//! |---|---|---|
//! | `request_filter` | [`CorsFilter::request_filter`] | decides; answers a preflight corsgate answers (allowed: 204 or 200, denied: 403) and returns `true`, so the request never reaches the upstream; otherwise keeps the decision's headers in the request's [`CorsContext`] |
//! | `response_filter` | [`CorsFilter::response_filter`] | the kept headers replace any `Access-Control-*` the upstream sent; `Vary` is merged into one line |
//! | `fail_to_proxy` | [`CorsFilter::fail_to_proxy`] | Pingora's own error response (502 when the upstream is down, and every other status it picks), with the same CORS headers |
//!
//! The responses Pingora writes itself in `fail_to_proxy` never pass through
//! `response_filter`; without the third call a browser reports a CORS error instead of the 502
//! that really happened. Responses a `ProxyHttp` writes on its own (a 401 from its
//! authentication, say) get the headers from [`CorsFilter::respond_error`] or
//! [`CorsFilter::apply`].
//!
//! The rules are the crate's: the request is decided once, in `request_filter`, from
//! `session.req_header()` (as it is after Pingora's downstream modules ran), and the decision's
//! headers are carried as owned values ([`ResponseHeaders`]: no heap allocation, no borrow of the
//! policy) across the upstream's await; the headers are written with
//! [`ResponseHeaders::apply`], the same code `CorsLayer` and `corsgate serve` use. The
//! policy is read through [`Cors::decide`]'s per-thread snapshot ([`docs::semantics`](crate::docs::semantics): no lock and no
//! shared reference count per request), so reloading the shared [`Cors`] handle — by a
//! [`PolicyWatcher`](crate::watch::PolicyWatcher), and on SIGHUP with [`reload_on_hangup`] —
//! changes the next request's decision without a restart.
//!
//! What is left alone: 1xx responses (`100 Continue`, `103 Early Hints`, `101 Switching
//! Protocols`) get no CORS headers; the final response does. The header-name case Pingora
//! keeps for the upstream's headers is kept; corsgate's lines are written as
//! `Access-Control-Allow-Origin` and `Vary`.
//!
//! # Example: a gateway in front of one upstream
//! ```no_run
//! use std::sync::Arc;
//!
//! use async_trait::async_trait;
//! use corsgate::pingora::{reload_on_hangup, CorsContext, CorsFilter};
//! use corsgate::{file::load_policy, watch::PolicyWatcher, Cors};
//! use pingora_core::server::Server;
//! use pingora_core::upstreams::peer::HttpPeer;
//! use pingora_error::{Error, Result};
//! use pingora_http::ResponseHeader;
//! use pingora_proxy::{FailToProxy, ProxyHttp, Session};
//!
//! struct Gateway {
//!     cors: CorsFilter,
//! }
//!
//! #[async_trait]
//! impl ProxyHttp for Gateway {
//!     type CTX = CorsContext;
//!     fn new_ctx(&self) -> CorsContext {
//!         CorsContext::new()
//!     }
//!     async fn upstream_peer(&self, _: &mut Session, _: &mut CorsContext) -> Result<Box<HttpPeer>> {
//!         Ok(Box::new(HttpPeer::new("127.0.0.1:9000", false, String::new())))
//!     }
//!     async fn request_filter(&self, session: &mut Session, ctx: &mut CorsContext) -> Result<bool> {
//!         self.cors.request_filter(session, ctx).await
//!     }
//!     async fn response_filter(
//!         &self,
//!         session: &mut Session,
//!         response: &mut ResponseHeader,
//!         ctx: &mut CorsContext,
//!     ) -> Result<()> {
//!         self.cors.response_filter(session, response, ctx)
//!     }
//!     async fn fail_to_proxy(&self, session: &mut Session, e: &Error, ctx: &mut CorsContext) -> FailToProxy {
//!         self.cors.fail_to_proxy(session, e, ctx).await
//!     }
//! }
//!
//! let cors = Arc::new(Cors::new(load_policy("policy.toml", None)?));
//! let watcher = Arc::new(PolicyWatcher::spawn(cors.clone(), "policy.toml", None)?);
//! reload_on_hangup(watcher.clone())?; // before the server starts: SIGHUP would end the process
//!
//! let mut server = Server::new(None)?;
//! server.bootstrap();
//! let mut proxy = pingora_proxy::http_proxy_service(
//!     &server.configuration,
//!     Gateway { cors: CorsFilter::new(cors) },
//! );
//! proxy.add_tcp("127.0.0.1:8080");
//! server.add_service(proxy);
//! server.run_forever();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `examples/pingora_gateway.rs` is the complete program, with `corsgate serve`'s flags.

mod hangup;
mod write;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use pingora_core::protocols::http::ServerSession;
use pingora_error::{Error, ErrorSource, ErrorType, Result};
use pingora_http::ResponseHeader;
use pingora_proxy::{FailToProxy, Session};

use crate::engine::Cors;
use crate::owned_headers::ResponseHeaders;
use crate::request::CorsRequest;

pub use hangup::reload_on_hangup;

/// Writes a decision's headers ([`Decision::to_response_headers`](crate::Decision::to_response_headers))
/// into a Pingora response with the crate's rules — corsgate's `Access-Control-*` headers
/// replace any the response has, `Vary` is merged — keeping every other header's bytes, order
/// and name case. What the filters use; for a `ProxyHttp` that keeps `ResponseHeaders` itself.
/// Allocates nothing of its own (Pingora's maps may grow to hold the new lines).
pub fn apply_headers(headers: &ResponseHeaders, response: &mut ResponseHeader) -> Result<()> {
    write::apply(headers, response)
}

/// What the three filters share: the [`Cors`] handle. Cheap to clone.
#[derive(Clone, Debug)]
pub struct CorsFilter {
    cors: Arc<Cors>,
}

/// One request's part of a `ProxyHttp::CTX`: the decision's headers, owned, from
/// `request_filter` to the response. Creating one allocates nothing.
#[derive(Clone, Debug, Default)]
pub struct CorsContext {
    /// `None` until the request was decided.
    headers: Option<ResponseHeaders>,
}

impl CorsContext {
    /// An undecided context, for `ProxyHttp::new_ctx`.
    pub fn new() -> CorsContext {
        CorsContext::default()
    }

    /// The headers the request's response gets, once [`CorsFilter::request_filter`] decided.
    pub fn headers(&self) -> Option<&ResponseHeaders> {
        self.headers.as_ref()
    }
}

impl CorsFilter {
    /// Filters deciding with `cors`; reload it to change the policy.
    pub fn new(cors: Arc<Cors>) -> CorsFilter {
        CorsFilter { cors }
    }

    /// The handle the filters decide with.
    pub fn cors(&self) -> &Arc<Cors> {
        &self.cors
    }

    /// For `ProxyHttp::request_filter`: decides the request. A preflight corsgate answers is
    /// answered here — allowed: the policy's `preflight_status` (204 or 200) with every
    /// `Access-Control-*` header the browser needs; denied: 403 with only `Vary` — and the
    /// result is `Ok(true)`: the response is sent, return it so that Pingora goes no further
    /// (the upstream never sees the request). Everything else (actual and not-CORS requests,
    /// and denied preflights under `preflight_passthrough`) returns `Ok(false)` with the
    /// decision's headers kept in `ctx` for [`response_filter`](CorsFilter::response_filter).
    ///
    /// An error is an error writing the answer to the client, for `request_filter` to return.
    pub async fn request_filter(
        &self,
        session: &mut Session,
        ctx: &mut CorsContext,
    ) -> Result<bool> {
        // The decision borrows the request and this thread's policy snapshot: it ends in this
        // block, before anything is awaited, and only owned values leave it.
        let (answer, headers) = {
            let request = session.req_header();
            let decision = self.cors.decide(
                &CorsRequest::from_headers(&request.method, &request.headers).uri(&request.uri),
            );
            (decision.status(), decision.to_response_headers())
        };
        let Some(status) = answer else {
            ctx.headers = Some(headers);
            return Ok(false);
        };
        let mut response = ResponseHeader::build(status, Some(8))?;
        apply_headers(&headers, &mut response)?;
        // RFC 9110 §8.6: a 204 has no Content-Length; a 200 or 403 says its body is empty, so
        // that an HTTP/1.1 connection stays usable.
        if status != http::StatusCode::NO_CONTENT {
            response.insert_header(http::header::CONTENT_LENGTH, "0")?;
        }
        ctx.headers = Some(headers);
        session
            .write_response_header(Box::new(response), true)
            .await?;
        Ok(true)
    }

    /// For `ProxyHttp::response_filter`: writes the decision's headers into the response on
    /// its way to the client — corsgate's `Access-Control-*` headers replace any the upstream
    /// sent, and `Vary` is merged with the upstream's into one line. 1xx responses are left
    /// alone.
    ///
    /// `ctx` should have been through [`request_filter`](CorsFilter::request_filter). If it
    /// was not, the request is decided now (so the response is still right) and a warning is
    /// logged once: preflights then reach the upstream.
    pub fn response_filter(
        &self,
        session: &Session,
        response: &mut ResponseHeader,
        ctx: &CorsContext,
    ) -> Result<()> {
        if response.status.is_informational() {
            return Ok(());
        }
        if ctx.headers.is_none() {
            warn_once_undecided();
        }
        self.apply(session, ctx, response)
    }

    /// Writes the request's CORS headers into a response the `ProxyHttp` builds itself
    /// (same rules as [`response_filter`](CorsFilter::response_filter)). A request that was
    /// not decided yet is decided now, from `session`.
    pub fn apply(
        &self,
        session: &Session,
        ctx: &CorsContext,
        response: &mut ResponseHeader,
    ) -> Result<()> {
        match &ctx.headers {
            Some(headers) => apply_headers(headers, response),
            None => apply_headers(&self.decide_late(session), response),
        }
    }

    /// For `ProxyHttp::fail_to_proxy`: what Pingora's default does — the status from the error
    /// (its `HTTPStatus` code; 502 for an upstream error; 400 for a bad request; 500 for an
    /// internal one; nothing when the client's connection is gone) — with the request's CORS
    /// headers on the error response.
    pub async fn fail_to_proxy(
        &self,
        session: &mut Session,
        error: &Error,
        ctx: &CorsContext,
    ) -> FailToProxy {
        let code = error_status(error);
        if code > 0 {
            if let Err(e) = self.respond_error(session, ctx, code, Bytes::new()).await {
                log_write_failure(&e);
            }
        }
        FailToProxy {
            error_code: code,
            // As Pingora's default: an error may have left the connection in any state.
            can_reuse_downstream: false,
        }
    }

    /// Sends Pingora's error response for `code` (`Server`, `Cache-Control: private,
    /// no-store`, `Content-Length`) with `body` and the request's CORS headers, like
    /// `Session::respond_error_with_body` plus the headers. Does nothing when a final response
    /// was already sent. A request not decided yet (an error before `request_filter`) is
    /// decided now.
    pub async fn respond_error(
        &self,
        session: &mut Session,
        ctx: &CorsContext,
        code: u16,
        body: Bytes,
    ) -> Result<()> {
        let mut response = ServerSession::generate_error(code);
        if !body.is_empty() {
            response.set_content_length(body.len())?;
        }
        self.apply(session, ctx, &mut response)?;
        session
            .as_downstream_mut()
            .write_error_response(response, body)
            .await
    }

    /// Decides a request whose context was never filled (the error came before
    /// `request_filter`): the headers its response would have had.
    fn decide_late(&self, session: &Session) -> ResponseHeaders {
        let request = session.req_header();
        self.cors
            .decide(&CorsRequest::from_headers(&request.method, &request.headers).uri(&request.uri))
            .to_response_headers()
    }
}

/// The status Pingora's default `fail_to_proxy` answers an error with (0: the client is gone,
/// answer nothing).
fn error_status(error: &Error) -> u16 {
    match error.etype() {
        ErrorType::HTTPStatus(code) => *code,
        etype => match error.esource() {
            ErrorSource::Upstream => 502,
            ErrorSource::Downstream => match etype {
                ErrorType::WriteError | ErrorType::ReadError | ErrorType::ConnectionClosed => 0,
                _ => 400,
            },
            ErrorSource::Internal | ErrorSource::Unset => 500,
        },
    }
}

/// Logs, once per process, that `response_filter` met a request `request_filter` never saw.
fn warn_once_undecided() {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            target: "corsgate::pingora",
            "CorsFilter::response_filter met a request that CorsFilter::request_filter did not decide: \
             call it from ProxyHttp::request_filter, or preflights reach the upstream"
        );
    }
}

fn log_write_failure(error: &Error) {
    tracing::warn!(target: "corsgate::pingora", "failed to send the error response: {error}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_statuses_are_pingoras() {
        let status = |etype, source| {
            let mut e = Error::new(etype);
            e.esource = source;
            error_status(&e)
        };
        assert_eq!(status(ErrorType::HTTPStatus(401), ErrorSource::Unset), 401);
        assert_eq!(
            status(ErrorType::ConnectRefused, ErrorSource::Upstream),
            502
        );
        assert_eq!(status(ErrorType::ReadTimedout, ErrorSource::Upstream), 502);
        assert_eq!(
            status(ErrorType::InvalidHTTPHeader, ErrorSource::Downstream),
            400
        );
        assert_eq!(
            status(ErrorType::ConnectionClosed, ErrorSource::Downstream),
            0
        );
        assert_eq!(status(ErrorType::InternalError, ErrorSource::Internal), 500);
    }

    #[test]
    fn filters_and_contexts_cross_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<CorsFilter>();
        assert_send_sync::<CorsContext>();
    }
}
