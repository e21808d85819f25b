//! Writing a decision's headers into a Pingora [`ResponseHeader`] with the crate's own rules
//! ([`ResponseHeaders::apply`]: corsgate's `Access-Control-*` replace the upstream's, `Vary`
//! merged without duplicates).
//!
//! Pingora gives no `&mut HeaderMap` of a response: its `ResponseHeader` keeps each name's
//! original case in a second map beside the values, and only its own `insert_header`,
//! `append_header` and `remove_header` keep the two in step. So the rules run on a small map
//! that holds just the lines they touch — the upstream's `Vary` lines — and the result goes
//! back through Pingora's methods: every other header keeps its bytes, its order and its case.
//! The map is one per thread, cleared and reused (its capacity kept), so a response allocates
//! nothing here; the values moved are `'static` or the request's own bytes (no copy).

use std::cell::RefCell;

use http::header::{HeaderMap, HeaderName, VARY};
use pingora_error::Result;
use pingora_http::ResponseHeader;

use crate::headers::ResponseHeader as CorsHeader;
use crate::owned_headers::ResponseHeaders;

thread_local! {
    /// The lines `ResponseHeaders::apply` works on.
    static LINES: RefCell<HeaderMap> = RefCell::new(HeaderMap::with_capacity(16));
}

/// Applies `headers` to `response`.
pub(super) fn apply(headers: &ResponseHeaders, response: &mut ResponseHeader) -> Result<()> {
    if headers.is_untouched() {
        return Ok(());
    }
    LINES.with(|lines| match lines.try_borrow_mut() {
        Ok(mut lines) => apply_with(headers, response, &mut lines),
        // Only if `apply` were re-entered on this thread, which nothing here does.
        Err(_) => apply_with(headers, response, &mut HeaderMap::new()),
    })
}

fn apply_with(
    headers: &ResponseHeaders,
    response: &mut ResponseHeader,
    lines: &mut HeaderMap,
) -> Result<()> {
    lines.clear();
    let had_vary = response.headers.contains_key(VARY);
    for value in response.headers.get_all(VARY) {
        lines.append(VARY, value.clone());
    }
    headers.apply(lines);
    // What `apply` replaces on a full map: every `Access-Control-*` name corsgate owns, and
    // the `Vary` lines it merged (now in `lines`).
    if response
        .headers
        .keys()
        .any(|name| name.as_str().starts_with("access-control-"))
    {
        for header in CorsHeader::OWNED {
            response.remove_header(&header.name());
        }
    }
    if had_vary {
        response.remove_header(&VARY);
    }
    let mut name: Option<HeaderName> = None;
    for (next, value) in lines.drain() {
        // `drain` names a header on its first value only.
        if next.is_some() {
            name = next;
        }
        if let Some(name) = &name {
            response.append_header(wire_name(name), value)?;
        }
    }
    Ok(())
}

/// The name as written on HTTP/1 (`Access-Control-Allow-Origin`, `Vary`): a `'static` string,
/// so Pingora's case map stores it without a copy.
fn wire_name(name: &HeaderName) -> &'static str {
    CorsHeader::OWNED
        .into_iter()
        .chain([CorsHeader::Vary])
        .find(|header| header.name() == name)
        .map_or("Vary", CorsHeader::http1_name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cors, CorsRequest, Policy};

    fn headers(origin: &str) -> ResponseHeaders {
        let cors = Cors::new(
            Policy::builder()
                .origins(["https://app.example"])
                .expose_headers(["x-request-id"])
                .credentials(true)
                .build()
                .unwrap(),
        );
        let decision = cors.decide(&CorsRequest::new(b"GET").origin(origin.as_bytes()));
        decision.to_response_headers()
    }

    fn wire(response: &ResponseHeader) -> String {
        let mut out = Vec::new();
        response.header_to_h1_wire(&mut out);
        String::from_utf8(out).unwrap()
    }

    /// The upstream's header lines, applied here and by `ResponseHeaders::apply` on a plain
    /// `HeaderMap`: the same values under every name (the crate's rules, not a copy of them).
    fn agrees_with_the_library(upstream: &[(&'static str, &'static str)], origin: &str) -> String {
        let headers = headers(origin);
        let mut response = ResponseHeader::build(200, None).unwrap();
        let mut plain = HeaderMap::new();
        for (name, value) in upstream {
            response.append_header(*name, *value).unwrap();
            plain.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        apply(&headers, &mut response).unwrap();
        headers.apply(&mut plain);
        assert_eq!(response.headers.len(), plain.len(), "{}", wire(&response));
        for name in plain.keys() {
            assert_eq!(
                response.headers.get_all(name).iter().collect::<Vec<_>>(),
                plain.get_all(name).iter().collect::<Vec<_>>(),
                "{name}"
            );
        }
        wire(&response)
    }

    #[test]
    fn replaces_access_control_merges_vary_keeps_the_rest() {
        let wire = agrees_with_the_library(
            &[
                ("X-Upstream-Case", "kept"),
                ("access-control-allow-origin", "*"),
                ("Access-Control-Allow-Methods", "GET"),
                ("vary", "Accept-Encoding"),
                ("Vary", "Cookie"),
            ],
            "https://app.example",
        );
        // The upstream's other lines keep their case; corsgate's are written in title case.
        assert!(wire.starts_with("X-Upstream-Case: kept\r\n"), "{wire}");
        for line in [
            "Access-Control-Allow-Origin: https://app.example\r\n",
            "Access-Control-Allow-Credentials: true\r\n",
            "Access-Control-Expose-Headers: x-request-id\r\n",
        ] {
            assert!(wire.contains(line), "{wire}");
        }
        assert!(!wire.contains("Allow-Methods"), "{wire}");
        assert!(!wire.contains(": *"), "{wire}");
    }

    #[test]
    fn denied_origin_gets_only_vary_and_loses_upstream_cors() {
        let wire = agrees_with_the_library(
            &[
                ("Access-Control-Allow-Origin", "https://evil.example"),
                ("Vary", "origin"),
            ],
            "https://evil.example",
        );
        assert_eq!(wire, "Vary: origin\r\n");
    }

    #[test]
    fn vary_star_and_no_vary() {
        agrees_with_the_library(&[("Vary", "*")], "https://app.example");
        let wire =
            agrees_with_the_library(&[("Content-Type", "text/plain")], "https://app.example");
        assert!(wire.ends_with("Vary: Origin\r\n"), "{wire}");
    }

    #[test]
    fn no_case_map_responses_too() {
        let mut response = ResponseHeader::build_no_case(200, None).unwrap();
        response.append_header("Vary", "*").unwrap();
        apply(&headers("https://app.example"), &mut response).unwrap();
        assert_eq!(
            response.headers.get_all(VARY).iter().collect::<Vec<_>>(),
            ["*"]
        );
        assert_eq!(
            response.headers["access-control-allow-origin"],
            "https://app.example"
        );
    }
}
