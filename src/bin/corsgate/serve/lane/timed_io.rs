//! The lane's reads and writes, each within a limit: a write to the client or a read of an
//! upstream's body that makes no progress for `--io-timeout` fails with `TimedOut`, as
//! `client_io` does on hyper's path. No timer is registered unless the limit is set; tokio
//! registers one only when the operation has to wait.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Free room a read asks for, at least: a buffer with less grows by [`GROWTH`] first.
const MIN_ROOM: usize = 4096;
/// How much a buffer grows by when it is nearly full.
const GROWTH: usize = 8192;

/// Reads what is there into the free room of `buf`, growing it if nearly full; 0 at the end.
pub async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    if buf.capacity() - buf.len() < MIN_ROOM {
        buf.reserve(GROWTH);
    }
    stream.read_buf(buf).await
}

/// [`read_more`] within `limit`.
pub async fn read_within(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    limit: Option<Duration>,
) -> io::Result<usize> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, read_more(stream, buf))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the upstream's body stalled"))?,
        None => read_more(stream, buf).await,
    }
}

/// `write_all`, each write making progress within `limit`: the stall limit of `client_io`
/// (a client that reads slowly but steadily is served; one that stops reading is dropped).
pub async fn write_within(
    stream: &mut TcpStream,
    mut bytes: &[u8],
    limit: Option<Duration>,
) -> io::Result<()> {
    let Some(limit) = limit else {
        return stream.write_all(bytes).await;
    };
    while !bytes.is_empty() {
        let written = tokio::time::timeout(limit, stream.write(bytes))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the client read nothing"))??;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        bytes = &bytes[written..];
    }
    Ok(())
}
