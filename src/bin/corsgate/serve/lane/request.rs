//! Which requests the lane takes: a complete request head in, either the parts the lane needs
//! (method, target, path, the one `Host`, whether the client asked to close, the field lines)
//! or `None`, and then hyper answers the request and the rest of the connection.
//!
//! The lane takes only what it can answer byte for byte as hyper's path would, and nothing whose
//! end a second parser could read differently: bodyless HTTP/1.1 `GET`, `HEAD` and `OPTIONS` in
//! origin form (RFC 3986 path and query characters only, at most 8 KiB), no `Content-Length` or
//! `Transfer-Encoding` at all, no `Upgrade`, `Expect`, `TE`, `Trailer`, `Keep-Alive` or
//! `Proxy-Connection`, `Connection` with `close` and `keep-alive` only, exactly one valid `Host`, a
//! path `hygiene` accepts, and not `/healthz` or `/metrics`. The head must parse, with
//! httparse's defaults (hyper's), as ending exactly where the lane found its empty line. Everything
//! else is hyper's, so a malformed or ambiguous head gets hyper's answer, and `against_hyper`
//! checks that whatever the lane takes hyper reads as the same bodyless request ending at the same
//! byte.

use super::super::host_and_path::{is_valid_host, path_problem};

/// Field lines in a head, at most: hyper's default, and so its answer (431) for more.
pub const MAX_FIELDS: usize = 100;

/// A request the lane takes, borrowed from its head.
#[derive(Debug)]
pub struct Taken<'b> {
    pub method: &'b [u8],
    /// The request target as sent (origin form: a path and perhaps a query).
    pub target: &'b str,
    /// The target without its query.
    pub path: &'b [u8],
    pub host: &'b [u8],
    /// `Connection: close` was sent.
    pub close: bool,
    /// How many of the `fields` given to [`take`] hold the head's field lines, in order.
    pub count: usize,
}

/// One field line: name and value as sent (the value without surrounding whitespace).
pub type Field<'b> = (&'b [u8], &'b [u8]);

/// Request fields that send a request to hyper's path: framing and upgrades (a body, or a
/// protocol change, the lane does not relay) and the rarer hop-by-hop fields. (The fields
/// hyper's path rewrites, `X-Forwarded-*`, or removes, `Forwarded` and `Proxy-Authorization`,
/// the lane rewrites and removes the same way: a gateway behind a load balancer sees
/// `X-Forwarded-For` on every request.)
const HANDED_OFF: [&[u8]; 8] = [
    b"content-length",
    b"transfer-encoding",
    b"upgrade",
    b"expect",
    b"te",
    b"trailer",
    b"keep-alive",
    b"proxy-connection",
];

/// The longest target the lane takes: below hyper's `MAX_URI_LEN` (65,534 bytes, a 414 there).
const MAX_TARGET: usize = 8 * 1024;

/// An origin-form target of RFC 3986's path and query characters only (unreserved,
/// sub-delims, `:`, `@`, `/`, `?`, `%`): a subset of what the `http` crate's parser accepts,
/// so hyper reads it as the same target. httparse alone takes more (a backtick, `{`, bytes
/// over 0x7F), and a fragment (`#`) hyper drops: such targets are hyper's.
fn is_plain_target(target: &[u8]) -> bool {
    target.first() == Some(&b'/')
        && target.len() <= MAX_TARGET
        && target.iter().all(|&b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'.'
                        | b'_'
                        | b'~'
                        | b'!'
                        | b'$'
                        | b'&'
                        | b'\''
                        | b'('
                        | b')'
                        | b'*'
                        | b'+'
                        | b','
                        | b';'
                        | b'='
                        | b':'
                        | b'@'
                        | b'/'
                        | b'?'
                        | b'%'
                )
        })
}

/// The request in `head` (which ends with its empty line), if the lane takes it; its field
/// lines go into `fields`.
pub fn take<'b>(head: &'b [u8], fields: &mut [Field<'b>; MAX_FIELDS]) -> Option<Taken<'b>> {
    let mut lines = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut request = httparse::Request::new(&mut lines);
    match request.parse(head) {
        Ok(httparse::Status::Complete(n)) if n == head.len() => {}
        _ => return None,
    }
    let (Some(method), Some(target), Some(1)) = (request.method, request.path, request.version)
    else {
        return None;
    };
    let method = method.as_bytes();
    if !matches!(method, b"GET" | b"HEAD" | b"OPTIONS") || !is_plain_target(target.as_bytes()) {
        return None;
    }
    let path = target.split_once('?').map_or(target, |(p, _)| p).as_bytes();
    if path_problem(path).is_some() || path == b"/healthz" || path == b"/metrics" {
        return None;
    }
    let mut host = None;
    let mut close = false;
    let count = request.headers.len();
    for (slot, line) in fields.iter_mut().zip(request.headers.iter()) {
        let name = line.name.as_bytes();
        if HANDED_OFF.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            return None;
        }
        if name.eq_ignore_ascii_case(b"connection") {
            // Any other token names a hop-by-hop field, which hyper's path strips.
            for token in line.value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                if token.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if !token.eq_ignore_ascii_case(b"keep-alive") {
                    return None;
                }
            }
        }
        if name.eq_ignore_ascii_case(b"host") {
            if host.is_some() {
                return None;
            }
            host = Some(line.value);
        }
        *slot = (name, line.value);
    }
    let host = host.filter(|h| is_valid_host(h))?;
    Some(Taken {
        method,
        target,
        path,
        host,
        close,
        count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taken(head: &str) -> Option<(String, bool, usize)> {
        let mut fields = [(&[][..], &[][..]); MAX_FIELDS];
        take(head.as_bytes(), &mut fields).map(|t| {
            (
                String::from_utf8_lossy(t.host).into_owned(),
                t.close,
                t.count,
            )
        })
    }

    #[test]
    fn takes_bodyless_get_head_and_options() {
        for method in ["GET", "HEAD", "OPTIONS"] {
            let head = format!(
                "{method} /a?b HTTP/1.1\r\nHost: api.test\r\nOrigin: https://a.test\r\n\r\n"
            );
            assert_eq!(
                taken(&head),
                Some(("api.test".into(), false, 2)),
                "{method}"
            );
        }
        assert_eq!(
            taken("GET / HTTP/1.1\r\nhost: h\r\nConnection: keep-alive, Close\r\n\r\n"),
            Some(("h".into(), true, 2))
        );
        // Bare LF line ends: httparse (and so hyper) reads them.
        assert_eq!(
            taken("GET / HTTP/1.1\nHost: h\n\n"),
            Some(("h".into(), false, 1))
        );
        // Fields the lane rewrites or removes as hyper's path does (the proxy's tests).
        assert_eq!(
            taken("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.2.3.4\r\nx-forwarded-proto: https\r\nX-Forwarded-Host: a\r\nForwarded: for=x\r\nProxy-Authorization: Basic x\r\n\r\n"),
            Some(("h".into(), false, 6))
        );
    }

    #[test]
    fn hands_everything_else_to_hyper() {
        let cases = [
            // Methods with bodies, or other methods.
            "POST / HTTP/1.1\r\nHost: h\r\n\r\n",
            "DELETE / HTTP/1.1\r\nHost: h\r\n\r\n",
            "get / HTTP/1.1\r\nHost: h\r\n\r\n",
            // HTTP/1.0, absolute form, asterisk form.
            "GET / HTTP/1.0\r\nHost: h\r\n\r\n",
            "GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n",
            "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
            // Framing: any Content-Length or Transfer-Encoding, even 0 or chunked alone.
            "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            // Malformed lines: obs-fold, space before the colon, a bare CR, no colon.
            "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n 2\r\n\r\n",
            "GET / HTTP/1.1\r\nHost : h\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n",
            "GET / HTTP/1.1\r\nHost h\r\n\r\n",
            // Upgrades and other hop-by-hop requests.
            "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nConnection: close, x-secret\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nTE: trailers\r\n\r\n",
            // Host: none, two, invalid.
            "GET / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
            // Paths hygiene refuses, and serve's own.
            "GET /a/../b HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET /metrics?x HTTP/1.1\r\nHost: h\r\n\r\n",
            // Targets httparse takes and hyper's URI parser refuses or reads differently.
            "GET /`x HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET /{a} HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET /a?\"q\" HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET /caf\u{e9} HTTP/1.1\r\nHost: h\r\n\r\n",
        ];
        for head in cases {
            assert_eq!(taken(head), None, "{head:?}");
        }
        // More than 100 lines.
        let mut head = String::from("GET / HTTP/1.1\r\nHost: h\r\n");
        for i in 0..100 {
            head.push_str(&format!("X-{i}: v\r\n"));
        }
        head.push_str("\r\n");
        assert_eq!(taken(&head), None);
    }

    #[test]
    fn the_head_must_end_where_it_was_cut() {
        // Two empty lines: the head given is longer than the head httparse reads.
        assert_eq!(taken("GET / HTTP/1.1\r\nHost: h\r\n\r\n\r\n"), None);
        // Cut before its end.
        assert_eq!(taken("GET / HTTP/1.1\r\nHost: h\r\n"), None);
    }
}
