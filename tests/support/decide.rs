//! `corsgate decide` run for real: JSON lines in, the exit status and the answers out.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

/// Runs `corsgate decide POLICY` with `input` on standard input; returns the exit status,
/// the answers (one JSON value per output line) and standard error.
pub fn decide(policy: &Path, input: &str) -> (Option<i32>, Vec<Value>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_corsgate"))
        .arg("decide")
        .arg(policy)
        .env_remove("CORSGATE_ENV")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("corsgate runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let answers = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (
        out.status.code(),
        answers,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
