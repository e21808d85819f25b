//! The allowlist's checks, in the order they run: parse every entry, apply the credential
//! rules, merge duplicates and covered entries, prove and compile the regex entries
//! (`regexes`), and warn about `dangerously_*` opt-outs that change nothing.

use std::collections::hash_map::Entry;

use ahash::AHashMap;

use crate::error::{Field, Issue, IssueKind, Problem};
use crate::origin::credentials;
use crate::origin::host::HostKind;
use crate::origin::pattern::{self, OriginPattern, PortPattern};
use crate::origin::regex as origin_regex;
use regex_syntax::hir::Hir;

use super::{regexes, OriginEntry, PolicyBuilder, RegexSet};

/// What the allowlist's checks produced: the entries that stay, and the compiled regex set.
pub(super) struct OriginsCheck {
    pub(super) entries: Vec<OriginEntry>,
    pub(super) regex: Option<RegexSet>,
}

/// A warning about one entry of the allowlist.
fn warn_origin(kind: IssueKind, index: usize, raw: &str, message: String, hint: &str) -> Issue {
    Issue::warning(kind, Field::Origins, message)
        .at(index)
        .with_value(raw)
        .with_hint(hint)
}

/// Which `dangerously_*` opt-outs an entry needed, so that the unneeded ones draw a warning.
#[derive(Default)]
struct OptOutsUsed {
    insecure: bool,
    public_suffix: bool,
    reflect: bool,
}

impl OriginsCheck {
    pub(super) fn run(b: &PolicyBuilder, issues: &mut Vec<Issue>) -> OriginsCheck {
        if b.origins.is_empty() {
            issues.push(
                Issue::error(IssueKind::EmptyAllowlist, Field::Origins, "the allowlist is empty")
                    .with_hint("list the origins that may call this API, e.g. origins = [\"https://app.example.com\"]"),
            );
        }
        // 1. Parse every entry.
        let (parsed, regex_hirs) = parse_entries(b, issues);
        // 2. Credential rules, on every entry (a covered entry is still reported).
        let mut used = OptOutsUsed::default();
        if b.credentials {
            check_credentials(b, &parsed, &mut used, issues);
        }
        // 3. Merge duplicates and covered entries.
        let entries = merge_redundant(parsed, issues);
        // 4. Regex entries: proven with credentials, compiled into one matcher.
        let checked = regexes::check(b, &entries, regex_hirs, issues);
        used.insecure |= checked.used_insecure;
        used.reflect |= checked.used_reflect;
        // 5. Opt-outs that change nothing.
        warn_unused_opt_outs(b, &entries, &used, issues);
        OriginsCheck {
            entries,
            regex: checked.set,
        }
    }
}

/// Step 1: parses every entry (a canonicalised one draws a warning; `null` needs its opt-out;
/// a regex must parse). Returns the entries that parsed and each regex entry's syntax tree by
/// its index as written.
fn parse_entries(
    b: &PolicyBuilder,
    issues: &mut Vec<Issue>,
) -> (Vec<OriginEntry>, AHashMap<usize, Hir>) {
    let mut parsed: Vec<OriginEntry> = Vec::with_capacity(b.origins.len());
    let mut regex_hirs = AHashMap::new();
    for (index, raw) in b.origins.iter().enumerate() {
        let entry = match pattern::parse_entry(raw) {
            Ok(entry) => entry,
            Err(problem) => {
                issues.push(problem.into_issue(Field::Origins, index, raw));
                continue;
            }
        };
        if !entry.canonicalised.is_empty() {
            let canonical = entry.pattern.to_string();
            issues.push(warn_origin(
                IssueKind::NonCanonicalOrigin,
                index,
                raw,
                format!(
                    "canonicalised to {canonical:?} ({})",
                    entry.canonicalised.join(", ")
                ),
                &format!("write {canonical:?}"),
            ));
        }
        match &entry.pattern {
            OriginPattern::Null if !b.dangerously_allow_null_origin => {
                issues.push(Problem::new(
                        IssueKind::NullOrigin,
                        "`null` is the origin of every sandboxed iframe, file: page and cross-origin redirect",
                    )
                    .with_hint("remove it, or set dangerously_allow_null_origin = true if you accept all of them").into_issue(Field::Origins, index, raw));
                continue;
            }
            OriginPattern::Regex(source) => match origin_regex::parse(source) {
                Ok(parsed) => {
                    regex_hirs.insert(index, parsed.hir);
                }
                Err(problem) => {
                    issues.push(problem.into_issue(Field::Origins, index, raw));
                    continue;
                }
            },
            _ => {}
        }
        parsed.push(OriginEntry {
            pattern: entry.pattern,
            index,
            written: raw.clone(),
        });
    }
    (parsed, regex_hirs)
}

/// Step 2 (with credentials only): the credential rules, on every entry (an entry that step 3
/// merges away is still reported): no `*` without its opt-out, no insecure scheme, no wildcard
/// over a public suffix.
fn check_credentials(
    b: &PolicyBuilder,
    parsed: &[OriginEntry],
    used: &mut OptOutsUsed,
    issues: &mut Vec<Issue>,
) {
    for e in parsed {
        match &e.pattern {
            OriginPattern::Any => {
                if b.dangerously_reflect_any_origin_with_credentials {
                    used.reflect = true;
                } else {
                    issues.push(Problem::new(
                                IssueKind::AnyOriginWithCredentials,
                                "browsers refuse `Access-Control-Allow-Origin: *` on credentialed requests",
                            )
                            .with_hint(
                                "list the origins that may send credentials; to echo every origin \
                                 (any site can then read responses with the user's cookies) set \
                                 dangerously_reflect_any_origin_with_credentials = true",
                            ).into_issue(Field::Origins, e.index, &e.written));
                }
            }
            OriginPattern::Tuple(t) => {
                if let Some(problem) = credentials::insecure_scheme(t) {
                    if b.dangerously_allow_insecure_origins {
                        used.insecure = true;
                    } else {
                        issues.push(problem.into_issue(Field::Origins, e.index, &e.written));
                    }
                }
                if let Some(problem) = credentials::public_suffix_wildcard(t) {
                    if b.dangerously_allow_public_suffix_wildcards {
                        used.public_suffix = true;
                    } else {
                        issues.push(problem.into_issue(Field::Origins, e.index, &e.written));
                    }
                }
            }
            OriginPattern::Null | OriginPattern::Regex(_) => {}
        }
    }
}

/// Step 5: `dangerously_*` opt-outs that change nothing draw a warning.
fn warn_unused_opt_outs(
    b: &PolicyBuilder,
    entries: &[OriginEntry],
    used: &OptOutsUsed,
    issues: &mut Vec<Issue>,
) {
    let unused = |name: Field, why: &str| {
        Issue::warning(
            IssueKind::UnusedOption,
            name,
            format!("{} changes nothing here: {why}", name.as_str()),
        )
        .with_hint("remove it, so that it cannot widen a later change by surprise")
    };
    let has_null = entries
        .iter()
        .any(|e| matches!(e.pattern, OriginPattern::Null));
    if b.dangerously_allow_null_origin && !has_null {
        issues.push(unused(Field::DangerouslyAllowNullOrigin, "no `null` entry"));
    }
    if b.dangerously_allow_insecure_origins && !used.insecure {
        issues.push(unused(
            Field::DangerouslyAllowInsecureOrigins,
            "no entry needs it",
        ));
    }
    if b.dangerously_allow_public_suffix_wildcards && !used.public_suffix {
        issues.push(unused(
            Field::DangerouslyAllowPublicSuffixWildcards,
            "no wildcard is over a public suffix with credentials",
        ));
    }
    if b.dangerously_reflect_any_origin_with_credentials && !used.reflect {
        issues.push(unused(
            Field::DangerouslyReflectAnyOriginWithCredentials,
            "it applies only to `*` (or a reflecting regex) with credentials = true",
        ));
    }
}

/// An entry's canonical form as a hash key, without rendering it: two keys are equal exactly
/// when the two entries render (`Display`) to the same text.
#[derive(PartialEq, Eq, Hash)]
enum CanonicalKey<'a> {
    /// `*`, `null`, or a tuple. A tuple's text, `scheme://[*.]host[:port]`, determines its
    /// fields (neither a scheme nor a domain or IPv4 host holds ':' or '*', and an IPv6 host
    /// ends in ']'), and no other entry's text has that form unless the scheme is `regex`.
    Pattern(&'a OriginPattern),
    /// A `regex:` entry, or a tuple with the scheme `regex`, rendered: the tuple written
    /// `REGEX://a.example` and the entry `regex://a.example` are both `regex://a.example`.
    Text(String),
}

impl CanonicalKey<'_> {
    fn of(pattern: &OriginPattern) -> CanonicalKey<'_> {
        match pattern {
            OriginPattern::Regex(_) => CanonicalKey::Text(pattern.to_string()),
            OriginPattern::Tuple(t) if t.scheme == "regex" => {
                CanonicalKey::Text(pattern.to_string())
            }
            _ => CanonicalKey::Pattern(pattern),
        }
    }
}

/// The domains a host is beneath, from the nearest: `b.example.com`, `example.com` and `com`
/// for `a.b.example.com` (and for `a.b.example.com.`).
fn parent_domains(host: &str) -> impl Iterator<Item = &str> {
    let mut rest = host;
    std::iter::from_fn(move || {
        let dot = rest.bytes().position(|b| b == b'.')?;
        rest = &rest[dot + 1..];
        (!rest.is_empty()).then_some(rest)
    })
}

/// Step 3: drops duplicates and entries another entry covers, with a warning for each. Coverage is
/// found with hash lookups (one per label of each host), so 100,000 entries merge quickly.
/// Entries are moved, never cloned, and an entry's canonical form is rendered only for a
/// warning (or as the key of a `regex:` entry).
fn merge_redundant(parsed: Vec<OriginEntry>, issues: &mut Vec<Issue>) -> Vec<OriginEntry> {
    let mut duplicate = vec![false; parsed.len()];
    {
        let mut first_seen: AHashMap<CanonicalKey<'_>, usize> =
            AHashMap::with_capacity(parsed.len());
        for (i, e) in parsed.iter().enumerate() {
            match first_seen.entry(CanonicalKey::of(&e.pattern)) {
                Entry::Occupied(first) => {
                    let first = &parsed[*first.get()];
                    issues.push(warn_origin(
                        IssueKind::DuplicateEntry,
                        e.index,
                        &e.written,
                        format!("same origin as {first}; merged"),
                        "remove the duplicate",
                    ));
                    duplicate[i] = true;
                }
                Entry::Vacant(slot) => {
                    slot.insert(i);
                }
            }
        }
    }
    let unique: Vec<OriginEntry> = parsed
        .into_iter()
        .zip(duplicate)
        .filter_map(|(e, duplicate)| (!duplicate).then_some(e))
        .collect();

    if let Some(any) = unique
        .iter()
        .find(|e| matches!(e.pattern, OriginPattern::Any))
        .cloned()
    {
        let mut kept = Vec::new();
        for e in unique {
            if matches!(e.pattern, OriginPattern::Any | OriginPattern::Null) {
                kept.push(e);
            } else {
                issues.push(warn_origin(
                    IssueKind::RedundantOrigin,
                    e.index,
                    &e.written,
                    format!("already allowed by {any}; merged"),
                    "remove it, or remove `*` to allow only the listed origins",
                ));
            }
        }
        return kept;
    }

    // Covering patterns: wildcards by (base domain), port wildcards by (scheme://host).
    let mut wildcards: AHashMap<&str, Vec<usize>> = AHashMap::new();
    let mut any_port: AHashMap<(&str, &str), usize> = AHashMap::new();
    for (i, e) in unique.iter().enumerate() {
        if let OriginPattern::Tuple(t) = &e.pattern {
            if t.subdomains {
                wildcards.entry(t.host.as_str()).or_default().push(i);
            } else if t.port == PortPattern::Any {
                any_port.insert((t.scheme.as_str(), t.host.as_str()), i);
            }
        }
    }
    if wildcards.is_empty() && any_port.is_empty() {
        // Nothing can cover anything.
        return unique;
    }
    let mut covered_by: Vec<Option<usize>> = vec![None; unique.len()];
    for (i, e) in unique.iter().enumerate() {
        let OriginPattern::Tuple(t) = &e.pattern else {
            continue;
        };
        let mut cover = None;
        if !t.subdomains && t.port != PortPattern::Any && !any_port.is_empty() {
            cover = any_port.get(&(t.scheme.as_str(), t.host.as_str())).copied();
        }
        if cover.is_none() && t.host_kind == HostKind::Domain && !wildcards.is_empty() {
            // The base itself (for wildcards: same base, wider port) and every proper suffix.
            let own = t.subdomains.then_some(t.host.as_str());
            cover = own
                .into_iter()
                .chain(parent_domains(&t.host))
                .find_map(|base| {
                    wildcards.get(base)?.iter().copied().find(|&j| {
                        j != i
                            && matches!(&unique[j].pattern, OriginPattern::Tuple(w)
                                if w.covers(t) && !(t.covers(w) && j > i))
                    })
                });
        }
        covered_by[i] = cover;
    }
    for (i, e) in unique.iter().enumerate() {
        if let Some(j) = covered_by[i] {
            issues.push(warn_origin(
                IssueKind::RedundantOrigin,
                e.index,
                &e.written,
                format!("already covered by {}; merged", unique[j]),
                "remove it",
            ));
        }
    }
    unique
        .into_iter()
        .zip(covered_by)
        .filter_map(|(e, cover)| cover.is_none().then_some(e))
        .collect()
}
