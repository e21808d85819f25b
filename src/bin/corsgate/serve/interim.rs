//! Forwarding the upstream's 1xx responses (103 Early Hints, 102 Processing) to the client, as
//! RFC 9110 §15.2 asks of a proxy.
//!
//! hyper's server writes exactly one response per request, so the 1xx heads go around it: the
//! upstream client's `on_informational` callback serializes each head into this connection's
//! queue, and the connection's IO wrapper (`client_io`) writes the queue when hyper flushes
//! with nothing of its own buffered. The request's handler does not hand hyper the final
//! response until the queue is written, so on the wire every 1xx precedes its final response
//! and follows the previous one. Bounded: [`MAX_INTERIM_BYTES`] a request, the rest dropped (a
//! 1xx is advisory). Not sent to HTTP/1.0 clients (RFC 9110 §15.2); `100 Continue` is hyper's
//! own business with the client, and `101` never happens (upgrades are refused).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use http::{HeaderMap, StatusCode};
use tokio::sync::Notify;

use super::hop_by_hop::is_hop_by_hop;
use super::limits::MAX_INTERIM_BYTES;

/// Nothing queued.
const EMPTY: u8 = 0;
/// Bytes queued, none written yet.
const QUEUED: u8 = 1;
/// Part of the queue is on the wire: hyper's next write must wait for the rest.
const WRITING: u8 = 2;

/// One connection's queue of serialized 1xx heads.
#[derive(Default)]
pub struct InterimQueue {
    state: AtomicU8,
    inner: Mutex<Inner>,
    /// Wakes the request handler (on the connection's task) when a head was queued, so that the
    /// connection is polled and flushes it.
    arrived: Notify,
}

#[derive(Default)]
struct Inner {
    bytes: Vec<u8>,
    written: usize,
    /// Queued for the current request (the bound), reset when it is drained.
    total: usize,
    /// The handler waiting for the queue to be written.
    drained: Option<Waker>,
}

impl InterimQueue {
    /// Serializes one 1xx head from the upstream and queues it. `false` when it was not
    /// forwarded (100, 101, or over the bound).
    pub fn push(&self, status: StatusCode, headers: &HeaderMap) -> bool {
        if !status.is_informational()
            || status == StatusCode::CONTINUE
            || status == StatusCode::SWITCHING_PROTOCOLS
        {
            return false;
        }
        let mut head = Vec::with_capacity(64);
        head.extend_from_slice(b"HTTP/1.1 ");
        head.extend_from_slice(status.as_str().as_bytes());
        head.push(b' ');
        head.extend_from_slice(
            status
                .canonical_reason()
                .unwrap_or("Informational")
                .as_bytes(),
        );
        head.extend_from_slice(b"\r\n");
        for (name, value) in headers {
            if is_hop_by_hop(name, headers) {
                continue;
            }
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n");
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.total + head.len() > MAX_INTERIM_BYTES {
            tracing::debug!(target: "corsgate::serve", "a {status} from the upstream was not forwarded: over {MAX_INTERIM_BYTES} bytes of 1xx for one request");
            return false;
        }
        inner.total += head.len();
        inner.bytes.extend_from_slice(&head);
        // Only EMPTY moves to QUEUED; WRITING stays (the writer takes the new bytes too).
        let _ = self
            .state
            .compare_exchange(EMPTY, QUEUED, Ordering::AcqRel, Ordering::Acquire);
        drop(inner);
        self.arrived.notify_one();
        true
    }

    /// Resolves when a head was queued (the handler awaits it beside the upstream's answer).
    pub async fn arrived(&self) {
        self.arrived.notified().await;
    }

    /// `true` when something is queued (one relaxed load: the IO wrapper asks on every flush).
    pub fn has_bytes(&self) -> bool {
        self.state.load(Ordering::Acquire) != EMPTY
    }

    /// `true` when part of the queue is on the wire and the rest must go before anything else.
    pub fn is_writing(&self) -> bool {
        self.state.load(Ordering::Acquire) == WRITING
    }

    /// Writes the queue with `write`, which returns how many bytes it took. `Pending` when the
    /// socket is full; `Ready(Ok)` once everything queued is written.
    pub fn poll_write_with(
        &self,
        mut write: impl FnMut(&[u8]) -> Poll<std::io::Result<usize>>,
    ) -> Poll<std::io::Result<()>> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        while inner.written < inner.bytes.len() {
            let from = inner.written;
            match write(&inner.bytes[from..]) {
                Poll::Pending => {
                    if inner.written > 0 {
                        self.state.store(WRITING, Ordering::Release);
                    }
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => {
                    inner.written += n;
                    if inner.written < inner.bytes.len() {
                        self.state.store(WRITING, Ordering::Release);
                    }
                }
            }
        }
        inner.bytes.clear();
        inner.written = 0;
        self.state.store(EMPTY, Ordering::Release);
        if let Some(waker) = inner.drained.take() {
            waker.wake();
        }
        Poll::Ready(Ok(()))
    }

    /// Ready once nothing is queued; the request's final response waits for it. Also resets
    /// the per-request bound.
    pub fn poll_drained(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.bytes.is_empty() {
            inner.total = 0;
            inner.drained = None;
            return Poll::Ready(());
        }
        inner.drained = Some(cx.waker().clone());
        Poll::Pending
    }
}
