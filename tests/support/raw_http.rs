//! HTTP/1 spoken byte for byte, for tests that must send what no well-behaved client sends
//! (two `Host` lines, a dot segment, a bare `OPTIONS *`) or see exactly what a proxy forwarded:
//! a raw client exchange, and an upstream that records every request it receives and answers
//! from a script. Every read and wait is bounded.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The longest any raw read waits.
pub const READ_LIMIT: Duration = Duration::from_secs(10);

/// Sends `request` on a new connection and reads until the peer closes (or `limit`).
pub async fn exchange(address: SocketAddr, request: &[u8], limit: Duration) -> Vec<u8> {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request).await.unwrap();
    read_until_close(&mut stream, limit).await
}

/// Reads until the peer closes, an error, or `limit`.
pub async fn read_until_close(stream: &mut TcpStream, limit: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(limit, async {
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    out
}

/// The status code of the first response in `bytes` (0 if there is none).
pub fn status_of(bytes: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(bytes);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// A complete response with a body and a length.
pub fn response(status: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\n");
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    out.into_bytes()
}

/// What the scripted upstream does with one request.
pub enum Reply {
    /// Writes these bytes and waits for the next request on the connection.
    Send(Vec<u8>),
    /// Writes these bytes, then closes.
    SendAndClose(Vec<u8>),
    /// Closes without answering.
    Close,
    /// Never answers; holds the connection until the test ends.
    Hang,
    /// Waits, then writes these bytes and waits for the next request.
    After(Duration, Vec<u8>),
}

/// One request as the upstream received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// Which accepted connection (0-based).
    pub connection: usize,
    /// Which request on that connection (0-based).
    pub index: usize,
    /// The head and the body, byte for byte.
    pub bytes: Vec<u8>,
}

impl Recorded {
    /// The head as text.
    pub fn head(&self) -> String {
        let text = String::from_utf8_lossy(&self.bytes);
        text.split("\r\n\r\n").next().unwrap_or("").to_owned()
    }

    /// The request line.
    pub fn request_line(&self) -> String {
        self.head().lines().next().unwrap_or("").to_owned()
    }

    /// Every value of a header, in order (case-insensitive name).
    pub fn header(&self, name: &str) -> Vec<String> {
        self.head()
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
            .collect()
    }
}

/// An upstream on loopback that records every request and answers from a script.
pub struct RawUpstream {
    pub address: SocketAddr,
    received: Arc<Mutex<Vec<Recorded>>>,
}

impl RawUpstream {
    pub async fn start(script: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> RawUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(script);
        let sink = received.clone();
        tokio::spawn(async move {
            let mut connection = 0;
            while let Ok((stream, _)) = listener.accept().await {
                let (sink, script) = (sink.clone(), script.clone());
                tokio::spawn(serve_raw(stream, connection, sink, script));
                connection += 1;
            }
        });
        RawUpstream { address, received }
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Recorded> {
        self.received.lock().unwrap().clone()
    }
}

async fn serve_raw(
    mut stream: TcpStream,
    connection: usize,
    sink: Arc<Mutex<Vec<Recorded>>>,
    script: Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>,
) {
    let mut pending = Vec::new();
    for index in 0.. {
        let Some(bytes) = read_request(&mut stream, &mut pending).await else {
            return;
        };
        let recorded = Recorded {
            connection,
            index,
            bytes,
        };
        sink.lock().unwrap().push(recorded.clone());
        match script(&recorded) {
            Reply::Send(b) => {
                if stream.write_all(&b).await.is_err() {
                    return;
                }
            }
            Reply::SendAndClose(b) => {
                let _ = stream.write_all(&b).await;
                return;
            }
            Reply::Close => return,
            Reply::Hang => {
                tokio::time::sleep(Duration::from_secs(600)).await;
                return;
            }
            Reply::After(wait, b) => {
                tokio::time::sleep(wait).await;
                if stream.write_all(&b).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Reads one request (head, then a body framed by Content-Length or chunked). `None` when the
/// connection closes first or a read waits past [`READ_LIMIT`].
async fn read_request(stream: &mut TcpStream, pending: &mut Vec<u8>) -> Option<Vec<u8>> {
    let mut buf = [0u8; 16384];
    let head_end = loop {
        if let Some(i) = find(pending, b"\r\n\r\n") {
            break i + 4;
        }
        let n = tokio::time::timeout(READ_LIMIT, stream.read(&mut buf))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        pending.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&pending[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let chunked = head
        .lines()
        .any(|l| l.starts_with("transfer-encoding:") && l.contains("chunked"));
    let end = loop {
        if chunked {
            if let Some(i) = find(&pending[head_end..], b"0\r\n\r\n") {
                break head_end + i + 5;
            }
        } else if pending.len() >= head_end + length {
            break head_end + length;
        }
        let n = tokio::time::timeout(READ_LIMIT, stream.read(&mut buf))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        pending.extend_from_slice(&buf[..n]);
    };
    let request = pending[..end].to_vec();
    pending.drain(..end);
    Some(request)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
