//! Applying a decision to a response: the one rule every writer of an `http::HeaderMap`
//! follows, and the owned header sets that carry a decision across an `.await`.
//!
//! The rule ([`OwnedHeaders`]): remove every `Access-Control-*` header the upstream set
//! (corsgate owns them: two `Access-Control-Allow-Origin` values fail the browser's
//! [CORS check](https://fetch.spec.whatwg.org/#concept-cors-check)), insert corsgate's, and
//! merge `Vary` into the upstream's as one field line (see [`vary`]).
//! [`Decision::apply`](crate::Decision::apply), [`ResponseHeaders::apply`] (which `serve` and
//! `corsgate::pingora` use) and the tower layer's [`ForwardHeaders::apply`] all go through it.
//! The HTTP/1 writers (`Decision::write_http1*`) write bytes, not a map: they follow the same
//! rule in `vary::write_http1`.

use http::header::HeaderMap;
use http::HeaderValue;

use crate::headers::{vary, ResponseHeader};

/// At most this many headers in a decision.
pub(crate) const MAX_HEADERS: usize = 8;

/// A response's headers while corsgate's are put in: created by removing the upstream's
/// `Access-Control-*` headers, then fed corsgate's one by one.
pub(crate) struct OwnedHeaders<'h> {
    headers: &'h mut HeaderMap,
}

impl<'h> OwnedHeaders<'h> {
    /// Removes the `Access-Control-*` headers an upstream set (one pass over the names when it
    /// set none) and makes room for `additional` more.
    #[inline]
    pub(crate) fn begin(headers: &'h mut HeaderMap, additional: usize) -> OwnedHeaders<'h> {
        if headers
            .keys()
            .any(|k| k.as_str().starts_with("access-control-"))
        {
            for h in ResponseHeader::OWNED {
                headers.remove(h.name());
            }
        }
        headers.reserve(additional);
        OwnedHeaders { headers }
    }

    /// Puts one of corsgate's headers in: `Vary` merged, every other one inserted.
    #[inline]
    pub(crate) fn put(&mut self, header: ResponseHeader, value: HeaderValue) {
        match header {
            ResponseHeader::Vary => vary::merge(self.headers, value),
            h => {
                self.headers.insert(h.name(), value);
            }
        }
    }
}

/// A decision's headers, owned, in a fixed-size array (no heap allocation); apply them to a
/// response after the upstream answered.
#[derive(Clone, Debug, Default)]
pub struct ResponseHeaders {
    pub(crate) items: [Option<(ResponseHeader, HeaderValue)>; MAX_HEADERS],
    pub(crate) len: usize,
    /// The request's route turns CORS off: the response passes untouched.
    pub(crate) untouched: bool,
}

impl ResponseHeaders {
    /// The same rules as [`Decision::apply`](crate::Decision::apply); nothing at all for a
    /// request on an `off` route.
    pub fn apply(&self, headers: &mut HeaderMap) {
        if self.untouched {
            return;
        }
        let mut out = OwnedHeaders::begin(headers, MAX_HEADERS);
        for (h, v) in self.iter() {
            out.put(h, v.clone());
        }
    }

    /// `true` for a request on an `off` route: the response is to be left as it is (the
    /// upstream's own `Access-Control-*` headers included).
    pub fn is_untouched(&self) -> bool {
        self.untouched
    }

    /// The headers, in order.
    pub fn iter(&self) -> impl Iterator<Item = (ResponseHeader, &HeaderValue)> + '_ {
        self.items[..self.len]
            .iter()
            .flatten()
            .map(|(h, v)| (*h, v))
    }

    /// No headers at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// What a forwarded request's response gets (`Access-Control-Allow-Origin`,
/// `-Allow-Credentials`, `-Expose-Headers`, `Vary`: a forwarded request is never an answered
/// preflight), owned and compact, for `CorsLayer` to carry across the inner service's await.
///
/// A specialised copy of [`ResponseHeaders`], kept for speed: built without the general array
/// (whose copies were a tenth of the layer's cost). The test
/// `forwarded_headers_equal_the_decisions` (in `layer.rs`, where the layer uses it) guards that it applies exactly what the
/// decision's own headers apply.
#[cfg(feature = "tower")]
#[derive(Clone, Debug, Default)]
pub(crate) struct ForwardHeaders {
    pub(crate) allow_origin: Option<HeaderValue>,
    pub(crate) allow_credentials: bool,
    pub(crate) expose: Option<HeaderValue>,
    pub(crate) vary: Option<HeaderValue>,
    /// The request's route turns CORS off: the response passes untouched.
    pub(crate) untouched: bool,
}

#[cfg(feature = "tower")]
impl ForwardHeaders {
    /// The same rules as [`Decision::apply`](crate::Decision::apply).
    pub(crate) fn apply(self, headers: &mut HeaderMap) {
        if self.untouched {
            return;
        }
        let mut out = OwnedHeaders::begin(headers, 4);
        if let Some(v) = self.allow_origin {
            out.put(ResponseHeader::AllowOrigin, v);
        }
        if self.allow_credentials {
            out.put(
                ResponseHeader::AllowCredentials,
                HeaderValue::from_static("true"),
            );
        }
        if let Some(v) = self.expose {
            out.put(ResponseHeader::ExposeHeaders, v);
        }
        if let Some(v) = self.vary {
            out.put(ResponseHeader::Vary, v);
        }
    }
}
