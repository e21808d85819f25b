//! The upstream's connections: HTTP/1 connections opened with hyper's connection-level client,
//! kept idle per worker thread for reuse, and given back when a response body ends.
//!
//! Why not `hyper_util`'s pooled `Client`: on a proxied request it rebuilt an absolute URI
//! (a `format!` and a parse), hashed the pool key with SipHash three times under a mutex, and
//! moved the request through several futures: about 13,000 instructions of the 60,000 a
//! proxied request cost (callgrind). Here a request is sent as it came, in origin form, on a
//! connection popped from this thread's idle list without a lock; each worker thread
//! (`workers`) drives its own connections on its own runtime.
//!
//! - A connection is idle from the moment the response body it carried ended (the body wrapper
//!   [`PooledBody`] puts it back); a body dropped before its end closes the connection, whose
//!   framing is then unknown. Idle connections close after [`UPSTREAM_POOL_IDLE`], timed by
//!   the connection's own task, so they close with no traffic too; at most
//!   [`UPSTREAM_POOL_MAX_IDLE`] are kept per worker.
//! - Connecting (name resolution included) may take `--upstream-connect-timeout`.
//! - A request that was never written because its pooled connection closed first comes back
//!   from hyper and is sent on a new connection, whatever its method.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use thread_local::ThreadLocal;
use tokio::time::Instant;

use super::bodies::RequestBody;
use super::limits::{MAX_HEAD_BYTES, UPSTREAM_POOL_IDLE, UPSTREAM_POOL_MAX_IDLE};

/// Why the upstream gave no response.
#[derive(Debug)]
pub enum UpstreamError {
    /// No connection could be opened (refused, unreachable, name unknown, or timed out:
    /// `io::ErrorKind::TimedOut` for `--upstream-connect-timeout`).
    Connect(std::io::Error),
    /// The connection failed while the request was sent or its answer awaited.
    Request {
        error: hyper::Error,
        /// Whether the connection had carried an earlier request (only a reused connection
        /// can have been closed by the upstream's idle timeout under the request).
        reused: bool,
    },
}

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamError::Connect(_) => f.write_str("cannot connect"),
            UpstreamError::Request { .. } => f.write_str("request failed"),
        }
    }
}

impl std::error::Error for UpstreamError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            UpstreamError::Connect(e) => Some(e),
            UpstreamError::Request { error, .. } => Some(error),
        }
    }
}

/// Connections to one upstream address.
pub struct Pool {
    /// `host:port` as connecting needs it (brackets of an IPv6 literal removed).
    host: String,
    port: u16,
    connect_timeout: Option<Duration>,
    /// Each worker thread's idle connections, the most recently used last.
    idle: ThreadLocal<RefCell<Vec<Idle>>>,
    /// When the pool was made: idle times are kept as milliseconds since then.
    epoch: Instant,
}

/// A connection ready for one request.
pub struct Connection {
    sender: SendRequest<RequestBody>,
    state: Arc<IdleState>,
    reused: bool,
}

/// What a connection's task and the pool share: since when the connection is idle
/// (milliseconds since the pool's epoch, plus one), or 0 while it carries a request.
struct IdleState {
    idle_since: AtomicU64,
}

/// Now, as `IdleState::idle_since` counts: milliseconds since `epoch`, plus one (never 0).
fn idle_stamp(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1
}

/// An idle connection in a worker's list keeps its state beside its sender.
type Idle = (SendRequest<RequestBody>, Arc<IdleState>);

impl Pool {
    pub fn new(authority: &http::uri::Authority, connect_timeout: Option<Duration>) -> Pool {
        let host = authority.host();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        Pool {
            host: host.to_owned(),
            port: authority.port_u16().unwrap_or(80),
            connect_timeout,
            idle: ThreadLocal::new(),
            epoch: Instant::now(),
        }
    }

    /// The host (an IPv6 address without its brackets) and port connections go to.
    pub fn address(&self) -> (&str, u16) {
        (&self.host, self.port)
    }

    /// An idle connection of this thread's that is still open, else a new one.
    pub async fn checkout(&'static self) -> Result<Connection, UpstreamError> {
        loop {
            let popped = self.idle_list().borrow_mut().pop();
            let Some((mut sender, state)) = popped else {
                break;
            };
            if sender.is_closed() {
                continue;
            }
            state.idle_since.store(0, Ordering::Relaxed);
            // Ready unless its task has not run since its last body ended: then it will be
            // as soon as it does (or fail, if the upstream closed it meanwhile).
            if sender.is_ready() || sender.ready().await.is_ok() {
                return Ok(Connection {
                    sender,
                    state,
                    reused: true,
                });
            }
        }
        self.connect().await
    }

    /// A new connection (never a pooled one). Boxed: connecting and the handshake are large
    /// futures, and every request's future would otherwise carry (and move) their room.
    pub fn connect(
        &'static self,
    ) -> Pin<Box<dyn Future<Output = Result<Connection, UpstreamError>> + Send>> {
        Box::pin(self.open())
    }

    async fn open(&'static self) -> Result<Connection, UpstreamError> {
        let connecting = tokio::net::TcpStream::connect((self.host.as_str(), self.port));
        let stream = match self.connect_timeout {
            Some(limit) => match tokio::time::timeout(limit, connecting).await {
                Ok(result) => result,
                Err(_) => Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("connecting took more than {limit:?}"),
                )),
            },
            None => connecting.await,
        }
        .map_err(UpstreamError::Connect)?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::Builder::new()
            // 100 header lines: hyper's default, unset on purpose (see `limits`).
            .max_buf_size(MAX_HEAD_BYTES)
            .handshake::<_, RequestBody>(TokioIo::new(stream))
            .await
            .map_err(|error| UpstreamError::Request {
                error,
                reused: false,
            })?;
        let state = Arc::new(IdleState {
            idle_since: AtomicU64::new(0),
        });
        let task_state = state.clone();
        let epoch = self.epoch;
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let mut check = UPSTREAM_POOL_IDLE;
            loop {
                tokio::select! {
                    result = &mut connection => {
                        if let Err(e) = result {
                            tracing::debug!(target: "corsgate::serve", "upstream connection: {e}");
                        }
                        return;
                    }
                    _ = tokio::time::sleep(check) => {
                        let since = task_state.idle_since.load(Ordering::Relaxed);
                        if since == 0 {
                            check = UPSTREAM_POOL_IDLE;
                            continue;
                        }
                        let idle = Duration::from_millis(
                            idle_stamp(epoch).saturating_sub(since),
                        );
                        if idle >= UPSTREAM_POOL_IDLE {
                            // Dropping the connection closes it; its sender, still in a
                            // worker's list, reports itself closed and is skipped.
                            return;
                        }
                        check = UPSTREAM_POOL_IDLE - idle;
                    }
                }
            }
        });
        Ok(Connection {
            sender,
            state,
            reused: false,
        })
    }

    fn idle_list(&self) -> &RefCell<Vec<Idle>> {
        self.idle.get_or(|| RefCell::new(Vec::new()))
    }

    /// Keeps a connection whose response ended, if there is room.
    fn check_in(&self, sender: SendRequest<RequestBody>, state: Arc<IdleState>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle_list().borrow_mut();
        if idle.len() >= UPSTREAM_POOL_MAX_IDLE {
            return;
        }
        state
            .idle_since
            .store(idle_stamp(self.epoch), Ordering::Relaxed);
        idle.push((sender, state));
    }
}

impl Connection {
    pub fn is_reused(&self) -> bool {
        self.reused
    }

    /// Sends the request; the response's body gives the connection back to `pool` when it
    /// ends. A request hyper did not write (the connection had closed) is sent once more, on
    /// a new connection.
    pub async fn send(
        mut self,
        pool: &'static Pool,
        request: Request<RequestBody>,
    ) -> Result<Response<PooledBody>, UpstreamError> {
        let reused = self.reused;
        match self.sender.try_send_request(request).await {
            Ok(response) => Ok(self.wrap(pool, response)),
            Err(mut e) => match e.take_message() {
                // Boxed: rare, and its room would otherwise be in every request's future.
                Some(request) if reused => {
                    Box::pin(async move {
                        let mut fresh = pool.connect().await?;
                        match fresh.sender.send_request(request).await {
                            Ok(response) => Ok(fresh.wrap(pool, response)),
                            Err(error) => Err(UpstreamError::Request {
                                error,
                                reused: false,
                            }),
                        }
                    })
                    .await
                }
                _ => Err(UpstreamError::Request {
                    error: e.into_error(),
                    reused,
                }),
            },
        }
    }

    fn wrap(self, pool: &'static Pool, response: Response<Incoming>) -> Response<PooledBody> {
        response.map(|body| {
            let mut pooled = PooledBody {
                body,
                back: Some((self.sender, self.state, pool)),
            };
            if pooled.body.is_end_stream() {
                pooled.give_back();
            }
            pooled
        })
    }
}

/// An upstream response body that gives its connection back to the pool once it ended.
pub struct PooledBody {
    body: Incoming,
    back: Option<(SendRequest<RequestBody>, Arc<IdleState>, &'static Pool)>,
}

impl PooledBody {
    fn give_back(&mut self) {
        if let Some((sender, state, pool)) = self.back.take() {
            pool.check_in(sender, state);
        }
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        let frame = Pin::new(&mut this.body).poll_frame(cx);
        match &frame {
            Poll::Ready(None) => this.give_back(),
            Poll::Ready(Some(Ok(_))) if this.body.is_end_stream() => this.give_back(),
            // An error: the connection is not reused (hyper closes it).
            Poll::Ready(Some(Err(_))) => this.back = None,
            _ => {}
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::mpsc;

    /// An upstream that answers every request on a connection with `200 ok` and reports each
    /// connection it accepts and each one the other side closes.
    async fn upstream() -> (http::uri::Authority, mpsc::UnboundedReceiver<&'static str>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let authority = listener.local_addr().unwrap().to_string().parse().unwrap();
        let (events, received) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let events = events.clone();
                let _ = events.send("accepted");
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buffer = [0u8; 1024];
                    loop {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => {
                                let _ = events.send("closed");
                                return;
                            }
                            Ok(n) => head.extend_from_slice(&buffer[..n]),
                        }
                        if head.windows(4).any(|w| w == b"\r\n\r\n") {
                            head.clear();
                            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                            if stream.write_all(answer).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (authority, received)
    }

    /// The upstream's next event, within a bound (virtual under paused time).
    async fn next(events: &mut mpsc::UnboundedReceiver<&'static str>) -> Option<&'static str> {
        tokio::time::timeout(Duration::from_secs(300), events.recv())
            .await
            .ok()
            .flatten()
    }

    fn request() -> Request<RequestBody> {
        let mut request = Request::new(RequestBody::empty());
        request.headers_mut().insert(
            http::header::HOST,
            http::HeaderValue::from_static("upstream"),
        );
        request
    }

    async fn exchange(pool: &'static Pool) -> bool {
        let connection = pool.checkout().await.unwrap();
        let reused = connection.is_reused();
        let response = connection.send(pool, request()).await.unwrap();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"ok");
        reused
    }

    #[tokio::test(start_paused = true)]
    async fn idle_connections_are_reused_then_closed_after_the_idle_limit() {
        let (authority, mut events) = upstream().await;
        let pool: &'static Pool = Box::leak(Box::new(Pool::new(&authority, None)));
        assert!(
            !exchange(pool).await,
            "the first request opens a connection"
        );
        assert_eq!(next(&mut events).await, Some("accepted"));
        // Within the limit: the same connection, again and again.
        for _ in 0..3 {
            tokio::time::sleep(UPSTREAM_POOL_IDLE / 2).await;
            assert!(exchange(pool).await, "an idle connection is reused");
        }
        assert!(
            events.try_recv().is_err(),
            "no other connection, none closed"
        );
        // Idle past the limit: its own task closes it, with no request to notice.
        tokio::time::sleep(UPSTREAM_POOL_IDLE + Duration::from_secs(1)).await;
        assert_eq!(next(&mut events).await, Some("closed"));
        // The next request skips the closed one and opens another.
        assert!(!exchange(pool).await);
        assert_eq!(next(&mut events).await, Some("accepted"));
    }

    #[tokio::test]
    async fn a_body_dropped_before_its_end_closes_its_connection() {
        let (authority, mut events) = upstream().await;
        let pool: &'static Pool = Box::leak(Box::new(Pool::new(&authority, None)));
        let connection = pool.checkout().await.unwrap();
        let response = connection.send(pool, request()).await.unwrap();
        assert_eq!(next(&mut events).await, Some("accepted"));
        // The two body bytes may already be read; the body was not polled to its end, so
        // the connection is not given back.
        drop(response);
        assert!(!exchange(pool).await, "a new connection");
        assert_eq!(next(&mut events).await, Some("accepted"));
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_error() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let authority = closed.local_addr().unwrap().to_string().parse().unwrap();
        drop(closed);
        let pool: &'static Pool = Box::leak(Box::new(Pool::new(&authority, None)));
        match pool.checkout().await {
            Err(UpstreamError::Connect(e)) => {
                assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused)
            }
            _ => panic!("a refused connection is a connect error"),
        }
        // (A connect past `--upstream-connect-timeout`: tests/serve_proxy.rs, against a
        // loopback listener whose backlog is full.)
    }
}
