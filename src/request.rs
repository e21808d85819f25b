//! [`CorsRequest`]: the parts of a request a CORS decision reads, borrowed, from an
//! `http::request::Parts`, an `http::HeaderMap`, or raw byte slices for gateways that are not
//! built on the `http` crate.

use http::header::{
    HeaderMap, HeaderName, ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, HOST,
    ORIGIN,
};

/// `Access-Control-Request-Private-Network` (Private Network Access), which `http` has no
/// constant for.
pub const ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK: HeaderName =
    HeaderName::from_static("access-control-request-private-network");

/// Which request header a `Lines` reads from a map or a pair list. A one-byte id keeps
/// `Lines` at 24 bytes, so that copying a request into a decision stays cheap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    Origin,
    RequestMethod,
    RequestHeaders,
    RequestPrivateNetwork,
    Host,
}

impl Field {
    #[inline]
    fn name(self) -> &'static HeaderName {
        match self {
            Field::Origin => &ORIGIN_NAME,
            Field::RequestMethod => &REQUEST_METHOD_NAME,
            Field::RequestHeaders => &REQUEST_HEADERS_NAME,
            Field::RequestPrivateNetwork => &REQUEST_PRIVATE_NETWORK_NAME,
            Field::Host => &HOST_NAME,
        }
    }

    #[inline]
    fn lowercase(self) -> &'static [u8] {
        self.name().as_str().as_bytes()
    }
}

/// The field lines of one header, borrowed from wherever the request lives.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Lines<'r> {
    Absent,
    One(&'r [u8]),
    Slice(&'r [&'r [u8]]),
    Map(&'r HeaderMap, Field),
    Pairs(&'r [(&'r [u8], &'r [u8])], Field),
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
static HOST_NAME: HeaderName = HOST;

impl<'r> Lines<'r> {
    #[inline(always)]
    pub(crate) fn single(&self) -> Single<'r> {
        match *self {
            Lines::Absent => Single::Absent,
            Lines::One(v) => Single::One(Line::bytes(v)),
            Lines::Slice(s) => match s {
                [] => Single::Absent,
                [one] => Single::One(Line::bytes(one)),
                _ => Single::Many,
            },
            Lines::Map(map, field) => {
                let mut it = MapLines::new(map, field);
                match (it.next(), it.next()) {
                    (None, _) => Single::Absent,
                    (Some(v), None) => Single::One(Line {
                        bytes: v.as_bytes(),
                        value: Some(v),
                    }),
                    _ => Single::Many,
                }
            }
            Lines::Pairs(pairs, field) => {
                let name = field.lowercase();
                let mut it = pairs.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name));
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
            Lines::Map(map, field) => {
                for v in MapLines::new(map, field) {
                    if !f(v.as_bytes()) {
                        return;
                    }
                }
            }
            Lines::Pairs(pairs, field) => {
                let name = field.lowercase();
                for (n, v) in pairs {
                    if n.eq_ignore_ascii_case(name) && !f(v) {
                        return;
                    }
                }
            }
        }
    }
}

/// Up to this many distinct names, a custom-named header is found by comparing names rather
/// than by `HeaderMap`'s lookup, which hashes a custom name byte by byte (FNV): for the
/// 38 bytes of `Access-Control-Request-Private-Network` that cost more than comparing against
/// a browser preflight's dozen names, nearly all of which differ in kind (standard vs custom)
/// or length. Past it, the lookup's cost does not grow with the map and the scan's would.
const SCAN_CUSTOM_NAME_UP_TO: usize = 24;

/// The values of one header in a `HeaderMap`, in order.
enum MapLines<'r> {
    Lookup(http::header::ValueIter<'r, http::HeaderValue>),
    Scan(
        http::header::Iter<'r, http::HeaderValue>,
        &'static HeaderName,
    ),
}

impl<'r> MapLines<'r> {
    #[inline(always)]
    fn new(map: &'r HeaderMap, field: Field) -> MapLines<'r> {
        let name = field.name();
        // Only Access-Control-Request-Private-Network has a custom name; hashing the
        // standard ones is cheap (their hash is of a small enum).
        if field == Field::RequestPrivateNetwork && map.keys_len() <= SCAN_CUSTOM_NAME_UP_TO {
            MapLines::Scan(map.iter(), name)
        } else {
            MapLines::Lookup(map.get_all(name).iter())
        }
    }
}

impl<'r> Iterator for MapLines<'r> {
    type Item = &'r http::HeaderValue;

    #[inline]
    fn next(&mut self) -> Option<&'r http::HeaderValue> {
        match self {
            MapLines::Lookup(it) => it.next(),
            MapLines::Scan(it, name) => it.find(|(n, _)| n == name).map(|(_, v)| v),
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
    /// The `Host` field lines (read only when the policy set has routes).
    pub(crate) host: Lines<'r>,
    /// Where the path (and, for absolute-form and HTTP/2 requests, the host) comes from.
    pub(crate) target: Target<'r>,
}

/// The request target, for choosing a route: read only when the policy set has routes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Target<'r> {
    Absent,
    /// A URI: its path, and its authority when it has one.
    Uri(&'r http::Uri),
    /// A raw request target (path and query; an absolute form is read as a path).
    Raw(&'r [u8]),
}

impl<'r> CorsRequest<'r> {
    /// A request with this method and no CORS headers; add them with the setters.
    #[inline]
    pub fn new(method: &'r [u8]) -> CorsRequest<'r> {
        CorsRequest {
            method,
            origin: Lines::Absent,
            request_method: Lines::Absent,
            request_headers: Lines::Absent,
            private_network: Lines::Absent,
            host: Lines::Absent,
            target: Target::Absent,
        }
    }

    /// The request's host (a `Host` value, or the URI's authority), for choosing a route of a
    /// policy set: its port and one trailing dot are dropped and it is compared lowercase.
    #[inline]
    pub fn host(mut self, value: &'r [u8]) -> CorsRequest<'r> {
        self.host = Lines::One(value);
        self
    }

    /// The request's raw path (a query after `?` is ignored), for choosing a route of a policy
    /// set. It is never decoded or normalised: put corsgate after your own path
    /// normalisation, or refuse paths with `.`/`..` segments and encoded `/`, `\` and `.`
    /// (as `corsgate serve` does), so that no upstream reads the path differently from the
    /// route that decided.
    #[inline]
    pub fn path(mut self, value: &'r [u8]) -> CorsRequest<'r> {
        self.target = Target::Raw(value);
        self
    }

    /// A request's URI: its path, and its authority as the host when it has one (absolute
    /// form, HTTP/2), which then wins over `Host`.
    #[inline]
    pub fn uri(mut self, uri: &'r http::Uri) -> CorsRequest<'r> {
        self.target = Target::Uri(uri);
        self
    }

    /// The host a route is chosen by, as the request has it: the URI's authority when it has
    /// one, else the single `Host` value (`None` when missing or given more than once).
    #[inline]
    pub fn host_value(&self) -> Option<&'r [u8]> {
        if let Target::Uri(uri) = self.target {
            if let Some(authority) = uri.authority() {
                return Some(authority.as_str().as_bytes());
            }
        }
        match self.host.single() {
            Single::One(line) => Some(line.bytes),
            _ => None,
        }
    }

    /// The raw path a route is chosen by (empty when unknown, which routes read as `/`).
    #[inline]
    pub fn path_value(&self) -> &'r [u8] {
        match self.target {
            Target::Absent => b"",
            Target::Raw(path) => path,
            Target::Uri(uri) => uri.path().as_bytes(),
        }
    }

    /// One `Origin` field line.
    #[inline]
    pub fn origin(mut self, value: &'r [u8]) -> CorsRequest<'r> {
        self.origin = Lines::One(value);
        self
    }

    /// Every `Origin` field line (more than one is never allowed).
    #[inline]
    pub fn origin_lines(mut self, lines: &'r [&'r [u8]]) -> CorsRequest<'r> {
        self.origin = Lines::Slice(lines);
        self
    }

    /// One `Access-Control-Request-Method` field line.
    #[inline]
    pub fn request_method(mut self, value: &'r [u8]) -> CorsRequest<'r> {
        self.request_method = Lines::One(value);
        self
    }

    /// Every `Access-Control-Request-Method` field line (more than one fails the preflight).
    #[inline]
    pub fn request_method_lines(mut self, lines: &'r [&'r [u8]]) -> CorsRequest<'r> {
        self.request_method = Lines::Slice(lines);
        self
    }

    /// Every `Access-Control-Request-Headers` field line, in order.
    #[inline]
    pub fn request_headers(mut self, lines: &'r [&'r [u8]]) -> CorsRequest<'r> {
        self.request_headers = Lines::Slice(lines);
        self
    }

    /// `Access-Control-Request-Private-Network`.
    #[inline]
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
    #[inline]
    pub fn from_pairs(method: &'r [u8], headers: &'r [(&'r [u8], &'r [u8])]) -> CorsRequest<'r> {
        CorsRequest {
            method,
            origin: Lines::Pairs(headers, Field::Origin),
            request_method: Lines::Pairs(headers, Field::RequestMethod),
            request_headers: Lines::Pairs(headers, Field::RequestHeaders),
            private_network: Lines::Pairs(headers, Field::RequestPrivateNetwork),
            host: Lines::Pairs(headers, Field::Host),
            target: Target::Absent,
        }
    }

    /// From a method and a header map.
    #[inline]
    pub fn from_headers(method: &'r http::Method, headers: &'r HeaderMap) -> CorsRequest<'r> {
        CorsRequest {
            method: method.as_str().as_bytes(),
            origin: Lines::Map(headers, Field::Origin),
            request_method: Lines::Map(headers, Field::RequestMethod),
            request_headers: Lines::Map(headers, Field::RequestHeaders),
            private_network: Lines::Map(headers, Field::RequestPrivateNetwork),
            host: Lines::Map(headers, Field::Host),
            target: Target::Absent,
        }
    }

    /// From request parts: the method, the headers, and the URI (path, and authority as the
    /// host when present).
    #[inline]
    pub fn from_parts(parts: &'r http::request::Parts) -> CorsRequest<'r> {
        CorsRequest::from_headers(&parts.method, &parts.headers).uri(&parts.uri)
    }

    /// From a request, like [`from_parts`](CorsRequest::from_parts).
    #[inline]
    pub fn from_request<B>(request: &'r http::Request<B>) -> CorsRequest<'r> {
        CorsRequest::from_headers(request.method(), request.headers()).uri(request.uri())
    }

    /// The request method.
    #[inline]
    pub fn method(&self) -> &'r [u8] {
        self.method
    }

    /// An `Origin` header is present (so the request is a CORS request).
    #[inline]
    pub fn has_origin(&self) -> bool {
        self.origin.is_present()
    }

    /// `OPTIONS` with `Origin` and `Access-Control-Request-Method`.
    #[inline]
    pub fn is_preflight(&self) -> bool {
        self.method == b"OPTIONS" && self.origin.is_present() && self.request_method.is_present()
    }

    /// The single `Origin` value, if there is exactly one.
    #[inline]
    pub fn origin_value(&self) -> Option<&'r [u8]> {
        match self.origin.single() {
            Single::One(line) => Some(line.bytes),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(extra: usize, private_network: &[&'static str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(ORIGIN, http::HeaderValue::from_static("https://a.example"));
        for i in 0..extra {
            let name = HeaderName::try_from(format!("x-filler-{i}")).unwrap();
            map.insert(name, http::HeaderValue::from_static("1"));
        }
        for v in private_network {
            map.append(
                ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK,
                http::HeaderValue::from_static(v),
            );
        }
        map
    }

    fn lines(map: &HeaderMap) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        Lines::Map(map, Field::RequestPrivateNetwork).for_each(|l| {
            out.push(l.to_vec());
            true
        });
        out
    }

    /// The private-network header is found the same way whether the map is small enough to
    /// scan or large enough to look it up.
    #[test]
    fn private_network_lines_by_scan_and_by_lookup() {
        for extra in [0, SCAN_CUSTOM_NAME_UP_TO - 2, SCAN_CUSTOM_NAME_UP_TO + 8] {
            let absent = map(extra, &[]);
            assert!(lines(&absent).is_empty(), "{extra}");
            assert!(!Lines::Map(&absent, Field::RequestPrivateNetwork).is_present());

            let one = map(extra, &["true"]);
            assert_eq!(lines(&one), [b"true".to_vec()], "{extra}");
            assert!(matches!(
                Lines::Map(&one, Field::RequestPrivateNetwork).single(),
                Single::One(Line { bytes: b"true", .. })
            ));

            let two = map(extra, &["false", "true"]);
            assert_eq!(
                lines(&two),
                [b"false".to_vec(), b"true".to_vec()],
                "{extra}"
            );
            assert!(matches!(
                Lines::Map(&two, Field::RequestPrivateNetwork).single(),
                Single::Many
            ));
        }
    }
}
