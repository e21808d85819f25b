//! Header names in a policy: which may be allowed as request headers, which may be exposed,
//! and which are dropped because browsers expose them anyway.

use crate::error::{IssueKind, Problem};
use crate::token::is_token;

/// Fetch's forbidden request-header names (a page can never set them), lowercase.
/// `proxy-*` and `sec-*` are forbidden as prefixes.
const FORBIDDEN_REQUEST: &[&str] = &[
    "accept-charset",
    "accept-encoding",
    "access-control-request-headers",
    "access-control-request-method",
    "connection",
    "content-length",
    "cookie",
    "cookie2",
    "date",
    "dnt",
    "expect",
    "host",
    "keep-alive",
    "origin",
    "referer",
    "set-cookie",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "via",
];

/// Names that only ever appear on responses, so allowing them as request headers is a mistake.
const RESPONSE_ONLY: &[&str] = &["set-cookie2", "www-authenticate"];

/// Names that can never be exposed: Fetch's forbidden response-header names and the names that
/// never appear on an actual response.
const NEVER_EXPOSED: &[&str] = &[
    "set-cookie",
    "set-cookie2",
    "origin",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-max-age",
    "access-control-allow-private-network",
];

/// Fetch's CORS-safelisted response-header names: exposed without being listed.
const SAFELISTED_RESPONSE: &[&str] = &[
    "cache-control",
    "content-language",
    "content-length",
    "content-type",
    "expires",
    "last-modified",
    "pragma",
];

fn not_a_token(raw: &str) -> Problem {
    Problem::new(
        IssueKind::InvalidHeaderName,
        "a header name is an HTTP token (letters, digits and !#$%&'*+-.^_`|~)",
    )
    .with_hint(if raw.contains(',') {
        "list one name per entry instead of a comma-separated string".to_owned()
    } else if raw.trim() != raw {
        format!("remove the whitespace: {:?}", raw.trim())
    } else if raw.ends_with(':') {
        format!("a name has no colon: {:?}", raw.trim_end_matches(':'))
    } else {
        "remove the characters that are not allowed".to_owned()
    })
}

/// Validates one `allow_headers` entry; returns it lowercase, or `*`.
pub(crate) fn parse_allowed(raw: &str) -> Result<String, Problem> {
    if raw == "*" {
        return Ok(raw.to_owned());
    }
    if !is_token(raw.as_bytes()) {
        return Err(not_a_token(raw));
    }
    let lower = raw.to_ascii_lowercase();
    if FORBIDDEN_REQUEST.contains(&lower.as_str())
        || lower.starts_with("proxy-")
        || lower.starts_with("sec-")
        || lower.starts_with("access-control-request-")
    {
        return Err(Problem::new(
            IssueKind::ForbiddenRequestHeader,
            "browsers never let a page set this header, so allowing it changes nothing",
        )
        .with_hint("remove it; the browser sets it itself"));
    }
    if lower.starts_with("access-control-") || RESPONSE_ONLY.contains(&lower.as_str()) {
        return Err(Problem::new(
            IssueKind::ForbiddenRequestHeader,
            "this is a response header; requests do not carry it",
        )
        .with_hint("to let pages read a response header, list it in expose_headers"));
    }
    Ok(lower)
}

/// What became of one `expose_headers` entry.
pub(crate) enum Exposed {
    /// Keep it (lowercase, or `*`).
    Keep(String),
    /// A safelisted name: drop it with a warning.
    Safelisted,
}

/// Validates one `expose_headers` entry.
pub(crate) fn parse_exposed(raw: &str) -> Result<Exposed, Problem> {
    if raw == "*" {
        return Ok(Exposed::Keep(raw.to_owned()));
    }
    if !is_token(raw.as_bytes()) {
        return Err(not_a_token(raw));
    }
    let lower = raw.to_ascii_lowercase();
    if NEVER_EXPOSED.contains(&lower.as_str()) || lower.starts_with("access-control-request-") {
        let why = if lower.starts_with("set-cookie") {
            "browsers never let a page read Set-Cookie"
        } else {
            "this header never appears on an actual response"
        };
        return Err(Problem::new(IssueKind::ForbiddenExposedHeader, why)
            .with_hint("remove it from expose_headers"));
    }
    if SAFELISTED_RESPONSE.contains(&lower.as_str()) {
        return Ok(Exposed::Safelisted);
    }
    Ok(Exposed::Keep(lower))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_names() {
        assert_eq!(parse_allowed("Content-Type").unwrap(), "content-type");
        assert_eq!(parse_allowed("*").unwrap(), "*");
        for bad in [
            "Cookie",
            "Sec-Fetch-Mode",
            "Proxy-Authorization",
            "Origin",
            "Access-Control-Allow-Origin",
        ] {
            assert_eq!(
                parse_allowed(bad).unwrap_err().kind,
                IssueKind::ForbiddenRequestHeader,
                "{bad}"
            );
        }
        assert_eq!(
            parse_allowed("a b").unwrap_err().kind,
            IssueKind::InvalidHeaderName
        );
        assert_eq!(
            parse_allowed("x-a, x-b").unwrap_err().kind,
            IssueKind::InvalidHeaderName
        );
    }

    #[test]
    fn exposed_names() {
        assert!(
            matches!(parse_exposed("X-Request-Id"), Ok(Exposed::Keep(n)) if n == "x-request-id")
        );
        assert!(matches!(
            parse_exposed("Content-Type"),
            Ok(Exposed::Safelisted)
        ));
        for bad in [
            "Set-Cookie",
            "Access-Control-Max-Age",
            "Access-Control-Request-Method",
            "Origin",
        ] {
            assert_eq!(
                parse_exposed(bad).err().unwrap().kind,
                IssueKind::ForbiddenExposedHeader,
                "{bad}"
            );
        }
    }
}
