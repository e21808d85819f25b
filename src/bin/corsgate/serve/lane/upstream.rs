//! The lane's upstream: its idle connections, one request head sent and one response head read
//! within the deadlines, and the answer when that fails.
//!
//! Idle connections are kept per worker thread, without a lock, the most recently used last, at
//! most [`UPSTREAM_POOL_MAX_IDLE`] a thread, and none longer than [`UPSTREAM_POOL_IDLE`]: a
//! connection idle that long is closed when its thread next checks one in or out (a thread
//! that serves nothing holds its idle connections until then). A connection goes back only
//! after its response body ended exactly where its framing said.

use std::cell::RefCell;
use std::io;
use std::time::Duration;

use corsgate::ResponseHeaders;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::super::access_log::Escaped;
use super::super::limits::{MAX_HEAD_BYTES, UPSTREAM_POOL_IDLE, UPSTREAM_POOL_MAX_IDLE};
use super::timed_io::{read_more, write_within};
use super::wire::{head_end, write_date};

thread_local! {
    static IDLE: RefCell<Vec<(TcpStream, Instant)>> = const { RefCell::new(Vec::new()) };
}

/// Where the lane sends what it takes.
pub struct Upstream {
    pub host: String,
    pub port: u16,
    /// `--upstream-timeout`: the response head within this long of the request.
    pub timeout: Option<Duration>,
    /// `--upstream-connect-timeout`.
    pub connect_timeout: Option<Duration>,
}

/// Why the upstream gave no usable response head.
#[derive(Debug)]
pub enum Failure {
    Connect(io::Error),
    ConnectTimeout,
    /// The connection failed after the request was (partly) sent.
    Io(io::Error),
    /// It closed before a complete head.
    Closed,
    TimedOut,
    /// A head the lane will not relay.
    Malformed(&'static str),
}

/// This thread's most recently used idle connection, if one has been idle less than
/// [`UPSTREAM_POOL_IDLE`].
fn check_out() -> Option<TcpStream> {
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        let (stream, since) = idle.pop()?;
        if since.elapsed() < UPSTREAM_POOL_IDLE {
            Some(stream)
        } else {
            // The newest is too old, so all are.
            idle.clear();
            None
        }
    })
}

/// Keeps `stream` for reuse; closes those idle too long, and the oldest past the cap.
pub fn check_in(stream: TcpStream) {
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        let now = Instant::now();
        let expired = idle
            .iter()
            .take_while(|(_, since)| now.duration_since(*since) >= UPSTREAM_POOL_IDLE)
            .count();
        idle.drain(..expired);
        if idle.len() >= UPSTREAM_POOL_MAX_IDLE {
            idle.remove(0);
        }
        idle.push((stream, now));
    });
}

impl Upstream {
    async fn connect(&self) -> Result<TcpStream, Failure> {
        let connecting = TcpStream::connect((self.host.as_str(), self.port));
        let connected = match self.connect_timeout {
            Some(limit) => tokio::time::timeout(limit, connecting)
                .await
                .map_err(|_| Failure::ConnectTimeout)?,
            None => connecting.await,
        };
        let stream = connected.map_err(Failure::Connect)?;
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    /// Sends `request` (a whole bodyless head) on an idle connection or a new one, and reads
    /// into `ubuf` until it holds a complete response head, by `deadline`. A reused connection
    /// that fails before any byte of an answer (the upstream closed it while it was idle) is
    /// replaced once by a new one: every request the lane takes is bodyless and idempotent.
    pub async fn exchange(
        &self,
        request: &[u8],
        ubuf: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<TcpStream, Failure> {
        let mut pooled = check_out();
        loop {
            let reused = pooled.is_some();
            let mut stream = match pooled.take() {
                Some(stream) => stream,
                None => self.connect().await?,
            };
            ubuf.clear();
            let outcome = match stream.write_all(request).await {
                Ok(()) => read_head(&mut stream, ubuf, deadline).await,
                Err(e) => Err(Failure::Io(e)),
            };
            match outcome {
                Ok(()) => return Ok(stream),
                Err(Failure::Closed | Failure::Io(_)) if reused && ubuf.is_empty() => continue,
                Err(failure) => return Err(failure),
            }
        }
    }

    /// Answers a request the upstream did not answer: 502, or 504 past a deadline, with the
    /// decision's CORS headers, and the cause logged, as `upstream` does on hyper's path.
    /// `client` is the client's stream, the buffer to write with, `--io-timeout`, and
    /// whether the connection closes after this answer. Returns the status sent.
    pub async fn answer_failure(
        &self,
        failure: Failure,
        request: (&[u8], &[u8]),
        cors: &ResponseHeaders,
        client: (&mut TcpStream, &mut Vec<u8>, Option<Duration>, bool),
    ) -> io::Result<u16> {
        let (code, status, message): (u16, &[u8], &[u8]) = match &failure {
            Failure::ConnectTimeout => {
                (504, b"504 Gateway Timeout", b"upstream connect timed out\n")
            }
            Failure::TimedOut => (504, b"504 Gateway Timeout", b"upstream timed out\n"),
            _ => (502, b"502 Bad Gateway", b"upstream unavailable\n"),
        };
        let cause = match &failure {
            Failure::Connect(e) => format!("cannot connect: {e}"),
            Failure::ConnectTimeout => {
                "cannot connect: timed out (--upstream-connect-timeout)".to_owned()
            }
            Failure::Io(e) => format!("request failed: {e}"),
            Failure::Closed => "request failed: the connection closed before a response".to_owned(),
            Failure::TimedOut => format!(
                "no response head within {:?} (--upstream-timeout)",
                self.timeout.unwrap_or_default()
            ),
            Failure::Malformed(what) => format!("request failed: {what}"),
        };
        let (method, target) = request;
        tracing::warn!(
            target: "corsgate::serve",
            "upstream http://{}:{}: {} {}: {cause}",
            self.host,
            self.port,
            String::from_utf8_lossy(method),
            Escaped::bare(target, 1024),
        );
        let (stream, out, io_timeout, close) = client;
        out.clear();
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(status);
        out.extend_from_slice(b"\r\ncontent-type: text/plain; charset=utf-8\r\n");
        cors.write_http1_merging_vary(&[], out);
        write_date(out);
        if close {
            out.extend_from_slice(b"connection: close\r\n");
        }
        out.extend_from_slice(format!("content-length: {}\r\n\r\n", message.len()).as_bytes());
        out.extend_from_slice(message);
        write_within(stream, out, io_timeout).await?;
        Ok(code)
    }
}

/// Reads until `ubuf` holds a complete head (the caller parses it, once), by `deadline`.
pub async fn read_head(
    stream: &mut TcpStream,
    ubuf: &mut Vec<u8>,
    deadline: Option<Instant>,
) -> Result<(), Failure> {
    loop {
        if head_end(ubuf).is_some() {
            return Ok(());
        }
        if ubuf.len() >= MAX_HEAD_BYTES {
            return Err(Failure::Malformed("a response head over 64 KiB"));
        }
        let read = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, read_more(stream, ubuf))
                .await
                .map_err(|_| Failure::TimedOut)?,
            None => read_more(stream, ubuf).await,
        };
        match read {
            Ok(0) => return Err(Failure::Closed),
            Ok(_) => {}
            Err(e) => return Err(Failure::Io(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connected stream; the accepted end is dropped at once so the
    /// listen backlog never fills (the pool only needs a live socket).
    async fn connection(listener: &tokio::net::TcpListener) -> TcpStream {
        let (connected, accepted) = tokio::join!(
            TcpStream::connect(listener.local_addr().unwrap()),
            listener.accept()
        );
        drop(accepted.unwrap());
        connected.unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn idle_connections_are_reused_newest_first_then_closed_after_the_idle_limit() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (a, b) = (connection(&listener).await, connection(&listener).await);
        let b_port = b.local_addr().unwrap();
        check_in(a);
        tokio::time::advance(Duration::from_secs(10)).await;
        check_in(b);
        // The most recently used first.
        let reused = check_out().unwrap();
        assert_eq!(reused.local_addr().unwrap(), b_port);
        check_in(reused);
        // `a` has been idle 25 s, `b` 15 s: both still kept.
        tokio::time::advance(Duration::from_secs(15)).await;
        let reused = check_out().unwrap();
        assert_eq!(reused.local_addr().unwrap(), b_port);
        // A check-in closes those idle for the limit: `a` (idle 31 s) goes.
        tokio::time::advance(Duration::from_secs(6)).await;
        check_in(reused);
        assert_eq!(IDLE.with(|idle| idle.borrow().len()), 1);
        assert_eq!(check_out().unwrap().local_addr().unwrap(), b_port);
        // One idle past the limit is never handed out.
        check_in(connection(&listener).await);
        tokio::time::advance(UPSTREAM_POOL_IDLE).await;
        assert!(check_out().is_none());
        assert_eq!(IDLE.with(|idle| idle.borrow().len()), 0);
    }

    #[tokio::test]
    async fn at_most_the_cap_are_kept_a_thread() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        for _ in 0..UPSTREAM_POOL_MAX_IDLE + 3 {
            check_in(connection(&listener).await);
        }
        assert_eq!(
            IDLE.with(|idle| idle.borrow().len()),
            UPSTREAM_POOL_MAX_IDLE
        );
        IDLE.with(|idle| idle.borrow_mut().clear());
    }
}
