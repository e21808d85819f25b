//! `corsgate decide`: JSON Lines in, one JSON line out per request, in order.
//!
//! Input: `{"method": "OPTIONS", "headers": [["Origin", "https://a.example"], …], "path":
//! "/api"}`; header names are case-insensitive and a repeated name means repeated field lines;
//! `path` (optional, the raw request path) and the `Host` header choose the route of a policy
//! set (design §8).
//! Output: `{"kind": "preflight"|"actual"|"none", "allowed": bool, "status": 204|403|null,
//! "headers": [[name, value], …], "reason": "…", "route": "…"|null, "policy": "…"}`, or
//! `{"error": "…"}` for a line that is not valid input (processing continues). `route` is the
//! name of the route that chose the policy (`null` when none matched); `policy` is `default`,
//! a named policy, or `off` (then nothing is added, not even `Vary`).
//!
//! A line is read the way an HTTP/1 parser reads a request (design §2.1), so that `decide` and
//! `corsgate serve` answer every request alike: the method and every header name must be
//! tokens (RFC 9110 §9.1, §5.1), a value may hold no control character but a tab
//! (RFC 9110 §5.5), and the optional whitespace around a value is not part of it
//! (RFC 9110 §5.5, RFC 9112 §5: spaces and tabs trimmed).
//!
//! Exit status: 0 when every line was decided, 1 when some line was an error line (every other
//! line is still decided, in order), 2 for usage and I/O errors (a closed pipe, a full disk).
//!
//! Output is flushed whenever no more input is waiting, so a caller can also talk to it one
//! request at a time.

use std::borrow::Cow;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

use corsgate::file::load_policy_set;
use corsgate::{Cors, CorsRequest};
use serde::Deserialize;

use crate::output::output_failed;
use crate::{report_policy_error, EXIT_INVALID, EXIT_OK};

#[derive(Deserialize)]
struct Input<'a> {
    #[serde(borrow)]
    method: Cow<'a, str>,
    #[serde(borrow, default)]
    headers: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    #[serde(borrow, default)]
    path: Option<Cow<'a, str>>,
}

pub fn run(path: &Path, env: Option<&str>) -> u8 {
    let set = match load_policy_set(path, env) {
        Ok(s) => s,
        Err(err) => return report_policy_error(&err),
    };
    let cors = Cors::with_set(set);
    let stdin = io::stdin();
    let stdout = io::stdout();
    match process(&cors, stdin.lock(), stdout.lock()) {
        Ok(Totals { errors: 0, .. }) => EXIT_OK,
        Ok(_) => EXIT_INVALID,
        Err(e) => output_failed("decide", &e),
    }
}

/// What a run of [`process`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Lines decided.
    pub decided: u64,
    /// Lines answered with `{"error"}`.
    pub errors: u64,
}

/// Decides every line of `input`, writing one line each to `output`.
pub fn process(cors: &Cors, input: impl Read, output: impl Write) -> io::Result<Totals> {
    let mut reader = BufReader::with_capacity(1 << 20, input);
    let mut writer = BufWriter::with_capacity(1 << 20, output);
    let mut line = Vec::with_capacity(1024);
    let mut totals = Totals::default();
    loop {
        if reader.buffer().is_empty() {
            writer.flush()?;
        }
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        let input = match serde_json::from_slice::<Input<'_>>(text) {
            Ok(input) => input,
            Err(_) if text.iter().all(u8::is_ascii_whitespace) => {
                totals.errors += 1;
                write_error(&mut writer, "empty line: expected a JSON object")?;
                continue;
            }
            Err(e) => {
                totals.errors += 1;
                write_error(&mut writer, &e.to_string())?;
                continue;
            }
        };
        match as_http1_parser_reads(&input) {
            Err(message) => {
                totals.errors += 1;
                write_error(&mut writer, &message)?;
            }
            Ok(pairs) => {
                totals.decided += 1;
                let mut request = CorsRequest::from_pairs(input.method.as_bytes(), &pairs);
                if let Some(path) = &input.path {
                    request = request.path(path.as_bytes());
                }
                write_decision(&mut writer, cors, &request)?;
            }
        }
    }
    writer.flush()?;
    Ok(totals)
}

/// Header `(name, value)` pairs, borrowed from an input line.
type Pairs<'a> = Vec<(&'a [u8], &'a [u8])>;

/// The request's header pairs as an HTTP/1 parser (and so `serve`) delivers them, or why a
/// parser would refuse the request.
fn as_http1_parser_reads<'a>(input: &'a Input<'a>) -> Result<Pairs<'a>, String> {
    const TCHARS: &str = "letters, digits and !#$%&'*+-.^_`|~";
    let method = input.method.as_bytes();
    if method.is_empty() {
        return Err(format!(
            "method \"\": a method is a token (RFC 9110 §9.1: {TCHARS}), not empty"
        ));
    }
    if !is_token(method) {
        return Err(format!(
            "method {:?} is not a token (RFC 9110 §9.1: {TCHARS}); an HTTP/1 parser refuses the request",
            input.method
        ));
    }
    let mut pairs = Vec::with_capacity(input.headers.len());
    for (i, (name, value)) in input.headers.iter().enumerate() {
        if !is_token(name.as_bytes()) {
            let hint = match name.trim() {
                trimmed if trimmed != name && is_token(trimmed.as_bytes()) => {
                    format!("; did you mean {trimmed:?}?")
                }
                _ => String::new(),
            };
            return Err(format!(
                "headers[{i}]: the name {name:?} is not a token (RFC 9110 §5.1: {TCHARS}); an HTTP/1 parser refuses the request{hint}"
            ));
        }
        if let Some(at) = value.bytes().position(|b| !is_field_value_byte(b)) {
            return Err(format!(
                "headers[{i}] ({name}): the value has the control character {:?} at byte {at}; a field value holds visible characters, spaces and tabs only (RFC 9110 §5.5)",
                char::from(value.as_bytes()[at])
            ));
        }
        // The value holds no control character but tabs, so ASCII whitespace is the optional
        // whitespace of RFC 9110 §5.5: spaces and tabs.
        pairs.push((name.as_bytes(), value.as_bytes().trim_ascii()));
    }
    if let Some(path) = &input.path {
        check_path(path)?;
    }
    Ok(pairs)
}

/// A path `serve` would route: a request target an HTTP/1 parser accepts (visible ASCII, no
/// space), and not one `serve` refuses before routing (dot segments, encoded `.`, `/`, `\`).
fn check_path(path: &str) -> Result<(), String> {
    if let Some(at) = path.bytes().position(|b| !b.is_ascii_graphic()) {
        return Err(format!(
            "path: byte {at} is not a visible ASCII character; an HTTP/1 request target has none (RFC 9112 §3.2)"
        ));
    }
    if !path.starts_with('/') {
        return Err(format!(
            "path {:?}: a path starts with `/`",
            path.escape_debug().to_string()
        ));
    }
    if let Some(problem) = crate::serve::path_problem(path.as_bytes()) {
        return Err(format!(
            "path {:?}: {problem}; corsgate serve answers 400 before choosing a route",
            path.escape_debug().to_string()
        ));
    }
    Ok(())
}

/// RFC 9110 `tchar` (§5.6.2), as a table: every line's method and header names pass through
/// it, and a table costs a load a byte where the obvious test scans the 15 symbols.
static TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let symbols = b"!#$%&'*+-.^_`|~";
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = b.is_ascii_alphanumeric();
        i += 1;
    }
    let mut j = 0;
    while j < symbols.len() {
        table[symbols[j] as usize] = true;
        j += 1;
    }
    table
};

/// RFC 9110 `token`: one or more `tchar`.
fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|&b| TCHAR[b as usize])
}

/// A byte a field value may hold: visible ASCII, space, tab, and obs-text (RFC 9110 §5.5), as
/// HTTP/1 parsers (httparse, under hyper and so `serve`) accept.
fn is_field_value_byte(b: u8) -> bool {
    b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80
}

fn write_error(writer: &mut impl Write, message: &str) -> io::Result<()> {
    writer.write_all(b"{\"error\":")?;
    write_json_str(writer, message)?;
    writer.write_all(b"}\n")
}

fn write_decision(
    writer: &mut impl Write,
    cors: &Cors,
    request: &CorsRequest<'_>,
) -> io::Result<()> {
    let decision = cors.decide(request);
    writer.write_all(b"{\"kind\":\"")?;
    writer.write_all(decision.kind().as_str().as_bytes())?;
    writer.write_all(if decision.is_allowed() {
        b"\",\"allowed\":true,\"status\":"
    } else {
        b"\",\"allowed\":false,\"status\":"
    })?;
    match decision.status() {
        Some(s) => write!(writer, "{}", s.as_u16())?,
        None => writer.write_all(b"null")?,
    }
    writer.write_all(b",\"headers\":[")?;
    for (i, (name, value)) in decision.headers().enumerate() {
        if i > 0 {
            writer.write_all(b",")?;
        }
        writer.write_all(b"[\"")?;
        writer.write_all(name.as_str().as_bytes())?;
        writer.write_all(b"\",")?;
        write_json_str(writer, &String::from_utf8_lossy(&value.as_bytes()))?;
        writer.write_all(b"]")?;
    }
    writer.write_all(b"],\"reason\":")?;
    write_json_str(writer, &decision.reason())?;
    writer.write_all(b",\"route\":")?;
    match decision.route_name() {
        Some(route) => write_json_str(writer, route)?,
        None => writer.write_all(b"null")?,
    }
    writer.write_all(b",\"policy\":")?;
    write_json_str(writer, decision.policy_name())?;
    writer.write_all(b"}\n")
}

fn write_json_str(out: &mut impl Write, s: &str) -> io::Result<()> {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.write_all(b"\"")?;
        out.write_all(s.as_bytes())?;
        out.write_all(b"\"")
    } else {
        serde_json::to_writer(out, s).map_err(io::Error::other)
    }
}
