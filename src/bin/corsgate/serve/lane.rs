//! PROTOTYPE (branch only, never for main): a hand-written HTTP/1 path for bodyless GET, HEAD
//! and OPTIONS requests, to measure what such an engine would cost per request against hyper.
//! It does the work a real lane must do for those requests (parse with httparse, the
//! hygiene checks, the CORS decision, X-Forwarded-*, hop-by-hop and Access-Control-* removal,
//! Vary merged, a pooled upstream connection, the head and upstream deadlines), and answers
//! 501 and closes for everything it does not take, where a real lane would hand the
//! connection to hyper.

use std::cell::RefCell;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use corsgate::{Cors, CorsRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::chunked::ChunkedDecoder;
use super::hygiene::{is_valid_host, path_problem};

pub struct Lane {
    pub cors: Arc<Cors>,
    pub host: String,
    pub port: u16,
    pub prefix: Vec<u8>,
    pub header_read_timeout: Option<Duration>,
    pub idle_timeout: Option<Duration>,
    pub upstream_timeout: Option<Duration>,
    pub connect_timeout: Option<Duration>,
    /// `--io-timeout`: a write to the client, or a read of the upstream's body, that makes no
    /// progress for this long ends the connection.
    pub io_timeout: Option<Duration>,
    pub observer: Option<Arc<dyn corsgate::layer::DecisionObserver>>,
    pub access_log: bool,
    /// `true` once the gateway shuts down: connections close between requests.
    pub stopping: tokio::sync::watch::Sender<bool>,
}

thread_local! {
    static DATE: RefCell<(u64, [u8; 29])> = const { RefCell::new((0, [0; 29])) };
    static IDLE: RefCell<Vec<TcpStream>> = const { RefCell::new(Vec::new()) };
}

const MAX_HEAD: usize = 64 * 1024;

/// `date: ...\r\n`, rendered once a second per thread.
fn write_date(out: &mut Vec<u8>) {
    let now = std::time::SystemTime::now();
    let secs = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    DATE.with(|d| {
        let mut d = d.borrow_mut();
        if d.0 != secs {
            let text = httpdate::fmt_http_date(now);
            d.1.copy_from_slice(&text.as_bytes()[..29]);
            d.0 = secs;
        }
        out.extend_from_slice(b"date: ");
        out.extend_from_slice(&d.1);
        out.extend_from_slice(b"\r\n");
    });
}

fn eq(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Names the lane does not take (a real lane hands such requests to hyper).
fn refused_request_name(name: &[u8]) -> bool {
    const NAMES: [&[u8]; 12] = [
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"content-length",
        b"expect",
        b"proxy-authorization",
        b"forwarded",
        b"x-forwarded-for",
        b"x-forwarded-host",
    ];
    NAMES.iter().any(|n| eq(n, name)) || eq(name, b"x-forwarded-proto")
}

fn hop_by_hop_response(name: &[u8]) -> bool {
    const NAMES: [&[u8]; 8] = [
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    ];
    NAMES.iter().any(|n| eq(n, name))
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        204 => "No Content",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "",
    }
}

/// `write_all` within `limit` (the writes are of one buffer, at most the head and 8 KiB of
/// body, so this is the stall limit of `client_io`).
async fn write_within(
    stream: &mut TcpStream,
    bytes: &[u8],
    limit: Option<Duration>,
) -> io::Result<()> {
    match limit {
        // No timer is registered unless the write has to wait.
        Some(limit) => tokio::time::timeout(limit, stream.write_all(bytes))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the client read nothing"))?,
        None => stream.write_all(bytes).await,
    }
}

/// `read_more` within `limit`.
async fn read_within(
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

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    if buf.capacity() - buf.len() < 4096 {
        buf.reserve(8192);
    }
    stream.read_buf(buf).await
}

pub async fn serve_connection(
    mut client: TcpStream,
    peer: SocketAddr,
    lane: &'static Lane,
) -> io::Result<Option<Handoff>> {
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let mut out: Vec<u8> = Vec::with_capacity(8192);
    let mut ubuf: Vec<u8> = Vec::with_capacity(8192);
    let far = Instant::now() + Duration::from_secs(86_400 * 365);
    let mut head_timer = Box::pin(tokio::time::sleep_until(far));
    let mut peer_text = [0u8; 64];
    let peer_text = address_text(peer.ip(), &mut peer_text);
    let opened = Instant::now();
    let mut first = true;
    let mut stopping = lane.stopping.subscribe();
    // The head of the request served last, dropped from `buf` when the next one starts.
    let mut consumed = 0;
    loop {
        buf.drain(..consumed);
        // The deadlines of `client_io`: the first head within --header-read-timeout of the
        // accept, a later one within it of its first byte; between them, --idle-timeout.
        let mut idle = !first && buf.is_empty();
        let deadline = if first {
            lane.header_read_timeout.map(|t| opened + t)
        } else if idle {
            lane.idle_timeout.map(|t| Instant::now() + t)
        } else {
            lane.header_read_timeout.map(|t| Instant::now() + t)
        };
        first = false;
        head_timer.as_mut().reset(deadline.unwrap_or(far));
        if idle && *stopping.borrow_and_update() {
            return Ok(None);
        }
        let head_len = loop {
            if !buf.is_empty() {
                if idle {
                    idle = false;
                    if let Some(t) = lane.header_read_timeout {
                        head_timer.as_mut().reset(Instant::now() + t);
                    }
                }
                // One parse a request when the head is all there (the usual case): the
                // parse below, which keeps its slices. A partial head is parsed only to find
                // an error early, as hyper would.
                if let Some(n) = head_end(&buf) {
                    break n;
                }
                let mut headers = [httparse::EMPTY_HEADER; 100];
                let mut request = httparse::Request::new(&mut headers);
                match request.parse(&buf) {
                    Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => {}
                    _ => {
                        return Ok(Some(Handoff {
                            stream: client,
                            buffered: buf,
                        }))
                    }
                }
            }
            tokio::select! {
                read = read_more(&mut client, &mut buf) => {
                    if read? == 0 {
                        return Ok(None);
                    }
                }
                _ = &mut head_timer => return Ok(None),
                _ = stopping.changed(), if idle => return Ok(None),
            }
        };
        let started = std::time::Instant::now();
        let mut headers = [httparse::EMPTY_HEADER; 100];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&buf[..head_len]) {
            Ok(httparse::Status::Complete(n)) if n == head_len => {}
            // Not a head httparse reads as ending there: hyper's to answer.
            _ => {
                return Ok(Some(Handoff {
                    stream: client,
                    buffered: buf,
                }))
            }
        }
        let (Some(method), Some(target), Some(1)) = (request.method, request.path, request.version)
        else {
            return Ok(Some(Handoff {
                stream: client,
                buffered: buf,
            }));
        };
        let method = method.as_bytes();
        if !(method == b"GET" || method == b"HEAD" || method == b"OPTIONS")
            || !target.starts_with('/')
        {
            return Ok(Some(Handoff {
                stream: client,
                buffered: buf,
            }));
        }
        let path = target.split_once('?').map_or(target, |(p, _)| p).as_bytes();
        if path_problem(path).is_some() || path == b"/healthz" || path == b"/metrics" {
            return Ok(Some(Handoff {
                stream: client,
                buffered: buf,
            }));
        }
        let mut host: Option<&[u8]> = None;
        let mut close = false;
        let mut pairs: [(&[u8], &[u8]); 100] = [(&[], &[]); 100];
        let count = request.headers.len();
        for (slot, h) in pairs.iter_mut().zip(request.headers.iter()) {
            let name = h.name.as_bytes();
            if refused_request_name(name) {
                return Ok(Some(Handoff {
                    stream: client,
                    buffered: buf,
                }));
            }
            if eq(name, b"connection") {
                // Only `keep-alive` and `close`: any other token names a hop-by-hop field,
                // which hyper's path strips.
                for token in h.value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                    if eq(token, b"close") {
                        close = true;
                    } else if !eq(token, b"keep-alive") {
                        return Ok(Some(Handoff {
                            stream: client,
                            buffered: buf,
                        }));
                    }
                }
            }
            if eq(name, b"host") {
                if host.is_some() {
                    return Ok(Some(Handoff {
                        stream: client,
                        buffered: buf,
                    }));
                }
                host = Some(h.value);
            }
            *slot = (name, h.value);
        }
        let Some(host) = host.filter(|h| is_valid_host(h)) else {
            return Ok(Some(Handoff {
                stream: client,
                buffered: buf,
            }));
        };
        let pairs = &pairs[..count];
        let cors_request = CorsRequest::from_pairs(method, pairs).host(host).path(path);
        close |= *stopping.borrow();
        out.clear();
        let cors_headers = {
            let decision = lane.cors.decide(&cors_request);
            if let Some(observer) = &lane.observer {
                observer.observe(&cors_request, &decision);
            }
            if let Some(status) = decision.status() {
                // An answered preflight.
                let code = status.as_u16();
                if lane.access_log {
                    let acao = decision
                        .headers()
                        .find(|(h, _)| *h == corsgate::ResponseHeader::AllowOrigin)
                        .map(|(_, v)| v.as_bytes());
                    log_access(method, path, &cors_request, code, acao.as_deref(), started);
                }
                out.extend_from_slice(b"HTTP/1.1 ");
                out.extend_from_slice(status.as_str().as_bytes());
                out.push(b' ');
                out.extend_from_slice(reason(code).as_bytes());
                out.extend_from_slice(b"\r\n");
                decision.write_http1(&mut out);
                write_date(&mut out);
                if close {
                    out.extend_from_slice(b"connection: close\r\n");
                }
                out.extend_from_slice(b"content-length: 0\r\n\r\n");
                None
            } else {
                Some(decision.to_response_headers())
            }
        };
        let Some(cors_headers) = cors_headers else {
            write_within(&mut client, &out, lane.io_timeout).await?;
            if close {
                return Ok(None);
            }
            consumed = head_len;
            continue;
        };

        // The upstream request: the head as it came, the prefix, X-Forwarded-*.
        out.extend_from_slice(method);
        out.push(b' ');
        out.extend_from_slice(&lane.prefix);
        out.extend_from_slice(target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        for (name, value) in pairs {
            if eq(name, b"connection") {
                continue;
            }
            out.extend_from_slice(name);
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"x-forwarded-for: ");
        out.extend_from_slice(peer_text);
        out.extend_from_slice(b"\r\nx-forwarded-proto: http\r\nx-forwarded-host: ");
        out.extend_from_slice(host);
        out.extend_from_slice(b"\r\n\r\n");
        let is_head = method == b"HEAD";
        consumed = head_len;

        let deadline = lane.upstream_timeout.map_or(far, |t| Instant::now() + t);
        let mut upstream = match exchange(lane, &out, &mut ubuf, deadline).await {
            Ok(exchanged) => exchanged,
            Err(failure) => {
                let code = upstream_failed(
                    lane,
                    &mut client,
                    &mut out,
                    &cors_headers,
                    failure,
                    method,
                    target,
                )
                .await?;
                if lane.access_log {
                    let acao = cors_headers
                        .iter()
                        .find(|(h, _)| *h == corsgate::ResponseHeader::AllowOrigin)
                        .map(|(_, v)| v.as_bytes());
                    log_access(method, path, &cors_request, code, acao, started);
                }
                if close {
                    return Ok(None);
                }
                continue;
            }
        };
        let mut interim: Vec<u8> = Vec::new();
        let head = 'head: loop {
            let interim_len = 'parse: {
                let mut uh = [httparse::EMPTY_HEADER; 100];
                let mut response = httparse::Response::new(&mut uh);
                match response.parse(&ubuf) {
                    Ok(httparse::Status::Complete(n)) => {
                        let code = response.code.unwrap_or(502);
                        if code == 101 {
                            break 'head Err(Failure::Malformed(
                                "a 101 to a request without Upgrade",
                            ));
                        }
                        if (100..200).contains(&code) {
                            // Forwarded as `interim` does (not 100, which is the client's
                            // business with hyper; hop-by-hop fields removed; at most
                            // MAX_INTERIM_BYTES a request), then the next head is read.
                            if code != 100 {
                                let before = interim.len();
                                write_status_line(code, response.reason, &mut interim);
                                for h in response.headers.iter() {
                                    if !is_hop_by_hop_in(h.name.as_bytes(), response.headers) {
                                        write_field(h.name.as_bytes(), h.value, &mut interim);
                                    }
                                }
                                interim.extend_from_slice(b"\r\n");
                                if interim.len() > MAX_INTERIM_BYTES {
                                    interim.truncate(before);
                                }
                            }
                            break 'parse n;
                        }
                        let mut length: Option<u64> = None;
                        let mut chunked = false;
                        let mut codings = 0;
                        let mut keep = response.version == Some(1);
                        for h in response.headers.iter() {
                            let name = h.name.as_bytes();
                            if eq(name, b"content-length") {
                                let Some(parsed) = content_length(h.value) else {
                                    break 'head Err(Failure::Malformed(
                                        "an invalid Content-Length",
                                    ));
                                };
                                if length.is_some_and(|l| l != parsed) {
                                    break 'head Err(Failure::Malformed(
                                        "two Content-Length values",
                                    ));
                                }
                                length = Some(parsed);
                            } else if eq(name, b"transfer-encoding") {
                                codings += 1;
                                chunked = eq(h.value.trim_ascii(), b"chunked");
                            } else if eq(name, b"connection") {
                                for token in h.value.split(|&b| b == b',') {
                                    if eq(token.trim_ascii(), b"close") {
                                        keep = false;
                                    }
                                }
                            }
                        }
                        if codings > 1 || (codings == 1 && !chunked) {
                            // PROTOTYPE: only `chunked` alone.
                            break 'head Err(Failure::Malformed(
                                "a transfer coding other than chunked",
                            ));
                        }
                        let framing = if is_head || code == 204 || code == 304 {
                            Framing::Length(0)
                        } else if chunked {
                            Framing::Chunked(ChunkedDecoder::new())
                        } else if let Some(l) = length {
                            Framing::Length(l)
                        } else {
                            keep = false;
                            Framing::UntilClose
                        };
                        // The response head for the client.
                        out.clear();
                        write_status_line(code, response.reason, &mut out);
                        let mut vary: [&[u8]; 16] = [&[]; 16];
                        let mut varies = 0;
                        for h in response.headers.iter() {
                            let name = h.name.as_bytes();
                            if is_hop_by_hop_in(name, response.headers)
                                || (eq(name, b"content-length")
                                    && !matches!(framing, Framing::Length(_)))
                            {
                                continue;
                            }
                            if !cors_headers.is_untouched() {
                                if name.len() > 15 && eq(&name[..15], b"access-control-") {
                                    continue;
                                }
                                if eq(name, b"vary") && varies < vary.len() {
                                    vary[varies] = h.value;
                                    varies += 1;
                                    continue;
                                }
                            }
                            out.extend_from_slice(name);
                            out.extend_from_slice(b": ");
                            out.extend_from_slice(h.value);
                            out.extend_from_slice(b"\r\n");
                        }
                        cors_headers.write_http1_merging_vary(&vary[..varies], &mut out);
                        if !matches!(framing, Framing::Length(_)) {
                            out.extend_from_slice(b"transfer-encoding: chunked\r\n");
                        }
                        if close {
                            out.extend_from_slice(b"connection: close\r\n");
                        }
                        out.extend_from_slice(b"\r\n");
                        break 'head Ok((n, framing, keep, code));
                    }
                    // `exchange` returns a complete head.
                    // hyper's words for the same cause, so that the log reads alike.
                    Err(httparse::Error::TooManyHeaders) => {
                        break 'head Err(Failure::Malformed(
                            "message head is too large (over 100 header lines)",
                        ))
                    }
                    _ => break 'head Err(Failure::Malformed("an invalid response head")),
                }
            };
            // A 1xx went by: to the client now, then the next head.
            if !interim.is_empty() {
                if let Err(e) = write_within(&mut client, &interim, lane.io_timeout).await {
                    return Err(e);
                }
                interim.clear();
            }
            ubuf.drain(..interim_len);
            if let Err(failure) = read_head(&mut upstream, &mut ubuf, deadline).await {
                break 'head Err(failure);
            }
        };
        let (head_end, framing, keep, code) = match head {
            Ok(head) => head,
            Err(failure) => {
                let code = upstream_failed(
                    lane,
                    &mut client,
                    &mut out,
                    &cors_headers,
                    failure,
                    method,
                    target,
                )
                .await?;
                if lane.access_log {
                    let acao = cors_headers
                        .iter()
                        .find(|(h, _)| *h == corsgate::ResponseHeader::AllowOrigin)
                        .map(|(_, v)| v.as_bytes());
                    log_access(method, path, &cors_request, code, acao, started);
                }
                if close {
                    return Ok(None);
                }
                continue;
            }
        };
        // The body: what came with the head, then the rest.
        let mut framing = framing;
        let extra = match &mut framing {
            Framing::Length(len) => {
                let have = (ubuf.len() - head_end) as u64;
                if have > *len {
                    // More than the body: the upstream is out of step.
                    return bad_gateway(&mut client).await;
                }
                out.extend_from_slice(&ubuf[head_end..]);
                *len -= have;
                false
            }
            Framing::Chunked(decoder) => match decoder.feed(&ubuf[head_end..], &mut out) {
                Ok(used) => used < ubuf.len() - head_end,
                Err(_) => return bad_gateway(&mut client).await,
            },
            Framing::UntilClose => {
                let data = &ubuf[head_end..];
                if !data.is_empty() {
                    chunk_line(data, &mut out);
                }
                false
            }
        };
        if extra {
            return bad_gateway(&mut client).await;
        }
        write_within(&mut client, &out, lane.io_timeout).await?;
        loop {
            let finished = match &framing {
                Framing::Length(left) => *left == 0,
                Framing::Chunked(decoder) => decoder.is_done(),
                Framing::UntilClose => false,
            };
            if finished {
                break;
            }
            ubuf.clear();
            let n = read_within(&mut upstream, &mut ubuf, lane.io_timeout).await?;
            out.clear();
            match &mut framing {
                Framing::Length(left) => {
                    if n == 0 || n as u64 > *left {
                        // Short, or more than announced: the client's response is cut.
                        return Ok(None);
                    }
                    *left -= n as u64;
                    write_within(&mut client, &ubuf, lane.io_timeout).await?;
                    continue;
                }
                Framing::Chunked(decoder) => {
                    if n == 0 {
                        return Ok(None);
                    }
                    match decoder.feed(&ubuf, &mut out) {
                        Ok(used) if used == n => {}
                        _ => return Ok(None),
                    }
                }
                Framing::UntilClose => {
                    if n == 0 {
                        out.extend_from_slice(b"0\r\n\r\n");
                        write_within(&mut client, &out, lane.io_timeout).await?;
                        break;
                    }
                    chunk_line(&ubuf, &mut out);
                }
            }
            write_within(&mut client, &out, lane.io_timeout).await?;
        }
        if lane.access_log {
            let acao = cors_headers
                .iter()
                .find(|(h, _)| *h == corsgate::ResponseHeader::AllowOrigin)
                .map(|(_, v)| v.as_bytes());
            log_access(method, path, &cors_request, code, acao, started);
        }
        if keep {
            IDLE.with(|idle| {
                let mut idle = idle.borrow_mut();
                if idle.len() < 256 {
                    idle.push(upstream);
                }
            });
        }
        if close {
            return Ok(None);
        }
    }
}

/// The access-log line of `serve` (`access_log`), for a request the lane served.
fn log_access(
    method: &[u8],
    path: &[u8],
    request: &CorsRequest<'_>,
    status: u16,
    acao: Option<&[u8]>,
    started: std::time::Instant,
) {
    let method = match method {
        b"GET" => http::Method::GET,
        b"HEAD" => http::Method::HEAD,
        _ => http::Method::OPTIONS,
    };
    tracing::info!(
        target: "corsgate::access",
        "{}",
        super::access_log::AccessRecord {
            method: &method,
            path,
            origin: request.origin_value(),
            preflight: request.is_preflight(),
            status,
            acao,
            elapsed: started.elapsed(),
        }
    );
}

/// Why the upstream gave no usable response head.
enum Failure {
    Connect(io::Error),
    ConnectTimeout,
    /// The connection failed after the request was (partly) sent.
    Io(io::Error),
    /// It closed before a complete head.
    Closed,
    TimedOut,
    Malformed(&'static str),
}

/// Sends the request head on a pooled connection (or a new one) and reads until the
/// response head is complete in `ubuf`. A reused connection that fails before any byte of
/// an answer (the upstream closed it while idle) is replaced once by a new one: every
/// request the lane takes is bodyless and idempotent.
async fn exchange(
    lane: &'static Lane,
    request: &[u8],
    ubuf: &mut Vec<u8>,
    deadline: Instant,
) -> Result<TcpStream, Failure> {
    let mut pooled = IDLE.with(|idle| idle.borrow_mut().pop());
    loop {
        let reused = pooled.is_some();
        let mut upstream = match pooled.take() {
            Some(u) => u,
            None => {
                let connecting = TcpStream::connect((lane.host.as_str(), lane.port));
                let connected = match lane.connect_timeout {
                    Some(limit) => match tokio::time::timeout(limit, connecting).await {
                        Ok(c) => c,
                        Err(_) => return Err(Failure::ConnectTimeout),
                    },
                    None => connecting.await,
                };
                let u = connected.map_err(Failure::Connect)?;
                let _ = u.set_nodelay(true);
                u
            }
        };
        ubuf.clear();
        let outcome = async {
            upstream.write_all(request).await.map_err(Failure::Io)?;
            read_head(&mut upstream, ubuf, deadline).await
        }
        .await;
        match outcome {
            Ok(()) => return Ok(upstream),
            Err(Failure::Closed | Failure::Io(_)) if reused && ubuf.is_empty() => continue,
            Err(failure) => return Err(failure),
        }
    }
}

/// 1xx heads forwarded for one request, at most (as `interim`).
const MAX_INTERIM_BYTES: usize = 16 * 1024;

/// `HTTP/1.1 {code} {reason}\r\n` (httparse gives three-digit codes).
fn write_status_line(code: u16, reason: Option<&str>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"HTTP/1.1 ");
    let digit = |d: u16| b'0' + (d % 10) as u8;
    out.extend_from_slice(&[digit(code / 100), digit(code / 10), digit(code)]);
    out.push(b' ');
    out.extend_from_slice(reason.unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// `name: value\r\n`.
fn write_field(name: &[u8], value: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// A response field that belongs to one connection: the fixed list, or a name one of the
/// head's `Connection` fields lists.
fn is_hop_by_hop_in(name: &[u8], headers: &[httparse::Header<'_>]) -> bool {
    hop_by_hop_response(name)
        || headers
            .iter()
            .filter(|h| eq(h.name.as_bytes(), b"connection"))
            .any(|h| {
                h.value
                    .split(|&b| b == b',')
                    .any(|token| eq(token.trim_ascii(), name))
            })
}

/// Reads until `ubuf` holds a complete head (the caller parses it, once), within `deadline`.
async fn read_head(
    upstream: &mut TcpStream,
    ubuf: &mut Vec<u8>,
    deadline: Instant,
) -> Result<(), Failure> {
    loop {
        if head_end(ubuf).is_some() {
            return Ok(());
        }
        if ubuf.len() >= MAX_HEAD {
            return Err(Failure::Malformed("a response head over 64 KiB"));
        }
        tokio::select! {
            read = read_more(upstream, ubuf) => match read {
                Ok(0) => return Err(Failure::Closed),
                Ok(_) => {}
                Err(e) => return Err(Failure::Io(e)),
            },
            _ = tokio::time::sleep_until(deadline) => return Err(Failure::TimedOut),
        }
    }
}

/// The answer for a request the upstream did not answer: 502 (504 past a deadline), with the
/// decision's CORS headers, and the cause logged, as `upstream` does on hyper's path.
async fn upstream_failed(
    lane: &'static Lane,
    client: &mut TcpStream,
    out: &mut Vec<u8>,
    cors: &corsgate::ResponseHeaders,
    failure: Failure,
    method: &[u8],
    target: &str,
) -> io::Result<u16> {
    let (code, status, message) = match &failure {
        Failure::ConnectTimeout => (504, "504 Gateway Timeout", "upstream connect timed out\n"),
        Failure::TimedOut => (504, "504 Gateway Timeout", "upstream timed out\n"),
        _ => (502, "502 Bad Gateway", "upstream unavailable\n"),
    };
    let cause = match &failure {
        Failure::Connect(e) => format!("cannot connect: {e}"),
        Failure::ConnectTimeout => "cannot connect: timed out (--upstream-connect-timeout)".into(),
        Failure::Io(e) => format!("request failed: {e}"),
        Failure::Closed => "request failed: the connection closed before a response".into(),
        Failure::TimedOut => format!(
            "no response head within {:?} (--upstream-timeout)",
            lane.upstream_timeout.unwrap_or_default()
        ),
        Failure::Malformed(what) => format!("request failed: {what}"),
    };
    tracing::warn!(
        target: "corsgate::serve",
        "upstream http://{}:{}: {} {}: {cause}",
        lane.host,
        lane.port,
        String::from_utf8_lossy(method),
        super::access_log::Escaped::bare(target.as_bytes(), 1024),
    );
    out.clear();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_bytes());
    out.extend_from_slice(b"\r\ncontent-type: text/plain; charset=utf-8\r\n");
    cors.write_http1_merging_vary(&[], out);
    write_date(out);
    out.extend_from_slice(format!("content-length: {}\r\n\r\n", message.len()).as_bytes());
    out.extend_from_slice(message.as_bytes());
    write_within(client, out, lane.io_timeout).await?;
    Ok(code)
}

/// Where a head ends (after its empty line), if its bytes hold one: the first LF followed by
/// CRLF or LF, as httparse reads line ends. Only a hint of where to parse; httparse decides.
fn head_end(bytes: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = bytes[from..].iter().position(|&b| b == b'\n') {
        let at = from + i + 1;
        match bytes.get(at..) {
            Some([b'\n', ..]) => return Some(at + 1),
            Some([b'\r', b'\n', ..]) => return Some(at + 2),
            _ => from = at,
        }
    }
    None
}

/// How the upstream's response body is framed.
enum Framing {
    /// This many bytes (left).
    Length(u64),
    /// Chunked: decoded, re-chunked for the client.
    Chunked(ChunkedDecoder),
    /// Until the upstream closes: re-chunked for the client.
    UntilClose,
}

/// A `Content-Length` value: ASCII digits only (`usize::from_str` would take a `+`).
fn content_length(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// `data` as one chunk.
fn chunk_line(data: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// PROTOTYPE: an upstream response the lane does not handle yet (1xx, chunked or
/// close-delimited bodies, bad framing), or no response: 502, and the connection closes.
async fn bad_gateway(client: &mut TcpStream) -> io::Result<Option<Handoff>> {
    client
        .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .await?;
    Ok(None)
}

/// A connection the lane gives to hyper, with the bytes it read and did not consume: the
/// request it does not take, and whatever followed it.
pub struct Handoff {
    pub stream: TcpStream,
    pub buffered: Vec<u8>,
}

/// A client stream that first replays bytes already read from it.
pub struct Replayed {
    prefix: Vec<u8>,
    at: usize,
    io: TcpStream,
}

impl Replayed {
    pub fn new(handoff: Handoff) -> Replayed {
        Replayed {
            prefix: handoff.buffered,
            at: 0,
            io: handoff.stream,
        }
    }
}

impl tokio::io::AsyncRead for Replayed {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let this = &mut *self;
        if this.at < this.prefix.len() {
            let n = (this.prefix.len() - this.at).min(buf.remaining());
            buf.put_slice(&this.prefix[this.at..this.at + n]);
            this.at += n;
            if this.at == this.prefix.len() {
                this.prefix = Vec::new();
                this.at = 0;
            }
            return std::task::Poll::Ready(Ok(()));
        }
        std::pin::Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Replayed {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        std::pin::Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> std::task::Poll<io::Result<usize>> {
        std::pin::Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

fn address_text(address: IpAddr, buffer: &mut [u8; 64]) -> &[u8] {
    use std::io::Write;
    let mut cursor = io::Cursor::new(&mut buffer[..]);
    let _ = write!(cursor, "{}", address.to_canonical());
    let n = cursor.position() as usize;
    &buffer[..n]
}
