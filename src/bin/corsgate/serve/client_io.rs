//! A client connection's byte stream, with the deadlines hyper does not keep for us.
//!
//! hyper's own header-read timeout starts when a connection becomes ready for its next request
//! head, so it counts keep-alive idle time too and cannot give a short head deadline beside a
//! long idle one. This wrapper keeps them apart, as nginx does (`client_header_timeout`,
//! `keepalive_timeout`, `send_timeout`):
//!
//! - **head**: the first request's head must be complete `--header-read-timeout` after the
//!   connection was accepted; a later request's head, that long after its first byte arrived
//!   (a slowloris sending a byte at a time is cut off all the same);
//! - **idle**: between a response and the next request's first byte, `--idle-timeout`;
//! - **stalled writes**: a response the client does not read for `--io-timeout`.
//!
//! Stalled request and upstream bodies are timed by `bodies`. The wrapper learns where the
//! connection is from a [`ConnectionClock`] that the request handler and the response body
//! update, and it also writes the upstream's 1xx heads (`interim`) in their place. One timer a
//! connection, reset only when a deadline moves; the fast path (a read or write that makes
//! progress) costs two relaxed atomic loads at most.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::interim::InterimQueue;
use super::limits::Limits;

/// Where a connection is, shared by its IO, its request handler and its response bodies (all
/// on the connection's task, so the atomics are never contended).
pub struct ConnectionClock {
    opened: Instant,
    /// Request heads handed to the handler.
    started: AtomicU64,
    /// Responses hyper has finished with (their bodies dropped).
    finished: AtomicU64,
    /// When the last one finished, in microseconds since `opened`.
    finished_at: AtomicU64,
    /// The current request's body was dropped unread (see `bodies::RequestBody`).
    body_abandoned: AtomicBool,
    /// 1xx heads waiting to be written.
    pub interim: InterimQueue,
}

impl ConnectionClock {
    pub fn new() -> ConnectionClock {
        ConnectionClock {
            opened: Instant::now(),
            started: AtomicU64::new(0),
            finished: AtomicU64::new(0),
            finished_at: AtomicU64::new(0),
            body_abandoned: AtomicBool::new(false),
            interim: InterimQueue::default(),
        }
    }

    /// A request head was complete and handed to the handler.
    pub fn request_started(&self) {
        self.started.fetch_add(1, Ordering::Relaxed);
    }

    /// The request body was dropped before its end.
    pub fn note_body_abandoned(&self) {
        self.body_abandoned.store(true, Ordering::Relaxed);
    }

    /// Whether the current request's body was dropped before its end (and forgets it).
    pub fn take_body_abandoned(&self) -> bool {
        self.body_abandoned.swap(false, Ordering::Relaxed)
    }

    /// hyper is done with a response's body: the connection is idle until the next head.
    pub fn response_finished(&self) {
        let micros = self.opened.elapsed().as_micros();
        self.finished_at
            .store(u64::try_from(micros).unwrap_or(u64::MAX), Ordering::Relaxed);
        self.finished.fetch_add(1, Ordering::Release);
    }
}

/// The deadline that cut a connection off, for the debug log.
fn timed_out(what: &str, after: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("{what} for {after:?}: closing the connection"),
    )
}

/// A client connection with its deadlines.
pub struct GuardedIo<T> {
    io: T,
    clock: Arc<ConnectionClock>,
    limits: Limits,
    timer: Pin<Box<Sleep>>,
    /// The deadline the timer is set to.
    armed: Option<Instant>,
    read_deadline: Option<Instant>,
    write_deadline: Option<Instant>,
    /// `started` when the read side last looked: a change means the previous head is done.
    seen_started: u64,
    /// When the first byte of the head being read arrived.
    head_began: Option<Instant>,
}

impl<T> GuardedIo<T> {
    pub fn new(io: T, clock: Arc<ConnectionClock>, limits: Limits) -> GuardedIo<T> {
        GuardedIo {
            io,
            clock,
            limits,
            // Far away until a deadline is set; one allocation a connection.
            timer: Box::pin(tokio::time::sleep(Duration::from_secs(86_400 * 365))),
            armed: None,
            read_deadline: None,
            write_deadline: None,
            seen_started: 0,
            head_began: None,
        }
    }

    /// Whether a request is being handled (its head read, its response not yet done).
    fn in_request(&self) -> bool {
        self.clock.started.load(Ordering::Relaxed) != self.clock.finished.load(Ordering::Acquire)
    }

    /// Notices that the head being read was handed to the handler: the next head starts
    /// afresh.
    fn observe_started(&mut self) -> u64 {
        let started = self.clock.started.load(Ordering::Relaxed);
        if started != self.seen_started {
            self.seen_started = started;
            self.head_began = None;
        }
        started
    }

    /// The read side's deadline while a read waits, and what it guards.
    fn read_deadline_now(&mut self) -> Option<(Instant, &'static str, Duration)> {
        let started = self.observe_started();
        if self.in_request() {
            // The body has its own deadline (`bodies`), and waiting for the upstream is not
            // the client's delay.
            return None;
        }
        let header = self.limits.header_read_timeout;
        if started == 0 {
            return header.map(|t| (self.clock.opened + t, "no complete request head", t));
        }
        if let Some(began) = self.head_began {
            return header.map(|t| (began + t, "no complete request head", t));
        }
        let idle = self.limits.idle_timeout?;
        let finished_at = Duration::from_micros(self.clock.finished_at.load(Ordering::Relaxed));
        Some((self.clock.opened + finished_at + idle, "idle", idle))
    }

    /// Sets the timer to the earliest live deadline and registers for its wake-up.
    fn arm(&mut self, cx: &mut Context<'_>) {
        let target = match (self.read_deadline, self.write_deadline) {
            (Some(r), Some(w)) => Some(r.min(w)),
            (r, w) => r.or(w),
        };
        let Some(target) = target else {
            return;
        };
        if self.armed != Some(target) {
            self.timer.as_mut().reset(target);
            self.armed = Some(target);
        }
        // Registers the task's waker; when it fires, hyper polls again and the deadline is
        // checked where it applies.
        if self.timer.as_mut().poll(cx).is_ready() {
            cx.waker().wake_by_ref();
        }
    }

    /// After a write returned `Pending`: the stall deadline, or the error once it passed.
    fn write_stalled(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let Some(limit) = self.limits.io_timeout else {
            return Poll::Pending;
        };
        let now = Instant::now();
        let deadline = *self.write_deadline.get_or_insert(now + limit);
        if now >= deadline {
            return Poll::Ready(timed_out("the client read nothing", limit));
        }
        self.arm(cx);
        Poll::Pending
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> GuardedIo<T> {
    /// Writes queued 1xx heads; `Ready(Ok)` when none are left.
    fn poll_interim(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let clock = self.clock.clone();
        let io = &mut self.io;
        match clock
            .interim
            .poll_write_with(|bytes| Pin::new(&mut *io).poll_write(cx, bytes))
        {
            Poll::Ready(result) => {
                self.write_deadline = None;
                Poll::Ready(result)
            }
            Poll::Pending => match self.write_stalled(cx) {
                Poll::Ready(e) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn after_write(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match result {
            Poll::Pending => match self.write_stalled(cx) {
                Poll::Ready(e) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            },
            ready => {
                self.write_deadline = None;
                ready
            }
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for GuardedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(result) => {
                this.read_deadline = None;
                if buf.filled().len() > before {
                    this.observe_started();
                    if this.head_began.is_none() && !this.in_request() {
                        this.head_began = Some(Instant::now());
                    }
                }
                Poll::Ready(result)
            }
            Poll::Pending => {
                let Some((deadline, what, limit)) = this.read_deadline_now() else {
                    this.read_deadline = None;
                    return Poll::Pending;
                };
                if Instant::now() >= deadline {
                    return Poll::Ready(Err(timed_out(what, limit)));
                }
                this.read_deadline = Some(deadline);
                this.arm(cx);
                Poll::Pending
            }
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for GuardedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.clock.interim.is_writing() {
            std::task::ready!(this.poll_interim(cx))?;
        }
        let result = Pin::new(&mut this.io).poll_write(cx, buf);
        this.after_write(cx, result)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.clock.interim.is_writing() {
            std::task::ready!(this.poll_interim(cx))?;
        }
        let result = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.after_write(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // hyper flushes the socket only once its own buffer is written: the one moment a 1xx
        // head can go out without splitting anything hyper wrote.
        if this.clock.interim.has_bytes() {
            std::task::ready!(this.poll_interim(cx))?;
        }
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
