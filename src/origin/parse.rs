//! The request side: is an `Origin` header value a serialized origin a browser could have sent?
//!
//! corsgate never normalises a request's Origin. It checks the bytes against the WHATWG Fetch
//! `origin-or-null` grammar in one pass, without allocating, behind a length cap; anything else
//! is simply not allowed, and `Access-Control-Allow-Origin` echoes the request's bytes exactly.

use std::fmt;

use super::host::{self, HostDefect, HostKind};

/// Longest scheme.
pub const MAX_SCHEME_LEN: usize = 64;
/// Longest `Origin` value corsgate looks at: scheme, `://`, a 253-byte host with its trailing
/// dot, and `:65535`.
pub const MAX_ORIGIN_LEN: usize = MAX_SCHEME_LEN + 3 + host::MAX_HOST_LEN + 1 + 6;

/// A valid request origin, borrowed from the header value.
///
/// # Example
/// ```
/// use corsgate::origin::{RequestOrigin, TupleOrigin};
///
/// let origin = RequestOrigin::parse(b"https://app.example.com:8443").unwrap();
/// let RequestOrigin::Tuple(tuple) = origin else { unreachable!() };
/// assert_eq!(tuple.scheme(), b"https");
/// assert_eq!(tuple.host(), b"app.example.com");
/// assert_eq!(tuple.port(), Some(8443));
/// assert!(RequestOrigin::parse(b"https://App.example.com").is_err());
/// assert!(RequestOrigin::parse(b"https://example.com/").is_err());
/// assert!(RequestOrigin::parse(b"https://example.com:443").is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestOrigin<'a> {
    /// The literal `null` (opaque origins: sandboxed iframes, `file:` pages, redirects).
    Null,
    /// `scheme://host[:port]`.
    Tuple(TupleOrigin<'a>),
}

/// A tuple origin: scheme, host, optional port, all borrowed from the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TupleOrigin<'a> {
    bytes: &'a [u8],
    scheme_len: u8,
    host_start: u16,
    host_end: u16,
    host_kind: HostKind,
    port: Option<u16>,
}

impl<'a> TupleOrigin<'a> {
    /// The whole origin, exactly as sent.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
    /// The scheme, without `://`.
    pub fn scheme(&self) -> &'a [u8] {
        &self.bytes[..usize::from(self.scheme_len)]
    }
    /// The host as sent: a domain (maybe ending in `.`), an IPv4 address, or `[IPv6]`.
    pub fn host(&self) -> &'a [u8] {
        &self.bytes[usize::from(self.host_start)..usize::from(self.host_end)]
    }
    /// What the host is.
    pub fn host_kind(&self) -> HostKind {
        self.host_kind
    }
    /// The explicit port, if any (never the scheme's default).
    pub fn port(&self) -> Option<u16> {
        self.port
    }
    /// `scheme://host`, without the port.
    pub fn without_port(&self) -> &'a [u8] {
        &self.bytes[..usize::from(self.host_end)]
    }
    /// `true` for `localhost`, `*.localhost`, `127.0.0.0/8` and `[::1]`.
    pub fn is_loopback(&self) -> bool {
        host::is_loopback(self.host(), self.host_kind)
    }
}

impl fmt::Display for TupleOrigin<'_> {
    /// Serializes the origin from its parts (scheme, host, port), which for a valid origin gives
    /// back exactly the bytes it was parsed from.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = String::from_utf8_lossy(self.scheme());
        let host = String::from_utf8_lossy(self.host());
        write!(f, "{scheme}://{host}")?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

impl fmt::Display for RequestOrigin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestOrigin::Null => f.write_str("null"),
            RequestOrigin::Tuple(t) => t.fmt(f),
        }
    }
}

/// Why an `Origin` value is not one a browser sends. Used to explain denials.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OriginDefect {
    /// The value is empty.
    Empty,
    /// Longer than [`MAX_ORIGIN_LEN`], or a scheme over 64 bytes.
    TooLong,
    /// No `://` after the scheme.
    NoSchemeSeparator,
    /// The scheme does not match `[a-z][a-z0-9+.-]*`.
    InvalidScheme,
    /// Uppercase letters in the scheme or host.
    Uppercase,
    /// A `/` after the host (a path, or just a trailing slash).
    Path,
    /// A `?` after the host.
    Query,
    /// A `#` after the host.
    Fragment,
    /// `user@` before the host.
    Userinfo,
    /// The host is empty.
    EmptyHost,
    /// An empty label, a label over 63 bytes or a host over 253 bytes.
    InvalidLabel,
    /// A byte that hosts do not have.
    InvalidHostChar,
    /// An IP address not in the form browsers serialize (or not an address at all).
    NonCanonicalIp,
    /// The port is empty, 0, above 65535 or has a leading zero.
    InvalidPort,
    /// The port is the scheme's default, which browsers omit.
    DefaultPort,
}

impl OriginDefect {
    /// A short description, as used in explanations.
    pub fn describe(self) -> &'static str {
        match self {
            OriginDefect::Empty => "the Origin header is empty",
            OriginDefect::TooLong => "the Origin is longer than any origin a browser sends",
            OriginDefect::NoSchemeSeparator => "the Origin has no \"://\" after its scheme",
            OriginDefect::InvalidScheme => "the Origin's scheme is not a valid scheme",
            OriginDefect::Uppercase => "the Origin has uppercase letters; browsers send lowercase",
            OriginDefect::Path => "the Origin has a path or a trailing slash; browsers send none",
            OriginDefect::Query => "the Origin has a query",
            OriginDefect::Fragment => "the Origin has a fragment",
            OriginDefect::Userinfo => "the Origin has userinfo (user@)",
            OriginDefect::EmptyHost => "the Origin has an empty host",
            OriginDefect::InvalidLabel => "the Origin's host has an empty or overlong label",
            OriginDefect::InvalidHostChar => "the Origin's host has a character hosts cannot have",
            OriginDefect::NonCanonicalIp => {
                "the Origin's IP address is not in the form browsers send"
            }
            OriginDefect::InvalidPort => "the Origin's port is not a port browsers send",
            OriginDefect::DefaultPort => {
                "the Origin names the scheme's default port, which browsers omit"
            }
        }
    }
}

impl fmt::Display for OriginDefect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

impl<'a> RequestOrigin<'a> {
    /// Checks `bytes` against the serialized-origin grammar in one pass, without allocating.
    pub fn parse(bytes: &'a [u8]) -> Result<RequestOrigin<'a>, OriginDefect> {
        if bytes.is_empty() {
            return Err(OriginDefect::Empty);
        }
        if bytes.len() > MAX_ORIGIN_LEN {
            return Err(OriginDefect::TooLong);
        }
        if bytes == b"null" {
            return Ok(RequestOrigin::Null);
        }
        parse_tuple(bytes).map(RequestOrigin::Tuple)
    }

    /// The tuple origin, if this is not `null`.
    pub fn as_tuple(&self) -> Option<&TupleOrigin<'a>> {
        match self {
            RequestOrigin::Tuple(t) => Some(t),
            RequestOrigin::Null => None,
        }
    }
}

fn parse_tuple(bytes: &[u8]) -> Result<TupleOrigin<'_>, OriginDefect> {
    // Scheme: [a-z][a-z0-9+.-]*
    let mut i = 0;
    while i < bytes.len() && bytes[i] != b':' {
        let b = bytes[i];
        let ok = b.is_ascii_lowercase() || (i > 0 && (b.is_ascii_digit() || b"+-.".contains(&b)));
        if !ok {
            return Err(if b.is_ascii_uppercase() {
                OriginDefect::Uppercase
            } else {
                OriginDefect::InvalidScheme
            });
        }
        i += 1;
    }
    if i == 0 {
        return Err(OriginDefect::InvalidScheme);
    }
    if i > MAX_SCHEME_LEN {
        return Err(OriginDefect::TooLong);
    }
    let scheme_len = i;
    if !bytes[i..].starts_with(b"://") {
        return Err(OriginDefect::NoSchemeSeparator);
    }
    let host_start = i + 3;
    let rest = &bytes[host_start..];

    // Host: [IPv6] or up to ':' / end.
    let (host_end, host_kind) = if rest.first() == Some(&b'[') {
        let close = rest
            .iter()
            .position(|&b| b == b']')
            .ok_or(OriginDefect::NonCanonicalIp)?;
        host::check_canonical_ipv6(&rest[1..close]).map_err(|_| OriginDefect::NonCanonicalIp)?;
        (host_start + close + 1, HostKind::Ipv6)
    } else {
        let len = rest
            .iter()
            .position(|&b| matches!(b, b':' | b'/' | b'?' | b'#' | b'@'))
            .unwrap_or(rest.len());
        let kind = host::check_host(&rest[..len]).map_err(|defect| match defect {
            HostDefect::Empty => OriginDefect::EmptyHost,
            HostDefect::Uppercase => OriginDefect::Uppercase,
            HostDefect::EmptyLabel | HostDefect::LabelTooLong | HostDefect::TooLong => {
                OriginDefect::InvalidLabel
            }
            HostDefect::BadChar(_) | HostDefect::HyphenAtLabelEdge => OriginDefect::InvalidHostChar,
            HostDefect::NotCanonicalIpv4
            | HostDefect::DotAfterIpv4
            | HostDefect::NotCanonicalIpv6 => OriginDefect::NonCanonicalIp,
        });
        // Report what follows the host in preference to the host's own problems: `a@b` is
        // userinfo, not a bad host.
        match rest.get(len) {
            Some(b'@') => return Err(OriginDefect::Userinfo),
            _ => (host_start + len, kind?),
        }
    };

    // Port, then nothing.
    let mut port = None;
    let mut tail = &bytes[host_end..];
    if let Some(after) = tail.strip_prefix(b":") {
        let digits = after
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(after.len());
        let text = &after[..digits];
        if text.is_empty() || text.len() > 5 || text[0] == b'0' {
            return Err(OriginDefect::InvalidPort);
        }
        let value = text
            .iter()
            .fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'));
        if value > 65535 {
            return Err(OriginDefect::InvalidPort);
        }
        let value = value as u16;
        if host::default_port(&bytes[..scheme_len]) == Some(value) {
            return Err(OriginDefect::DefaultPort);
        }
        port = Some(value);
        tail = &after[digits..];
    }
    match tail.first() {
        None => {}
        Some(b'/') => return Err(OriginDefect::Path),
        Some(b'?') => return Err(OriginDefect::Query),
        Some(b'#') => return Err(OriginDefect::Fragment),
        Some(b'@') => return Err(OriginDefect::Userinfo),
        Some(_) => return Err(OriginDefect::InvalidPort),
    }
    Ok(TupleOrigin {
        bytes,
        scheme_len: scheme_len as u8,
        host_start: host_start as u16,
        host_end: host_end as u16,
        host_kind,
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) {
        let parsed = RequestOrigin::parse(s.as_bytes());
        assert!(parsed.is_ok(), "{s}: {parsed:?}");
        assert_eq!(parsed.unwrap().to_string(), s);
    }

    fn bad(s: &str, defect: OriginDefect) {
        assert_eq!(RequestOrigin::parse(s.as_bytes()), Err(defect), "{s}");
    }

    #[test]
    fn accepts_serialized_origins() {
        ok("https://example.com");
        ok("http://localhost:3000");
        ok("https://a.b.example.com.");
        ok("http://127.0.0.1:8080");
        ok("http://[::1]:8080");
        ok("https://xn--bcher-kva.example");
        ok("chrome-extension://abcdefghijklmnop");
        ok("https://my_host.example.com");
        ok("http://example.com:443");
        ok("null");
    }

    #[test]
    fn refuses_everything_else() {
        bad("", OriginDefect::Empty);
        bad("https://example.com/", OriginDefect::Path);
        bad("https://Example.com", OriginDefect::Uppercase);
        bad("HTTPS://example.com", OriginDefect::Uppercase);
        bad("https://example.com:443", OriginDefect::DefaultPort);
        bad("https://example.com:0", OriginDefect::InvalidPort);
        bad("https://example.com:08080", OriginDefect::InvalidPort);
        bad("https://example.com:65536", OriginDefect::InvalidPort);
        bad("https://example.com:", OriginDefect::InvalidPort);
        bad("https://user@example.com", OriginDefect::Userinfo);
        bad("https://example.com?x", OriginDefect::Query);
        bad("https://example.com#x", OriginDefect::Fragment);
        bad("https://", OriginDefect::EmptyHost);
        bad("example.com", OriginDefect::NoSchemeSeparator);
        bad("https://example..com", OriginDefect::InvalidLabel);
        bad("https://example.com..", OriginDefect::InvalidLabel);
        bad("http://127.1", OriginDefect::NonCanonicalIp);
        bad("http://127.0.0.1.", OriginDefect::NonCanonicalIp);
        bad("http://[::ffff:127.0.0.1]", OriginDefect::NonCanonicalIp);
        bad("http://[0::1]", OriginDefect::NonCanonicalIp);
        bad("https://exa mple.com", OriginDefect::InvalidHostChar);
        bad("https://exa%41mple.com", OriginDefect::InvalidHostChar);
        bad(
            "https://example.com, https://a.com",
            OriginDefect::InvalidHostChar,
        );
        bad("NULL", OriginDefect::Uppercase);
    }
}
