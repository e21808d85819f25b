//! HTTP/1 bytes as the lane writes and finds them: status lines, field lines, the `Date` line,
//! chunk framing, and where a head ends. No I/O and no parsing beyond a head's end, which is
//! only a hint of where to parse (httparse decides).

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

thread_local! {
    /// The `Date` value of the current second, rendered once a second per worker thread.
    static DATE: RefCell<(u64, [u8; 29])> = const { RefCell::new((0, [0; 29])) };
}

/// `date: <IMF-fixdate>\r\n`.
pub fn write_date(out: &mut Vec<u8>) {
    let now = SystemTime::now();
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    DATE.with(|date| {
        let mut date = date.borrow_mut();
        if date.0 != secs {
            let text = httpdate::fmt_http_date(now);
            // An IMF-fixdate is 29 bytes; another length leaves the last second's.
            if let Ok(bytes) = <[u8; 29]>::try_from(text.as_bytes()) {
                *date = (secs, bytes);
            }
        }
        out.extend_from_slice(b"date: ");
        out.extend_from_slice(&date.1);
        out.extend_from_slice(b"\r\n");
    });
}

/// `HTTP/1.1 {code} {reason}\r\n`, for a three-digit code (httparse reads only those).
pub fn write_status_line(code: u16, reason: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b"HTTP/1.1 ");
    let digit = |d: u16| b'0' + (d % 10) as u8;
    out.extend_from_slice(&[digit(code / 100), digit(code / 10), digit(code), b' ']);
    out.extend_from_slice(reason);
    out.extend_from_slice(b"\r\n");
}

/// `name: value\r\n`.
pub fn write_field(name: &[u8], value: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// `data` as one chunk: its size in hex, CRLF, the data, CRLF (`data` is not empty: an empty
/// chunk ends a body).
pub fn write_chunk(data: &[u8], out: &mut Vec<u8>) {
    let mut digits = [0u8; 16];
    let mut at = digits.len();
    let mut size = data.len();
    loop {
        at -= 1;
        digits[at] = b"0123456789abcdef"[size % 16];
        size /= 16;
        if size == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The chunk that ends a chunked body, with no trailer fields.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Where a head ends (after its empty line), if `bytes` hold one: the first LF followed by
/// CRLF or LF, as httparse reads line ends.
pub fn head_end(bytes: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = bytes[from..].iter().position(|&b| b == b'\n') {
        let at = from + i + 1;
        match bytes.get(at..) {
            Some([b'\n', ..]) => return Some(at + 1),
            Some([b'\r', b'\n', ..]) => return Some(at + 2),
            _ => from = at,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_ends_after_the_first_empty_line() {
        let cases: [(&[u8], Option<usize>); 8] = [
            (b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", Some(27)),
            (b"GET / HTTP/1.1\nHost: h\n\nrest", Some(24)),
            (b"GET / HTTP/1.1\r\nHost: h\r\n\nX", Some(26)),
            (b"GET / HTTP/1.1\r\nHost: h\r\n", None),
            (b"GET / HTTP/1.1\r\nHost: h\r\n\r", None),
            (b"\r\n\r\n", Some(4)),
            (b"", None),
            (b"a\r\r\n", None),
        ];
        for (bytes, end) in cases {
            assert_eq!(head_end(bytes), end, "{:?}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn chunks_carry_their_size_in_hex() {
        let mut out = Vec::new();
        write_chunk(b"hello", &mut out);
        write_chunk(&[b'x'; 300], &mut out);
        assert!(out.starts_with(b"5\r\nhello\r\n12c\r\n"));
        assert!(out.ends_with(b"x\r\n"));
        assert_eq!(out.len(), 10 + 5 + 300 + 2);
    }

    #[test]
    fn status_and_date_lines() {
        let mut out = Vec::new();
        write_status_line(204, b"No Content", &mut out);
        write_status_line(502, b"", &mut out);
        assert_eq!(out, b"HTTP/1.1 204 No Content\r\nHTTP/1.1 502 \r\n");
        out.clear();
        write_date(&mut out);
        let text = std::str::from_utf8(&out).unwrap();
        let value = text
            .strip_prefix("date: ")
            .unwrap()
            .strip_suffix("\r\n")
            .unwrap();
        assert!(httpdate::parse_http_date(value).is_ok(), "{value}");
    }
}
