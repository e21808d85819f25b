//! The HTTP/1 lane against hyper's path: every case is sent byte for byte to two gateways in
//! front of the same scripted upstream, one with the lane (the default) and one with
//! `--no-lane`, and what the client reads and what the upstream receives must be the same, but
//! for the case of header names and the `Date` value. The cases are the requests two HTTP/1
//! parsers are known to read differently (request smuggling: `Content-Length` with
//! `Transfer-Encoding` either way round, two lengths, obs-fold, bare LF, a space before the
//! colon, pipelined requests that cross from the lane to hyper), what the lane takes and what
//! it hands off, and the upstream's answers it relays (lengths, chunked with extensions and
//! trailers, close-delimited, 1xx, framing errors, its own CORS headers, `Connection`-listed
//! fields). Then what only the lane has: its idle upstream connections reused.

#![cfg(feature = "cli")]

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use support::gateway::Gateway;
use support::raw_http::{exchange, RawUpstream, Recorded, Reply};

const POLICY: &str = r#"
origins = ["https://app.example", "https://*.tenant.example"]
methods = ["GET", "PUT", "POST"]
allow_headers = ["content-type", "x-token"]
expose_headers = ["x-request-id"]
credentials = true
max_age = 600
"#;

fn policy_file() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "corsgate-serve-lane-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("policy.toml");
    std::fs::write(&path, POLICY).unwrap();
    path
}

/// The upstream's answer, by the request's path (after the `/api` prefix).
fn script(request: &Recorded) -> Reply {
    let line = request.request_line();
    let path = line.split(' ').nth(1).unwrap_or("");
    let path = path.strip_prefix("/api").unwrap_or(path);
    let path = path.split('?').next().unwrap_or("");
    let bytes: &[u8] = match path {
        "/chunked" => b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
        "/close" => {
            return Reply::SendAndClose(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end".to_vec(),
            )
        }
        "/early" => b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        "/continue" => b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        "/cors" => b"HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nAccess-Control-Allow-Credentials: false\r\nVary: Accept-Encoding\r\nVary: Accept-Language\r\nContent-Length: 2\r\n\r\nok",
        "/hop" => b"HTTP/1.1 200 OK\r\nConnection: x-drop, keep-alive\r\nX-Drop: 1\r\nKeep-Alive: timeout=5\r\nX-Keep: 2\r\nContent-Length: 2\r\n\r\nok",
        "/204" => b"HTTP/1.1 204 No Content\r\nX-Request-Id: 7\r\n\r\n",
        "/304" => b"HTTP/1.1 304 Not Modified\r\nETag: \"a\"\r\n\r\n",
        "/two-lengths" => b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
        "/plus-length" => b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok",
        "/gzip-coding" => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nok",
        "/te-and-length" => b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        "/two-codings" => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        "/bad-chunk" => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        "/short" => {
            return Reply::SendAndClose(
                b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort".to_vec(),
            )
        }
        "/switch" => b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
        "/garbage" => b"HTTP/1.1 2xx Maybe\r\n\r\n",
        "/big" => {
            let body = "b".repeat(200_000);
            return Reply::Send(
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len())
                    .into_bytes(),
            );
        }
        "/closed" => return Reply::Close,
        _ => b"HTTP/1.1 200 OK\r\nX-Request-Id: 1\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok",
    };
    Reply::Send(bytes.to_vec())
}

/// One response as a client reads it, normalised: the status line, the fields (names in lower
/// case, `date` left out) in order, and the body decoded.
#[derive(Debug, PartialEq, Eq)]
struct Read {
    status: String,
    fields: Vec<(String, String)>,
    body: Vec<u8>,
}

/// The responses in `bytes` (`HEAD` answers have no body), and what is left over if the
/// bytes end inside one.
fn responses(mut bytes: &[u8], heads: &[bool]) -> (Vec<Read>, Vec<u8>) {
    let mut out = Vec::new();
    let mut which = 0;
    loop {
        if bytes.is_empty() {
            return (out, Vec::new());
        }
        let mut lines = [httparse::EMPTY_HEADER; 128];
        let mut response = httparse::Response::new(&mut lines);
        let Ok(httparse::Status::Complete(len)) = response.parse(bytes) else {
            return (out, bytes.to_vec());
        };
        let code = response.code.unwrap_or(0);
        let status = format!("{} {}", code, response.reason.unwrap_or(""));
        let mut fields: Vec<(String, String)> = response
            .headers
            .iter()
            .filter(|h| !h.name.eq_ignore_ascii_case("date"))
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect();
        fields.sort();
        let field = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        let rest = &bytes[len..];
        if (100..200).contains(&code) {
            out.push(Read {
                status,
                fields,
                body: Vec::new(),
            });
            bytes = rest;
            continue;
        }
        let is_head = heads.get(which).copied().unwrap_or(false);
        which += 1;
        let (body, used) = if is_head || code == 204 || code == 304 {
            (Vec::new(), 0)
        } else if field("transfer-encoding").as_deref() == Some("chunked") {
            match dechunk(rest) {
                Some(decoded) => decoded,
                None => {
                    out.push(Read {
                        status,
                        fields,
                        body: b"<cut>".to_vec(),
                    });
                    return (out, rest.to_vec());
                }
            }
        } else if let Some(length) = field("content-length") {
            let length: usize = length.parse().unwrap_or(usize::MAX);
            if rest.len() < length {
                out.push(Read {
                    status,
                    fields,
                    body: b"<cut>".to_vec(),
                });
                return (out, rest.to_vec());
            }
            (rest[..length].to_vec(), length)
        } else {
            (rest.to_vec(), rest.len())
        };
        out.push(Read {
            status,
            fields,
            body,
        });
        bytes = &rest[used..];
    }
}

/// A chunked body's data and its length on the wire, if it is complete.
fn dechunk(bytes: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut at = 0;
    let mut data = Vec::new();
    loop {
        let line_end = at + bytes[at..].windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&bytes[at..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        at = line_end + 2;
        if size == 0 {
            // Trailer fields, up to the empty line.
            loop {
                let end = at + bytes[at..].windows(2).position(|w| w == b"\r\n")?;
                let empty = end == at;
                at = end + 2;
                if empty {
                    return Some((data, at));
                }
            }
        }
        if bytes.len() < at + size + 2 {
            return None;
        }
        data.extend_from_slice(&bytes[at..at + size]);
        at += size + 2;
    }
}

/// A request as the upstream received it, normalised as [`Read`] is.
fn received(recorded: &Recorded) -> (String, Vec<(String, String)>, Vec<u8>) {
    let mut lines = [httparse::EMPTY_HEADER; 128];
    let mut request = httparse::Request::new(&mut lines);
    let len = match request.parse(&recorded.bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        _ => panic!("the upstream received a request it cannot parse: {recorded:?}"),
    };
    let line = format!(
        "{} {} HTTP/1.{}",
        request.method.unwrap_or(""),
        request.path.unwrap_or(""),
        request.version.unwrap_or(9)
    );
    let mut fields: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    fields.sort();
    (line, fields, recorded.bytes[len..].to_vec())
}

struct Pair {
    lane: (Gateway, RawUpstream),
    hyper: (Gateway, RawUpstream),
}

/// The lane and hyper's path, each with its own scripted upstream, both with `flags`.
async fn pair(flags: &[&str]) -> Pair {
    let policy = policy_file();
    let mut gateways = Vec::new();
    for extra in [&[][..], &["--no-lane"][..]] {
        let upstream = RawUpstream::start(script).await;
        let url = format!("http://{}/api", upstream.address);
        let mut args = vec![
            "--upstream",
            &url,
            "--workers",
            "1",
            "--idle-timeout",
            "1",
            "--upstream-timeout",
            "5",
        ];
        args.extend_from_slice(flags);
        args.extend_from_slice(extra);
        gateways.push((Gateway::start(&policy, &args), upstream));
    }
    let hyper = gateways.pop().unwrap();
    let lane = gateways.pop().unwrap();
    Pair { lane, hyper }
}

/// What the client reads, and the upstream's requests since `before`.
async fn run(
    address: SocketAddr,
    upstream: &RawUpstream,
    before: usize,
    bytes: &[u8],
    heads: &[bool],
) -> (
    Vec<Read>,
    Vec<u8>,
    Vec<(String, Vec<(String, String)>, Vec<u8>)>,
) {
    let answer = exchange(address, bytes, Duration::from_secs(8)).await;
    let (reads, rest) = responses(&answer, heads);
    // The upstream may still be reading what the gateway sent last.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let seen = upstream.received()[before..].iter().map(received).collect();
    (reads, rest, seen)
}

/// Cases: (what it shows, the bytes sent, which responses answer `HEAD`).
fn cases() -> Vec<(&'static str, Vec<u8>, Vec<bool>)> {
    let ask = |s: &str| s.as_bytes().to_vec();
    let allowed = "Origin: https://app.example\r\n";
    let mut cases = vec![
        ("allowed GET", ask(&format!("GET /api-less HTTP/1.1\r\nHost: gw.test\r\n{allowed}Connection: close\r\n\r\n")), vec![]),
        ("denied GET", ask("GET / HTTP/1.1\r\nHost: gw.test\r\nOrigin: https://evil.example\r\nConnection: close\r\n\r\n"), vec![]),
        ("GET without Origin, with a query", ask("GET /x?a=1&b=%20 HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        ("wildcard subdomain, header-name case", ask("GET / HTTP/1.1\r\nHOST: gw.test\r\norigin: https://a.tenant.example\r\nX-Token: t\r\nconnection: Close\r\n\r\n"), vec![]),
        ("HEAD", ask(&format!("HEAD / HTTP/1.1\r\nHost: gw.test\r\n{allowed}Connection: close\r\n\r\n")), vec![true]),
        ("allowed preflight", ask(&format!("OPTIONS /x HTTP/1.1\r\nHost: gw.test\r\n{allowed}Access-Control-Request-Method: PUT\r\nAccess-Control-Request-Headers: content-type, x-token\r\nConnection: close\r\n\r\n")), vec![]),
        ("denied preflight", ask(&format!("OPTIONS /x HTTP/1.1\r\nHost: gw.test\r\n{allowed}Access-Control-Request-Method: DELETE\r\nConnection: close\r\n\r\n")), vec![]),
        ("OPTIONS that is not a preflight", ask(&format!("OPTIONS /x HTTP/1.1\r\nHost: gw.test\r\n{allowed}Connection: close\r\n\r\n")), vec![]),
        // Request smuggling: bodies on methods the lane takes, framed ambiguously.
        ("CL.TE", ask("GET / HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        ("TE.CL", ask("GET / HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\nGET /smuggled HTTP/1.1\r\nHost: gw.test\r\n\r\n0\r\n\r\nGET /after HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        ("two Content-Length values", ask("GET / HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\nhelloGET /smuggled HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        ("Content-Length: +5", ask("GET / HTTP/1.1\r\nHost: gw.test\r\nContent-Length: +5\r\n\r\nhello"), vec![]),
        ("a body on GET", ask("GET / HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 5\r\n\r\nhelloGET /next HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        ("chunked GET", ask("GET / HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        ("Transfer-Encoding: xchunked", ask("GET / HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: xchunked\r\n\r\n"), vec![]),
        ("obs-fold", ask("GET / HTTP/1.1\r\nHost: gw.test\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"), vec![]),
        ("obs-fold of Host", ask("GET / HTTP/1.1\r\nHost: gw.test\r\n\tevil.example\r\nConnection: close\r\n\r\n"), vec![]),
        ("bare LF line ends", ask("GET /lf HTTP/1.1\nHost: gw.test\nOrigin: https://app.example\nConnection: close\n\n"), vec![]),
        ("bare LF then CRLF", ask("GET /lf HTTP/1.1\r\nHost: gw.test\nConnection: close\r\n\n"), vec![]),
        ("a bare CR", ask("GET / HTTP/1.1\r\nHost: gw.test\rX-A: 1\r\nConnection: close\r\n\r\n"), vec![]),
        ("space before the colon", ask("GET / HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding : chunked\r\nConnection: close\r\n\r\n"), vec![]),
        ("space before a field line", ask("GET / HTTP/1.1\r\n Host: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        ("NUL in a value", ask("GET / HTTP/1.1\r\nHost: gw.test\r\nX-A: a\0b\r\nConnection: close\r\n\r\n"), vec![]),
        ("a field name with a slash", ask("GET / HTTP/1.1\r\nHost: gw.test\r\nX/A: 1\r\nConnection: close\r\n\r\n"), vec![]),
        ("empty, tab and padded values", ask("GET / HTTP/1.1\r\nHost: gw.test\r\nX-Empty:\r\nX-Tab:\ta\tb\t\r\nX-Pad:   v   \r\nConnection: close\r\n\r\n"), vec![]),
        ("obs-text in a value", ask("GET / HTTP/1.1\r\nHost: gw.test\r\nX-Latin: caf\u{e9}\r\nConnection: close\r\n\r\n"), vec![]),
        ("two spaces in the request line", ask("GET  / HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        ("a lower-case method", ask("get / HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        ("leading empty lines", ask("\r\n\r\nGET / HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        ("HTTP/1.0", ask("GET / HTTP/1.0\r\nHost: gw.test\r\n\r\n"), vec![]),
        ("HTTP/2 in an HTTP/1 request line", ask("GET / HTTP/2.0\r\nHost: gw.test\r\n\r\n"), vec![]),
        ("absolute form", ask("GET http://gw.test/x HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        ("OPTIONS *", ask("OPTIONS * HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        // Host and path rules.
        ("no Host", ask("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"), vec![]),
        ("two Host lines", ask("GET / HTTP/1.1\r\nHost: gw.test\r\nHost: evil.example\r\nConnection: close\r\n\r\n"), vec![]),
        ("Host with userinfo", ask("GET / HTTP/1.1\r\nHost: user@gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        ("a dot segment", ask("GET /a/../b HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        ("an encoded slash", ask("GET /a%2Fb HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        ("/healthz", ask("GET /healthz HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        // Fields hyper's path rewrites or refuses.
        ("two X-Forwarded-For lines, Forwarded", ask("GET / HTTP/1.1\r\nHost: gw.test\r\nX-Forwarded-For: 203.0.113.9, 10.0.0.1\r\nForwarded: for=198.51.100.7\r\nx-forwarded-for: 192.0.2.4\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n"), vec![]),
        ("an empty X-Forwarded-For, a preflight with X-Forwarded-Host", ask(&format!("GET / HTTP/1.1\r\nHost: gw.test\r\nX-Forwarded-For:\r\n\r\nOPTIONS /x HTTP/1.1\r\nHost: gw.test\r\n{allowed}Access-Control-Request-Method: PUT\r\nX-Forwarded-Host: evil.example\r\nConnection: close\r\n\r\n")), vec![]),
        ("X-Forwarded-For sent", ask("GET / HTTP/1.1\r\nHost: gw.test\r\nX-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Host: evil.example\r\nConnection: close\r\n\r\n"), vec![]),
        ("Connection names a field", ask("GET / HTTP/1.1\r\nHost: gw.test\r\nX-Secret: s\r\nConnection: close, x-secret\r\n\r\n"), vec![]),
        ("Connection: keep-alive with Keep-Alive", ask("GET / HTTP/1.1\r\nHost: gw.test\r\nKeep-Alive: timeout=5\r\nConnection: keep-alive, close\r\n\r\n"), vec![]),
        ("Expect: 100-continue", ask("GET / HTTP/1.1\r\nHost: gw.test\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"), vec![]),
        ("Upgrade", ask("GET / HTTP/1.1\r\nHost: gw.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"), vec![]),
        ("TE: trailers", ask("GET /chunked HTTP/1.1\r\nHost: gw.test\r\nTE: trailers\r\nConnection: close\r\n\r\n"), vec![]),
        ("Proxy-Authorization", ask("GET / HTTP/1.1\r\nHost: gw.test\r\nProxy-Authorization: Basic eDp5\r\nConnection: close\r\n\r\n"), vec![]),
        // Pipelined: the lane's, then hyper's for the rest of the connection.
        ("pipelined GET, GET, GET", ask(&format!("GET /1 HTTP/1.1\r\nHost: gw.test\r\n{allowed}\r\nHEAD /2 HTTP/1.1\r\nHost: gw.test\r\n\r\nGET /3 HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n")), vec![false, true, false]),
        ("pipelined GET, POST, GET", ask(&format!("GET /1 HTTP/1.1\r\nHost: gw.test\r\n{allowed}\r\nPOST /2 HTTP/1.1\r\nHost: gw.test\r\n{allowed}Content-Length: 4\r\n\r\nbodyGET /3 HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n")), vec![]),
        ("pipelined GET, preflight, bad head", ask(&format!("GET /1 HTTP/1.1\r\nHost: gw.test\r\n\r\nOPTIONS /2 HTTP/1.1\r\nHost: gw.test\r\n{allowed}Access-Control-Request-Method: PUT\r\n\r\nGET /3 HTTP/1.1\r\nHost : gw.test\r\n\r\n")), vec![]),
        ("pipelined GET then CL.TE", ask("GET /1 HTTP/1.1\r\nHost: gw.test\r\n\r\nGET /2 HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        // The upstream's answers.
        ("a chunked answer", ask(&format!("GET /chunked HTTP/1.1\r\nHost: gw.test\r\n{allowed}Connection: close\r\n\r\n")), vec![]),
        ("a close-delimited answer", ask(&format!("GET /close HTTP/1.1\r\nHost: gw.test\r\n{allowed}Connection: close\r\n\r\n")), vec![]),
        ("103 Early Hints", ask(&format!("GET /early HTTP/1.1\r\nHost: gw.test\r\n{allowed}Connection: close\r\n\r\n")), vec![]),
        ("a 100 the client did not ask for", ask("GET /continue HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        ("the upstream's own CORS headers and Vary", ask(&format!("GET /cors HTTP/1.1\r\nHost: gw.test\r\n{allowed}Connection: close\r\n\r\n")), vec![]),
        ("the upstream's CORS headers, no Origin", ask("GET /cors HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        ("the upstream's Connection-listed fields", ask("GET /hop HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        ("204 and 304", ask("GET /204 HTTP/1.1\r\nHost: gw.test\r\n\r\nGET /304 HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        ("HEAD of a chunked answer", ask("HEAD /chunked HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![true]),
        ("a large body", ask("GET /big HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        ("two different lengths", ask("GET /two-lengths HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        ("Content-Length: +2 upstream", ask("GET /plus-length HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        ("a coding other than chunked", ask("GET /gzip-coding HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        ("Transfer-Encoding with Content-Length", ask("GET /te-and-length HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        ("two Transfer-Encoding lines, chunked last", ask("GET /two-codings HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        ("a malformed chunked answer", ask("GET /bad-chunk HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        ("a body cut short", ask("GET /short HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        ("a 101 unasked", ask("GET /switch HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        ("a garbled status line", ask("GET /garbage HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
        ("the upstream closes unanswered", ask(&format!("GET /closed HTTP/1.1\r\nHost: gw.test\r\n{allowed}Connection: close\r\n\r\n")), vec![]),
    ];
    // Heads at and past hyper's limits.
    let mut many = String::from("GET / HTTP/1.1\r\nHost: gw.test\r\n");
    for i in 0..99 {
        many.push_str(&format!("X-{i}: v\r\n"));
    }
    cases.push(("100 field lines", ask(&format!("{many}\r\n")), vec![]));
    cases.push((
        "101 field lines",
        ask(&format!("{many}X-last: v\r\n\r\n")),
        vec![],
    ));
    let long = format!(
        "GET / HTTP/1.1\r\nHost: gw.test\r\nX-Long: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(70_000)
    );
    cases.push(("a head over 64 KiB", ask(&long), vec![]));
    cases
}

/// Cases the lane answers differently on purpose, and its answer's statuses, both 502 with the
/// CORS headers a browser needs to show it: an upstream that switches protocols for a request
/// that asked for none breaks RFC 9110 §15.2.2 (hyper's path relays the 101 and closes), and
/// a chunked body malformed in its first bytes (hyper's path closes without a response).
const INTENDED: [(&str, &[u16]); 2] = [
    ("a 101 unasked", &[502]),
    ("a malformed chunked answer", &[502]),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lane_answers_every_case_as_hyper_does() {
    let failures = compare(&pair(&[]).await, cases()).await;
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Forwarding fields from a `--trusted-proxy` peer (the client here): `X-Forwarded-Proto` and
/// `-Host` kept, `X-Forwarded-For` appended to, as from any peer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_fields_from_a_trusted_proxy_as_hyper_keeps_them() {
    let ask = |s: &str| s.as_bytes().to_vec();
    let cases = vec![
        ("all three from a trusted proxy", ask("GET / HTTP/1.1\r\nHost: gw.test\r\nX-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: app.example\r\nConnection: close\r\n\r\n"), vec![]),
        ("two Proto lines, no Host", ask("GET / HTTP/1.1\r\nHost: gw.test\r\nX-Forwarded-Proto: https\r\nx-forwarded-proto: http\r\nConnection: close\r\n\r\n"), vec![]),
        ("only X-Forwarded-Host, and a preflight", ask("GET / HTTP/1.1\r\nHost: gw.test\r\nX-Forwarded-Host: app.example:8443\r\n\r\nOPTIONS /x HTTP/1.1\r\nHost: gw.test\r\nOrigin: https://app.example\r\nAccess-Control-Request-Method: PUT\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n"), vec![]),
        ("none of them", ask("GET / HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n"), vec![]),
    ];
    let failures = compare(&pair(&["--trusted-proxy", "127.0.0.0/8"]).await, cases).await;
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Runs every case through both gateways of `pair` at once; what differed, for each case that
/// is not [`INTENDED`].
async fn compare(pair: &Pair, cases: Vec<(&'static str, Vec<u8>, Vec<bool>)>) -> Vec<String> {
    let mut failures = Vec::new();
    for (what, bytes, heads) in cases {
        let before_lane = pair.lane.1.received().len();
        let before_hyper = pair.hyper.1.received().len();
        let ((lane_reads, lane_rest, lane_seen), (hyper_reads, hyper_rest, hyper_seen)) = tokio::join!(
            run(
                pair.lane.0.address,
                &pair.lane.1,
                before_lane,
                &bytes,
                &heads
            ),
            run(
                pair.hyper.0.address,
                &pair.hyper.1,
                before_hyper,
                &bytes,
                &heads
            ),
        );
        if let Some((_, expected)) = INTENDED.iter().find(|(name, _)| *name == what) {
            let lane: Vec<u16> = lane_reads
                .iter()
                .map(|r| r.status[..3].parse().unwrap())
                .collect();
            if lane != *expected {
                failures.push(format!(
                    "{what}: the lane answered {lane:?}, not {expected:?}"
                ));
            }
            continue;
        }
        if hyper_reads.is_empty() && hyper_rest.is_empty() {
            failures.push(format!(
                "{what}: hyper's path answered nothing; the case tests nothing"
            ));
        }
        if lane_reads != hyper_reads || lane_rest != hyper_rest {
            failures.push(format!(
                "{what}: the client read\n  lane:  {lane_reads:?} {:?}\n  hyper: {hyper_reads:?} {:?}",
                String::from_utf8_lossy(&lane_rest),
                String::from_utf8_lossy(&hyper_rest)
            ));
        }
        if lane_seen != hyper_seen {
            failures.push(format!(
                "{what}: the upstream received\n  lane:  {lane_seen:?}\n  hyper: {hyper_seen:?}"
            ));
        }
    }
    failures
}

/// Status codes of the responses in `bytes`, in order.
fn statuses(bytes: &[u8]) -> Vec<u16> {
    responses(bytes, &[])
        .0
        .iter()
        .map(|r| r.status[..3].parse().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lane_reuses_its_upstream_connections() {
    let pair = pair(&[]).await;
    let (gateway, upstream) = &pair.lane;
    for i in 0..5 {
        let request = format!("GET /{i} HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n");
        let answer = exchange(gateway.address, request.as_bytes(), Duration::from_secs(8)).await;
        assert_eq!(
            statuses(&answer),
            [200],
            "{}",
            String::from_utf8_lossy(&answer)
        );
    }
    let connections: Vec<usize> = upstream.received().iter().map(|r| r.connection).collect();
    assert_eq!(
        connections, [0; 5],
        "five requests, one after another, on one connection"
    );
    // An answer the upstream closes after, or framed until close, is not reused.
    for path in ["/close", "/x", "/short", "/x"] {
        let request = format!("GET {path} HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n");
        exchange(gateway.address, request.as_bytes(), Duration::from_secs(8)).await;
    }
    let connections: Vec<usize> = upstream.received().iter().map(|r| r.connection).collect();
    assert_eq!(connections[5..], [0, 1, 1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_body_closes_the_client_connection() {
    let pair = pair(&[]).await;
    let (gateway, _) = &pair.lane;
    // Keep-alive asked; the upstream's body ends short: the client must not wait for more,
    // nor read a next response on this connection.
    let answer = exchange(
        gateway.address,
        b"GET /short HTTP/1.1\r\nHost: gw.test\r\n\r\nGET /x HTTP/1.1\r\nHost: gw.test\r\n\r\n",
        Duration::from_secs(3),
    )
    .await;
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nshort"), "{text}");
}
