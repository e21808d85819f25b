//! The bodies `serve` streams: the client's request body and the upstream's response body
//! under the `--io-timeout` stall deadline, and the response body that tells the connection's
//! clock when hyper is done with it (the connection is idle from then on).
//!
//! A stall is a body that makes no progress: no frame for `--io-timeout` while someone waits
//! for one. Waiting for the upstream to answer is not a stall (that is `--upstream-timeout`),
//! and neither is a body nobody reads yet.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use super::client_io::ConnectionClock;

/// Any error a body here can end with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type of every response `serve` writes.
pub type BoxedBody = BoxBody<Bytes, BoxError>;

/// A body that fails once it makes no progress for a while.
pub struct StallGuard<B> {
    inner: B,
    limit: Option<Duration>,
    /// What the body is, for the error: "the request body", "the upstream's response body".
    what: &'static str,
    timer: Option<Pin<Box<Sleep>>>,
    /// The timer counts from the current wait (reset after each frame).
    waiting: bool,
}

impl<B> StallGuard<B> {
    pub fn new(inner: B, limit: Option<Duration>, what: &'static str) -> StallGuard<B> {
        StallGuard {
            inner,
            limit,
            what,
            timer: None,
            waiting: false,
        }
    }
}

impl<B> Body for StallGuard<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.waiting = false;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let Some(limit) = this.limit else {
                    return Poll::Pending;
                };
                let deadline = Instant::now() + limit;
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if !this.waiting {
                    this.waiting = true;
                    timer.as_mut().reset(deadline);
                }
                if timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Some(Err(format!(
                        "{} made no progress for {limit:?}",
                        this.what
                    )
                    .into())));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The client's request body on its way to the upstream or the demo API: stall-guarded, and
/// telling the connection's clock when it is dropped before its end (an answer that did not
/// read it: hyper then closes the connection, so the response says `Connection: close`).
pub struct RequestBody {
    inner: Option<StallGuard<Incoming>>,
    ended: bool,
    clock: Option<Arc<ConnectionClock>>,
}

impl RequestBody {
    pub fn new(
        body: Incoming,
        io_timeout: Option<Duration>,
        clock: Arc<ConnectionClock>,
    ) -> RequestBody {
        RequestBody {
            inner: Some(StallGuard::new(body, io_timeout, "the request body")),
            ended: false,
            clock: Some(clock),
        }
    }

    /// No body (a retried request is always bodyless).
    pub fn empty() -> RequestBody {
        RequestBody {
            inner: None,
            ended: true,
            clock: None,
        }
    }
}

impl Drop for RequestBody {
    fn drop(&mut self) {
        let unread = !self.ended && self.inner.as_ref().is_some_and(|b| !b.is_end_stream());
        if let (true, Some(clock)) = (unread, &self.clock) {
            clock.note_body_abandoned();
        }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let Some(inner) = &mut this.inner else {
            return Poll::Ready(None);
        };
        let frame = std::task::ready!(Pin::new(inner).poll_frame(cx));
        if frame.is_none() {
            this.ended = true;
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), |b| b.size_hint())
    }
}

/// The body of a response on its way to the client; tells the connection's clock when hyper
/// has finished with it (written it, or given up), which is when the connection turns idle.
pub struct ResponseBody {
    inner: BoxedBody,
    clock: Arc<ConnectionClock>,
}

impl ResponseBody {
    pub fn new(inner: BoxedBody, clock: Arc<ConnectionClock>) -> ResponseBody {
        ResponseBody { inner, clock }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        self.clock.response_finished();
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A whole body from bytes.
pub fn full(bytes: impl Into<Bytes>) -> BoxedBody {
    http_body_util::Full::new(bytes.into())
        .map_err(|never: std::convert::Infallible| match never {})
        .boxed()
}
