//! Applying a decision to a response: the one rule every writer of an `http::HeaderMap`
//! follows, and the owned header sets that carry a decision across an `.await`.
//!
//! The rule ([`OwnedHeaders`]): remove every `Access-Control-*` header the upstream set
//! (corsgate owns them: two `Access-Control-Allow-Origin` values fail the browser's
//! [CORS check](https://fetch.spec.whatwg.org/#concept-cors-check)), insert corsgate's, and
//! merge `Vary` into the upstream's as one field line (see [`vary`]).
//! [`Decision::apply`](crate::Decision::apply), [`ResponseHeaders::apply`] (which `serve` and
//! `corsgate::pingora` use) and the tower layer's [`ForwardHeaders::apply`] all go through it.
//! The HTTP/1 writers (`Decision::write_http1*`, and [`ResponseHeaders::write_http1*`] for a
//! raw HTTP/1 proxy that writes the response head after its upstream's `.await`) write bytes,
//! not a map: they follow the same rule in `vary::write_http1`, and write the same bytes for
//! the same decision (`tests/vary.rs`).
//!
//! [`ResponseHeaders::write_http1*`]: ResponseHeaders::write_http1_merging_vary

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

    /// Appends the headers as HTTP/1 lines (`Name: value\r\n`), the same bytes as
    /// [`Decision::write_http1`](crate::Decision::write_http1) writes for the decision they
    /// were taken from, for a response that has no `Vary` of its own (a preflight answered
    /// after an `.await`, or an upstream response without `Vary`). Nothing for a request on
    /// an `off` route. Allocates nothing beyond `out`'s growth.
    pub fn write_http1(&self, out: &mut Vec<u8>) {
        for (h, v) in self.iter() {
            write_line(h, v.as_bytes(), out);
        }
    }

    /// Appends the headers as HTTP/1 lines with the upstream response's `Vary` lines
    /// (`upstream_vary`, their values) and corsgate's combined into one `Vary` line: the same
    /// bytes as [`Decision::write_http1_merging_vary`](crate::Decision::write_http1_merging_vary)
    /// writes for the decision they were taken from. This is the writer for a raw HTTP/1
    /// proxy, which decides before forwarding and writes the response head after the
    /// upstream answered, without holding the decision (and its policy generation) across
    /// the `.await`. The caller copies every other upstream header and **skips its `Vary`
    /// and `Access-Control-*` lines** (unless [`is_untouched`](ResponseHeaders::is_untouched)).
    ///
    /// # Example
    /// ```
    /// use corsgate::{Cors, CorsRequest, Policy};
    ///
    /// let cors = Cors::new(Policy::new(["https://app.example.com"])?);
    /// let request = CorsRequest::new(b"GET").origin(b"https://app.example.com");
    /// let headers = cors.decide(&request).to_response_headers();
    /// // … the request goes to the upstream, which answers with `Vary: Cookie` …
    /// let mut raw = Vec::new();
    /// headers.write_http1_merging_vary(&[b"Cookie"], &mut raw);
    /// assert_eq!(
    ///     raw,
    ///     b"Access-Control-Allow-Origin: https://app.example.com\r\nVary: Cookie, Origin\r\n"
    /// );
    /// # Ok::<(), corsgate::PolicyError>(())
    /// ```
    pub fn write_http1_merging_vary(&self, upstream_vary: &[&[u8]], out: &mut Vec<u8>) {
        if self.untouched {
            // An `off` route: the upstream's Vary lines, as they were.
            for line in upstream_vary {
                write_line(ResponseHeader::Vary, line, out);
            }
            return;
        }
        let mut ours = None;
        for (h, v) in self.iter() {
            match h {
                ResponseHeader::Vary => ours = Some(v.as_bytes()),
                h => write_line(h, v.as_bytes(), out),
            }
        }
        vary::write_http1(upstream_vary, ours, out);
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

/// `Name: value\r\n`, the name as HTTP/1 responses conventionally capitalise it.
fn write_line(header: ResponseHeader, value: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(header.http1_name().as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}
