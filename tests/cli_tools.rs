//! The `corsgate` subcommands as tools in pipelines: exit statuses as a contract, a closed
//! pipe or a full disk (exit 2 with a message, never a panic), `decide` reading its lines the
//! way an HTTP/1 parser reads a request, and environment names that cannot forge output.

mod support;

use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::raw_http::{exchange, status_of, READ_LIMIT};

const BIN: &str = env!("CARGO_BIN_EXE_corsgate");
const POLICY: &str = "examples/policy.toml";

fn scratch(name: &str, text: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "corsgate-cli-tools-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs the binary with `stdin` as input and standard output sent to `stdout`.
fn run_to(args: &[&str], stdin: &str, stdout: Stdio) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("CORSGATE_ENV")
        .stdin(Stdio::piped())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut input = child.stdin.take().unwrap();
    // The child may exit before reading everything (its output failed): that is fine here.
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    child.wait_with_output().unwrap()
}

fn run(args: &[&str], stdin: &str) -> Output {
    run_to(args, stdin, Stdio::piped())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The write end of a pipe whose read end is already closed: every write fails with EPIPE.
fn closed_pipe() -> OwnedFd {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let _inside = runtime.enter();
    let (writer, reader) = tokio::net::unix::pipe::pipe().unwrap();
    drop(reader);
    writer.into_blocking_fd().unwrap()
}

fn full_disk() -> Stdio {
    Stdio::from(
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full"),
    )
}

/// A policy file with enough errors that `check`'s report is far larger than a pipe's buffer.
fn big_report() -> PathBuf {
    let origins: Vec<String> = (0..3_000)
        .map(|i| format!("\"https://host-{i}.example/path\""))
        .collect();
    scratch(
        "many-errors.toml",
        &format!("origins = [{}]\n", origins.join(", ")),
    )
}

#[test]
fn a_closed_pipe_or_a_full_disk_ends_every_subcommand_with_exit_2() {
    let big = big_report();
    let big = big.to_str().unwrap();
    let long_origin = format!("https://{}.example", "a".repeat(60_000));
    let decide_input: String = (0..2_000)
        .map(|_| "{\"method\":\"GET\",\"headers\":[[\"Origin\",\"https://myapp.example\"]]}\n")
        .collect();
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        ("check", vec!["check", POLICY], ""),
        ("check", vec!["check", big], ""),
        ("check", vec!["check", "--format", "json", big], ""),
        (
            "explain",
            vec!["explain", POLICY, "--origin", "https://a.myapp.example"],
            "",
        ),
        (
            "explain",
            vec!["explain", POLICY, "--origin", &long_origin],
            "",
        ),
        ("decide", vec!["decide", POLICY], &decide_input),
        ("decide", vec!["decide", POLICY], "{\"method\":\"GET\"}\n"),
        ("--help", vec!["--help"], ""),
    ];
    for (command, args, input) in &cases {
        for (sink, stdout) in [
            ("closed pipe", Stdio::from(closed_pipe())),
            ("full disk", full_disk()),
        ] {
            let out = run_to(args, input, stdout);
            let err = text(&out.stderr);
            let ctx = format!("{args:?} into a {sink}: {err}");
            assert_eq!(out.status.code(), Some(2), "{ctx}");
            assert!(
                err.contains(&format!("corsgate {command}: cannot write the output")),
                "{ctx}"
            );
            assert!(!err.contains("panicked"), "{ctx}");
        }
    }
}

/// `serve` is a long-running sidecar: a supervisor that closed its standard output and error, or
/// pointed them at a full disk, must not be able to make it exit (a `println!` would panic).
#[test]
fn serve_keeps_serving_when_its_output_cannot_be_written() {
    // The pipes are made outside it: `closed_pipe` runs a runtime of its own.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (sink, stdout, stderr) in [
        (
            "closed pipes",
            Stdio::from(closed_pipe()),
            Stdio::from(closed_pipe()),
        ),
        ("a full disk", full_disk(), full_disk()),
    ] {
        // A free port: bound, read, released (the child cannot print the one it picked).
        let address = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut child = Command::new(BIN)
            .args(["serve", POLICY, "--no-watch", "--listen"])
            .arg(address.to_string())
            .env_remove("CORSGATE_ENV")
            .env("RUST_LOG", "info")
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("the binary runs");
        runtime.block_on(async {
            // Listening (bounded wait), and still running: the start-up line did not kill it.
            let deadline = Instant::now() + Duration::from_secs(20);
            while tokio::net::TcpStream::connect(address).await.is_err() {
                if let Some(status) = child.try_wait().unwrap() {
                    panic!("serve with {sink} exited: {status}");
                }
                assert!(
                    Instant::now() < deadline,
                    "serve with {sink} never listened"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            // Allowed requests, each of which writes an access-log line.
            for _ in 0..3 {
                let answer = exchange(
                    address,
                    b"GET /api/users HTTP/1.1\r\nHost: localhost\r\nOrigin: https://myapp.example\r\nConnection: close\r\n\r\n",
                    READ_LIMIT,
                )
                .await;
                let text = String::from_utf8_lossy(&answer);
                assert_eq!(status_of(&answer), 200, "serve with {sink}: {text}");
                assert!(
                    text.contains("access-control-allow-origin: https://myapp.example"),
                    "serve with {sink}: {text}"
                );
            }
        });
        let still_running = child.try_wait().unwrap().is_none();
        let _ = child.kill();
        let _ = child.wait();
        assert!(still_running, "serve with {sink} exited");
    }
}

#[test]
fn exit_statuses_are_a_contract() {
    let invalid = scratch("invalid.toml", "origins = [\"https://a.example/app\"]\n");
    let invalid = invalid.to_str().unwrap();
    let get = "{\"method\":\"GET\",\"headers\":[[\"Origin\",\"https://myapp.example\"]]}\n";
    let cases: Vec<(Vec<&str>, String, i32)> = vec![
        (vec!["check", POLICY], String::new(), 0),
        (vec!["check", invalid], String::new(), 1),
        (vec!["check", "missing.toml"], String::new(), 2),
        (vec!["check", POLICY, "--env", "nope"], String::new(), 2),
        (
            vec!["explain", POLICY, "--origin", "https://evil.example"],
            String::new(),
            0,
        ),
        (
            vec!["explain", invalid, "--origin", "https://a.example"],
            String::new(),
            1,
        ),
        (vec!["explain", POLICY], String::new(), 2),
        (vec!["decide", POLICY], get.repeat(3), 0),
        (vec!["decide", POLICY], String::new(), 0),
        (vec!["decide", POLICY], format!("{get}not json\n{get}"), 1),
        (vec!["decide", POLICY], "{\"method\":\"\"}\n".to_owned(), 1),
        (vec!["decide", POLICY], "\n".to_owned(), 1),
        (vec!["decide", invalid], get.to_owned(), 1),
        (vec!["decide", POLICY, "--env", "nope"], get.to_owned(), 2),
        (vec!["frobnicate"], String::new(), 2),
        (vec!["--help"], String::new(), 0),
    ];
    for (args, input, code) in &cases {
        let out = run(args, input);
        assert_eq!(
            out.status.code(),
            Some(*code),
            "{args:?} with {input:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        assert!(!text(&out.stderr).contains("panicked"), "{args:?}");
    }
    // Every line is still answered, in order, when some are errors.
    let out = run(&["decide", POLICY], &format!("{get}not json\n{get}"));
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["allowed"], true);
    assert!(lines[1]["error"].is_string());
    assert_eq!(lines[2]["allowed"], true);
}

#[test]
fn help_states_the_exit_statuses() {
    for (args, needle) in [
        (&["--help"][..], "Exit status: 0 done, 1 invalid policy"),
        (&["check", "--help"][..], "Exit status: 0 valid, 1 invalid"),
        (
            &["explain", "--help"][..],
            "Exit status: 0 whatever the decision",
        ),
        (
            &["decide", "--help"][..],
            "1 some line was an {\"error\"} line",
        ),
        (
            &["serve", "--help"][..],
            "Exit status: 0 after a graceful shutdown",
        ),
    ] {
        let out = run(args, "");
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let help = text(&out.stdout)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(help.contains(needle), "{args:?}: {help}");
    }
}

fn decide(lines: &[String]) -> (i32, Vec<Value>) {
    let mut input = lines.join("\n");
    input.push('\n');
    let out = run(&["decide", POLICY], &input);
    let answers = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (out.status.code().unwrap(), answers)
}

fn request(method: &str, headers: &[(&str, &str)]) -> String {
    serde_json::json!({"method": method, "headers": headers}).to_string()
}

#[test]
fn decide_refuses_what_an_http1_parser_refuses() {
    let origin = "https://myapp.example";
    // (request, what the error names)
    let refused: Vec<(String, &str)> = vec![
        (
            request("GET", &[("Origin ", origin)]),
            "headers[0]: the name \"Origin \" is not a token",
        ),
        (
            request("GET", &[(" Origin", origin)]),
            "did you mean \"Origin\"?",
        ),
        (request("GET", &[("Ori\u{0}gin", origin)]), "headers[0]"),
        (
            request("GET", &[("X-A", "1"), ("", origin)]),
            "headers[1]: the name \"\"",
        ),
        (request("GET", &[("Origin:", origin)]), "is not a token"),
        (request("GET", &[("Orígin", origin)]), "is not a token"),
        (request("GET", &[("Origin\n", origin)]), "is not a token"),
        (request("", &[("Origin", origin)]), "method \"\""),
        (
            request("G T", &[("Origin", origin)]),
            "method \"G T\" is not a token",
        ),
        (request("GET\r", &[("Origin", origin)]), "is not a token"),
        (request("(GET)", &[]), "is not a token"),
        (
            request("GET", &[("Origin", "https://myapp.example\n")]),
            "headers[0] (Origin): the value has the control character",
        ),
        (
            request("GET", &[("Origin", "https://myapp\u{0}.example")]),
            "control character",
        ),
        (
            request(
                "OPTIONS",
                &[
                    ("Origin", origin),
                    ("Access-Control-Request-Method", "PUT\r"),
                ],
            ),
            "headers[1]",
        ),
        (request("GET", &[("Origin", "\u{7f}")]), "control character"),
    ];
    let lines: Vec<String> = refused.iter().map(|(r, _)| r.clone()).collect();
    let (code, answers) = decide(&lines);
    assert_eq!(code, 1);
    assert_eq!(answers.len(), refused.len());
    for ((line, needle), answer) in refused.iter().zip(&answers) {
        let message = answer["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{line}: {answer}"));
        assert!(message.contains(needle), "{line}: {message}");
        assert_eq!(answer.as_object().unwrap().len(), 1);
    }
    // What an HTTP/1 parser accepts is decided: any token as a name or method, a tab inside a
    // value, non-ASCII (obs-text) bytes.
    let accepted = [
        request(
            "GET",
            &[("X-Weird!#$%&'*+-.^_`|~", "1"), ("Origin", origin)],
        ),
        request("get", &[("Origin", origin)]),
        request("GET", &[("Origin", "https://caf\u{e9}.example")]),
        request("GET", &[("X-Tab", "a\tb"), ("ORIGIN", origin)]),
        request("PATCH", &[]),
    ];
    let (code, answers) = decide(&accepted);
    assert_eq!(code, 0, "{answers:?}");
    assert!(answers.iter().all(|a| a["kind"].is_string()), "{answers:?}");
    assert_eq!(answers[0]["allowed"], true);
    assert_eq!(
        answers[2]["allowed"], false,
        "non-ASCII origins are not a browser's"
    );
}

#[test]
fn decide_trims_optional_whitespace_like_an_http1_parser() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        ("GET", &[("Origin", " https://myapp.example")]),
        ("GET", &[("Origin", "https://myapp.example \t")]),
        ("GET", &[("Origin", "\t https://a.myapp.example\t ")]),
        ("GET", &[("Origin", "   ")]),
        (
            "OPTIONS",
            &[
                ("Origin", " https://a.myapp.example "),
                ("Access-Control-Request-Method", "\tPUT "),
                ("Access-Control-Request-Headers", " content-type "),
            ],
        ),
        (
            "OPTIONS",
            &[
                ("Origin", "https://a.myapp.example"),
                ("Access-Control-Request-Method", " PUT"),
                (
                    "Access-Control-Request-Headers",
                    "content-type, authorization ",
                ),
                ("Access-Control-Request-Headers", " x-other"),
            ],
        ),
    ];
    let trimmed = |headers: &[(&str, &str)]| -> Vec<(String, String)> {
        headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.trim_matches([' ', '\t']).to_owned()))
            .collect()
    };
    let mut lines = Vec::new();
    for (method, headers) in cases {
        lines.push(request(method, headers));
        lines.push(serde_json::json!({"method": method, "headers": trimmed(headers)}).to_string());
    }
    let (code, answers) = decide(&lines);
    assert_eq!(code, 0);
    for (pair, (method, headers)) in answers.chunks(2).zip(cases) {
        assert_eq!(pair[0], pair[1], "{method} {headers:?}");
    }
    assert_eq!(answers[0]["allowed"], true, "{}", answers[0]);
    assert_eq!(
        answers[0]["headers"][0],
        serde_json::json!(["access-control-allow-origin", "https://myapp.example"])
    );
    assert_eq!(
        answers[6]["allowed"], false,
        "an empty Origin is not allowed"
    );
    assert_eq!(answers[8]["status"], 204, "{}", answers[8]);
}

fn check(path: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["check"];
    args.extend_from_slice(extra);
    args.push(path.to_str().unwrap());
    run(&args, "")
}

#[test]
fn environment_names_are_validated_and_never_forge_a_line() {
    // The first name has a newline that, printed raw, would add a line saying the file is
    // valid; the others have a space, a non-ASCII letter, nothing, and a terminal escape.
    let path = scratch(
        "names.toml",
        "origins = [\"https://a.example\"]\n\
         [environments.\"ok\\npolicy.toml: valid: 0 errors, 0 warnings; checked base\"]\n\
         origins = [\"https://b.example\"]\n\
         [environments.\"with space\"]\n\
         [environments.\"caf\u{e9}\"]\n\
         [environments.\"\"]\n\
         [environments.\"\\u001b[2J\"]\n\
         [environments.\"good-name_1.2\"]\n\
         origins = [\"https://c.example\"]\n",
    );
    let out = check(&path, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let report = text(&out.stdout);
    assert!(
        !report.lines().any(|l| l.starts_with("policy.toml: valid")),
        "{report}"
    );
    assert!(!report.contains('\u{1b}'), "{report}");
    let errors: Vec<&str> = report
        .lines()
        .filter(|l| l.contains("error[invalid_environment_name]"))
        .collect();
    assert_eq!(errors.len(), 5, "{report}");
    // `good-name_1.2` is a valid name: nothing else is wrong with the file.
    assert!(
        report.contains(": invalid: 5 errors, 0 warnings"),
        "{report}"
    );
    assert!(
        errors[0].contains(r#"environment name "ok\npolicy.toml: valid"#),
        "{report}"
    );
    assert!(
        report.contains("hint: rename it, e.g. [environments.with-space]"),
        "{report}"
    );
    assert!(report.contains("hint: name the section"), "{report}");
    // Every issue line starts with the file's path: nothing printed escaped a line.
    for line in report.lines() {
        assert!(
            line.starts_with(path.to_str().unwrap()) || line.starts_with("  hint: "),
            "{line:?} in\n{report}"
        );
    }
    let out = check(&path, &["--format", "json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["issues"][0]["kind"], "invalid_environment_name");
    assert_eq!(
        doc["issues"][0]["value"],
        "ok\npolicy.toml: valid: 0 errors, 0 warnings; checked base"
    );

    // A name given on the command line is escaped wherever it is printed.
    let good = scratch(
        "good.toml",
        "origins = [\"https://a.example\"]\n[environments.dev]\n",
    );
    let out = check(&good, &["--env", "dev\ngood.toml: valid: 0 errors"]);
    assert_eq!(out.status.code(), Some(2));
    let report = text(&out.stdout);
    assert_eq!(report.lines().count(), 3, "{report}");
    assert!(
        report.contains(r#"checked "dev\ngood.toml: valid: 0 errors""#),
        "{report}"
    );
    let out = run(
        &["decide", good.to_str().unwrap(), "--env", "dev\nfake"],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains(r#"no environment "dev\nfake""#));
}

#[test]
fn an_environment_that_sets_a_dangerous_option_draws_a_warning() {
    let path = scratch(
        "dangerous.toml",
        "origins = [\"https://a.example\"]\n\
         credentials = true\n\
         [environments.staging]\n\
         origins = [\"http://staging.example\"]\n\
         dangerously_allow_insecure_origins = true\n\
         [environments.preview]\n\
         origins = [\"null\"]\n\
         dangerously_allow_null_origin = true\n\
         dangerously_allow_public_suffix_wildcards = false\n\
         [environments.production]\n\
         origins = [\"https://www.example.com\"]\n",
    );
    let out = check(&path, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let warnings: Vec<(String, String, String)> = doc["issues"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "dangerous_option_in_environment")
        .map(|i| {
            (
                i["environment"].as_str().unwrap().to_owned(),
                i["field"].as_str().unwrap().to_owned(),
                i["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(warnings.len(), 2, "{doc:#}");
    assert_eq!(
        (warnings[0].0.as_str(), warnings[0].1.as_str()),
        ("staging", "dangerously_allow_insecure_origins")
    );
    assert!(
        warnings[0].2.contains("staging")
            && warnings[0].2.contains("dangerously_allow_insecure_origins")
    );
    assert_eq!(
        (warnings[1].0.as_str(), warnings[1].1.as_str()),
        ("preview", "dangerously_allow_null_origin")
    );
    // The text names them too, at the option's position, and --strict refuses them.
    let out = check(&path, &[]);
    let report = text(&out.stdout);
    assert!(
        report.contains(":5:38: warning[dangerous_option_in_environment]: environments.staging.dangerously_allow_insecure_origins"),
        "{report}"
    );
    assert_eq!(check(&path, &["--strict"]).status.code(), Some(1));
    // Set in the base policy, it is reviewed with the base: no such warning.
    let base = scratch(
        "base.toml",
        "origins = [\"http://intranet.example\"]\ncredentials = true\ndangerously_allow_insecure_origins = true\n[environments.dev]\norigins = [\"http://dev.example\"]\n",
    );
    let out = check(&base, &["--format", "json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        doc["issues"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["kind"] != "dangerous_option_in_environment"),
        "{doc:#}"
    );
}
