//! The access log: one line per request on standard error, target `corsgate::access`.
//!
//! ```text
//! GET /api/users origin="https://app.example" preflight=false status=200 acao="https://app.example" peer=127.0.0.1:50312 431us
//! ```
//!
//! Everything a client wrote is escaped, so that no request can forge a field or a line: the
//! Origin and `Access-Control-Allow-Origin` are quoted, with `"` and `\` backslash-escaped and
//! every byte outside printable ASCII written as `\xNN`; the path is written the same way but
//! unquoted, spaces escaped too, so it stays one token. Each field is cut at a bound (Origin
//! and ACAO at 256 bytes, the path at 1 KiB), with the cut noted as `(+N bytes)`. The query is
//! never logged (it often carries tokens). An absent Origin or ACAO is `-`.

use std::fmt::{self, Write};
use std::net::SocketAddr;
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
    pub peer: SocketAddr,
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
        write!(f, " peer={} {}us", self.peer, self.elapsed.as_micros())
    }
}

fn quoted_or_dash(value: Option<&[u8]>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match value {
        Some(v) => fmt::Display::fmt(&Escaped::quoted(v, MAX_VALUE), f),
        None => f.write_char('-'),
    }
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

    /// Without quotes: spaces are escaped as well, so the field stays one token.
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
        let needs_escape = |b: u8| {
            b == b'"' || b == b'\\' || !(0x20..=0x7e).contains(&b) || (b == b' ' && !self.quoted)
        };
        let mut rest = shown;
        while !rest.is_empty() {
            // The longest run that needs nothing, written at once (it is printable ASCII).
            let run = rest
                .iter()
                .position(|&b| needs_escape(b))
                .unwrap_or(rest.len());
            if let Ok(text) = std::str::from_utf8(&rest[..run]) {
                f.write_str(text)?;
            }
            let Some(&b) = rest.get(run) else {
                break;
            };
            match b {
                b'"' | b'\\' => {
                    f.write_char('\\')?;
                    f.write_char(char::from(b))?;
                }
                _ => write!(f, "\\x{b:02x}")?,
            }
            rest = &rest[run + 1..];
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
        assert_eq!(q(b"x\" status=200\n"), "\"x\\\" status=200\\x0a\"");
        assert_eq!(q("é\\".as_bytes()), "\"\\xc3\\xa9\\\\\"");
        assert_eq!(
            Escaped::quoted(&[b'a'; 20], 16).to_string(),
            format!("\"{}\"(+4 bytes)", "a".repeat(16))
        );
        assert_eq!(Escaped::bare(b"/a b", 16).to_string(), "/a\\x20b");
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
            peer: "127.0.0.1:5000".parse().unwrap(),
            elapsed: Duration::from_micros(12),
        }
        .to_string();
        assert_eq!(
            line,
            "GET /api/users origin=\"https://evil.example\\\" status=200 acao=\\\"*\" preflight=false status=403 acao=- peer=127.0.0.1:5000 12us"
        );
    }
}
