//! Reading an upstream's chunked body (RFC 9112 §7.1) byte by byte, for the HTTP/1 lane: where
//! it ends, exactly, and its data re-chunked for the client, without the chunk extensions and
//! trailer fields (which hyper's path drops too, for a client that did not send `TE:
//! trailers`).
//!
//! Strict, because a pooled connection is reused after the body ends: a body read one byte
//! short or long would hand the rest of it to the next client as a response. Refused: a size
//! that is not hex digits or has more than 15 of them, a size line or an extension longer than
//! [`MAX_LINE`], a bare LF or CR where CRLF belongs, data not followed by CRLF, trailer
//! fields longer than [`MAX_TRAILERS`] in all.

use std::fmt;

/// A chunk-size line (size, extensions, CRLF), at most.
pub const MAX_LINE: usize = 4096;
/// The trailer section, at most.
pub const MAX_TRAILERS: usize = 16 * 1024;

/// Why a chunked body cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkedError {
    /// A chunk size that is not 1 to 15 hex digits.
    BadSize,
    /// A size line or the trailer section longer than its limit.
    TooLong,
    /// A CR or LF out of place (a bare LF, or data not followed by CRLF).
    BadLineEnd,
}

impl fmt::Display for ChunkedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChunkedError::BadSize => "a chunk size that is not 1 to 15 hex digits",
            ChunkedError::TooLong => "a chunk-size line or trailer section over its limit",
            ChunkedError::BadLineEnd => "a chunked body with a CR or LF out of place",
        })
    }
}

impl std::error::Error for ChunkedError {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Hex digits of the size; `digits` so far.
    Size { size: u64, digits: u8 },
    /// After the size: extensions (or whitespace) until CR.
    Extension { size: u64 },
    /// The LF after a size line's CR.
    SizeLf { size: u64 },
    /// Data bytes left in this chunk.
    Data { left: u64 },
    /// The CR after a chunk's data.
    DataCr,
    /// The LF after a chunk's data.
    DataLf,
    /// At the start of a trailer line (or of the final empty line).
    TrailerStart,
    /// Inside a trailer line, until CR.
    Trailer,
    /// The LF after a trailer line's CR; `empty` when the line was empty (the end).
    TrailerLf { empty: bool },
    /// The body ended.
    Done,
}

/// Where a chunked body is, fed its bytes in pieces.
#[derive(Debug)]
pub struct ChunkedDecoder {
    state: State,
    /// Bytes of the current size line, or of the trailer section.
    counted: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder::new()
    }
}

impl ChunkedDecoder {
    pub fn new() -> ChunkedDecoder {
        ChunkedDecoder {
            state: State::Size { size: 0, digits: 0 },
            counted: 0,
        }
    }

    /// Whether the body ended (the last chunk and the trailer section were read).
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Reads `input`, appending its data to `out` re-chunked (one chunk per run of data in
    /// `input`, and the last chunk `0\r\n\r\n` when the body ends). Returns how many bytes of
    /// `input` belong to the body: fewer than `input.len()` only when the body ended before
    /// `input` did.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, ChunkedError> {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.state {
                State::Done => return Ok(i),
                State::Size { size, digits } => {
                    self.count(1, MAX_LINE)?;
                    match hex(b) {
                        Some(v) if digits < 15 => {
                            self.state = State::Size {
                                size: size << 4 | u64::from(v),
                                digits: digits + 1,
                            };
                        }
                        Some(_) => return Err(ChunkedError::BadSize),
                        None if digits == 0 => return Err(ChunkedError::BadSize),
                        None if b == b'\r' => self.state = State::SizeLf { size },
                        None if b == b';' || b == b' ' || b == b'\t' => {
                            self.state = State::Extension { size };
                        }
                        None => return Err(ChunkedError::BadSize),
                    }
                    i += 1;
                }
                State::Extension { size } => {
                    self.count(1, MAX_LINE)?;
                    match b {
                        b'\r' => self.state = State::SizeLf { size },
                        b'\n' => return Err(ChunkedError::BadLineEnd),
                        _ => {}
                    }
                    i += 1;
                }
                State::SizeLf { size } => {
                    if b != b'\n' {
                        return Err(ChunkedError::BadLineEnd);
                    }
                    i += 1;
                    self.counted = 0;
                    self.state = if size == 0 {
                        State::TrailerStart
                    } else {
                        State::Data { left: size }
                    };
                }
                State::Data { left } => {
                    let available = (input.len() - i) as u64;
                    let take = left.min(available) as usize;
                    write_size_line(take, out);
                    out.extend_from_slice(&input[i..i + take]);
                    out.extend_from_slice(b"\r\n");
                    i += take;
                    let left = left - take as u64;
                    self.state = if left == 0 {
                        State::DataCr
                    } else {
                        State::Data { left }
                    };
                }
                State::DataCr => {
                    if b != b'\r' {
                        return Err(ChunkedError::BadLineEnd);
                    }
                    i += 1;
                    self.state = State::DataLf;
                }
                State::DataLf => {
                    if b != b'\n' {
                        return Err(ChunkedError::BadLineEnd);
                    }
                    i += 1;
                    self.state = State::Size { size: 0, digits: 0 };
                }
                State::TrailerStart => {
                    self.count(1, MAX_TRAILERS)?;
                    self.state = match b {
                        b'\r' => State::TrailerLf { empty: true },
                        b'\n' => return Err(ChunkedError::BadLineEnd),
                        _ => State::Trailer,
                    };
                    i += 1;
                }
                State::Trailer => {
                    self.count(1, MAX_TRAILERS)?;
                    match b {
                        b'\r' => self.state = State::TrailerLf { empty: false },
                        b'\n' => return Err(ChunkedError::BadLineEnd),
                        _ => {}
                    }
                    i += 1;
                }
                State::TrailerLf { empty } => {
                    self.count(1, MAX_TRAILERS)?;
                    if b != b'\n' {
                        return Err(ChunkedError::BadLineEnd);
                    }
                    i += 1;
                    if empty {
                        self.state = State::Done;
                        out.extend_from_slice(b"0\r\n\r\n");
                    } else {
                        self.state = State::TrailerStart;
                    }
                }
            }
        }
        Ok(i)
    }

    fn count(&mut self, n: usize, limit: usize) -> Result<(), ChunkedError> {
        self.counted += n;
        if self.counted > limit {
            return Err(ChunkedError::TooLong);
        }
        Ok(())
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `{n:x}\r\n`, without allocating.
fn write_size_line(n: usize, out: &mut Vec<u8>) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = [0u8; 16];
    let mut at = text.len();
    let mut n = n;
    loop {
        at -= 1;
        text[at] = DIGITS[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&text[at..]);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds `input` in pieces of `step` bytes: (data re-chunked, bytes of the body, done).
    fn run(input: &[u8], step: usize) -> Result<(Vec<u8>, usize, bool), ChunkedError> {
        let mut decoder = ChunkedDecoder::new();
        let mut out = Vec::new();
        let mut used = 0;
        for piece in input.chunks(step.max(1)) {
            let n = decoder.feed(piece, &mut out)?;
            used += n;
            if n < piece.len() {
                break;
            }
        }
        Ok((out, used, decoder.is_done()))
    }

    /// The data of a re-chunked body (which this module writes, so it is well formed).
    fn data_of(mut rechunked: &[u8]) -> Vec<u8> {
        let mut data = Vec::new();
        loop {
            let line_end = rechunked.windows(2).position(|w| w == b"\r\n").unwrap();
            let size =
                usize::from_str_radix(std::str::from_utf8(&rechunked[..line_end]).unwrap(), 16)
                    .unwrap();
            rechunked = &rechunked[line_end + 2..];
            if size == 0 {
                assert_eq!(rechunked, b"\r\n");
                return data;
            }
            data.extend_from_slice(&rechunked[..size]);
            assert_eq!(&rechunked[size..size + 2], b"\r\n");
            rechunked = &rechunked[size + 2..];
        }
    }

    #[test]
    fn bodies_end_exactly_where_their_last_chunk_and_trailers_end() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"0\r\n\r\n", b""),
            (b"5\r\nhello\r\n0\r\n\r\n", b"hello"),
            (b"5;name=value\r\nhello\r\n0;x\r\n\r\n", b"hello"),
            (b"5 \r\nhello\r\n0\r\n\r\n", b"hello"),
            (b"A\r\n0123456789\r\n1\r\n!\r\n0\r\n\r\n", b"0123456789!"),
            (
                b"a\r\n0123456789\r\n0\r\nx-trailer: 1\r\nx-other: 2\r\n\r\n",
                b"0123456789",
            ),
            (b"000003\r\nabc\r\n0000\r\n\r\n", b"abc"),
        ];
        for (body, data) in cases {
            for step in [1, 2, 3, 7, body.len()] {
                let mut input = body.to_vec();
                input.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
                let (out, used, done) = run(&input, step).unwrap();
                assert!(done, "{body:?} step {step}");
                assert_eq!(used, body.len(), "{body:?} step {step}: where it ends");
                assert_eq!(data_of(&out), *data, "{body:?} step {step}");
            }
        }
    }

    #[test]
    fn malformed_bodies_are_refused() {
        use ChunkedError::*;
        let cases: &[(&[u8], ChunkedError)] = &[
            (b"\r\n", BadSize),
            (b"g\r\n", BadSize),
            (b"-1\r\n", BadSize),
            (b"+5\r\nhello\r\n0\r\n\r\n", BadSize),
            (b"0x5\r\nhello\r\n", BadSize),
            (b"1000000000000000\r\n", BadSize),
            (b"5\nhello\r\n", BadSize),
            (b"5;x\nhello\r\n", BadLineEnd),
            (b"5\r\rhello", BadLineEnd),
            (b"5\r\nhelloX\r\n", BadLineEnd),
            (b"5\r\nhello\rX", BadLineEnd),
            (b"5\r\nhello\n0\r\n\r\n", BadLineEnd),
            (b"0\r\n\n", BadLineEnd),
            (b"0\r\nx: 1\n\r\n", BadLineEnd),
        ];
        for (body, error) in cases {
            for step in [1, body.len()] {
                assert_eq!(run(body, step).unwrap_err(), *error, "{body:?} step {step}");
            }
        }
        let mut long = b"5;".to_vec();
        long.extend(std::iter::repeat_n(b'x', MAX_LINE));
        assert_eq!(run(&long, 100).unwrap_err(), TooLong);
        let mut trailers = b"0\r\n".to_vec();
        while trailers.len() < MAX_TRAILERS + 100 {
            trailers.extend_from_slice(b"x-trailer: 0123456789\r\n");
        }
        assert_eq!(run(&trailers, 1000).unwrap_err(), TooLong);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any chunking of any data, with extensions and trailers, fed in any pieces: the
        /// data comes out whole and the end is found at the last byte of the body.
        #[test]
        fn any_chunked_body_round_trips(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..300), 0..8),
            extension in proptest::option::of("[a-z]{1,8}(=[a-z0-9]{0,8})?"),
            trailers in proptest::collection::vec("[a-z]{1,8}: [a-z0-9 ]{0,16}", 0..3),
            uppercase in any::<bool>(),
            step in 1usize..64,
            after in proptest::collection::vec(any::<u8>(), 0..16),
        ) {
            let mut body = Vec::new();
            for chunk in &chunks {
                let size = if uppercase { format!("{:X}", chunk.len()) } else { format!("{:x}", chunk.len()) };
                body.extend_from_slice(size.as_bytes());
                if let Some(e) = &extension {
                    body.extend_from_slice(format!(";{e}").as_bytes());
                }
                body.extend_from_slice(b"\r\n");
                body.extend_from_slice(chunk);
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(b"0\r\n");
            for t in &trailers {
                body.extend_from_slice(t.as_bytes());
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(b"\r\n");
            let mut input = body.clone();
            input.extend_from_slice(&after);
            let (out, used, done) = run(&input, step).unwrap();
            prop_assert!(done);
            prop_assert_eq!(used, body.len());
            prop_assert_eq!(data_of(&out), chunks.concat());
        }

        /// Arbitrary bytes never panic, and a body found complete is never longer than its
        /// input.
        #[test]
        fn arbitrary_bytes_are_read_or_refused(input in proptest::collection::vec(any::<u8>(), 0..512), step in 1usize..32) {
            if let Ok((_, used, _)) = run(&input, step) {
                prop_assert!(used <= input.len());
            }
        }
    }
}
