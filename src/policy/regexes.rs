//! The policy's `regex:` entries after merging: at most [`MAX_REGEX_ENTRIES`], each proven
//! with credentials (`origin::proof`, with the `dangerously_*` options that tolerate what it
//! finds), then compiled together into the serving matcher.

use ahash::AHashMap;
use regex_syntax::hir::Hir;

use super::{OriginEntry, PolicyBuilder, RegexSet};
use crate::error::{Field, Issue, IssueKind};
use crate::origin::pattern::OriginPattern;
use crate::origin::proof::{Prover, Tolerance};
use crate::origin::regex::{self as origin_regex, SetError, MAX_REGEX_ENTRIES};

/// What checking the regex entries produced.
pub(super) struct Checked {
    /// The compiled matcher, unless there are no regex entries or they failed.
    pub(super) set: Option<RegexSet>,
    /// `dangerously_allow_insecure_origins` was needed by a regex.
    pub(super) used_insecure: bool,
    /// `dangerously_reflect_any_origin_with_credentials` was needed by a regex.
    pub(super) used_reflect: bool,
}

/// Checks and compiles the regex entries among `entries`; `hirs` holds each one's parsed
/// pattern by its index as written.
pub(super) fn check(
    b: &PolicyBuilder,
    entries: &[OriginEntry],
    mut hirs: AHashMap<usize, Hir>,
    issues: &mut Vec<Issue>,
) -> Checked {
    let mut checked = Checked {
        set: None,
        used_insecure: false,
        used_reflect: false,
    };
    let regexes: Vec<(usize, &OriginEntry)> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e.pattern, OriginPattern::Regex(_)))
        .collect();
    if regexes.is_empty() {
        return checked;
    }
    if regexes.len() > MAX_REGEX_ENTRIES {
        let (_, first_past) = regexes[MAX_REGEX_ENTRIES];
        issues.push(
            crate::error::Problem::new(
                IssueKind::InvalidRegex,
                format!(
                    "the policy has {} regex: entries; corsgate compiles at most \
                     {MAX_REGEX_ENTRIES}",
                    regexes.len()
                ),
            )
            .with_hint(
                "list fixed origins as exact entries and families of subdomains as \
                 https://*.example.com: neither has a limit",
            )
            .into_issue(Field::Origins, first_past.index, &first_past.written),
        );
        return checked;
    }
    let mut positions = Vec::with_capacity(regexes.len());
    let mut compiled = Vec::with_capacity(regexes.len());
    let mut prover = Prover::new();
    let tolerance = Tolerance {
        insecure: b.dangerously_allow_insecure_origins,
        reflect: b.dangerously_reflect_any_origin_with_credentials,
    };
    for (position, e) in regexes {
        // Every surviving regex entry was parsed in step 1.
        let Some(hir) = hirs.remove(&e.index) else {
            continue;
        };
        if b.credentials {
            let proof = prover.prove(&hir, tolerance);
            checked.used_insecure |= proof.used_insecure && tolerance.insecure;
            checked.used_reflect |= proof.used_reflect && tolerance.reflect;
            if let Some(problem) = proof.problem {
                issues.push(problem.into_issue(Field::Origins, e.index, &e.written));
                continue;
            }
        }
        positions.push(position);
        compiled.push(hir);
    }
    // Compiled even when the policy has other errors, so that every problem is reported at
    // once.
    match origin_regex::compile_set(&compiled, &positions) {
        Ok(compiled) => checked.set = Some(RegexSet { compiled }),
        Err(errors) => {
            for error in errors {
                match error {
                    SetError::Entry(i, problem) => {
                        let e = &entries[positions[i]];
                        issues.push(problem.into_issue(Field::Origins, e.index, &e.written));
                    }
                    SetError::Set(problem) => {
                        let mut issue = Issue::error(problem.kind, Field::Origins, problem.message);
                        issue.hint = problem.hint;
                        issues.push(issue);
                    }
                }
            }
        }
    }
    checked
}
