//! [`Policy`] and [`PolicyBuilder`]: raw strings in, a validated policy out.
//!
//! `build()` checks everything the design fixes — origin syntax, credential rules, the Public
//! Suffix List, regex proofs, methods, header names, numbers — and reports every problem at
//! once in a [`PolicyError`]. It never panics. A built [`Policy`] is immutable and compiles into
//! a serving generation without any further failure.

use std::collections::hash_map::Entry;
use std::fmt;

use ahash::AHashMap;

use crate::error::{Field, Issue, IssueKind, PolicyError};
use crate::header_name::{self, Exposed};
use crate::method;

mod regexes;
use crate::error::Problem;
use crate::origin::credentials;
use crate::origin::host::HostKind;
use crate::origin::pattern::{self, OriginPattern, PortPattern};
use crate::origin::regex as origin_regex;

/// Upper bound of `max_age` (Firefox's cap).
pub const MAX_AGE_LIMIT: u32 = 86_400;
/// `max_age` values above this draw a warning: Chromium caps the preflight cache at 2 hours.
pub const MAX_AGE_CHROMIUM_CAP: u32 = 7_200;

/// Collects a policy's settings, as raw as they come, and validates them in [`build`].
///
/// Every setter replaces the field's value; `origin`, `method`, `allow_header` and
/// `expose_header` append one value.
///
/// # Example
/// ```
/// use corsgate::Policy;
///
/// let policy = Policy::builder()
///     .origins(["https://app.example.com", "https://*.example.com"])
///     .methods(["GET", "PUT", "DELETE"])
///     .allow_headers(["Content-Type", "Authorization"])
///     .expose_headers(["X-Request-Id"])
///     .credentials(true)
///     .max_age(600)
///     .build()?;
/// assert!(policy.credentials());
/// # Ok::<(), corsgate::PolicyError>(())
/// ```
///
/// [`build`]: PolicyBuilder::build
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyBuilder {
    pub(crate) origins: Vec<String>,
    pub(crate) methods: Option<Vec<String>>,
    pub(crate) allow_headers: Vec<String>,
    pub(crate) expose_headers: Vec<String>,
    pub(crate) credentials: bool,
    pub(crate) max_age: Option<i64>,
    pub(crate) private_network: bool,
    pub(crate) preflight_status: Option<i64>,
    pub(crate) preflight_passthrough: bool,
    pub(crate) dangerously_allow_null_origin: bool,
    pub(crate) dangerously_allow_insecure_origins: bool,
    pub(crate) dangerously_allow_public_suffix_wildcards: bool,
    pub(crate) dangerously_reflect_any_origin_with_credentials: bool,
}

fn strings<I, S>(values: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    values.into_iter().map(Into::into).collect()
}

impl PolicyBuilder {
    /// An empty builder: no origins (which `build` refuses), and every other field at its
    /// default (safelisted methods only, no headers, no credentials, no max-age, status 204).
    pub fn new() -> PolicyBuilder {
        PolicyBuilder::default()
    }

    /// The allowlist: exact origins, `https://*.example.com`, `http://localhost:*`,
    /// `regex:<pattern>`, `*`, `null`.
    pub fn origins<I, S>(&mut self, origins: I) -> &mut PolicyBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.origins = strings(origins);
        self
    }

    /// Appends one allowlist entry.
    pub fn origin(&mut self, origin: impl Into<String>) -> &mut PolicyBuilder {
        self.origins.push(origin.into());
        self
    }

    /// Allowed methods; `*` for any. Unset means `GET`, `HEAD`, `POST`, which are always
    /// allowed anyway.
    pub fn methods<I, S>(&mut self, methods: I) -> &mut PolicyBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.methods = Some(strings(methods));
        self
    }

    /// Appends one allowed method.
    pub fn method(&mut self, method: impl Into<String>) -> &mut PolicyBuilder {
        self.methods
            .get_or_insert_with(Vec::new)
            .push(method.into());
        self
    }

    /// Request headers a page may send; `*` for any except `Authorization`.
    pub fn allow_headers<I, S>(&mut self, names: I) -> &mut PolicyBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allow_headers = strings(names);
        self
    }

    /// Appends one allowed request header.
    pub fn allow_header(&mut self, name: impl Into<String>) -> &mut PolicyBuilder {
        self.allow_headers.push(name.into());
        self
    }

    /// Response headers a page may read beyond the safelisted ones; `*` for any (not with
    /// credentials).
    pub fn expose_headers<I, S>(&mut self, names: I) -> &mut PolicyBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.expose_headers = strings(names);
        self
    }

    /// Appends one exposed header.
    pub fn expose_header(&mut self, name: impl Into<String>) -> &mut PolicyBuilder {
        self.expose_headers.push(name.into());
        self
    }

    /// Whether pages may send cookies and read responses to credentialed requests.
    pub fn credentials(&mut self, yes: bool) -> &mut PolicyBuilder {
        self.credentials = yes;
        self
    }

    /// `Access-Control-Max-Age` in seconds, 0..=86400.
    pub fn max_age(&mut self, seconds: u32) -> &mut PolicyBuilder {
        self.max_age = Some(i64::from(seconds));
        self
    }

    /// Sends no `Access-Control-Max-Age` (browsers then cache preflights for 5 seconds).
    pub fn no_max_age(&mut self) -> &mut PolicyBuilder {
        self.max_age = None;
        self
    }

    #[cfg_attr(not(feature = "file"), allow(dead_code))]
    pub(crate) fn max_age_raw(&mut self, seconds: Option<i64>) -> &mut PolicyBuilder {
        self.max_age = seconds;
        self
    }

    /// Answer `Access-Control-Request-Private-Network: true` with
    /// `Access-Control-Allow-Private-Network: true`.
    pub fn private_network(&mut self, yes: bool) -> &mut PolicyBuilder {
        self.private_network = yes;
        self
    }

    /// Status of an allowed preflight: 204 (default) or 200.
    pub fn preflight_status(&mut self, status: u16) -> &mut PolicyBuilder {
        self.preflight_status = Some(i64::from(status));
        self
    }

    #[cfg_attr(not(feature = "file"), allow(dead_code))]
    pub(crate) fn preflight_status_raw(&mut self, status: Option<i64>) -> &mut PolicyBuilder {
        self.preflight_status = status;
        self
    }

    /// Forward denied preflights to the upstream instead of answering 403.
    pub fn preflight_passthrough(&mut self, yes: bool) -> &mut PolicyBuilder {
        self.preflight_passthrough = yes;
        self
    }

    /// Allow `Origin: null` when the allowlist lists `null`. Every sandboxed iframe,
    /// `file:` page and cross-origin redirect sends `null`.
    pub fn dangerously_allow_null_origin(&mut self, yes: bool) -> &mut PolicyBuilder {
        self.dangerously_allow_null_origin = yes;
        self
    }

    /// With credentials, allow schemes other than `https` on non-loopback hosts.
    pub fn dangerously_allow_insecure_origins(&mut self, yes: bool) -> &mut PolicyBuilder {
        self.dangerously_allow_insecure_origins = yes;
        self
    }

    /// With credentials, allow wildcards over public suffixes (`https://*.github.io`).
    pub fn dangerously_allow_public_suffix_wildcards(&mut self, yes: bool) -> &mut PolicyBuilder {
        self.dangerously_allow_public_suffix_wildcards = yes;
        self
    }

    /// With credentials and `*`, echo every valid request origin (the Kubernetes Gateway API's
    /// behaviour). Any site can then read responses with the user's cookies. Also tolerates
    /// `regex:` entries that match origins nobody configured.
    pub fn dangerously_reflect_any_origin_with_credentials(
        &mut self,
        yes: bool,
    ) -> &mut PolicyBuilder {
        self.dangerously_reflect_any_origin_with_credentials = yes;
        self
    }

    /// Validates everything and returns the policy, or every problem found.
    pub fn build(&self) -> Result<Policy, PolicyError> {
        let mut issues = Vec::new();
        let origins = OriginsCheck::run(self, &mut issues);
        let methods = check_methods(self.methods.as_deref(), &mut issues);
        let allow_headers = check_allow_headers(&self.allow_headers, &mut issues);
        let expose_headers =
            check_expose_headers(&self.expose_headers, self.credentials, &mut issues);
        let max_age = check_max_age(self.max_age, &mut issues);
        let preflight_status = check_preflight_status(self.preflight_status, &mut issues);
        if issues.iter().any(Issue::is_error) {
            return Err(PolicyError::new(issues));
        }
        let any_origin = origins
            .entries
            .iter()
            .any(|e| e.pattern == OriginPattern::Any);
        Ok(Policy {
            source: self.clone(),
            entries: origins.entries,
            regex: origins.regex,
            any_origin,
            methods,
            allow_headers,
            expose_headers,
            credentials: self.credentials,
            max_age,
            private_network: self.private_network,
            preflight_status,
            preflight_passthrough: self.preflight_passthrough,
            warnings: issues,
        })
    }
}

/// One allowlist entry after validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginEntry {
    pattern: OriginPattern,
    index: usize,
    written: String,
}

impl OriginEntry {
    /// The canonical pattern.
    pub fn pattern(&self) -> &OriginPattern {
        &self.pattern
    }
    /// Its position in the `origins` list as given.
    pub fn index(&self) -> usize {
        self.index
    }
    /// The entry as written in the policy.
    pub fn as_written(&self) -> &str {
        &self.written
    }
}

impl fmt::Display for OriginEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "origins[{}] \"{}\"", self.index, self.pattern)
    }
}

/// Allowed methods after validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedMethods {
    pub(crate) any: bool,
    pub(crate) list: Vec<String>,
}

impl AllowedMethods {
    /// `*` was listed.
    pub fn is_any(&self) -> bool {
        self.any
    }
    /// The listed methods, normalised, in order, without `*`.
    pub fn list(&self) -> &[String] {
        &self.list
    }
}

/// Allowed request headers after validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedHeaders {
    pub(crate) any: bool,
    pub(crate) list: Vec<String>,
}

impl AllowedHeaders {
    /// `*` was listed.
    pub fn is_any(&self) -> bool {
        self.any
    }
    /// The listed names, lowercase, in order, without `*`.
    pub fn list(&self) -> &[String] {
        &self.list
    }
    /// `Authorization` is listed explicitly (`*` never covers it).
    pub fn lists_authorization(&self) -> bool {
        self.list.iter().any(|n| n == "authorization")
    }
}

/// Exposed response headers after validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExposedHeaders {
    pub(crate) any: bool,
    pub(crate) list: Vec<String>,
}

impl ExposedHeaders {
    /// `*` was listed (only possible without credentials).
    pub fn is_any(&self) -> bool {
        self.any
    }
    /// The listed names, lowercase, without `*` and without safelisted names.
    pub fn list(&self) -> &[String] {
        &self.list
    }
}

/// A validated CORS policy. Build one with [`Policy::builder`] (or [`Policy::new`] for an
/// allowlist with default settings), or load one from a file with the `file` feature.
///
/// # Example
/// ```
/// use corsgate::{IssueKind, Policy};
///
/// let policy = Policy::new(["https://example.com", "HTTPS://Example.com/"])?;
/// // The second entry was canonicalised, then merged into the first.
/// assert_eq!(policy.origins().len(), 1);
/// let kinds: Vec<_> = policy.warnings().iter().map(|w| w.kind()).collect();
/// assert_eq!(kinds, [IssueKind::NonCanonicalOrigin, IssueKind::DuplicateEntry]);
/// # Ok::<(), corsgate::PolicyError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Policy {
    source: PolicyBuilder,
    entries: Vec<OriginEntry>,
    regex: Option<RegexSet>,
    any_origin: bool,
    methods: AllowedMethods,
    allow_headers: AllowedHeaders,
    expose_headers: ExposedHeaders,
    credentials: bool,
    max_age: Option<u32>,
    private_network: bool,
    preflight_status: u16,
    preflight_passthrough: bool,
    warnings: Vec<Issue>,
}

/// All `regex:` entries compiled (their indices are positions in the policy's origin list).
#[derive(Clone, Debug)]
pub(crate) struct RegexSet {
    pub(crate) compiled: crate::origin::regex::CompiledSet,
}

impl PartialEq for Policy {
    /// Two policies are equal when they were built from the same settings.
    fn eq(&self, other: &Policy) -> bool {
        self.source == other.source
    }
}

impl Eq for Policy {}

impl Policy {
    /// A builder with every field at its default.
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder::new()
    }

    /// A policy that allows these origins with every other setting at its default.
    pub fn new<I, S>(origins: I) -> Result<Policy, PolicyError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Policy::builder().origins(origins).build()
    }

    /// The settings this policy was built from.
    pub fn source(&self) -> &PolicyBuilder {
        &self.source
    }
    /// The allowlist after canonicalisation, with duplicates and covered entries merged.
    pub fn origins(&self) -> &[OriginEntry] {
        &self.entries
    }
    /// `*` is in the allowlist.
    pub fn allows_any_origin(&self) -> bool {
        self.any_origin
    }
    /// `null` is in the allowlist (which requires `dangerously_allow_null_origin`).
    pub fn allows_null_origin(&self) -> bool {
        self.entries
            .iter()
            .any(|e| e.pattern == OriginPattern::Null)
    }
    /// Allowed methods.
    pub fn methods(&self) -> &AllowedMethods {
        &self.methods
    }
    /// Allowed request headers.
    pub fn allow_headers(&self) -> &AllowedHeaders {
        &self.allow_headers
    }
    /// Exposed response headers.
    pub fn expose_headers(&self) -> &ExposedHeaders {
        &self.expose_headers
    }
    /// Credentials allowed.
    pub fn credentials(&self) -> bool {
        self.credentials
    }
    /// `Access-Control-Max-Age`, if any.
    pub fn max_age(&self) -> Option<u32> {
        self.max_age
    }
    /// Private network access answered.
    pub fn private_network(&self) -> bool {
        self.private_network
    }
    /// Status of an allowed preflight.
    pub fn preflight_status(&self) -> u16 {
        self.preflight_status
    }
    /// Denied preflights are forwarded upstream.
    pub fn preflight_passthrough(&self) -> bool {
        self.preflight_passthrough
    }
    /// The answer never depends on the Origin: `*` without credentials.
    pub fn is_origin_independent(&self) -> bool {
        self.any_origin && !self.credentials
    }
    /// Warnings: what was canonicalised, merged or dropped.
    pub fn warnings(&self) -> &[Issue] {
        &self.warnings
    }

    #[cfg_attr(not(feature = "file"), allow(dead_code))]
    pub(crate) fn set_warnings(&mut self, warnings: Vec<Issue>) {
        self.warnings = warnings;
    }

    pub(crate) fn regex_set(&self) -> Option<&RegexSet> {
        self.regex.as_ref()
    }
}

// ---- origins ---------------------------------------------------------------------------------

struct OriginsCheck {
    entries: Vec<OriginEntry>,
    regex: Option<RegexSet>,
}

fn warn_origin(
    kind: IssueKind,
    index: usize,
    raw: &str,
    message: String,
    hint: Option<String>,
) -> Issue {
    let mut issue = Issue::warning(kind, Field::Origins, message)
        .at(index)
        .value(raw);
    issue.hint = hint;
    issue
}

impl OriginsCheck {
    fn run(b: &PolicyBuilder, issues: &mut Vec<Issue>) -> OriginsCheck {
        if b.origins.is_empty() {
            issues.push(
                Issue::error(IssueKind::EmptyAllowlist, Field::Origins, "the allowlist is empty")
                    .hint("list the origins that may call this API, e.g. origins = [\"https://app.example.com\"]"),
            );
        }

        // 1. Parse every entry.
        let mut parsed: Vec<OriginEntry> = Vec::new();
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
                    Some(format!("write {canonical:?}")),
                ));
            }
            match &entry.pattern {
                OriginPattern::Null if !b.dangerously_allow_null_origin => {
                    issues.push(Problem::new(
                            IssueKind::NullOrigin,
                            "`null` is the origin of every sandboxed iframe, file: page and cross-origin redirect",
                        )
                        .hint("remove it, or set dangerously_allow_null_origin = true if you accept all of them").into_issue(Field::Origins, index, raw));
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

        // 2. Credential rules, on every entry (a covered entry is still reported).
        let mut used_insecure = false;
        let mut used_public_suffix = false;
        let mut used_reflect = false;
        if b.credentials {
            for e in &parsed {
                match &e.pattern {
                    OriginPattern::Any => {
                        if b.dangerously_reflect_any_origin_with_credentials {
                            used_reflect = true;
                        } else {
                            issues.push(Problem::new(
                                    IssueKind::AnyOriginWithCredentials,
                                    "browsers refuse `Access-Control-Allow-Origin: *` on credentialed requests",
                                )
                                .hint(
                                    "list the origins that may send credentials; to echo every origin \
                                     (any site can then read responses with the user's cookies) set \
                                     dangerously_reflect_any_origin_with_credentials = true",
                                ).into_issue(Field::Origins, e.index, &e.written));
                        }
                    }
                    OriginPattern::Tuple(t) => {
                        if let Some(problem) = credentials::insecure_scheme(t) {
                            if b.dangerously_allow_insecure_origins {
                                used_insecure = true;
                            } else {
                                issues.push(problem.into_issue(
                                    Field::Origins,
                                    e.index,
                                    &e.written,
                                ));
                            }
                        }
                        if let Some(problem) = credentials::public_suffix_wildcard(t) {
                            if b.dangerously_allow_public_suffix_wildcards {
                                used_public_suffix = true;
                            } else {
                                issues.push(problem.into_issue(
                                    Field::Origins,
                                    e.index,
                                    &e.written,
                                ));
                            }
                        }
                    }
                    OriginPattern::Null | OriginPattern::Regex(_) => {}
                }
            }
        }

        // 3. Merge duplicates and covered entries.
        let entries = merge_redundant(parsed, issues);

        // 4. Regex entries: proven with credentials, compiled into one matcher.
        let checked = regexes::check(b, &entries, regex_hirs, issues);
        used_insecure |= checked.used_insecure;
        used_reflect |= checked.used_reflect;
        let regex = checked.set;

        // 5. Opt-outs that change nothing.
        let unused = |name: Field, why: &str| {
            Issue::warning(
                IssueKind::UnusedOption,
                name,
                format!("{} changes nothing here: {why}", name.as_str()),
            )
            .hint("remove it, so that it cannot widen a later change by surprise")
        };
        let has_null = entries.iter().any(|e| e.pattern == OriginPattern::Null);
        if b.dangerously_allow_null_origin && !has_null {
            issues.push(unused(Field::DangerouslyAllowNullOrigin, "no `null` entry"));
        }
        if b.dangerously_allow_insecure_origins && !used_insecure {
            issues.push(unused(
                Field::DangerouslyAllowInsecureOrigins,
                "no entry needs it",
            ));
        }
        if b.dangerously_allow_public_suffix_wildcards && !used_public_suffix {
            issues.push(unused(
                Field::DangerouslyAllowPublicSuffixWildcards,
                "no wildcard is over a public suffix with credentials",
            ));
        }
        if b.dangerously_reflect_any_origin_with_credentials && !used_reflect {
            issues.push(unused(
                Field::DangerouslyReflectAnyOriginWithCredentials,
                "it applies only to `*` (or a reflecting regex) with credentials = true",
            ));
        }

        OriginsCheck { entries, regex }
    }
}

/// Drops duplicates and entries another entry covers, with a warning for each. Coverage is
/// found with hash lookups (one per label of each host), so 100,000 entries merge quickly.
fn merge_redundant(parsed: Vec<OriginEntry>, issues: &mut Vec<Issue>) -> Vec<OriginEntry> {
    let mut first_seen: AHashMap<String, usize> = AHashMap::with_capacity(parsed.len());
    let mut unique = Vec::with_capacity(parsed.len());
    for e in parsed {
        match first_seen.entry(e.pattern.to_string()) {
            Entry::Occupied(first) => {
                let first = &unique[*first.get()];
                let first: &OriginEntry = first;
                issues.push(warn_origin(
                    IssueKind::DuplicateEntry,
                    e.index,
                    &e.written,
                    format!("same origin as {first}; merged"),
                    Some("remove the duplicate".to_owned()),
                ));
            }
            Entry::Vacant(slot) => {
                slot.insert(unique.len());
                unique.push(e);
            }
        }
    }

    if let Some(any) = unique
        .iter()
        .find(|e| e.pattern == OriginPattern::Any)
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
                    Some("remove it, or remove `*` to allow only the listed origins".to_owned()),
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
    let mut covered_by: Vec<Option<usize>> = vec![None; unique.len()];
    for (i, e) in unique.iter().enumerate() {
        let OriginPattern::Tuple(t) = &e.pattern else {
            continue;
        };
        let mut cover = None;
        if !t.subdomains && t.port != PortPattern::Any {
            cover = any_port.get(&(t.scheme.as_str(), t.host.as_str())).copied();
        }
        if cover.is_none() && t.host_kind == HostKind::Domain {
            // The base itself (for wildcards: same base, wider port) and every proper suffix.
            let mut candidates = Vec::new();
            if t.subdomains {
                candidates.push(t.host.as_str());
            }
            let mut rest = t.host.as_str();
            while let Some(dot) = rest.find('.') {
                rest = &rest[dot + 1..];
                if rest.is_empty() {
                    break;
                }
                candidates.push(rest);
            }
            'search: for base in candidates {
                for &j in wildcards.get(base).into_iter().flatten() {
                    if j == i {
                        continue;
                    }
                    if let OriginPattern::Tuple(w) = &unique[j].pattern {
                        if w.covers(t) && !(t.covers(w) && j > i) {
                            cover = Some(j);
                            break 'search;
                        }
                    }
                }
            }
        }
        covered_by[i] = cover;
    }
    let mut kept = Vec::with_capacity(unique.len());
    for (i, e) in unique.iter().enumerate() {
        match covered_by[i] {
            Some(j) => issues.push(warn_origin(
                IssueKind::RedundantOrigin,
                e.index,
                &e.written,
                format!("already covered by {}; merged", unique[j]),
                Some("remove it".to_owned()),
            )),
            None => kept.push(e.clone()),
        }
    }
    kept
}

// ---- methods, headers, numbers ---------------------------------------------------------------

fn duplicate(field: Field, index: usize, raw: &str) -> Issue {
    Issue::warning(IssueKind::DuplicateEntry, field, "listed twice; merged")
        .at(index)
        .value(raw)
        .hint("remove the duplicate")
}

fn check_methods(methods: Option<&[String]>, issues: &mut Vec<Issue>) -> AllowedMethods {
    let Some(methods) = methods else {
        return AllowedMethods {
            any: false,
            list: method::SAFELISTED.iter().map(|m| (*m).to_owned()).collect(),
        };
    };
    let mut out = AllowedMethods {
        any: false,
        list: Vec::new(),
    };
    for (i, raw) in methods.iter().enumerate() {
        if raw == "*" {
            if out.any {
                issues.push(duplicate(Field::Methods, i, raw));
            }
            out.any = true;
            continue;
        }
        match method::parse_config_method(raw) {
            Ok(m) if out.list.contains(&m) => issues.push(duplicate(Field::Methods, i, raw)),
            Ok(m) => out.list.push(m),
            Err(problem) => issues.push(problem.into_issue(Field::Methods, i, raw)),
        }
    }
    out
}

fn check_allow_headers(names: &[String], issues: &mut Vec<Issue>) -> AllowedHeaders {
    let mut out = AllowedHeaders {
        any: false,
        list: Vec::new(),
    };
    for (i, raw) in names.iter().enumerate() {
        match header_name::parse_allowed(raw) {
            Ok(n) if n == "*" => {
                if out.any {
                    issues.push(duplicate(Field::AllowHeaders, i, raw));
                }
                out.any = true;
            }
            Ok(n) if out.list.contains(&n) => issues.push(duplicate(Field::AllowHeaders, i, raw)),
            Ok(n) => out.list.push(n),
            Err(problem) => issues.push(problem.into_issue(Field::AllowHeaders, i, raw)),
        }
    }
    out
}

fn check_expose_headers(
    names: &[String],
    credentials: bool,
    issues: &mut Vec<Issue>,
) -> ExposedHeaders {
    let mut out = ExposedHeaders {
        any: false,
        list: Vec::new(),
    };
    for (i, raw) in names.iter().enumerate() {
        match header_name::parse_exposed(raw) {
            Ok(Exposed::Keep(n)) if n == "*" => {
                if credentials {
                    issues.push(
                        Issue::error(
                            IssueKind::WildcardExposeWithCredentials,
                            Field::ExposeHeaders,
                            "with credentials, browsers read `*` as a header literally named \"*\"",
                        )
                        .at(i)
                        .value(raw)
                        .hint("list the headers pages may read"),
                    );
                } else {
                    out.any = true;
                }
            }
            Ok(Exposed::Keep(n)) if out.list.contains(&n) => {
                issues.push(duplicate(Field::ExposeHeaders, i, raw))
            }
            Ok(Exposed::Keep(n)) => out.list.push(n),
            Ok(Exposed::Safelisted) => issues.push(
                Issue::warning(
                    IssueKind::SafelistedExposedHeader,
                    Field::ExposeHeaders,
                    "browsers expose this CORS-safelisted response header without being told; dropped",
                )
                .at(i)
                .value(raw)
                .hint("remove it"),
            ),
            Err(problem) => issues.push(problem.into_issue(Field::ExposeHeaders, i, raw)),
        }
    }
    out
}

fn check_max_age(max_age: Option<i64>, issues: &mut Vec<Issue>) -> Option<u32> {
    let value = max_age?;
    if !(0..=i64::from(MAX_AGE_LIMIT)).contains(&value) {
        issues.push(
            Issue::error(
                IssueKind::MaxAgeOutOfRange,
                Field::MaxAge,
                "max_age is a whole number of seconds from 0 to 86400",
            )
            .value(value.to_string())
            .hint(if value < 0 {
                "use 0 to make browsers preflight every request, or leave max_age out"
            } else {
                "use 7200 (Chromium's cap) or at most 86400 (Firefox's)"
            }),
        );
        return None;
    }
    let value = value as u32;
    if value > MAX_AGE_CHROMIUM_CAP {
        issues.push(
            Issue::warning(
                IssueKind::MaxAgeAboveBrowserCap,
                Field::MaxAge,
                "Chromium caps preflight caching at 7200 seconds; only Firefox honours more",
            )
            .value(value.to_string())
            .hint("use 7200 unless you rely on Firefox's longer cache"),
        );
    }
    Some(value)
}

fn check_preflight_status(status: Option<i64>, issues: &mut Vec<Issue>) -> u16 {
    match status {
        None => 204,
        Some(s @ (200 | 204)) => s as u16,
        Some(other) => {
            issues.push(
                Issue::error(
                    IssueKind::InvalidPreflightStatus,
                    Field::PreflightStatus,
                    "an allowed preflight is answered 204 or 200",
                )
                .value(other.to_string())
                .hint("use 204 (the default), or 200 for old clients that mishandle 204"),
            );
            204
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_problems_at_once() {
        let err = Policy::builder()
            .origins([
                "https://example.com/app",
                "*",
                "https://*.com",
                "ftp://files.example.com",
            ])
            .methods(["TRACE"])
            .credentials(true)
            .build()
            .unwrap_err();
        let kinds: Vec<_> = err.errors().map(|i| i.kind()).collect();
        assert_eq!(
            kinds,
            [
                IssueKind::OriginHasPath,
                IssueKind::AnyOriginWithCredentials,
                IssueKind::PublicSuffixWildcard,
                IssueKind::InsecureOriginWithCredentials,
                IssueKind::ForbiddenMethod,
            ]
        );
    }
}
