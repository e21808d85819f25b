//! [`BrowserCheck`]: what a browser concludes from a response's CORS headers for one request —
//! the Fetch standard's CORS check and CORS-preflight check, for a request sent without
//! credentials and for one sent with them — and [`Difference`], how two such conclusions
//! differ. Shadow policies and report-only mode (design §9) compare conclusions, never header
//! bytes, so that spacing, order, letter case of names, several field lines against one, or
//! `*` against an echoed origin where both allow are never counted as differences.
//!
//! [`BrowserCheck`] documents what is compared.

use std::borrow::Cow;

use http::header::{
    HeaderMap, HeaderName, ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS,
    ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, VARY,
};
use http::StatusCode;

use crate::decision::Decision;
use crate::headers::ResponseHeader;
use crate::request::CorsRequest;
use crate::token::{is_token, trim_ows};

/// How a second conclusion differs from the first (the serving policy's, or the upstream's
/// in report-only mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Difference {
    /// The first allowed the request; the second would deny it.
    AllowedToDenied,
    /// The first denied the request; the second would allow it.
    DeniedToAllowed,
    /// Both allow it (or both deny it), but the browser would conclude something different:
    /// credentials, a preflight's method or headers, the exposed headers, an echoed Origin
    /// without `Vary: Origin`.
    Headers,
}

impl Difference {
    /// Every difference, in a stable order.
    pub const ALL: [Difference; 3] = [
        Difference::AllowedToDenied,
        Difference::DeniedToAllowed,
        Difference::Headers,
    ];

    /// The stable snake_case name used as a metric label: `allowed_to_denied`,
    /// `denied_to_allowed` or `headers`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Difference::AllowedToDenied => "allowed_to_denied",
            Difference::DeniedToAllowed => "denied_to_allowed",
            Difference::Headers => "headers",
        }
    }
}

/// Which check a request gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    /// No `Origin`: no browser check.
    None,
    Actual,
    Preflight,
}

/// The response headers a page may read, for one credentials mode.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Exposure {
    /// `*` without credentials.
    All,
    /// These names, lowercased, sorted, once each.
    Names(Vec<Box<[u8]>>),
}

/// What a browser concludes from a response's CORS headers for one request.
///
/// What is compared, for a request with an `Origin` (a request without one is checked by no
/// browser, and two conclusions about it never differ):
/// - **actual requests**: the [CORS check] without and with credentials; for each mode that
///   passes, the response headers exposed to the page (`Access-Control-Expose-Headers`, `*`
///   meaning all of them without credentials only); and whether the response echoes the
///   Origin without `Vary: Origin` (a response a shared cache would hand to other origins);
/// - **preflights**: the [CORS-preflight check] without and with credentials — an ok status,
///   the CORS check, the requested method (`Access-Control-Allow-Methods`, CORS-safelisted
///   methods and, without credentials, `*`), and each requested header
///   (`Access-Control-Allow-Headers`; `*` covers every name but `Authorization`, and only
///   without credentials).
///
/// Not compared: `Access-Control-Max-Age` (how long a browser caches the answer, not what it
/// concludes), `Access-Control-Allow-Private-Network`, and `Vary` on denied responses and on
/// preflights (one response cannot show that a cache would mix it up with another; `OPTIONS`
/// responses are not stored by shared caches).
///
/// [CORS check]: https://fetch.spec.whatwg.org/#cors-check
/// [CORS-preflight check]: https://fetch.spec.whatwg.org/#cors-preflight-fetch
///
/// # Example
/// ```
/// use corsgate::{BrowserCheck, CorsRequest, Difference};
/// use http::{HeaderMap, HeaderValue, StatusCode};
///
/// let request = CorsRequest::new(b"GET").origin(b"https://app.example");
/// let mut echoed = HeaderMap::new();
/// echoed.insert("access-control-allow-origin", HeaderValue::from_static("https://app.example"));
/// echoed.insert("vary", HeaderValue::from_static("Accept-Encoding, Origin"));
/// let mut star = HeaderMap::new();
/// star.insert("access-control-allow-origin", HeaderValue::from_static("*"));
///
/// let a = BrowserCheck::of_response(&request, StatusCode::OK, &echoed);
/// let b = BrowserCheck::of_response(&request, StatusCode::OK, &star);
/// // `*` against an echoed origin, both without credentials: the same conclusion.
/// assert!(a.is_allowed() && b.is_allowed());
/// assert_eq!(a.difference(&b), None);
/// assert_eq!(a.difference(&BrowserCheck::of_response(&request, StatusCode::OK, &HeaderMap::new())),
///            Some(Difference::AllowedToDenied));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrowserCheck {
    check: Check,
    /// The CORS check (actual) or CORS-preflight check (preflight) passes: without
    /// credentials, with credentials.
    passes: [bool; 2],
    /// For actual requests, per mode that passes: what the page may read.
    exposed: [Option<Exposure>; 2],
    /// For actual requests: the Origin echoed without `Vary: Origin` (or `Vary: *`).
    echo_without_vary: bool,
}

/// The CORS fields of a response, each field's lines combined as Fetch's "get" does (joined
/// by `, `).
#[derive(Default)]
struct Fields<'a> {
    allow_origin: Option<Cow<'a, [u8]>>,
    allow_credentials: Option<Cow<'a, [u8]>>,
    allow_methods: Option<Cow<'a, [u8]>>,
    allow_headers: Option<Cow<'a, [u8]>>,
    expose_headers: Option<Cow<'a, [u8]>>,
    vary: Option<Cow<'a, [u8]>>,
}

fn combine<'a>(slot: &mut Option<Cow<'a, [u8]>>, value: Cow<'a, [u8]>) {
    match slot {
        None => *slot = Some(value),
        Some(existing) => {
            let joined = existing.to_mut();
            joined.extend_from_slice(b", ");
            joined.extend_from_slice(&value);
        }
    }
}

impl BrowserCheck {
    /// The browser's conclusion from a response with this status and these headers (an
    /// upstream's response, say).
    pub fn of_response(
        request: &CorsRequest<'_>,
        status: StatusCode,
        headers: &HeaderMap,
    ) -> BrowserCheck {
        let check = check_of(request);
        if check == Check::None {
            return BrowserCheck::none();
        }
        let mut fields = Fields::default();
        let names: [(&HeaderName, usize); 6] = [
            (&ACCESS_CONTROL_ALLOW_ORIGIN, 0),
            (&ACCESS_CONTROL_ALLOW_CREDENTIALS, 1),
            (&ACCESS_CONTROL_ALLOW_METHODS, 2),
            (&ACCESS_CONTROL_ALLOW_HEADERS, 3),
            (&ACCESS_CONTROL_EXPOSE_HEADERS, 4),
            (&VARY, 5),
        ];
        for (name, slot) in names {
            for value in headers.get_all(name) {
                combine(fields.slot(slot), Cow::Borrowed(value.as_bytes()));
            }
        }
        BrowserCheck::evaluate(request, check, status.is_success(), &fields)
    }

    /// The browser's conclusion from the response `decision` makes: the preflight corsgate
    /// answers, or corsgate's headers on the upstream's response (whose own CORS headers
    /// they replace). A request on an `off` route gets no headers from corsgate; compare
    /// such requests by the upstream's response instead.
    pub fn of_decision(request: &CorsRequest<'_>, decision: &Decision<'_, '_>) -> BrowserCheck {
        let check = check_of(request);
        if check == Check::None {
            return BrowserCheck::none();
        }
        let mut fields = Fields::default();
        for (header, value) in decision.headers() {
            let slot = match header {
                ResponseHeader::AllowOrigin => 0,
                ResponseHeader::AllowCredentials => 1,
                ResponseHeader::AllowMethods => 2,
                ResponseHeader::AllowHeaders => 3,
                ResponseHeader::ExposeHeaders => 4,
                ResponseHeader::Vary => 5,
                _ => continue,
            };
            combine(fields.slot(slot), value.as_bytes());
        }
        // An answered preflight has its status; a forwarded one gets the upstream's, which
        // this cannot know: taken as ok (a denied one carries no Allow-Origin anyway).
        let ok = decision.status().is_none_or(|s| s.is_success());
        BrowserCheck::evaluate(request, check, ok, &fields)
    }

    fn none() -> BrowserCheck {
        BrowserCheck {
            check: Check::None,
            passes: [false; 2],
            exposed: [None, None],
            echo_without_vary: false,
        }
    }

    fn evaluate(
        request: &CorsRequest<'_>,
        check: Check,
        ok_status: bool,
        fields: &Fields<'_>,
    ) -> BrowserCheck {
        let origin = request.origin_value();
        let cors_check = |credentials: bool| -> bool {
            let Some(allow) = fields.allow_origin.as_deref().map(trim_ows) else {
                return false;
            };
            if !credentials && allow == b"*" {
                return true;
            }
            if origin != Some(allow) {
                return false;
            }
            !credentials || fields.allow_credentials.as_deref().map(trim_ows) == Some(b"true")
        };
        let mut result = BrowserCheck {
            check,
            passes: [cors_check(false), cors_check(true)],
            exposed: [None, None],
            echo_without_vary: false,
        };
        match check {
            Check::None => {}
            Check::Actual => {
                for mode in 0..2 {
                    if result.passes[mode] {
                        result.exposed[mode] =
                            Some(exposure(fields.expose_headers.as_deref(), mode == 1));
                    }
                }
                result.echo_without_vary = match fields.allow_origin.as_deref().map(trim_ows) {
                    Some(allow) if allow != b"*" => !varies_on_origin(fields.vary.as_deref()),
                    _ => false,
                };
            }
            Check::Preflight => {
                for mode in 0..2 {
                    result.passes[mode] = result.passes[mode]
                        && ok_status
                        && preflight_grants(request, fields, mode == 1);
                }
            }
        }
        result
    }

    /// The browser lets the page go on in some credentials mode: it may read the response
    /// (actual request), or it sends the actual request (preflight).
    pub fn is_allowed(&self) -> bool {
        self.passes[0] || self.passes[1]
    }

    /// How `other` differs from `self`, or `None` when a browser concludes the same from
    /// both.
    pub fn difference(&self, other: &BrowserCheck) -> Option<Difference> {
        match (self.is_allowed(), other.is_allowed()) {
            (true, false) => Some(Difference::AllowedToDenied),
            (false, true) => Some(Difference::DeniedToAllowed),
            _ if self != other => Some(Difference::Headers),
            _ => None,
        }
    }
}

impl<'a> Fields<'a> {
    fn slot(&mut self, slot: usize) -> &mut Option<Cow<'a, [u8]>> {
        match slot {
            0 => &mut self.allow_origin,
            1 => &mut self.allow_credentials,
            2 => &mut self.allow_methods,
            3 => &mut self.allow_headers,
            4 => &mut self.expose_headers,
            _ => &mut self.vary,
        }
    }
}

fn check_of(request: &CorsRequest<'_>) -> Check {
    if request.origin_value().is_none() {
        // No Origin, or several (a browser sends one): no check a browser makes.
        Check::None
    } else if request.is_preflight() {
        Check::Preflight
    } else {
        Check::Actual
    }
}

/// A `#token` list's elements, OWS trimmed, empty elements skipped; `None` when an element is
/// not a token (Fetch's "extract header list values" fails, and so does the preflight).
fn list(value: &[u8]) -> Option<Vec<&[u8]>> {
    let mut items = Vec::new();
    for item in value.split(|&b| b == b',') {
        let item = trim_ows(item);
        if item.is_empty() {
            continue;
        }
        if !is_token(item) {
            return None;
        }
        items.push(item);
    }
    Some(items)
}

fn exposure(value: Option<&[u8]>, credentials: bool) -> Exposure {
    let items = value.and_then(list).unwrap_or_default();
    if !credentials && items.iter().any(|i| *i == b"*") {
        return Exposure::All;
    }
    let mut names: Vec<Box<[u8]>> = items
        .iter()
        .map(|i| i.to_ascii_lowercase().into_boxed_slice())
        .collect();
    names.sort();
    names.dedup();
    Exposure::Names(names)
}

fn varies_on_origin(vary: Option<&[u8]>) -> bool {
    vary.is_some_and(|v| {
        v.split(|&b| b == b',')
            .map(trim_ows)
            .any(|name| name == b"*" || name.eq_ignore_ascii_case(b"origin"))
    })
}

/// The method and header part of the CORS-preflight check, for one credentials mode.
fn preflight_grants(request: &CorsRequest<'_>, fields: &Fields<'_>, credentials: bool) -> bool {
    let Some(methods) = fields
        .allow_methods
        .as_deref()
        .map_or(Some(Vec::new()), list)
    else {
        return false;
    };
    let Some(names) = fields
        .allow_headers
        .as_deref()
        .map_or(Some(Vec::new()), list)
    else {
        return false;
    };
    let method = match request.request_method.single() {
        crate::request::Single::One(line) => trim_ows(line.bytes),
        _ => return false,
    };
    let method_ok = matches!(method, b"GET" | b"HEAD" | b"POST")
        || methods.contains(&method)
        || (!credentials && methods.contains(&&b"*"[..]));
    if !method_ok {
        return false;
    }
    let star = !credentials && names.contains(&&b"*"[..]);
    let mut granted = true;
    request.request_headers.for_each(|line| {
        for name in line.split(|&b| b == b',').map(trim_ows) {
            if name.is_empty() {
                continue;
            }
            let listed = names.iter().any(|n| n.eq_ignore_ascii_case(name));
            let wildcard = star && !name.eq_ignore_ascii_case(b"authorization");
            if !listed && !wildcard {
                granted = false;
                return false;
            }
        }
        true
    });
    granted
}

#[cfg(test)]
mod tests;
