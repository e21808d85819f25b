//! [`CorsRequest`]: the parts of a request a CORS decision reads, borrowed, from an
//! `http::request::Parts`, an `http::HeaderMap`, or raw byte slices for gateways that are not
//! built on the `http` crate.

use http::header::{
    HeaderMap, HeaderName, ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN,
};

/// `Access-Control-Request-Private-Network` (Private Network Access), which `http` has no
/// constant for.
pub const ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK: HeaderName =
    HeaderName::from_static("access-control-request-private-network");

/// The field lines of one header, borrowed from wherever the request lives.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Lines<'r> {
    Absent,
    One(&'r [u8]),
    Slice(&'r [&'r [u8]]),
    Map(&'r HeaderMap, &'static HeaderName),
    Pairs(&'r [(&'r [u8], &'r [u8])], &'static str),
}

/// One field line: its bytes, and the `HeaderValue` it came from when there is one (so that
/// echoing it into a `HeaderMap` is a cheap clone rather than a copy).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Line<'r> {
    pub(crate) bytes: &'r [u8],
    pub(crate) value: Option<&'r http::HeaderValue>,
}

impl<'r> Line<'r> {
    fn bytes(bytes: &'r [u8]) -> Line<'r> {
        Line { bytes, value: None }
    }
}

/// How many lines a header has, and the first.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Single<'r> {
    Absent,
    One(Line<'r>),
    Many,
}

// Statics, so that `Lines::Map` can hold `&'static HeaderName` (a `const` is not promoted:
// `HeaderName` has drop glue).
static ORIGIN_NAME: HeaderName = ORIGIN;
static REQUEST_METHOD_NAME: HeaderName = ACCESS_CONTROL_REQUEST_METHOD;
static REQUEST_HEADERS_NAME: HeaderName = ACCESS_CONTROL_REQUEST_HEADERS;
static REQUEST_PRIVATE_NETWORK_NAME: HeaderName = ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK;

impl<'r> Lines<'r> {
    #[inline]
    pub(crate) fn single(&self) -> Single<'r> {
        match *self {
            Lines::Absent => Single::Absent,
            Lines::One(v) => Single::One(Line::bytes(v)),
            Lines::Slice(s) => match s {
                [] => Single::Absent,
                [one] => Single::One(Line::bytes(one)),
                _ => Single::Many,
            },
            Lines::Map(map, name) => {
                let mut it = map.get_all(name).iter();
                match (it.next(), it.next()) {
                    (None, _) => Single::Absent,
                    (Some(v), None) => Single::One(Line {
                        bytes: v.as_bytes(),
                        value: Some(v),
                    }),
                    _ => Single::Many,
                }
            }
            Lines::Pairs(pairs, name) => {
                let mut it = pairs
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()));
                match (it.next(), it.next()) {
                    (None, _) => Single::Absent,
                    (Some((_, v)), None) => Single::One(Line::bytes(v)),
                    _ => Single::Many,
                }
            }
        }
    }

    #[inline]
    pub(crate) fn is_present(&self) -> bool {
        !matches!(self.single(), Single::Absent)
    }

    /// Calls `f` with each line, in order, until it returns `false`.
    #[inline]
    pub(crate) fn for_each(&self, mut f: impl FnMut(&'r [u8]) -> bool) {
        match *self {
            Lines::Absent => {}
            Lines::One(v) => {
                f(v);
            }
            Lines::Slice(s) => {
                for v in s {
                    if !f(v) {
                        return;
                    }
                }
            }
            Lines::Map(map, name) => {
                for v in map.get_all(name) {
                    if !f(v.as_bytes()) {
                        return;
                    }
                }
            }
            Lines::Pairs(pairs, name) => {
                for (n, v) in pairs {
                    if n.eq_ignore_ascii_case(name.as_bytes()) && !f(v) {
                        return;
                    }
                }
            }
        }
    }
}

/// The request parts that decide CORS: the method, `Origin`,
/// `Access-Control-Request-Method`, every `Access-Control-Request-Headers` line and
/// `Access-Control-Request-Private-Network`.
///
/// Building one costs nothing: it only borrows. Header lookups happen when
/// [`Cors::decide`](crate::Cors::decide) needs them.
///
/// # Example: from raw bytes
/// ```
/// use corsgate::CorsRequest;
///
/// let request = CorsRequest::new(b"OPTIONS")
///     .origin(b"https://app.example.com")
///     .request_method(b"PUT")
///     .request_headers(&[b"content-type,x-token"]);
/// assert!(request.is_preflight());
/// ```
///
/// # Example: from `http`
/// ```
/// use corsgate::CorsRequest;
///
/// let request = http::Request::get("/api")
///     .header("origin", "https://app.example.com")
///     .body(())
///     .unwrap();
/// let cors_request = CorsRequest::from_request(&request);
/// assert!(!cors_request.is_preflight());
/// ```
#[derive(Clone, Copy, Debug)]
pub struct CorsRequest<'r> {
    pub(crate) method: &'r [u8],
    pub(crate) origin: Lines<'r>,
    pub(crate) request_method: Lines<'r>,
    pub(crate) request_headers: Lines<'r>,
    pub(crate) private_network: Lines<'r>,
}

impl<'r> CorsRequest<'r> {
    /// A request with this method and no CORS headers; add them with the setters.
    pub fn new(method: &'r [u8]) -> CorsRequest<'r> {
        CorsRequest {
            method,
            origin: Lines::Absent,
            request_method: Lines::Absent,
            request_headers: Lines::Absent,
            private_network: Lines::Absent,
        }
    }

    /// One `Origin` field line.
    pub fn origin(mut self, value: &'r [u8]) -> CorsRequest<'r> {
        self.origin = Lines::One(value);
        self
    }

    /// Every `Origin` field line (more than one is never allowed).
    pub fn origin_lines(mut self, lines: &'r [&'r [u8]]) -> CorsRequest<'r> {
        self.origin = Lines::Slice(lines);
        self
    }

    /// One `Access-Control-Request-Method` field line.
    pub fn request_method(mut self, value: &'r [u8]) -> CorsRequest<'r> {
        self.request_method = Lines::One(value);
        self
    }

    /// Every `Access-Control-Request-Method` field line (more than one fails the preflight).
    pub fn request_method_lines(mut self, lines: &'r [&'r [u8]]) -> CorsRequest<'r> {
        self.request_method = Lines::Slice(lines);
        self
    }

    /// Every `Access-Control-Request-Headers` field line, in order.
    pub fn request_headers(mut self, lines: &'r [&'r [u8]]) -> CorsRequest<'r> {
        self.request_headers = Lines::Slice(lines);
        self
    }

    /// `Access-Control-Request-Private-Network`.
    pub fn request_private_network(mut self, value: &'r [u8]) -> CorsRequest<'r> {
        self.private_network = Lines::One(value);
        self
    }

    /// From a method and a list of `(name, value)` header pairs; names are compared
    /// case-insensitively and a repeated name means repeated field lines.
    ///
    /// ```
    /// use corsgate::CorsRequest;
    ///
    /// let headers: &[(&[u8], &[u8])] = &[(b"Origin", b"https://a.example"), (b"X-Other", b"1")];
    /// let request = CorsRequest::from_pairs(b"GET", headers);
    /// assert!(request.has_origin());
    /// ```
    pub fn from_pairs(method: &'r [u8], headers: &'r [(&'r [u8], &'r [u8])]) -> CorsRequest<'r> {
        CorsRequest {
            method,
            origin: Lines::Pairs(headers, "origin"),
            request_method: Lines::Pairs(headers, "access-control-request-method"),
            request_headers: Lines::Pairs(headers, "access-control-request-headers"),
            private_network: Lines::Pairs(headers, "access-control-request-private-network"),
        }
    }

    /// From a method and a header map.
    pub fn from_headers(method: &'r http::Method, headers: &'r HeaderMap) -> CorsRequest<'r> {
        CorsRequest {
            method: method.as_str().as_bytes(),
            origin: Lines::Map(headers, &ORIGIN_NAME),
            request_method: Lines::Map(headers, &REQUEST_METHOD_NAME),
            request_headers: Lines::Map(headers, &REQUEST_HEADERS_NAME),
            private_network: Lines::Map(headers, &REQUEST_PRIVATE_NETWORK_NAME),
        }
    }

    /// From request parts.
    pub fn from_parts(parts: &'r http::request::Parts) -> CorsRequest<'r> {
        CorsRequest::from_headers(&parts.method, &parts.headers)
    }

    /// From a request.
    pub fn from_request<B>(request: &'r http::Request<B>) -> CorsRequest<'r> {
        CorsRequest::from_headers(request.method(), request.headers())
    }

    /// The request method.
    pub fn method(&self) -> &'r [u8] {
        self.method
    }

    /// An `Origin` header is present (so the request is a CORS request).
    pub fn has_origin(&self) -> bool {
        self.origin.is_present()
    }

    /// `OPTIONS` with `Origin` and `Access-Control-Request-Method`.
    pub fn is_preflight(&self) -> bool {
        self.method == b"OPTIONS" && self.origin.is_present() && self.request_method.is_present()
    }

    /// The single `Origin` value, if there is exactly one.
    pub fn origin_value(&self) -> Option<&'r [u8]> {
        match self.origin.single() {
            Single::One(line) => Some(line.bytes),
            _ => None,
        }
    }
}
