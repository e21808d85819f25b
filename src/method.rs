//! Methods: HTTP tokens, Fetch's normalisation of the six standard methods, and the forbidden
//! ones. Used when a policy is built and when a preflight's `Access-Control-Request-Method` is
//! checked.

use crate::error::{IssueKind, Problem};
use crate::token::is_token;

/// Longest `Access-Control-Request-Method`: a longer one fails the preflight, so that a
/// policy allowing any method never echoes an unbounded token.
pub const MAX_REQUEST_METHOD_LEN: usize = 64;

/// The six methods Fetch normalises to uppercase (Fetch §2.2.1 "normalize a method").
const STANDARD: [&str; 6] = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];

/// Methods a preflight never needs to ask for (Fetch "CORS-safelisted method").
pub(crate) const SAFELISTED: [&str; 3] = ["GET", "HEAD", "POST"];

/// Fetch's "normalize": one of the six standard methods, matched case-insensitively, becomes
/// its uppercase form; any other token is kept byte for byte (`patch` is not `PATCH`).
#[inline]
pub(crate) fn normalize(method: &[u8]) -> Option<&'static str> {
    if method.len() < 3 || method.len() > 7 {
        return None;
    }
    STANDARD
        .into_iter()
        .find(|m| m.as_bytes().eq_ignore_ascii_case(method))
}

/// `CONNECT`, `TRACE` and `TRACK`, in any case (Fetch "forbidden method").
#[inline]
pub(crate) fn is_forbidden(method: &[u8]) -> bool {
    [b"CONNECT".as_slice(), b"TRACE", b"TRACK"]
        .iter()
        .any(|f| f.eq_ignore_ascii_case(method))
}

/// `true` for `GET`, `HEAD`, `POST` after normalisation.
#[inline]
pub(crate) fn is_safelisted(normalized: &[u8]) -> bool {
    SAFELISTED.iter().any(|m| m.as_bytes() == normalized)
}

/// Validates one configured method and returns it as it will be compared and rendered.
pub(crate) fn parse_config_method(raw: &str) -> Result<String, Problem> {
    if !is_token(raw.as_bytes()) {
        return Err(Problem::new(
            IssueKind::InvalidMethod,
            "a method is an HTTP token (letters, digits and !#$%&'*+-.^_`|~)",
        )
        .with_hint(if raw.trim() != raw {
            format!("remove the whitespace: {:?}", raw.trim())
        } else {
            "list methods one per entry, e.g. [\"GET\", \"PUT\"]".to_owned()
        }));
    }
    if raw.len() > MAX_REQUEST_METHOD_LEN {
        return Err(Problem::new(
            IssueKind::InvalidMethod,
            format!(
                "a method of {} bytes can never be requested: preflights asking for a method \
                 longer than {} bytes fail",
                raw.len(),
                MAX_REQUEST_METHOD_LEN
            ),
        )
        .with_hint("remove it"));
    }
    if is_forbidden(raw.as_bytes()) {
        return Err(Problem::new(
            IssueKind::ForbiddenMethod,
            "browsers never send CONNECT, TRACE or TRACK from a page",
        )
        .with_hint("remove it"));
    }
    Ok(normalize(raw.as_bytes()).map_or_else(|| raw.to_owned(), str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_only_the_six() {
        assert_eq!(normalize(b"put"), Some("PUT"));
        assert_eq!(normalize(b"Options"), Some("OPTIONS"));
        assert_eq!(normalize(b"patch"), None);
        assert!(is_forbidden(b"trace"));
        assert!(!is_forbidden(b"TRACES"));
        assert_eq!(parse_config_method("patch").unwrap(), "patch");
        assert_eq!(parse_config_method("delete").unwrap(), "DELETE");
        assert_eq!(
            parse_config_method("Connect").unwrap_err().kind,
            IssueKind::ForbiddenMethod
        );
        assert_eq!(
            parse_config_method("GET ").unwrap_err().kind,
            IssueKind::InvalidMethod
        );
    }
}
