//! Preflight checks: the requested method, the bounded parse of
//! `Access-Control-Request-Headers`, private network access, and the per-generation verdict
//! cache in `cache.rs`.

pub(crate) mod cache;

use ahash::AHashSet;

use crate::method;
use crate::policy::Policy;
use crate::request::{Lines, Single};
use crate::token::{is_token, trim_ows};

/// At most this many bytes of `Access-Control-Request-Headers`, all field lines summed.
pub const MAX_REQUEST_HEADERS_BYTES: usize = 4096;
/// At most this many names in `Access-Control-Request-Headers` (duplicates count).
pub const MAX_REQUEST_HEADERS_NAMES: usize = 64;
/// At most this many empty elements (`,,`, leading or trailing commas, blank lines) are skipped.
pub const MAX_REQUEST_HEADERS_EMPTY: usize = 16;
pub use crate::method::MAX_REQUEST_METHOD_LEN;

/// Why a preflight's method, headers or private-network request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum PreflightDenial {
    /// More than one `Access-Control-Request-Method` line.
    MultipleRequestMethods = 0,
    /// The requested method is not an HTTP token.
    InvalidRequestMethod,
    /// `CONNECT`, `TRACE` or `TRACK`.
    ForbiddenMethod,
    /// The method is not in `methods`.
    MethodNotAllowed,
    /// `Access-Control-Request-Headers` is over 4 KiB.
    RequestHeadersTooLong,
    /// More than 64 names.
    TooManyRequestHeaders,
    /// More than 16 empty elements.
    TooManyEmptyElements,
    /// An element that is not an HTTP token.
    InvalidRequestHeaderName,
    /// A name not in `allow_headers`.
    HeaderNotAllowed,
    /// `Authorization` was requested; `*` never covers it.
    AuthorizationNotCovered,
    /// `Access-Control-Request-Private-Network: true`, and `private_network` is off.
    PrivateNetworkNotEnabled,
    /// The requested method is longer than 64 bytes.
    RequestMethodTooLong,
}

impl PreflightDenial {
    pub(crate) const ALL: [PreflightDenial; 12] = [
        PreflightDenial::MultipleRequestMethods,
        PreflightDenial::InvalidRequestMethod,
        PreflightDenial::ForbiddenMethod,
        PreflightDenial::MethodNotAllowed,
        PreflightDenial::RequestHeadersTooLong,
        PreflightDenial::TooManyRequestHeaders,
        PreflightDenial::TooManyEmptyElements,
        PreflightDenial::InvalidRequestHeaderName,
        PreflightDenial::HeaderNotAllowed,
        PreflightDenial::AuthorizationNotCovered,
        PreflightDenial::PrivateNetworkNotEnabled,
        PreflightDenial::RequestMethodTooLong,
    ];

    pub(crate) fn from_code(code: u8) -> Option<PreflightDenial> {
        PreflightDenial::ALL.get(usize::from(code)).copied()
    }

    /// A short description, as used in explanations.
    pub fn describe(self) -> &'static str {
        match self {
            PreflightDenial::MultipleRequestMethods => {
                "the preflight has several Access-Control-Request-Method lines"
            }
            PreflightDenial::InvalidRequestMethod => "the requested method is not an HTTP token",
            PreflightDenial::ForbiddenMethod => "CONNECT, TRACE and TRACK are never allowed",
            PreflightDenial::MethodNotAllowed => "the requested method is not in methods",
            PreflightDenial::RequestHeadersTooLong => {
                "Access-Control-Request-Headers is longer than 4 KiB"
            }
            PreflightDenial::TooManyRequestHeaders => {
                "Access-Control-Request-Headers names more than 64 headers"
            }
            PreflightDenial::TooManyEmptyElements => {
                "Access-Control-Request-Headers has more than 16 empty elements"
            }
            PreflightDenial::InvalidRequestHeaderName => {
                "Access-Control-Request-Headers has an element that is not a header name"
            }
            PreflightDenial::HeaderNotAllowed => "a requested header is not in allow_headers",
            PreflightDenial::AuthorizationNotCovered => {
                "Authorization was requested, and `*` never covers it; list it in allow_headers"
            }
            PreflightDenial::PrivateNetworkNotEnabled => {
                "private network access was requested, and private_network is off"
            }
            PreflightDenial::RequestMethodTooLong => "the requested method is longer than 64 bytes",
        }
    }
}

/// The method/headers/private-network part of a preflight's verdict; the Origin is checked
/// separately, so one verdict serves every allowed origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Allowed { headers_requested: bool },
    Denied(PreflightDenial),
}

/// Calls `visit` with each non-empty element of the `Access-Control-Request-Headers` lines,
/// enforcing the bounds whatever the policy allows. Returns how many names there were.
///
/// The byte bound is checked before anything is parsed, so an oversized value costs one pass
/// over the line lengths.
#[inline]
pub(crate) fn parse_request_headers<'r>(
    lines: Lines<'r>,
    mut visit: impl FnMut(&'r [u8]) -> Result<(), PreflightDenial>,
) -> Result<usize, PreflightDenial> {
    let mut total = 0usize;
    lines.for_each(|line| {
        total += line.len();
        total <= MAX_REQUEST_HEADERS_BYTES
    });
    if total > MAX_REQUEST_HEADERS_BYTES {
        return Err(PreflightDenial::RequestHeadersTooLong);
    }
    let mut names = 0usize;
    let mut empty = 0usize;
    let mut result = Ok(());
    lines.for_each(|line| {
        for element in line.split(|&b| b == b',') {
            let name = trim_ows(element);
            if name.is_empty() {
                empty += 1;
                if empty > MAX_REQUEST_HEADERS_EMPTY {
                    result = Err(PreflightDenial::TooManyEmptyElements);
                    return false;
                }
                continue;
            }
            names += 1;
            if names > MAX_REQUEST_HEADERS_NAMES {
                result = Err(PreflightDenial::TooManyRequestHeaders);
                return false;
            }
            if !is_token(name) {
                result = Err(PreflightDenial::InvalidRequestHeaderName);
                return false;
            }
            if let Err(denial) = visit(name) {
                result = Err(denial);
                return false;
            }
        }
        true
    });
    result.map(|()| names)
}

/// Parses `Access-Control-Request-Headers` field lines exactly as preflights are checked —
/// several lines, any case, optional whitespace, duplicates, empty elements skipped — and returns
/// the names in order, or the bound that was violated (more than 4 KiB, 64 names or 16 empty
/// elements) or the first element that is not a header name. For tools and tests: the request
/// path uses the same parser without collecting.
///
/// ```
/// use corsgate::preflight::{parse_request_header_list, PreflightDenial};
///
/// let names = parse_request_header_list(&[b"Content-Type , x-token", b"", b"x-token"]).unwrap();
/// assert_eq!(names, [&b"Content-Type"[..], b"x-token", b"x-token"]);
/// assert_eq!(parse_request_header_list(&[&[b','; 17]]), Err(PreflightDenial::TooManyEmptyElements));
/// ```
pub fn parse_request_header_list<'r>(
    lines: &'r [&'r [u8]],
) -> Result<Vec<&'r [u8]>, PreflightDenial> {
    let mut names = Vec::new();
    parse_request_headers(Lines::Slice(lines), |name| {
        names.push(name);
        Ok(())
    })?;
    Ok(names)
}

/// Header names at or below this many are compared with a linear scan; above, with a hash set.
const LINEAR_HEADER_LIMIT: usize = 8;
/// Request header names are lowercased into a stack buffer of this size for hash lookups.
const NAME_BUFFER: usize = 128;

/// A policy's method and header rules, compiled for request time.
#[derive(Debug)]
pub(crate) struct PreflightRules {
    methods_any: bool,
    methods: Vec<Box<[u8]>>,
    headers_any: bool,
    authorization_listed: bool,
    headers: Vec<Box<[u8]>>,
    header_set: AHashSet<Box<[u8]>>,
    longest_header: usize,
    private_network: bool,
}

impl PreflightRules {
    pub(crate) fn new(policy: &Policy) -> PreflightRules {
        let headers: Vec<Box<[u8]>> = policy
            .allow_headers()
            .list()
            .iter()
            .map(|h| h.as_bytes().into())
            .collect();
        PreflightRules {
            methods_any: policy.methods().is_any(),
            methods: policy
                .methods()
                .list()
                .iter()
                .map(|m| m.as_bytes().into())
                .collect(),
            headers_any: policy.allow_headers().is_any(),
            authorization_listed: policy.allow_headers().lists_authorization(),
            longest_header: headers.iter().map(|h| h.len()).max().unwrap_or(0),
            header_set: if headers.len() > LINEAR_HEADER_LIMIT {
                headers.iter().cloned().collect()
            } else {
                AHashSet::new()
            },
            headers,
            private_network: policy.private_network(),
        }
    }

    /// The method as compared and echoed: Fetch-normalised for the six standard methods.
    #[inline]
    pub(crate) fn normalize_method(requested: &[u8]) -> &[u8] {
        method::normalize(requested).map_or(requested, str::as_bytes)
    }

    /// The single requested method, normalised as [`normalize_method`](Self::normalize_method)
    /// does; empty when the request has none or several.
    #[inline]
    pub(crate) fn requested_method(lines: Lines<'_>) -> &[u8] {
        match lines.single() {
            Single::One(line) => Self::normalize_method(line.bytes),
            _ => b"",
        }
    }

    #[inline]
    fn check_method(&self, requested: &[u8]) -> Result<(), PreflightDenial> {
        // Before anything reads the whole value.
        if requested.len() > MAX_REQUEST_METHOD_LEN {
            return Err(PreflightDenial::RequestMethodTooLong);
        }
        if !is_token(requested) {
            return Err(PreflightDenial::InvalidRequestMethod);
        }
        if method::is_forbidden(requested) {
            return Err(PreflightDenial::ForbiddenMethod);
        }
        let normalized = Self::normalize_method(requested);
        if self.methods_any
            || method::is_safelisted(normalized)
            || self.methods.iter().any(|m| **m == *normalized)
        {
            Ok(())
        } else {
            Err(PreflightDenial::MethodNotAllowed)
        }
    }

    #[inline]
    fn is_listed(&self, name: &[u8]) -> bool {
        if name.len() > self.longest_header {
            return false;
        }
        if self.header_set.is_empty() || name.len() > NAME_BUFFER {
            return self.headers.iter().any(|h| h.eq_ignore_ascii_case(name));
        }
        let mut buf = [0u8; NAME_BUFFER];
        let lower = &mut buf[..name.len()];
        lower.copy_from_slice(name);
        lower.make_ascii_lowercase();
        self.header_set.contains(&*lower)
    }

    #[inline]
    fn check_header(&self, name: &[u8]) -> Result<(), PreflightDenial> {
        if self.headers_any {
            if !self.authorization_listed && name.eq_ignore_ascii_case(b"authorization") {
                return Err(PreflightDenial::AuthorizationNotCovered);
            }
            return Ok(());
        }
        if self.is_listed(name) {
            Ok(())
        } else {
            Err(PreflightDenial::HeaderNotAllowed)
        }
    }

    /// The verdict for one requested method, the request-headers lines and whether private
    /// network access was requested. Never allocates.
    pub(crate) fn verdict(
        &self,
        requested_method: &[u8],
        request_headers: Lines<'_>,
        private_network_requested: bool,
    ) -> Verdict {
        if let Err(denial) = self.check_method(requested_method) {
            return Verdict::Denied(denial);
        }
        let names = match parse_request_headers(request_headers, |name| self.check_header(name)) {
            Ok(names) => names,
            Err(denial) => return Verdict::Denied(denial),
        };
        if private_network_requested && !self.private_network {
            return Verdict::Denied(PreflightDenial::PrivateNetworkNotEnabled);
        }
        Verdict::Allowed {
            headers_requested: names > 0,
        }
    }

    /// The first requested header name that the policy refuses, for explanations.
    pub(crate) fn first_refused_header(&self, request_headers: Lines<'_>) -> Option<String> {
        let mut refused = None;
        let _ = parse_request_headers(request_headers, |name| {
            self.check_header(name).inspect_err(|_| {
                refused = Some(String::from_utf8_lossy(name).into_owned());
            })
        });
        refused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(lines: &[&[u8]]) -> Result<Vec<String>, PreflightDenial> {
        let mut out = Vec::new();
        parse_request_headers(Lines::Slice(lines), |n| {
            out.push(String::from_utf8_lossy(n).into_owned());
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn tolerant_parsing() {
        assert_eq!(names(&[b"a,b"]).unwrap(), ["a", "b"]);
        assert_eq!(names(&[b" A , b ", b"", b",c,"]).unwrap(), ["A", "b", "c"]);
        assert_eq!(names(&[b"a\t,\tb"]).unwrap(), ["a", "b"]);
        assert!(names(&[]).unwrap().is_empty());
    }

    #[test]
    fn bounds() {
        let long = vec![b'a'; MAX_REQUEST_HEADERS_BYTES + 1];
        assert_eq!(names(&[&long]), Err(PreflightDenial::RequestHeadersTooLong));
        let exactly = vec![b'a'; MAX_REQUEST_HEADERS_BYTES];
        assert_eq!(names(&[&exactly]).unwrap().len(), 1);
        let commas = vec![b','; MAX_REQUEST_HEADERS_EMPTY - 1]; // 16 empty elements
        assert!(names(&[&commas]).is_ok());
        let commas = vec![b','; MAX_REQUEST_HEADERS_EMPTY]; // 17
        assert_eq!(
            names(&[&commas]),
            Err(PreflightDenial::TooManyEmptyElements)
        );
        let many = vec!["x"; MAX_REQUEST_HEADERS_NAMES].join(",");
        assert!(names(&[many.as_bytes()]).is_ok());
        let many = vec!["x"; MAX_REQUEST_HEADERS_NAMES + 1].join(",");
        assert_eq!(
            names(&[many.as_bytes()]),
            Err(PreflightDenial::TooManyRequestHeaders)
        );
        assert_eq!(
            names(&[b"a b"]),
            Err(PreflightDenial::InvalidRequestHeaderName)
        );
    }
}
