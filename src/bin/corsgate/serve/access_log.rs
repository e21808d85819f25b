//! The access log: one line per request on standard error, target `corsgate::access`.
//!
//! ```text
//! GET /api/users origin="https://app.example" preflight=false status=200 acao="https://app.example" 431us
//! ```
//!
//! Everything a client wrote is escaped, so that no request can forge a field or a line: the
//! Origin and `Access-Control-Allow-Origin` are quoted, with `"`, `'` and `\` backslash-escaped,
//! tab, CR and LF as `\t`, `\r`, `\n`, and every other byte outside printable ASCII as `\xNN`
//! (the standard library's `escape_ascii`); the path is written the same way, unquoted (a
//! request target has no spaces). Each field is cut at a bound (Origin
//! and ACAO at 256 bytes, the path at 1 KiB), with the cut noted as `(+N bytes)`. The query is
//! never logged (it often carries tokens). An absent Origin or ACAO is `-`.
//!
//! The structured events (rejections, shadow and report-only disagreements) escape the same
//! way; their values are quoted in the text log and bare with `--log-format json`, whose
//! encoder quotes them (`set_json_fields`).

use std::fmt::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http::Method;

/// Longest Origin or ACAO written.
const MAX_VALUE: usize = 256;
/// Longest path written.
const MAX_PATH: usize = 1024;

/// One request, as logged.
pub struct AccessRecord<'a> {
    pub method: &'a Method,
    pub path: &'a [u8],
    pub origin: Option<&'a [u8]>,
    pub preflight: bool,
    pub status: u16,
    pub acao: Option<&'a [u8]>,
    pub elapsed: Duration,
}

impl fmt::Display for AccessRecord<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A method is a token (hyper checked it): nothing to escape, but bound it.
        fmt::Display::fmt(&Escaped::bare(self.method.as_str().as_bytes(), 64), f)?;
        f.write_char(' ')?;
        fmt::Display::fmt(&Escaped::bare(self.path, MAX_PATH), f)?;
        f.write_str(" origin=")?;
        quoted_or_dash(self.origin, f)?;
        write!(
            f,
            " preflight={} status={} acao=",
            self.preflight, self.status
        )?;
        quoted_or_dash(self.acao, f)?;
        write!(f, " {}us", self.elapsed.as_micros())
    }
}

fn quoted_or_dash(value: Option<&[u8]>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match value {
        Some(v) => fmt::Display::fmt(&Escaped::quoted(v, MAX_VALUE), f),
        None => f.write_char('-'),
    }
}

/// Whether the log is JSON, set once at start from `--log-format`.
static JSON_FIELDS: AtomicBool = AtomicBool::new(false);

/// Says that the log is JSON: [`Escaped::field`] leaves its quotes to the JSON encoder.
pub fn set_json_fields(json: bool) {
    JSON_FIELDS.store(json, Ordering::Relaxed);
}

/// Bytes a client wrote, made safe for one log field.
pub struct Escaped<'a> {
    bytes: &'a [u8],
    max: usize,
    quoted: bool,
}

impl<'a> Escaped<'a> {
    /// In double quotes.
    pub fn quoted(bytes: &'a [u8], max: usize) -> Escaped<'a> {
        Escaped {
            bytes,
            max,
            quoted: true,
        }
    }

    /// A structured event's field: quoted in the text log, bare in JSON (whose encoder
    /// quotes it; the escaping is the same, so `\` still starts an escape).
    pub fn field(bytes: &'a [u8], max: usize) -> Escaped<'a> {
        Escaped {
            bytes,
            max,
            quoted: !JSON_FIELDS.load(Ordering::Relaxed),
        }
    }

    /// Without quotes, for values that cannot hold a space (a request target, a method).
    pub fn bare(bytes: &'a [u8], max: usize) -> Escaped<'a> {
        Escaped {
            bytes,
            max,
            quoted: false,
        }
    }
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = &self.bytes[..self.bytes.len().min(self.max)];
        if self.quoted {
            f.write_char('"')?;
        }
        let plain = |b: &u8| matches!(b, 0x20..=0x7e) && !matches!(b, b'"' | b'\\' | b'\'');
        match std::str::from_utf8(shown) {
            // The common case, nothing to escape: one write.
            Ok(text) if shown.iter().all(plain) => f.write_str(text)?,
            // The standard library's escaping: printable ASCII as is, `"`, `\`, `'` with a
            // backslash, `\t` `\r` `\n`, every other byte as `\xNN`.
            _ => fmt::Display::fmt(&shown.escape_ascii(), f)?,
        }
        if self.quoted {
            f.write_char('"')?;
        }
        if self.bytes.len() > shown.len() {
            write!(f, "(+{} bytes)", self.bytes.len() - shown.len())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        let q = |b: &[u8]| Escaped::quoted(b, 32).to_string();
        assert_eq!(q(b"https://a.example"), "\"https://a.example\"");
        assert_eq!(q(b"x\" status=200\n"), "\"x\\\" status=200\\n\"");
        assert_eq!(q(b"\x01\x7f"), "\"\\x01\\x7f\"");
        assert_eq!(q("é\\".as_bytes()), "\"\\xc3\\xa9\\\\\"");
        assert_eq!(
            Escaped::quoted(&[b'a'; 20], 16).to_string(),
            format!("\"{}\"(+4 bytes)", "a".repeat(16))
        );
        assert_eq!(Escaped::bare(b"/a\\b", 16).to_string(), "/a\\\\b");
    }

    #[test]
    fn record() {
        let method = Method::GET;
        let line = AccessRecord {
            method: &method,
            path: b"/api/users",
            origin: Some(b"https://evil.example\" status=200 acao=\"*"),
            preflight: false,
            status: 403,
            acao: None,
            elapsed: Duration::from_micros(12),
        }
        .to_string();
        assert_eq!(
            line,
            "GET /api/users origin=\"https://evil.example\\\" status=200 acao=\\\"*\" preflight=false status=403 acao=- 12us"
        );
    }
}
