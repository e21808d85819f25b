//! The CORS response headers, one per file. Each renders its value once, when a policy is
//! compiled into a generation, both as an `http::HeaderValue` and as a ready HTTP/1 line
//! (`Name: value\r\n`); request-time work is choosing which rendered values apply and, where
//! the policy says to echo, borrowing the request's bytes.

mod allow_credentials;
mod allow_headers;
mod allow_methods;
mod allow_origin;
mod allow_private_network;
mod expose_headers;
mod interned;
mod max_age;
pub(crate) mod vary;

pub(crate) use allow_credentials::AllowCredentials;
pub(crate) use allow_headers::AllowHeaders;
pub(crate) use allow_methods::AllowMethods;
pub(crate) use allow_origin::AllowOrigin;
pub(crate) use allow_private_network::AllowPrivateNetwork;
pub(crate) use expose_headers::ExposeHeaders;
pub(crate) use max_age::MaxAge;
pub(crate) use vary::Vary;

use std::borrow::Cow;
use std::fmt;

use http::header::{self, HeaderName, HeaderValue};

use crate::policy::Policy;
use crate::request::Lines;

/// `Access-Control-Allow-Private-Network`, which `http` has no constant for.
pub const ACCESS_CONTROL_ALLOW_PRIVATE_NETWORK: HeaderName =
    HeaderName::from_static("access-control-allow-private-network");

/// The response headers corsgate writes, one row each: the variant, its `HeaderName`, its
/// lowercase name and its HTTP/1 capitalisation (a test checks the three spellings agree).
macro_rules! response_headers {
    ($($variant:ident => $name:expr, $lower:literal, $http1:literal;)*) => {
        /// A response header corsgate writes.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ResponseHeader {
            $(
                #[doc = concat!("`", $http1, "`")]
                $variant,
            )*
        }

        impl ResponseHeader {
            /// The header's name.
            pub fn name(self) -> HeaderName {
                match self {
                    $(ResponseHeader::$variant => $name,)*
                }
            }

            /// The name in lowercase, as HTTP/2 and the `decide` protocol write it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ResponseHeader::$variant => $lower,)*
                }
            }

            /// The name as HTTP/1 responses conventionally capitalise it.
            pub fn http1_name(self) -> &'static str {
                match self {
                    $(ResponseHeader::$variant => $http1,)*
                }
            }
        }
    };
}

response_headers! {
    AllowOrigin => header::ACCESS_CONTROL_ALLOW_ORIGIN,
        "access-control-allow-origin", "Access-Control-Allow-Origin";
    AllowCredentials => header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        "access-control-allow-credentials", "Access-Control-Allow-Credentials";
    AllowMethods => header::ACCESS_CONTROL_ALLOW_METHODS,
        "access-control-allow-methods", "Access-Control-Allow-Methods";
    AllowHeaders => header::ACCESS_CONTROL_ALLOW_HEADERS,
        "access-control-allow-headers", "Access-Control-Allow-Headers";
    ExposeHeaders => header::ACCESS_CONTROL_EXPOSE_HEADERS,
        "access-control-expose-headers", "Access-Control-Expose-Headers";
    MaxAge => header::ACCESS_CONTROL_MAX_AGE,
        "access-control-max-age", "Access-Control-Max-Age";
    AllowPrivateNetwork => ACCESS_CONTROL_ALLOW_PRIVATE_NETWORK,
        "access-control-allow-private-network", "Access-Control-Allow-Private-Network";
    Vary => header::VARY, "vary", "Vary";
}

impl ResponseHeader {
    /// The `Access-Control-*` headers corsgate owns: any an upstream set are replaced.
    pub const OWNED: [ResponseHeader; 7] = [
        ResponseHeader::AllowOrigin,
        ResponseHeader::AllowCredentials,
        ResponseHeader::AllowMethods,
        ResponseHeader::AllowHeaders,
        ResponseHeader::ExposeHeaders,
        ResponseHeader::MaxAge,
        ResponseHeader::AllowPrivateNetwork,
    ];
}

impl fmt::Display for ResponseHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.http1_name())
    }
}

/// A header value rendered once: as a `HeaderValue` and as a ready HTTP/1 line.
#[derive(Clone, Debug)]
pub(crate) struct Rendered {
    value: HeaderValue,
    line: Box<[u8]>,
}

impl Rendered {
    /// `value` is built by corsgate from validated tokens, so it is always a valid header
    /// value; should that ever not hold, the value is rendered empty rather than panicking.
    pub(crate) fn new(header: ResponseHeader, value: &str) -> Rendered {
        // Stored once per process and handed out as `'static`, so that cloning the value for
        // each response that carries it copies two pointers instead of touching a reference
        // count all cores share. `from_static` accepts only visible ASCII (and tab), which is
        // narrower than `from_str`; anything else stays reference-counted.
        let visible = value
            .bytes()
            .all(|b| b == b'\t' || (b' '..=b'~').contains(&b));
        let value = match visible.then(|| interned::intern(value)).flatten() {
            Some(stored) => HeaderValue::from_static(stored),
            None => HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static("")),
        };
        let mut line = Vec::with_capacity(header.http1_name().len() + value.len() + 4);
        line.extend_from_slice(header.http1_name().as_bytes());
        line.extend_from_slice(b": ");
        line.extend_from_slice(value.as_bytes());
        line.extend_from_slice(b"\r\n");
        Rendered {
            value,
            line: line.into_boxed_slice(),
        }
    }
}

/// A response header's value, borrowed from the compiled generation or from the request.
#[derive(Clone, Copy, Debug)]
pub struct HeaderValueRef<'a>(ValueRepr<'a>);

#[derive(Clone, Copy, Debug)]
enum ValueRepr<'a> {
    /// Rendered at compile time.
    Rendered(&'a Rendered),
    /// Echoed from the request (the Origin, or the requested method).
    Echo(&'a [u8], Option<&'a HeaderValue>),
    /// The request's `Access-Control-Request-Headers` lines, echoed joined by `,`.
    EchoLines(Lines<'a>),
}

impl<'a> HeaderValueRef<'a> {
    pub(crate) fn rendered(r: &'a Rendered) -> HeaderValueRef<'a> {
        HeaderValueRef(ValueRepr::Rendered(r))
    }

    pub(crate) fn echo(bytes: &'a [u8], value: Option<&'a HeaderValue>) -> HeaderValueRef<'a> {
        HeaderValueRef(ValueRepr::Echo(bytes, value))
    }

    pub(crate) fn echo_lines(lines: Lines<'a>) -> HeaderValueRef<'a> {
        HeaderValueRef(ValueRepr::EchoLines(lines))
    }

    /// `true` when the value is the request's own bytes.
    pub fn is_echo(&self) -> bool {
        !matches!(self.0, ValueRepr::Rendered(_))
    }

    /// The value's bytes; borrowed except when several request lines are joined.
    pub fn as_bytes(&self) -> Cow<'a, [u8]> {
        match self.0 {
            ValueRepr::Rendered(r) => Cow::Borrowed(r.value.as_bytes()),
            ValueRepr::Echo(bytes, _) => Cow::Borrowed(bytes),
            ValueRepr::EchoLines(lines) => match lines.single() {
                crate::request::Single::One(line) => Cow::Borrowed(line.bytes),
                _ => {
                    let mut joined = Vec::new();
                    let mut first = true;
                    lines.for_each(|line| {
                        if !first {
                            joined.push(b',');
                        }
                        first = false;
                        joined.extend_from_slice(line);
                        true
                    });
                    Cow::Owned(joined)
                }
            },
        }
    }

    /// The value as a `HeaderValue`: a cheap clone for rendered values and for request values
    /// that came from a `HeaderMap`, a copy otherwise.
    pub fn to_header_value(&self) -> HeaderValue {
        match self.0 {
            ValueRepr::Rendered(r) => r.value.clone(),
            ValueRepr::Echo(_, Some(value)) => value.clone(),
            _ => {
                // Echoed bytes passed corsgate's grammar checks (origin, token, token list),
                // so they are valid header values.
                HeaderValue::from_bytes(&self.as_bytes())
                    .unwrap_or_else(|_| HeaderValue::from_static(""))
            }
        }
    }

    /// The value as text (lossy for bytes that are not UTF-8).
    pub fn to_str_lossy(&self) -> String {
        String::from_utf8_lossy(&self.as_bytes()).into_owned()
    }

    /// Appends `Name: value\r\n`.
    pub(crate) fn write_http1_line(&self, header: ResponseHeader, out: &mut Vec<u8>) {
        match self.0 {
            ValueRepr::Rendered(r) => out.extend_from_slice(&r.line),
            _ => {
                out.extend_from_slice(header.http1_name().as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(&self.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
    }
}

impl PartialEq<&str> for HeaderValueRef<'_> {
    fn eq(&self, other: &&str) -> bool {
        *self.as_bytes() == *other.as_bytes()
    }
}

/// Every value of a generation that does not depend on the request, rendered once.
#[derive(Debug)]
pub(crate) struct HeaderBlocks {
    pub(crate) allow_origin: AllowOrigin,
    pub(crate) allow_credentials: AllowCredentials,
    pub(crate) allow_methods: AllowMethods,
    pub(crate) allow_headers: AllowHeaders,
    pub(crate) expose_headers: ExposeHeaders,
    pub(crate) max_age: MaxAge,
    pub(crate) allow_private_network: AllowPrivateNetwork,
    pub(crate) vary: Vary,
}

impl HeaderBlocks {
    pub(crate) fn new(policy: &Policy) -> HeaderBlocks {
        HeaderBlocks {
            allow_origin: AllowOrigin::new(),
            allow_credentials: AllowCredentials::new(policy),
            allow_methods: AllowMethods::new(policy),
            allow_headers: AllowHeaders::new(policy),
            expose_headers: ExposeHeaders::new(policy),
            max_age: MaxAge::new(policy),
            allow_private_network: AllowPrivateNetwork::new(),
            vary: Vary::new(policy),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table's three spellings of each name agree.
    #[test]
    fn response_header_names_agree() {
        for h in ResponseHeader::OWNED
            .into_iter()
            .chain([ResponseHeader::Vary])
        {
            assert_eq!(h.name().as_str(), h.as_str());
            assert_eq!(h.http1_name().to_ascii_lowercase(), h.as_str());
        }
    }

    /// Values `HeaderValue::from_static` would refuse (it panics on them) are rendered
    /// reference-counted, or empty when they are no header value at all; never a panic.
    #[test]
    fn rendering_never_panics_on_unusual_values() {
        let plain = Rendered::new(ResponseHeader::MaxAge, "600");
        assert_eq!(plain.value, "600");
        assert_eq!(&*plain.line, b"Access-Control-Max-Age: 600\r\n");
        let non_ascii = Rendered::new(ResponseHeader::ExposeHeaders, "x-caf\u{e9}");
        assert_eq!(non_ascii.value.as_bytes(), "x-caf\u{e9}".as_bytes());
        let invalid = Rendered::new(ResponseHeader::ExposeHeaders, "a\nb");
        assert_eq!(invalid.value, "");
    }
}
