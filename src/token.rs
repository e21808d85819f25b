//! HTTP's smallest words: `tchar`, `token` and optional whitespace (RFC 9110 §5.6.2, §5.6.3),
//! shared by the method and header-name checks of a policy and by the preflight's parse of the
//! requested method and headers.

/// RFC 9110 `tchar`.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 9110 `token`: one or more `tchar`.
pub(crate) fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|&b| is_tchar(b))
}

/// Optional whitespace around list elements (RFC 9110 OWS: spaces and tabs).
#[inline]
pub(crate) fn trim_ows(bytes: &[u8]) -> &[u8] {
    let mut start = 0;
    let mut end = bytes.len();
    while start < end && matches!(bytes[start], b' ' | b'\t') {
        start += 1;
    }
    while end > start && matches!(bytes[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    &bytes[start..end]
}
