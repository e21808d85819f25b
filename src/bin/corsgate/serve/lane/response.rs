//! An upstream's response, relayed: its head read and rewritten for the client (hop-by-hop
//! fields removed, `Access-Control-*` replaced by the decision's, `Vary` merged, the body's
//! framing stated), 1xx heads forwarded as `interim` does, and its body relayed exactly to
//! where its framing ends.
//!
//! Framing, as RFC 9112 §6.3 reads it for a response: none for `HEAD`, 204 and 304; chunked when
//! `Transfer-Encoding`'s last coding is `chunked`; until the upstream closes when it ends with
//! another; else `Content-Length` (digits only; several must agree, else 502); else until
//! the upstream closes. Bytes after a body's end (a body sent to `HEAD`) are dropped with
//! the upstream connection.
//! Chunked and close-delimited bodies are re-chunked for the client, chunk extensions and
//! trailer fields dropped, as hyper's path does for a client that did not send `TE: trailers`.
//! Field names keep the case the upstream wrote (hyper's path writes them in lower case).

use std::io;
use std::time::Duration;

use corsgate::ResponseHeaders;
use tokio::net::TcpStream;

use super::super::hop_by_hop::is_listed_hop_by_hop;
use super::super::limits::MAX_INTERIM_BYTES;
use super::chunked::ChunkedDecoder;
use super::request::MAX_FIELDS;
use super::timed_io::{read_within, write_within};
use super::upstream::Failure;
use super::wire::{write_chunk, write_field, write_status_line, LAST_CHUNK};

/// `Vary` lines of an upstream's head merged with the decision's, at most; more stay
/// separate lines after the merged one.
const MAX_MERGED_VARY: usize = 16;

/// How an upstream's response body is framed.
#[derive(Debug)]
pub enum Framing {
    /// This many bytes (left).
    Length(u64),
    /// Chunked: decoded, re-chunked for the client.
    Chunked(ChunkedDecoder),
    /// Until the upstream closes: re-chunked for the client.
    UntilClose,
}

/// An upstream's response head, read.
#[derive(Debug)]
pub enum Head {
    /// A 1xx (not 101) of this many bytes: its head for the client is in `interim` (101,
    /// to a request without `Upgrade`, is a failure).
    Interim(usize),
    /// The final head, of `len` bytes; the client's head is in `out`.
    Final {
        len: usize,
        code: u16,
        framing: Framing,
        /// The upstream connection can carry another request after this body.
        reusable: bool,
    },
}

/// What the request asked, for the response head.
pub struct Asked<'a> {
    pub is_head: bool,
    /// The client's connection closes after this response.
    pub close: bool,
    pub cors: &'a ResponseHeaders,
}

/// Reads the response head at the start of `ubuf` (which holds a complete one), writing the
/// client's head into `out`, or a 1xx's into `interim`.
pub fn read_head(
    ubuf: &[u8],
    asked: &Asked<'_>,
    out: &mut Vec<u8>,
    interim: &mut Vec<u8>,
) -> Result<Head, Failure> {
    let mut lines = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut response = httparse::Response::new(&mut lines);
    let len = match response.parse(ubuf) {
        Ok(httparse::Status::Complete(len)) => len,
        // hyper's words for the same cause, so that the log reads alike.
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Failure::Malformed(
                "message head is too large (over 100 header lines)",
            ))
        }
        _ => return Err(Failure::Malformed("an invalid response head")),
    };
    let code = response.code.unwrap_or(0);
    let reason = response.reason.unwrap_or("").as_bytes();
    let fields = &*response.headers;
    let hop_by_hop = |name: &[u8]| {
        is_listed_hop_by_hop(
            name,
            fields
                .iter()
                .filter(|f| f.name.eq_ignore_ascii_case("connection"))
                .map(|f| f.value),
        )
    };
    if code == 101 {
        return Err(Failure::Malformed("a 101 to a request without Upgrade"));
    }
    if (100..200).contains(&code) {
        // Not 100, which is hyper's business with the client; hop-by-hop fields removed; at
        // most MAX_INTERIM_BYTES a request.
        if code != 100 {
            let before = interim.len();
            write_status_line(code, reason, interim);
            for field in fields.iter().filter(|f| !hop_by_hop(f.name.as_bytes())) {
                write_field(field.name.as_bytes(), field.value, interim);
            }
            interim.extend_from_slice(b"\r\n");
            if interim.len() > MAX_INTERIM_BYTES {
                interim.truncate(before);
            }
        }
        return Ok(Head::Interim(len));
    }
    let mut length: Option<u64> = None;
    // `Transfer-Encoding`: present, and whether its last coding is chunked.
    let mut coded = false;
    let mut chunked = false;
    let mut reusable = response.version == Some(1);
    for field in fields {
        let name = field.name.as_bytes();
        if name.eq_ignore_ascii_case(b"content-length") {
            let parsed = content_length(field.value)
                .ok_or(Failure::Malformed("an invalid Content-Length"))?;
            if length.is_some_and(|l| l != parsed) {
                return Err(Failure::Malformed("two Content-Length values"));
            }
            length = Some(parsed);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            coded = true;
            if let Some(last) = field.value.rsplit(|&b| b == b',').next() {
                chunked = last.trim_ascii().eq_ignore_ascii_case(b"chunked");
            }
        } else if name.eq_ignore_ascii_case(b"connection")
            && field
                .value
                .split(|&b| b == b',')
                .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"close"))
        {
            reusable = false;
        }
    }
    let framing = if asked.is_head || code == 204 || code == 304 {
        Framing::Length(0)
    } else if chunked {
        Framing::Chunked(ChunkedDecoder::new())
    } else if coded {
        // Codings that do not end with chunked: the body ends when the connection does
        // (RFC 9112 §6.3), whatever a Content-Length says.
        reusable = false;
        Framing::UntilClose
    } else if let Some(length) = length {
        Framing::Length(length)
    } else {
        reusable = false;
        Framing::UntilClose
    };
    let rechunked = !matches!(framing, Framing::Length(_));
    // A length beside a transfer coding is not the body's (RFC 9112 §6.1).
    let drop_length = rechunked || (coded && !matches!(framing, Framing::Length(0)));

    out.clear();
    write_status_line(code, reason, out);
    let mut vary: [&[u8]; MAX_MERGED_VARY] = [&[]; MAX_MERGED_VARY];
    let mut varies = 0;
    let replaced = !asked.cors.is_untouched();
    for field in fields {
        let name = field.name.as_bytes();
        if hop_by_hop(name) || (drop_length && name.eq_ignore_ascii_case(b"content-length")) {
            continue;
        }
        if replaced {
            if name.len() > 15 && name[..15].eq_ignore_ascii_case(b"access-control-") {
                continue;
            }
            if name.eq_ignore_ascii_case(b"vary") && varies < vary.len() {
                vary[varies] = field.value;
                varies += 1;
                continue;
            }
        }
        write_field(name, field.value, out);
    }
    asked.cors.write_http1_merging_vary(&vary[..varies], out);
    if rechunked {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    if asked.close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Ok(Head::Final {
        len,
        code,
        framing,
        reusable,
    })
}

/// A `Content-Length` value: ASCII digits only (`u64::from_str` would take a `+`).
fn content_length(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// Appends to `out` (the client's head) the body bytes that came with the head, as the
/// framing reads them. Returns `false` when bytes followed the body's end (a body sent to
/// `HEAD`, say): the client's response is whole, but the upstream connection is out of step
/// and is not reused. A malformed chunked body is a failure, and the client has been sent
/// nothing yet.
pub fn start_body(framing: &mut Framing, data: &[u8], out: &mut Vec<u8>) -> Result<bool, Failure> {
    match framing {
        Framing::Length(left) => {
            let take = data.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
            out.extend_from_slice(&data[..take]);
            *left -= take as u64;
            Ok(take == data.len())
        }
        Framing::Chunked(decoder) => match decoder.feed(data, out) {
            Ok(used) => Ok(used == data.len()),
            Err(_) => Err(Failure::Malformed("an invalid chunked body")),
        },
        Framing::UntilClose => {
            if !data.is_empty() {
                write_chunk(data, out);
            }
            Ok(true)
        }
    }
}

/// How a relayed body ended.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyEnd {
    /// Where its framing said, and the upstream connection can be reused.
    Framed,
    /// Complete for the client, but the upstream connection cannot be reused (it closed, or
    /// sent bytes after the body).
    Complete,
    /// Cut short or malformed: the client's response is incomplete, and its connection
    /// must close.
    Cut,
}

/// Relays the rest of the body, read from `upstream` into `ubuf`, to the client.
pub async fn relay_rest(
    mut framing: Framing,
    upstream: &mut TcpStream,
    client: &mut TcpStream,
    ubuf: &mut Vec<u8>,
    out: &mut Vec<u8>,
    io_timeout: Option<Duration>,
) -> io::Result<BodyEnd> {
    loop {
        match &framing {
            Framing::Length(0) => return Ok(BodyEnd::Framed),
            Framing::Chunked(decoder) if decoder.is_done() => return Ok(BodyEnd::Framed),
            _ => {}
        }
        ubuf.clear();
        let n = read_within(upstream, ubuf, io_timeout).await?;
        match &mut framing {
            Framing::Length(left) => {
                if n == 0 {
                    return Ok(BodyEnd::Cut);
                }
                let take = n.min(usize::try_from(*left).unwrap_or(usize::MAX));
                *left -= take as u64;
                write_within(client, &ubuf[..take], io_timeout).await?;
                if take < n {
                    return Ok(BodyEnd::Complete);
                }
            }
            Framing::Chunked(decoder) => {
                if n == 0 {
                    return Ok(BodyEnd::Cut);
                }
                out.clear();
                let fed = decoder.feed(ubuf, out);
                write_within(client, out, io_timeout).await?;
                match fed {
                    Ok(used) if used == n => {}
                    Ok(_) => return Ok(BodyEnd::Complete),
                    Err(_) => return Ok(BodyEnd::Cut),
                }
            }
            Framing::UntilClose => {
                out.clear();
                if n == 0 {
                    out.extend_from_slice(LAST_CHUNK);
                    write_within(client, out, io_timeout).await?;
                    return Ok(BodyEnd::Complete);
                }
                write_chunk(ubuf, out);
                write_within(client, out, io_timeout).await?;
            }
        }
    }
}
