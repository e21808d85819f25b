//! `corsgate decide`: JSON Lines in, one JSON line out per request, in order.
//!
//! Input: `{"method": "OPTIONS", "headers": [["Origin", "https://a.example"], …]}`; header
//! names are case-insensitive and a repeated name means repeated field lines.
//! Output: `{"kind": "preflight"|"actual"|"none", "allowed": bool, "status": 204|403|null,
//! "headers": [[name, value], …], "reason": "…"}`, or `{"error": "…"}` for a line that is not
//! valid input (processing continues).
//!
//! Output is flushed whenever no more input is waiting, so a caller can also talk to it one
//! request at a time.

use std::borrow::Cow;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

use corsgate::file::load_policy;
use corsgate::{Cors, CorsRequest};
use serde::Deserialize;

use crate::{report_policy_error, EXIT_OK, EXIT_USAGE};

#[derive(Deserialize)]
struct Input<'a> {
    #[serde(borrow)]
    method: Cow<'a, str>,
    #[serde(borrow, default)]
    headers: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

pub fn run(path: &Path, env: Option<&str>) -> u8 {
    let policy = match load_policy(path, env) {
        Ok(p) => p,
        Err(err) => return report_policy_error(&err),
    };
    let cors = Cors::new(policy);
    let stdin = io::stdin();
    let stdout = io::stdout();
    match process(&cors, stdin.lock(), stdout.lock()) {
        Ok(()) => EXIT_OK,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => EXIT_OK,
        Err(e) => {
            eprintln!("corsgate decide: {e}");
            EXIT_USAGE
        }
    }
}

/// Decides every line of `input`, writing one line each to `output`.
pub fn process(cors: &Cors, input: impl Read, output: impl Write) -> io::Result<()> {
    let mut reader = BufReader::with_capacity(1 << 20, input);
    let mut writer = BufWriter::with_capacity(1 << 20, output);
    let mut line = Vec::with_capacity(1024);
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
        match serde_json::from_slice::<Input<'_>>(text) {
            Err(e) => {
                let message = if text.iter().all(u8::is_ascii_whitespace) {
                    "empty line: expected a JSON object".to_owned()
                } else {
                    e.to_string()
                };
                writer.write_all(b"{\"error\":")?;
                write_json_str(&mut writer, &message)?;
                writer.write_all(b"}\n")?;
            }
            Ok(input) => {
                let pairs: Vec<(&[u8], &[u8])> = input
                    .headers
                    .iter()
                    .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
                    .collect();
                let request = CorsRequest::from_pairs(input.method.as_bytes(), &pairs);
                let decision = cors.decide(&request);
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
                    write_json_str(&mut writer, &String::from_utf8_lossy(&value.as_bytes()))?;
                    writer.write_all(b"]")?;
                }
                writer.write_all(b"],\"reason\":")?;
                write_json_str(&mut writer, &decision.reason())?;
                writer.write_all(b"}\n")?;
            }
        }
    }
    writer.flush()
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
