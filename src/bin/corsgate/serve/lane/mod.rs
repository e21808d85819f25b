//! The HTTP/1 lane: `serve`'s own path for the requests a CORS gateway sees most, bodyless
//! `GET`, `HEAD` and `OPTIONS` (preflights, and reads an API serves), read with httparse and
//! relayed over a raw upstream connection, at less than half of hyper's instructions a
//! request (BENCHMARKS.md). Everything else is hyper's: the lane serves a connection's
//! requests while it takes them, and on the first it does not take gives the connection, with
//! the bytes it read and did not serve, to hyper's path for the rest of its life. One hand-off
//! a connection, never back, so two parsers never take turns on one connection's bytes.
//!
//! What the lane does is what hyper's path does for the same requests, field for field: the
//! same checks (`request`), the same decision and observer, the same upstream request
//! (hop-by-hop fields, `Forwarded` and `Proxy-Authorization` removed, the path prefix,
//! `X-Forwarded-For` joined and appended to, `-Proto` and `-Host` kept from a trusted proxy), the same
//! response rewriting (`response`), the same 502 and 504 with CORS headers (`upstream`), the
//! same deadlines (`--header-read-timeout` from a head's first byte, `--idle-timeout` between
//! requests, `--io-timeout` on stalled writes and body reads, `--upstream-timeout` for the
//! response head), the same access-log line and graceful shutdown. It is off with
//! `--report-only` and `--no-lane`, and without `--upstream`.
//!
//! This module owns the connection loop; `request` decides what the lane takes, `upstream`
//! holds the upstream's idle connections, `response` relays the answer, `chunked` reads a
//! chunked body, `wire` writes HTTP/1 lines, `timed_io` keeps the deadlines, and `replay`
//! hands a connection to hyper.

#[cfg(test)]
mod against_hyper;
mod chunked;
mod replay;
mod request;
mod response;
mod timed_io;
mod upstream;
mod wire;

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use corsgate::layer::DecisionObserver;
use corsgate::{Cors, CorsRequest, ResponseHeader};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};

use super::access_log::AccessRecord;
use super::hygiene::{address_text, TrustedProxies};
use super::limits::MAX_HEAD_BYTES;
pub use replay::{Handoff, Replayed};
use request::{Field, Taken, MAX_FIELDS};
use response::{Asked, BodyEnd, Head};
use timed_io::{read_more, write_within};
pub use upstream::Upstream;
use wire::{head_end, write_date, write_field};

/// What every lane connection shares.
pub struct Lane {
    pub cors: Arc<Cors>,
    pub upstream: Upstream,
    /// The upstream URL's path, without its last `/`: put before every request target.
    pub prefix: Vec<u8>,
    pub header_read_timeout: Option<Duration>,
    pub idle_timeout: Option<Duration>,
    /// `--io-timeout`: a write to the client, or a read of the upstream's body, that makes no
    /// progress for this long ends the connection.
    pub io_timeout: Option<Duration>,
    pub observer: Option<Arc<dyn DecisionObserver>>,
    /// `--trusted-proxy`: peers whose `X-Forwarded-Proto` and `-Host` are kept.
    pub trusted: TrustedProxies,
    pub access_log: bool,
    /// `true` once the gateway shuts down: connections close between requests.
    pub stopping: watch::Sender<bool>,
}

/// A connection's buffers, reused by each of its requests.
struct Buffers {
    /// The client's bytes: the head being served, and whatever followed it.
    client: Vec<u8>,
    /// What is written next: the upstream request head, or the client's response head.
    out: Vec<u8>,
    /// The upstream's bytes.
    upstream: Vec<u8>,
    /// 1xx heads for the client.
    interim: Vec<u8>,
}

/// Serves the connection's requests until it closes (`None`) or comes to a request the lane
/// does not take (the connection, for hyper).
pub async fn serve_connection(
    mut client: TcpStream,
    peer: SocketAddr,
    lane: &'static Lane,
) -> io::Result<Option<Handoff>> {
    let mut buffers = Buffers {
        client: Vec::with_capacity(8192),
        out: Vec::with_capacity(8192),
        upstream: Vec::with_capacity(8192),
        interim: Vec::new(),
    };
    let mut peer_text = [0u8; 64];
    let peer_text = address_text(peer.ip().to_canonical(), &mut peer_text);
    let trusted = lane.trusted.contains(peer.ip());
    let mut clock = HeadClock::new(lane);
    let mut stopping = lane.stopping.subscribe();
    // The head served last, dropped from the buffer when the next one starts.
    let mut served = 0;
    loop {
        buffers.client.drain(..served);
        let head_len =
            match next_head(&mut client, &mut buffers.client, &mut clock, &mut stopping).await? {
                NextHead::Complete(len) => len,
                NextHead::HandOff => break,
                NextHead::Closed => return Ok(None),
            };
        let started = std::time::Instant::now();
        let mut fields: [Field<'_>; MAX_FIELDS] = [(&[], &[]); MAX_FIELDS];
        let Some(taken) = request::take(&buffers.client[..head_len], &mut fields) else {
            break;
        };
        served = head_len;
        let close = taken.close || *stopping.borrow();
        let request = Request {
            fields: &fields[..taken.count],
            taken,
            close,
            started,
            peer: peer_text,
            trusted,
        };
        let open = serve_request(
            lane,
            &mut client,
            &request,
            &mut buffers.out,
            &mut buffers.upstream,
            &mut buffers.interim,
        )
        .await?;
        if !open || close {
            return Ok(None);
        }
    }
    Ok(Some(Handoff {
        stream: client,
        buffered: buffers.client,
    }))
}

/// The deadlines of a request head, as `client_io` keeps them: the first head within
/// `--header-read-timeout` of the accept, a later one within it of its first byte, and
/// `--idle-timeout` between requests. One timer a connection, reset for each head.
struct HeadClock {
    lane: &'static Lane,
    opened: Instant,
    first: bool,
    timer: Pin<Box<Sleep>>,
}

impl HeadClock {
    fn new(lane: &'static Lane) -> HeadClock {
        HeadClock {
            lane,
            opened: Instant::now(),
            first: true,
            timer: Box::pin(tokio::time::sleep_until(far_future())),
        }
    }

    fn set(&mut self, deadline: Option<Instant>) {
        self.timer
            .as_mut()
            .reset(deadline.unwrap_or_else(far_future));
    }
}

/// A deadline that never comes (tokio has no "never"; a year is past every limit's end).
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

enum NextHead {
    /// A head of this many bytes is at the start of the buffer.
    Complete(usize),
    /// A head hyper must answer: malformed, or over the size limit.
    HandOff,
    /// The client closed, a deadline passed, or the gateway is stopping.
    Closed,
}

/// Reads until `buf` holds a complete head, within the deadlines.
async fn next_head(
    client: &mut TcpStream,
    buf: &mut Vec<u8>,
    clock: &mut HeadClock,
    stopping: &mut watch::Receiver<bool>,
) -> io::Result<NextHead> {
    let lane = clock.lane;
    let mut idle = !clock.first && buf.is_empty();
    let deadline = if clock.first {
        lane.header_read_timeout.map(|t| clock.opened + t)
    } else if idle {
        lane.idle_timeout.map(|t| Instant::now() + t)
    } else {
        lane.header_read_timeout.map(|t| Instant::now() + t)
    };
    clock.first = false;
    clock.set(deadline);
    if idle && *stopping.borrow_and_update() {
        return Ok(NextHead::Closed);
    }
    loop {
        if !buf.is_empty() {
            if idle {
                idle = false;
                clock.set(lane.header_read_timeout.map(|t| Instant::now() + t));
            }
            if let Some(len) = head_end(buf) {
                // Over the limit: hyper's 431.
                if len > MAX_HEAD_BYTES {
                    return Ok(NextHead::HandOff);
                }
                return Ok(NextHead::Complete(len));
            }
            // A partial head is parsed only to find an error early, as hyper would.
            let mut lines = [httparse::EMPTY_HEADER; MAX_FIELDS];
            match httparse::Request::new(&mut lines).parse(buf) {
                Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD_BYTES => {}
                _ => return Ok(NextHead::HandOff),
            }
        }
        tokio::select! {
            read = read_more(client, buf) => {
                if read? == 0 {
                    return Ok(NextHead::Closed);
                }
            }
            _ = clock.timer.as_mut() => return Ok(NextHead::Closed),
            _ = stopping.changed(), if idle => return Ok(NextHead::Closed),
        }
    }
}

/// A request the lane serves.
struct Request<'b> {
    taken: Taken<'b>,
    fields: &'b [Field<'b>],
    /// The client's connection closes after this response.
    close: bool,
    started: std::time::Instant,
    /// The client's address as text, for `X-Forwarded-For`.
    peer: &'b [u8],
    /// The client is a `--trusted-proxy`: its `X-Forwarded-Proto` and `-Host` are kept.
    trusted: bool,
}

/// The upstream request's fields, as `hygiene::scrub_request_headers` makes them on hyper's
/// path: the head's fields but for `Connection` (the lane takes no other hop-by-hop field),
/// `Forwarded` and `Proxy-Authorization`; every `X-Forwarded-For` line joined into one with
/// the peer appended; `X-Forwarded-Proto` and `-Host` kept from a `--trusted-proxy` peer,
/// otherwise set (`http`, the request's `Host`).
fn write_upstream_fields(request: &Request<'_>, out: &mut Vec<u8>) {
    let (mut forwarded_for, mut proto, mut forwarded_host) = (false, false, false);
    for &(name, value) in request.fields {
        if name.eq_ignore_ascii_case(b"x-forwarded-for") {
            forwarded_for = true;
        } else if name.eq_ignore_ascii_case(b"x-forwarded-proto") {
            proto = true;
            if request.trusted {
                write_field(name, value, out);
            }
        } else if name.eq_ignore_ascii_case(b"x-forwarded-host") {
            forwarded_host = true;
            if request.trusted {
                write_field(name, value, out);
            }
        } else if !(name.eq_ignore_ascii_case(b"connection")
            || name.eq_ignore_ascii_case(b"forwarded")
            || name.eq_ignore_ascii_case(b"proxy-authorization"))
        {
            write_field(name, value, out);
        }
    }
    out.extend_from_slice(b"x-forwarded-for: ");
    if forwarded_for {
        for &(name, value) in request.fields {
            if name.eq_ignore_ascii_case(b"x-forwarded-for") {
                out.extend_from_slice(value);
                out.extend_from_slice(b", ");
            }
        }
    }
    out.extend_from_slice(request.peer);
    out.extend_from_slice(b"\r\n");
    if !(request.trusted && proto) {
        write_field(b"x-forwarded-proto", b"http", out);
    }
    if !(request.trusted && forwarded_host) {
        write_field(b"x-forwarded-host", request.taken.host, out);
    }
}

/// Serves one request. Returns whether the client's connection can carry another.
async fn serve_request(
    lane: &'static Lane,
    client: &mut TcpStream,
    request: &Request<'_>,
    out: &mut Vec<u8>,
    ubuf: &mut Vec<u8>,
    interim: &mut Vec<u8>,
) -> io::Result<bool> {
    let taken = &request.taken;
    let cors_request = CorsRequest::from_pairs(taken.method, request.fields)
        .host(taken.host)
        .path(taken.path);
    out.clear();
    // The decision borrows the policy it was made from: it ends before the first await, and
    // a proxied request keeps its owned headers (design §6).
    let mut no_length = false;
    let proxied = {
        let decision = lane.cors.decide(&cors_request);
        if let Some(observer) = &lane.observer {
            observer.observe(&cors_request, &decision);
        }
        match decision.status() {
            None => Some(decision.to_response_headers()),
            Some(status) => {
                // An answered preflight.
                if lane.access_log {
                    let acao = decision
                        .headers()
                        .find(|(h, _)| *h == ResponseHeader::AllowOrigin)
                        .map(|(_, v)| v.as_bytes());
                    log_access(request, &cors_request, status.as_u16(), acao.as_deref());
                }
                wire::write_status_line(
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("").as_bytes(),
                    out,
                );
                decision.write_http1(out);
                no_length = status.as_u16() == 204;
                None
            }
        }
    };
    if let Some(cors) = proxied {
        return proxy(
            lane,
            client,
            request,
            &cors_request,
            &cors,
            out,
            ubuf,
            interim,
        )
        .await;
    }
    write_date(out);
    if request.close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    // A 204 has no length field (RFC 9110 §8.6); another status says its body is empty.
    out.extend_from_slice(if no_length {
        b"\r\n"
    } else {
        b"content-length: 0\r\n\r\n"
    });
    write_within(client, out, lane.io_timeout).await?;
    Ok(true)
}

/// Sends a request to the upstream and relays its answer.
#[allow(clippy::too_many_arguments)]
async fn proxy(
    lane: &'static Lane,
    client: &mut TcpStream,
    request: &Request<'_>,
    cors_request: &CorsRequest<'_>,
    cors: &corsgate::ResponseHeaders,
    out: &mut Vec<u8>,
    ubuf: &mut Vec<u8>,
    interim: &mut Vec<u8>,
) -> io::Result<bool> {
    let taken = &request.taken;
    out.clear();
    out.extend_from_slice(taken.method);
    out.push(b' ');
    out.extend_from_slice(&lane.prefix);
    out.extend_from_slice(taken.target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    write_upstream_fields(request, out);
    out.extend_from_slice(b"\r\n");

    let acao = cors
        .iter()
        .find(|(h, _)| *h == ResponseHeader::AllowOrigin)
        .map(|(_, v)| v.as_bytes());
    let deadline = lane.upstream.timeout.map(|t| Instant::now() + t);
    let asked = Asked {
        is_head: taken.method == b"HEAD",
        close: request.close,
        cors,
    };
    let exchanged = match lane.upstream.exchange(out, ubuf, deadline).await {
        Ok(mut upstream) => loop {
            match response::read_head(ubuf, &asked, out, interim) {
                Ok(Head::Interim(len)) => {
                    if !interim.is_empty() {
                        write_within(client, interim, lane.io_timeout).await?;
                        interim.clear();
                    }
                    ubuf.drain(..len);
                    if let Err(failure) = upstream::read_head(&mut upstream, ubuf, deadline).await {
                        break Err(failure);
                    }
                }
                Ok(Head::Final {
                    len,
                    code,
                    mut framing,
                    reusable,
                }) => match response::start_body(&mut framing, &ubuf[len..], out) {
                    Ok(in_step) => break Ok((upstream, code, framing, reusable && in_step)),
                    Err(failure) => break Err(failure),
                },
                Err(failure) => break Err(failure),
            }
        },
        Err(failure) => Err(failure),
    };
    let (mut upstream, code, framing, reusable) = match exchanged {
        Ok(exchanged) => exchanged,
        Err(failure) => {
            interim.clear();
            let code = lane
                .upstream
                .answer_failure(
                    failure,
                    (taken.method, taken.target.as_bytes()),
                    cors,
                    (client, out, lane.io_timeout, request.close),
                )
                .await?;
            if lane.access_log {
                log_access(request, cors_request, code, acao);
            }
            return Ok(true);
        }
    };
    write_within(client, out, lane.io_timeout).await?;
    let end =
        response::relay_rest(framing, &mut upstream, client, ubuf, out, lane.io_timeout).await?;
    if lane.access_log {
        log_access(request, cors_request, code, acao);
    }
    match end {
        BodyEnd::Framed => {
            if reusable {
                upstream::check_in(upstream);
            }
            Ok(true)
        }
        BodyEnd::Complete => Ok(true),
        BodyEnd::Cut => Ok(false),
    }
}

/// The access-log line of `serve` (`access_log`), for a request the lane served.
fn log_access(request: &Request<'_>, cors: &CorsRequest<'_>, status: u16, acao: Option<&[u8]>) {
    let method = match request.taken.method {
        b"GET" => http::Method::GET,
        b"HEAD" => http::Method::HEAD,
        _ => http::Method::OPTIONS,
    };
    tracing::info!(
        target: "corsgate::access",
        "{}",
        AccessRecord {
            method: &method,
            path: request.taken.path,
            origin: cors.origin_value(),
            preflight: cors.is_preflight(),
            status,
            acao,
            elapsed: request.started.elapsed(),
        }
    );
}
