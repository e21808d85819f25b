//! The `corsgate` binary, run for real: `check` on policy files covering every error kind (in
//! TOML and JSON), every environment rule, `--strict`; `explain`; and the `decide` JSON Lines
//! protocol, malformed lines included.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{tables, TestPolicy};
use corsgate::reference::Reference;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_corsgate");

fn scratch() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "corsgate-cli-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn corsgate(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("CORSGATE_ENV")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("the binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn check_json(path: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["check", "--format", "json"];
    args.extend_from_slice(extra);
    let p = path.to_str().unwrap();
    args.push(p);
    let out = corsgate(&args, &[], "");
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
    (out.status.code().unwrap(), doc)
}

fn kinds(doc: &Value, severity: &str) -> Vec<String> {
    doc["issues"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["severity"] == severity)
        .map(|i| i["kind"].as_str().unwrap().to_owned())
        .collect()
}

/// The character at a 1-based line and column.
fn char_at(text: &str, line: u64, column: u64) -> Option<char> {
    text.lines()
        .nth(line as usize - 1)?
        .chars()
        .nth(column as usize - 1)
}

#[test]
fn every_refused_case_as_toml_and_json_files() {
    let dir = scratch();
    let mut files = 0;
    for (table, t) in tables() {
        for (n, case) in t.refused.iter().enumerate() {
            let toml_text = toml::to_string(&case.policy).unwrap();
            let json_text = serde_json::to_string_pretty(&case.policy).unwrap();
            for (name, text) in [
                (format!("{table}-{n}.toml"), toml_text),
                (format!("{table}-{n}.json"), json_text),
            ] {
                files += 1;
                let path = write(&dir, &name, &text);
                let (code, doc) = check_json(&path, &[]);
                let ctx = format!("{table}: {} ({name}):\n{text}\n{doc:#}", case.name);
                assert_eq!(code, 1, "{ctx}");
                assert_eq!(doc["valid"], false, "{ctx}");
                let mut errors = kinds(&doc, "error");
                let mut expected = case.errors.clone();
                // Issues are printed in file order; the tables list them in report order.
                errors.sort();
                expected.sort();
                assert_eq!(errors, expected, "{ctx}");
                for issue in doc["issues"].as_array().unwrap() {
                    let (line, column) = (
                        issue["line"].as_u64().unwrap(),
                        issue["column"].as_u64().unwrap(),
                    );
                    let at = char_at(&text, line, column);
                    assert!(
                        matches!(
                            at,
                            Some('"' | '\'' | '[' | '0'..='9' | '-' | 't' | 'f' | '{')
                        ),
                        "{ctx}: {line}:{column} points at {at:?}"
                    );
                    assert_eq!(issue["file"], path.to_str().unwrap());
                }
            }
        }
    }
    assert!(files > 60);
}

#[test]
fn file_level_errors() {
    let dir = scratch();
    // (file name, text, kind, (line, column), hint)
    type FileCase<'a> = (&'a str, &'a str, &'a str, (u64, u64), &'a str);
    let cases: &[FileCase<'_>] = &[
        (
            "syntax.toml",
            "origins = [\"https://a.example\"\ncredentials = true\n",
            "syntax",
            (2, 1),
            "",
        ),
        (
            "syntax.json",
            "{\n  \"origins\": [\"https://a.example\",]\n}\n",
            "syntax",
            (2, 35),
            "",
        ),
        (
            "unknown.toml",
            "origins = [\"https://a.example\"]\norgins = []\n",
            "unknown_field",
            (2, 1),
            "did you mean \"origins\"?",
        ),
        (
            "unknown.json",
            "{\"origins\": [\"https://a.example\"],\n \"allowed_headers\": [\"x\"]}",
            "unknown_field",
            (2, 2),
            "did you mean \"allow_headers\"?",
        ),
        (
            "unknown-env-field.toml",
            "origins = [\"https://a.example\"]\n[environments.dev]\ncredentails = true\n",
            "unknown_field",
            (3, 1),
            "did you mean \"credentials\"?",
        ),
        (
            "type-list.toml",
            "origins = \"https://a.example\"\n",
            "wrong_type",
            (1, 11),
            "origins = [\"https://app.example.com\"]",
        ),
        (
            "type-bool.toml",
            "origins = [\"https://a.example\"]\ncredentials = \"true\"\n",
            "wrong_type",
            (2, 15),
            "credentials = true",
        ),
        (
            "type-number.json",
            "{\"origins\": [\"https://a.example\"], \"max_age\": 1.5}",
            "wrong_type",
            (1, 47),
            "max_age = 7200",
        ),
        (
            "type-item.toml",
            "origins = [\"https://a.example\", 42]\n",
            "wrong_type",
            (1, 33),
            "quote it",
        ),
        (
            "type-env.toml",
            "origins = [\"https://a.example\"]\nenvironments = \"dev\"\n",
            "wrong_type",
            (2, 16),
            "[environments.development]",
        ),
        (
            "not-a-table.json",
            "[\"https://a.example\"]",
            "wrong_type",
            (1, 1),
            "",
        ),
        (
            "duplicate.json",
            "{\"origins\": [\"https://a.example\"], \"origins\": []}",
            "syntax",
            (1, 36),
            "keep one",
        ),
    ];
    for (name, text, kind, (line, column), hint) in cases {
        let path = write(&dir, name, text);
        let (code, doc) = check_json(&path, &[]);
        let ctx = format!("{name}: {doc:#}");
        assert_eq!(code, 1, "{ctx}");
        let issue = &doc["issues"][0];
        assert_eq!(issue["kind"], *kind, "{ctx}");
        assert_eq!(
            (
                issue["line"].as_u64().unwrap(),
                issue["column"].as_u64().unwrap()
            ),
            (*line, *column),
            "{ctx}"
        );
        assert!(issue["hint"].as_str().unwrap_or("").contains(hint), "{ctx}");
        // The text format names the same position.
        let out = corsgate(&["check", path.to_str().unwrap()], &[], "");
        assert!(
            stdout(&out).contains(&format!(
                "{}:{line}:{column}: error[{kind}]",
                path.display()
            )),
            "{}",
            stdout(&out)
        );
    }

    let missing = dir.join("missing.toml");
    let (code, doc) = check_json(&missing, &[]);
    assert_eq!(code, 2);
    assert_eq!(doc["issues"][0]["kind"], "io");
}

const ENVIRONMENTS: &str = r#"
origins = ["https://myapp.example", "https://*.myapp.example"]
methods = ["GET", "PUT"]
credentials = true
max_age = 600

[environments.development]
origins = ["http://localhost:*"]
max_age = 0

[environments.staging]
origins = ["https://staging.example"]
credentials = false

[environments.production]
origins = ["https://www.example.com"]
"#;

fn decide_one(
    path: &Path,
    env: Option<&str>,
    vars: &[(&str, &str)],
    request: &str,
) -> (i32, Value) {
    let p = path.to_str().unwrap();
    let mut args = vec!["decide", p];
    if let Some(e) = env {
        args.extend(["--env", e]);
    }
    let out = corsgate(&args, vars, &format!("{request}\n"));
    let code = out.status.code().unwrap();
    let value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (code, value)
}

fn get(origin: &str) -> String {
    format!(r#"{{"method":"GET","headers":[["Origin","{origin}"]]}}"#)
}

fn preflight(origin: &str) -> String {
    format!(
        r#"{{"method":"OPTIONS","headers":[["Origin","{origin}"],["Access-Control-Request-Method","PUT"]]}}"#
    )
}

fn header<'a>(decision: &'a Value, name: &str) -> Option<&'a str> {
    decision["headers"]
        .as_array()?
        .iter()
        .find(|h| h[0] == name)
        .and_then(|h| h[1].as_str())
}

#[test]
fn environments_add_origins_and_override_fields() {
    let dir = scratch();
    let path = write(&dir, "policy.toml", ENVIRONMENTS);

    // Base: localhost refused; with development: added, and max_age overridden.
    assert_eq!(
        decide_one(&path, None, &[], &get("http://localhost:3000")).1["allowed"],
        false
    );
    let (_, d) = decide_one(
        &path,
        Some("development"),
        &[],
        &get("http://localhost:3000"),
    );
    assert_eq!(d["allowed"], true);
    let (_, d) = decide_one(
        &path,
        Some("development"),
        &[],
        &preflight("https://a.myapp.example"),
    );
    assert_eq!(header(&d, "access-control-max-age"), Some("0"));
    assert_eq!(header(&d, "access-control-allow-credentials"), Some("true"));
    // The base list stays: development adds to it.
    assert_eq!(
        decide_one(
            &path,
            Some("development"),
            &[],
            &get("https://myapp.example")
        )
        .1["allowed"],
        true
    );
    // Staging turns credentials off.
    let (_, d) = decide_one(&path, Some("staging"), &[], &get("https://staging.example"));
    assert_eq!(d["allowed"], true);
    assert_eq!(header(&d, "access-control-allow-credentials"), None);
    assert_eq!(
        decide_one(&path, Some("staging"), &[], &get("https://www.example.com")).1["allowed"],
        false
    );

    // CORSGATE_ENV selects the environment; --env wins over it.
    let vars = [("CORSGATE_ENV", "production")];
    assert_eq!(
        decide_one(&path, None, &vars, &get("https://www.example.com")).1["allowed"],
        true
    );
    assert_eq!(
        decide_one(
            &path,
            Some("staging"),
            &vars,
            &get("https://www.example.com")
        )
        .1["allowed"],
        false
    );

    // An unknown environment is a usage error that lists the known ones.
    for (env, vars) in [
        (Some("prod"), &[][..]),
        (None, &[("CORSGATE_ENV", "prod")][..]),
    ] {
        let p = path.to_str().unwrap();
        let mut args = vec!["decide", p];
        if let Some(e) = env {
            args.extend(["--env", e]);
        }
        let out = corsgate(&args, vars, "");
        assert_eq!(out.status.code(), Some(2));
        let err = stderr(&out);
        assert!(
            err.contains("development, staging, production")
                || err.contains("development, production, staging"),
            "{err}"
        );
        assert!(err.contains("did you mean \"production\"?"), "{err}");
    }

    let (code, doc) = check_json(&path, &[]);
    assert_eq!(code, 0, "{doc:#}");
    let checked: Vec<&str> = doc["checked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(checked.len(), 4);
    assert!(checked.contains(&"base") && checked.contains(&"staging"));
}

#[test]
fn an_error_in_staging_fails_check_whatever_the_deployment_uses() {
    let dir = scratch();
    let text = ENVIRONMENTS.replace(
        "origins = [\"https://staging.example\"]",
        "origins = [\"https://staging.example/app\"]",
    );
    let path = write(&dir, "policy.toml", &text);
    for vars in [&[][..], &[("CORSGATE_ENV", "production")][..]] {
        let out = corsgate(&["check", path.to_str().unwrap()], vars, "");
        assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
        let text = stdout(&out);
        assert!(
            text.contains(
                "policy.toml:12:12: error[origin_has_path]: environments.staging.origins[0]"
            ),
            "{text}"
        );
    }
    let (_, doc) = check_json(&path, &[]);
    assert_eq!(doc["issues"][0]["environment"], "staging");
    // `--env` checks just that one, as asked.
    let (code, _) = check_json(&path, &["--env", "production"]);
    assert_eq!(code, 0);
    let (code, _) = check_json(&path, &["--env", "staging"]);
    assert_eq!(code, 1);
    // And the production deployment still serves.
    let (code, d) = decide_one(
        &path,
        Some("production"),
        &[],
        &get("https://www.example.com"),
    );
    assert_eq!((code, d["allowed"].clone()), (0, Value::Bool(true)));
}

#[test]
fn environment_rules() {
    let dir = scratch();
    // An empty base is fine when every environment adds origins; the base alone is not.
    let path = write(
        &dir,
        "empty-base.toml",
        "credentials = true\n[environments.a]\norigins = [\"https://a.example\"]\n[environments.b]\norigins = [\"https://b.example\"]\n",
    );
    let (code, doc) = check_json(&path, &[]);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["checked"], serde_json::json!(["a", "b"]));
    let out = corsgate(&["decide", path.to_str().unwrap()], &[], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("empty_allowlist"), "{}", stderr(&out));
    // A base entry that only an environment's settings make invalid names that environment.
    let path = write(
        &dir,
        "inherited.toml",
        "origins = [\"http://intranet.example\"]\n[environments.prod]\ncredentials = true\n",
    );
    let out = corsgate(&["check", path.to_str().unwrap()], &[], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("inherited.toml:1:12: error[insecure_origin_with_credentials]: origins[0] \"http://intranet.example\": with credentials")
            && stdout(&out).contains("(in environment prod)"),
        "{}",
        stdout(&out)
    );
    // No environment section, no environments: the base is checked.
    let path = write(&dir, "plain.json", "{\"origins\": [\"https://a.example\"]}");
    let (code, doc) = check_json(&path, &[]);
    assert_eq!(
        (code, doc["checked"].clone()),
        (0, serde_json::json!(["base"]))
    );
}

#[test]
fn strict_turns_warnings_into_failure() {
    let dir = scratch();
    let path = write(
        &dir,
        "warn.toml",
        "origins = [\"HTTPS://Example.com/\"]\nmax_age = 86400\n",
    );
    let (code, doc) = check_json(&path, &[]);
    assert_eq!(code, 0);
    assert_eq!(
        kinds(&doc, "warning"),
        ["non_canonical_origin", "max_age_above_browser_cap"]
    );
    let (code, doc) = check_json(&path, &["--strict"]);
    assert_eq!(code, 1);
    assert_eq!(doc["valid"], false);
    let out = corsgate(&["check", "--strict", path.to_str().unwrap()], &[], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("warn.toml:1:12: warning[non_canonical_origin]"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("invalid (warnings are errors with --strict)"));
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["check"][..],
        &["frobnicate"][..],
        &["check", "--format", "yaml", "x.toml"][..],
        &["explain", "x.toml"][..],
    ] {
        let out = corsgate(args, &[], "");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn explain_names_near_misses() {
    let policy = "examples/policy.toml";
    let run = |args: &[&str]| {
        let mut all = vec!["explain", policy];
        all.extend_from_slice(args);
        let out = corsgate(&all, &[], "");
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stdout(&out)
    };
    let text = run(&["--origin", "https://myapp.example/"]);
    assert!(
        text.contains("actual denied") && text.contains("your Origin has a trailing slash"),
        "{text}"
    );
    let text = run(&["--origin", "http://myapp.example"]);
    assert!(text.contains("scheme differs: http vs https"), "{text}");
    let text = run(&["--origin", "https://myapp.example:8443"]);
    assert!(text.contains("port differs"), "{text}");
    let text = run(&["--origin", "https://myapp.example.evil.com"]);
    assert!(text.contains("only starts with it"), "{text}");
    let text = run(&[
        "--origin",
        "https://a.myapp.example",
        "--preflight",
        "--method",
        "PUT",
        "--request-header",
        "Content-Type",
    ]);
    assert!(
        text.contains("preflight allowed; corsgate answers 204"),
        "{text}"
    );
    assert!(
        text.contains("access-control-allow-headers: content-type"),
        "{text}"
    );
    assert!(
        text.contains("origins[1] \"https://*.myapp.example\""),
        "{text}"
    );
    let text = run(&[
        "--origin",
        "https://a.myapp.example",
        "--preflight",
        "--method",
        "PATCH",
    ]);
    assert!(text.contains("requested \"PATCH\""), "{text}");
}

#[test]
fn decide_protocol() {
    let input = [
        r#"{"method": "OPTIONS", "headers": [["Origin", "https://a.myapp.example"], ["Access-Control-Request-Method", "PUT"], ["Access-Control-Request-Headers", "content-type,authorization"]]}"#,
        "not json",
        "",
        r#"{"headers": []}"#,
        r#"{"method": "GET", "headers": [["Origin"]]}"#,
        r#"{"method": "GET", "headers": "Origin: x"}"#,
        r#"{"method": "GET", "headers": [["ORIGIN", "https://myapp.example"]], "extra": 1}"#,
        r#"{"method": "GET", "headers": [["Origin", "https://myapp.example"], ["origin", "https://myapp.example"]]}"#,
        r#"{"method": "GET"}"#,
        r#"{"method": "OPTIONS", "headers": [["origin", "https://evil.example"], ["access-control-request-method", "PUT"]]}"#,
        r#"{"method": "OPTIONS", "headers": [["origin", "https://myapp.example"], ["access-control-request-method", "PUT"], ["access-control-request-headers", "content-type"], ["access-control-request-headers", " Authorization "]]}"#,
    ]
    .join("\n");
    let out = corsgate(
        &["decide", "examples/policy.toml"],
        &[],
        &format!("{input}\n"),
    );
    // Some lines are errors: exit 1, every line answered all the same.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 11);
    assert_eq!(
        lines[0],
        serde_json::json!({
            "kind": "preflight", "allowed": true, "status": 204,
            "headers": [
                ["access-control-allow-origin", "https://a.myapp.example"],
                ["access-control-allow-credentials", "true"],
                ["access-control-allow-methods", "GET,POST,PUT,DELETE"],
                ["access-control-allow-headers", "content-type,authorization"],
                ["access-control-expose-headers", "x-request-id"],
                ["access-control-max-age", "7200"],
                ["vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"],
            ],
            "reason": "origin matches origins[1] \"https://*.myapp.example\"",
            // A file without routes is a set of one policy, `default`, chosen by no route.
            "route": null, "policy": "default",
        })
    );
    for (i, line) in lines.iter().enumerate().take(6).skip(1) {
        assert!(line["error"].is_string(), "line {i}: {line}");
        assert_eq!(line.as_object().unwrap().len(), 1);
    }
    assert_eq!(lines[6]["allowed"], true);
    assert_eq!(lines[6]["status"], Value::Null);
    assert_eq!(
        header(&lines[6], "access-control-allow-origin"),
        Some("https://myapp.example")
    );
    assert_eq!(lines[7]["allowed"], false, "two Origin lines");
    assert_eq!(lines[8]["kind"], "none");
    assert_eq!(lines[8]["headers"], serde_json::json!([["vary", "Origin"]]));
    assert_eq!(
        (lines[9]["status"].clone(), lines[9]["allowed"].clone()),
        (Value::from(403), Value::Bool(false))
    );
    assert_eq!(lines[10]["allowed"], true, "{}", lines[10]);
}

#[test]
fn decide_agrees_with_the_reference() {
    let policy = corsgate::file::load_policy("examples/policy.toml", Some("development")).unwrap();
    let reference = Reference::new(&policy);
    let origins = [
        "https://myapp.example",
        "https://a.myapp.example",
        "http://localhost:3000",
        "http://localhost:3000/",
        "https://evil.example",
        "null",
        "http://127.0.0.1:8080",
    ];
    let methods = ["GET", "OPTIONS", "PUT"];
    let mut input = String::new();
    let mut expected = Vec::new();
    for (i, origin) in origins.iter().enumerate() {
        for (j, method) in methods.iter().enumerate() {
            for acrh in ["", "content-type", "x-other", "authorization,content-type"] {
                let mut headers = vec![("Origin".to_owned(), origin.to_string())];
                if *method == "OPTIONS" {
                    headers.push((
                        "Access-Control-Request-Method".into(),
                        ["PUT", "PATCH", "get"][(i + j) % 3].into(),
                    ));
                }
                if !acrh.is_empty() {
                    headers.push(("Access-Control-Request-Headers".into(), acrh.into()));
                }
                input.push_str(
                    &serde_json::json!({"method": method, "headers": headers}).to_string(),
                );
                input.push('\n');
                let pairs: Vec<(&[u8], &[u8])> = headers
                    .iter()
                    .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
                    .collect();
                expected.push(reference.decide(method.as_bytes(), &pairs));
            }
        }
    }
    let out = corsgate(
        &["decide", "--env", "development", "examples/policy.toml"],
        &[],
        &input,
    );
    let got: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g["kind"], e.kind);
        assert_eq!(g["allowed"], e.allowed);
        assert_eq!(g["status"], serde_json::to_value(e.status).unwrap());
        let headers: Vec<(String, String)> = serde_json::from_value(g["headers"].clone()).unwrap();
        assert_eq!(headers, e.headers);
    }
}

#[test]
fn decide_answers_each_line_before_the_next_arrives() {
    let mut child = Command::new(BIN)
        .args(["decide", "examples/policy.toml"])
        .env_remove("CORSGATE_ENV")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    for origin in [
        "https://myapp.example",
        "https://evil.example",
        "https://myapp.example",
    ] {
        writeln!(stdin, "{}", get(origin)).unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["allowed"], origin == "https://myapp.example");
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

#[test]
fn toml_and_json_files_decide_alike() {
    let dir = scratch();
    let policy = TestPolicy {
        origins: vec![
            "https://a.example".into(),
            "https://*.b.example:*".into(),
            r"regex:https://pr-[0-9]+\.c\.example".into(),
        ],
        methods: Some(vec!["GET".into(), "PATCH".into()]),
        allow_headers: vec!["X-Token".into()],
        expose_headers: vec!["X-Id".into()],
        credentials: true,
        max_age: Some(300),
        ..TestPolicy::default()
    };
    let toml_path = write(&dir, "p.toml", &toml::to_string(&policy).unwrap());
    let json_path = write(&dir, "p.json", &serde_json::to_string(&policy).unwrap());
    let input = [
        get("https://a.example"),
        get("https://x.b.example:8443"),
        get("https://pr-7.c.example"),
        get("https://c.example"),
        preflight("https://a.example"),
    ]
    .join("\n");
    let run = |p: &Path| stdout(&corsgate(&["decide", p.to_str().unwrap()], &[], &input));
    assert_eq!(run(&toml_path), run(&json_path));
    assert_eq!(
        run(&toml_path)
            .lines()
            .filter(|l| l.contains("\"allowed\":true"))
            .count(),
        3
    );
}

/// A file nested 100,000 levels deep (arrays, objects, inline tables, dotted keys, table
/// headers) is an error with its position in `check`, `decide` and `serve`, never a stack
/// overflow.
#[test]
fn deep_nesting_is_an_error_with_a_position_not_a_crash() {
    let dir = scratch();
    let n = 100_000;
    let files = [
        (
            "arrays.json",
            format!("{{\"origins\": {}{}}}", "[".repeat(n), "]".repeat(n)),
        ),
        (
            "objects.json",
            format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n)),
        ),
        (
            "arrays.toml",
            format!("origins = {}{}", "[".repeat(n), "]".repeat(n)),
        ),
        (
            "inline.toml",
            format!("x = {}1{}", "{a = ".repeat(n), "}".repeat(n)),
        ),
        ("dotted.toml", format!("a{} = 1", ".a".repeat(n))),
        ("header.toml", format!("[a{}]\nx = 1", ".a".repeat(n))),
    ];
    for (name, text) in files {
        let path = write(&dir, name, &text);
        let p = path.to_str().unwrap();
        let (code, doc) = check_json(&path, &[]);
        assert_eq!(code, 1, "{name}: {doc}");
        let issue = &doc["issues"][0];
        assert_eq!(issue["kind"], "nesting_too_deep", "{name}: {doc}");
        assert_eq!(issue["line"], 1, "{name}: {doc}");
        assert!(issue["column"].as_u64().unwrap() > 1, "{name}: {doc}");

        let out = corsgate(&["decide", p], &[], "");
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("error[nesting_too_deep]"),
            "{name}: {}",
            stderr(&out)
        );

        let mut serve = Command::new(BIN)
            .args(["serve", p, "--listen", "127.0.0.1:0", "--no-watch"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let status = loop {
            if let Some(status) = serve.try_wait().unwrap() {
                break status;
            }
            if std::time::Instant::now() > deadline {
                serve.kill().unwrap();
                panic!("{name}: serve did not refuse the policy at start");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(&mut serve.stderr.take().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(1), "{name}: {err}");
        assert!(err.contains("error[nesting_too_deep]"), "{name}: {err}");
    }
}
