//! Proxy hygiene: what `serve` refuses before any policy is consulted, and which headers it
//! removes, keeps or sets on the way to the upstream and back.
//!
//! Refused at the gateway, before routing and the CORS decision (so without CORS headers):
//! - an HTTP/1.1 request without `Host`, with two `Host` lines, or with a `Host` that is not a
//!   valid host (design §2.1's host grammar, any case, an optional port) — 400, as RFC 9112
//!   §3.2 requires; an absolute-form target's authority must be valid too and wins over
//!   `Host` (RFC 9112 §3.2.2);
//! - a path with a `.` or `..` segment, a percent-encoded dot, slash or backslash, or a
//!   backslash — 400 (design §8): no path can climb out of the upstream's prefix, and no
//!   upstream can read a path differently from the route that decided it;
//! - `CONNECT`, `TRACE` and `TRACK` in any case — 405 with `Allow`, never forwarded;
//! - a WebSocket handshake — 501: `serve` does not proxy upgrades. Other `Upgrade` offers
//!   (`h2c`) are ignored, as RFC 9110 §7.8 allows, and the request is served over HTTP/1.1;
//! - `OPTIONS *` is answered by the gateway itself (200 with `Allow`).
//!
//! On the way to the upstream: hop-by-hop fields go (RFC 9110 §7.6.1: the fixed list and
//! every name in `Connection`, except `Host`), and so do `Proxy-Authorization`, a `Forwarded`
//! field (corsgate maintains `X-Forwarded-*`; a stale `Forwarded` would carry what the client
//! wrote) and `Expect` (hyper already answered it on the client's side). Every
//! `X-Forwarded-For` line is kept, joined into one, with the peer's address appended.
//! `X-Forwarded-Proto` and `-Host` are kept when the peer is a trusted proxy
//! (`--trusted-proxy`) and sent them; otherwise they are set: `http`, and the request's host.
//!
//! On the way back: hop-by-hop fields go, and a response that has both `Transfer-Encoding` and
//! `Content-Length` loses the `Content-Length` (RFC 9112 §6.3: the transfer coding wins and
//! an intermediary must remove the length before forwarding); hyper re-frames the body.

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Version};

use super::bodies::{full, BoxedBody};
use super::hop_by_hop::strip_hop_by_hop;
pub use super::host_and_path::{is_valid_host, path_problem};

/// The methods `serve` forwards that every upstream knows, for `Allow`.
const ALLOW: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

/// An answer the gateway gives itself, before any policy: a refusal, or `OPTIONS *`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GatewayAnswer {
    pub status: StatusCode,
    /// Why, for the client (the body) and the logs.
    pub reason: &'static str,
    /// Whether to send `Allow` (405, and `OPTIONS *`).
    pub allow: bool,
}

impl GatewayAnswer {
    const fn new(status: StatusCode, reason: &'static str) -> GatewayAnswer {
        GatewayAnswer {
            status,
            reason,
            allow: false,
        }
    }

    pub fn into_response(self) -> Response<BoxedBody> {
        let mut response = if self.reason.is_empty() {
            Response::new(full(bytes::Bytes::new()))
        } else {
            let mut r = Response::new(full(format!("{}\n", self.reason)));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            r
        };
        *response.status_mut() = self.status;
        if self.allow {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(ALLOW));
        }
        response
    }
}

/// What a request that passed the checks forwards as its host: the absolute-form target's
/// authority, or the `Host` field (`None` only for HTTP/1.0 without `Host`).
#[derive(Clone)]
pub struct RequestHost(pub Option<HeaderValue>);

/// Checks a request before anything else looks at it. `Err` is the gateway's own answer.
pub fn check_request<B>(request: &Request<B>) -> Result<RequestHost, GatewayAnswer> {
    use GatewayAnswer as A;
    let method = request.method().as_str();
    if ["CONNECT", "TRACE", "TRACK"]
        .iter()
        .any(|m| method.eq_ignore_ascii_case(m))
    {
        return Err(GatewayAnswer {
            allow: true,
            ..A::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "CONNECT, TRACE and TRACK are answered by the gateway and never forwarded",
            )
        });
    }

    let mut hosts = request.headers().get_all(header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(A::new(StatusCode::BAD_REQUEST, "more than one Host field"));
    }
    if let Some(value) = host {
        if !is_valid_host(value.as_bytes()) {
            return Err(A::new(StatusCode::BAD_REQUEST, "invalid Host field"));
        }
    } else if request.version() != Version::HTTP_10 && request.version() != Version::HTTP_09 {
        return Err(A::new(StatusCode::BAD_REQUEST, "no Host field"));
    }

    let uri = request.uri();
    let mut forwarded_host = host.cloned();
    if let Some(authority) = uri.authority() {
        // Absolute form (RFC 9112 §3.2.2): its authority replaces `Host`.
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(A::new(
                StatusCode::BAD_REQUEST,
                "the request target's scheme is not http or https",
            ));
        }
        let authority = authority.as_str();
        if authority.contains('@') || !is_valid_host(authority.as_bytes()) {
            return Err(A::new(
                StatusCode::BAD_REQUEST,
                "invalid host in the request target",
            ));
        }
        forwarded_host = HeaderValue::from_str(authority).ok();
    }

    if uri == "*" {
        if request.method() == Method::OPTIONS {
            return Err(GatewayAnswer {
                allow: true,
                ..A::new(StatusCode::OK, "")
            });
        }
        return Err(A::new(
            StatusCode::BAD_REQUEST,
            "the asterisk target is only for OPTIONS",
        ));
    }
    if let Some(problem) = path_problem(uri.path().as_bytes()) {
        return Err(A::new(StatusCode::BAD_REQUEST, problem));
    }

    if is_websocket_handshake(request.headers()) {
        return Err(A::new(
            StatusCode::NOT_IMPLEMENTED,
            "corsgate serve does not proxy WebSocket (or other protocol) upgrades",
        ));
    }
    Ok(RequestHost(forwarded_host))
}

fn is_websocket_handshake(headers: &HeaderMap) -> bool {
    headers.get_all(header::UPGRADE).iter().any(|value| {
        value
            .as_bytes()
            .split(|&b| b == b',')
            .any(|p| p.trim_ascii().eq_ignore_ascii_case(b"websocket"))
    })
}

/// The peers whose `X-Forwarded-Proto` and `X-Forwarded-Host` are believed: addresses and
/// networks (`10.0.0.0/8`, `::1`).
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Parses `--trusted-proxy` values: an IP address or `address/prefix`.
    pub fn parse(values: &[String]) -> Result<TrustedProxies, String> {
        let mut networks = Vec::with_capacity(values.len());
        for value in values {
            let (address, prefix) = match value.split_once('/') {
                Some((a, p)) => (a, Some(p)),
                None => (value.as_str(), None),
            };
            let address: IpAddr = address.parse().map_err(|_| {
                format!("--trusted-proxy {value:?}: not an IP address or network (e.g. 10.0.0.0/8, ::1)")
            })?;
            let address = address.to_canonical();
            let max = if address.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                None => max,
                Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| {
                    format!("--trusted-proxy {value:?}: the prefix length is 0..={max}")
                })?,
            };
            networks.push((address, prefix));
        }
        Ok(TrustedProxies(networks))
    }

    /// Whether `peer` is one of them (IPv4-mapped IPv6 peers count as IPv4).
    pub fn contains(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.0
            .iter()
            .any(|&(network, prefix)| match (network, peer) {
                (IpAddr::V4(n), IpAddr::V4(p)) => {
                    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                    u32::from(n) & mask == u32::from(p) & mask
                }
                (IpAddr::V6(n), IpAddr::V6(p)) => {
                    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                    u128::from(n) & mask == u128::from(p) & mask
                }
                _ => false,
            })
    }
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const FORWARDED: HeaderName = HeaderName::from_static("forwarded");

/// Rewrites a request's headers for the upstream (see the module's documentation).
pub fn scrub_request_headers(
    headers: &mut HeaderMap,
    peer: IpAddr,
    trusted: bool,
    host: &RequestHost,
) {
    strip_hop_by_hop(headers);
    // One look at the names decides which of the fields below are there at all (usually
    // none): a removal or a lookup by name is a hash and a probe each.
    let (mut dropped, mut forwarded_for, mut proto, mut forwarded_host) =
        (false, false, false, false);
    for name in headers.keys() {
        if name == header::PROXY_AUTHORIZATION || name == FORWARDED || name == header::EXPECT {
            dropped = true;
        } else if name == X_FORWARDED_FOR {
            forwarded_for = true;
        } else if name == X_FORWARDED_PROTO {
            proto = true;
        } else if name == X_FORWARDED_HOST {
            forwarded_host = true;
        }
    }
    if dropped {
        headers.remove(header::PROXY_AUTHORIZATION);
        headers.remove(FORWARDED);
        headers.remove(header::EXPECT);
    }
    if let Some(host) = &host.0 {
        // The absolute form's authority, or the one `Host` line (then already there).
        if headers.get(header::HOST) != Some(host) {
            headers.insert(header::HOST, host.clone());
        }
    }

    let mut text = [0u8; 64];
    let peer = address_text(peer.to_canonical(), &mut text);
    let value = if !forwarded_for {
        HeaderValue::from_bytes(peer).ok()
    } else {
        let mut joined = Vec::with_capacity(64);
        for line in headers.get_all(&X_FORWARDED_FOR) {
            joined.extend_from_slice(line.as_bytes());
            joined.extend_from_slice(b", ");
        }
        joined.extend_from_slice(peer);
        HeaderValue::from_bytes(&joined).ok()
    };
    if let Some(value) = value {
        headers.insert(X_FORWARDED_FOR, value);
    }
    if !(trusted && proto) {
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    }
    if !(trusted && forwarded_host) {
        match &host.0 {
            Some(host) => {
                headers.insert(X_FORWARDED_HOST, host.clone());
            }
            None if forwarded_host => {
                headers.remove(X_FORWARDED_HOST);
            }
            None => {}
        }
    }
}

/// An address as text, into `buffer`: IPv4 written digit by digit (`Display` costs several
/// times as much), IPv6 through `Display`.
pub fn address_text(address: IpAddr, buffer: &mut [u8; 64]) -> &[u8] {
    match address {
        IpAddr::V4(v4) => {
            let mut len = 0;
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    buffer[len] = b'.';
                    len += 1;
                }
                if octet >= 100 {
                    buffer[len] = b'0' + octet / 100;
                    len += 1;
                }
                if octet >= 10 {
                    buffer[len] = b'0' + octet / 10 % 10;
                    len += 1;
                }
                buffer[len] = b'0' + octet % 10;
                len += 1;
            }
            &buffer[..len]
        }
        IpAddr::V6(v6) => {
            use std::io::Write;
            let mut cursor = std::io::Cursor::new(&mut buffer[..]);
            // An IPv6 address is at most 45 bytes of text.
            let _ = write!(cursor, "{v6}");
            let len = usize::try_from(cursor.position()).unwrap_or(0);
            &buffer[..len]
        }
    }
}

/// Rewrites an upstream response's headers for the client.
pub fn scrub_response_headers(headers: &mut HeaderMap) {
    if headers.contains_key(header::TRANSFER_ENCODING) {
        // RFC 9112 §6.3: Transfer-Encoding overrides Content-Length, and an intermediary
        // removes the length before forwarding (else the client reads a truncated body).
        headers.remove(header::CONTENT_LENGTH);
    }
    strip_hop_by_hop(headers);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        for good in [
            "example.com",
            "Example.COM",
            "example.com:8080",
            "example.com.",
            "127.0.0.1:80",
            "[::1]:8080",
            "a_b.example",
            "localhost",
        ] {
            assert!(is_valid_host(good.as_bytes()), "{good}");
        }
        for bad in [
            "",
            "example.com:",
            "example.com:0",
            "example.com:65536",
            "example.com:080",
            "exa mple.com",
            "user@example.com",
            "example.com/x",
            "example..com",
            "[::1",
            "010.0.0.1",
            "a%2eb",
            "example.com:80:80",
        ] {
            assert!(!is_valid_host(bad.as_bytes()), "{bad}");
        }
        assert!(!is_valid_host(&[b'a'; 400]));
    }

    #[test]
    fn paths() {
        for good in ["/", "/api/users", "/a.b/c..d/.e", "/%41", "/a//b"] {
            assert_eq!(path_problem(good.as_bytes()), None, "{good}");
        }
        for bad in [
            "/..",
            "/../admin",
            "/a/./b",
            "/a/.",
            "/%2e%2e/admin",
            "/%2E/",
            "/a%2fb",
            "/a%5Cb",
            "/a\\b",
        ] {
            assert!(path_problem(bad.as_bytes()).is_some(), "{bad}");
        }
    }

    #[test]
    fn addresses_as_text() {
        for address in [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.30.40",
            "192.168.100.255",
            "255.255.255.255",
            "::1",
            "2001:db8::8a2e:370:7334",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ] {
            let ip: IpAddr = address.parse().unwrap();
            let mut buffer = [0u8; 64];
            assert_eq!(address_text(ip, &mut buffer), ip.to_string().as_bytes());
        }
    }

    #[test]
    fn trusted_proxies() {
        let t = TrustedProxies::parse(&["10.0.0.0/8".into(), "::1".into(), "192.0.2.7".into()])
            .unwrap();
        assert!(t.contains("10.1.2.3".parse().unwrap()));
        assert!(t.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(t.contains("::1".parse().unwrap()));
        assert!(t.contains("192.0.2.7".parse().unwrap()));
        assert!(!t.contains("192.0.2.8".parse().unwrap()));
        assert!(!t.contains("11.0.0.1".parse().unwrap()));
        assert!(TrustedProxies::parse(&["0.0.0.0/0".into()])
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(TrustedProxies::parse(&["example.com".into()]).is_err());
    }
}
