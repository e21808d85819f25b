//! [`Policy`] and [`PolicyBuilder`]: raw strings in, a validated policy out.
//!
//! `build()` checks everything the design fixes — origin syntax, credential rules, the Public
//! Suffix List, regex proofs, methods, header names, numbers — and reports every problem at
//! once in a [`PolicyError`]. It never panics. A built [`Policy`] is immutable and compiles into
//! a serving generation without any further failure.
//!
//! The folder follows the order of a build: [`builder`](PolicyBuilder) collects the raw
//! settings, `origins` checks the allowlist (with `regexes` for its `regex:` entries), `fields`
//! checks every other field (with `header_names` for the rules of header names), and this
//! module holds what a successful build produces. `set` holds policy sets (named policies and
//! the routes that choose one, design §8).

mod builder;
mod fields;
mod header_names;
mod origins;
mod regexes;
pub(crate) mod set;

use std::fmt;

use crate::error::{Issue, PolicyError};
use crate::origin::pattern::OriginPattern;

pub use builder::PolicyBuilder;
pub use set::{
    is_valid_policy_name, NamedPolicy, PolicySet, PolicySetBuilder, Route, RouteBuilder, RouteHost,
    RouteTarget, DEFAULT_POLICY, MAX_PATH_PREFIX_LEN, MAX_POLICIES, MAX_POLICY_NAME_LEN,
    MAX_ROUTES, MAX_ROUTE_HOSTS, OFF_POLICY,
};

/// Upper bound of `max_age` (Firefox's cap).
pub const MAX_AGE_LIMIT: u32 = 86_400;
/// `max_age` values above this draw a warning: Chromium caps the preflight cache at 2 hours.
pub const MAX_AGE_CHROMIUM_CAP: u32 = 7_200;

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
            .any(|e| matches!(e.pattern, OriginPattern::Null))
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

    #[cfg(feature = "file")]
    pub(crate) fn set_warnings(&mut self, warnings: Vec<Issue>) {
        self.warnings = warnings;
    }

    pub(crate) fn regex_set(&self) -> Option<&RegexSet> {
        self.regex.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::IssueKind;

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
