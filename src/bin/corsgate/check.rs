//! `corsgate check`: validate a policy file and print diagnostics the way compilers do.
//!
//! Exit status: 0 valid, 1 invalid (or warnings with `--strict`), 2 usage or I/O error (an
//! unknown environment, an unreadable file, an output that cannot be written).

use std::path::Path;

use corsgate::file::PolicyFile;
use corsgate::{Issue, IssueKind};
use serde_json::json;

use crate::output::{output_failed, printable_name, to_stdout};
use crate::{OutputFormat, EXIT_INVALID, EXIT_OK, EXIT_USAGE};

fn issue_json(issue: &Issue) -> serde_json::Value {
    json!({
        "severity": issue.severity().as_str(),
        "kind": issue.kind().as_str(),
        "path": issue.path(),
        "field": issue.field().as_str(),
        "index": issue.index(),
        "value": issue.value(),
        "message": issue.message(),
        "hint": issue.hint(),
        "environment": issue.environment(),
        "file": issue.location().map(|l| l.file.clone()),
        "line": issue.location().map(|l| l.line),
        "column": issue.location().map(|l| l.column),
    })
}

pub fn run(path: &Path, env: Option<&str>, strict: bool, format: OutputFormat) -> u8 {
    let label = path.display().to_string();
    let (issues, checked, status) = match PolicyFile::load(path) {
        Err(err) => {
            let io = err
                .errors()
                .all(|i| matches!(i.kind(), IssueKind::Io | IssueKind::UnknownEnvironment));
            let status = if io { EXIT_USAGE } else { EXIT_INVALID };
            (err.issues().to_vec(), Vec::new(), status)
        }
        Ok(file) => {
            let report = file.check(env);
            let unknown_env = report
                .issues
                .iter()
                .any(|i| i.kind() == IssueKind::UnknownEnvironment);
            let checked: Vec<String> = report
                .results
                .iter()
                .map(|(e, _)| e.clone().unwrap_or_else(|| "base".to_owned()))
                .collect();
            let failed = report.errors() > 0 || (strict && report.warnings() > 0);
            let status = if unknown_env {
                EXIT_USAGE
            } else if failed {
                EXIT_INVALID
            } else {
                EXIT_OK
            };
            (report.issues, checked, status)
        }
    };
    let errors = issues.iter().filter(|i| i.is_error()).count();
    let warnings = issues.len() - errors;
    let written = to_stdout(|out| match format {
        OutputFormat::Json => {
            let doc = json!({
                "file": label,
                "valid": status == EXIT_OK,
                "strict": strict,
                "checked": checked,
                "errors": errors,
                "warnings": warnings,
                "issues": issues.iter().map(issue_json).collect::<Vec<_>>(),
            });
            writeln!(out, "{doc}")
        }
        OutputFormat::Text => {
            for issue in &issues {
                writeln!(out, "{issue}")?;
            }
            let plural =
                |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
            let verdict = match status {
                EXIT_OK => "valid",
                EXIT_INVALID if errors == 0 => "invalid (warnings are errors with --strict)",
                _ => "invalid",
            };
            // Names reach this line from --env too: escaped unless valid names.
            let scope = if checked.is_empty() {
                String::new()
            } else {
                let names: Vec<String> = checked.iter().map(|n| printable_name(n)).collect();
                format!("; checked {}", names.join(", "))
            };
            writeln!(
                out,
                "{label}: {verdict}: {}, {}{scope}",
                plural(errors, "error"),
                plural(warnings, "warning")
            )
        }
    });
    match written {
        Ok(()) => status,
        Err(e) => output_failed("check", &e),
    }
}
