//! The one error type of corsgate: [`PolicyError`], a list of [`Issue`]s.
//!
//! Validation never stops at the first problem. Every issue carries a machine-readable
//! [`IssueKind`], the [`Field`] and index it was found at, the offending value, a message and,
//! where corsgate can tell, a hint that names the fix. Policy files add a [`Location`]
//! (`file:line:column`) and, for environment sections, the environment's name.

use std::fmt;

/// How serious an [`Issue`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// The policy was accepted after canonicalising or dropping something harmless.
    /// `corsgate check --strict` treats warnings as errors.
    Warning,
    /// The policy is refused.
    Error,
}

impl Severity {
    /// `"warning"` or `"error"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// The policy field an [`Issue`] belongs to. The names are the policy file's field names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// `origins`
    Origins,
    /// `methods`
    Methods,
    /// `allow_headers`
    AllowHeaders,
    /// `expose_headers`
    ExposeHeaders,
    /// `credentials`
    Credentials,
    /// `max_age`
    MaxAge,
    /// `private_network`
    PrivateNetwork,
    /// `preflight_status`
    PreflightStatus,
    /// `preflight_passthrough`
    PreflightPassthrough,
    /// `dangerously_allow_null_origin`
    DangerouslyAllowNullOrigin,
    /// `dangerously_allow_insecure_origins`
    DangerouslyAllowInsecureOrigins,
    /// `dangerously_allow_public_suffix_wildcards`
    DangerouslyAllowPublicSuffixWildcards,
    /// `dangerously_reflect_any_origin_with_credentials`
    DangerouslyReflectAnyOriginWithCredentials,
    /// `environments` (a policy file's environment sections)
    Environments,
    /// The document as a whole (syntax errors, unknown top-level fields).
    Document,
    /// `policies` (a policy set's named policies; an issue about a policy's name)
    Policies,
    /// `routes` (a policy set's routes; an issue about a route as a whole)
    Routes,
    /// `hosts` (a route's host entries)
    Hosts,
    /// `path_prefix` (a route's path prefix)
    PathPrefix,
    /// `policy` (the policy a route names)
    Policy,
    /// `name` (a route's name)
    Name,
    /// `origins_file` (a file of origin entries a policy adds to its `origins`)
    OriginsFile,
}

impl Field {
    /// The field's name as written in a policy file.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Origins => "origins",
            Field::Methods => "methods",
            Field::AllowHeaders => "allow_headers",
            Field::ExposeHeaders => "expose_headers",
            Field::Credentials => "credentials",
            Field::MaxAge => "max_age",
            Field::PrivateNetwork => "private_network",
            Field::PreflightStatus => "preflight_status",
            Field::PreflightPassthrough => "preflight_passthrough",
            Field::DangerouslyAllowNullOrigin => "dangerously_allow_null_origin",
            Field::DangerouslyAllowInsecureOrigins => "dangerously_allow_insecure_origins",
            Field::DangerouslyAllowPublicSuffixWildcards => {
                "dangerously_allow_public_suffix_wildcards"
            }
            Field::DangerouslyReflectAnyOriginWithCredentials => {
                "dangerously_reflect_any_origin_with_credentials"
            }
            Field::Environments => "environments",
            Field::Document => "document",
            Field::Policies => "policies",
            Field::Routes => "routes",
            Field::Hosts => "hosts",
            Field::PathPrefix => "path_prefix",
            Field::Policy => "policy",
            Field::Name => "name",
            Field::OriginsFile => "origins_file",
        }
    }
}

macro_rules! issue_kinds {
    ($( $(#[$doc:meta])* $variant:ident => $name:literal, )*) => {
        /// What kind of problem an [`Issue`] reports. Stable, machine-readable names are given by
        /// [`IssueKind::as_str`] (and used by `corsgate check --format json`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum IssueKind {
            $( $(#[$doc])* $variant, )*
        }

        impl IssueKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [IssueKind] = &[ $( IssueKind::$variant, )* ];

            /// The kind's stable snake_case name, e.g. `"origin_has_path"`.
            pub fn as_str(self) -> &'static str {
                match self { $( IssueKind::$variant => $name, )* }
            }

            /// The kind whose [`as_str`](IssueKind::as_str) is `name`.
            pub fn from_name(name: &str) -> Option<IssueKind> {
                match name { $( $name => Some(IssueKind::$variant), )* _ => None }
            }
        }
    };
}

issue_kinds! {
    // ---- origins: structure -------------------------------------------------------------
    /// The allowlist has no entries.
    EmptyAllowlist => "empty_allowlist",
    /// The entry is empty.
    EmptyOrigin => "empty_origin",
    /// Whitespace inside or around an entry.
    Whitespace => "whitespace",
    /// No `scheme://` in front of the host.
    MissingScheme => "missing_scheme",
    /// The scheme has characters a scheme cannot have.
    InvalidScheme => "invalid_scheme",
    /// `file:`, `data:`, `about:`, `blob:` and `javascript:` pages have opaque origins.
    OpaqueOriginScheme => "opaque_origin_scheme",
    /// A path other than `/`.
    OriginHasPath => "origin_has_path",
    /// A `?query`.
    OriginHasQuery => "origin_has_query",
    /// A `#fragment`.
    OriginHasFragment => "origin_has_fragment",
    /// `user:password@`.
    OriginHasUserinfo => "origin_has_userinfo",
    /// Percent-encoding in the host.
    PercentEncoding => "percent_encoding",
    /// A `*` anywhere but a leading `*.` label or a `:*` port.
    MisplacedWildcard => "misplaced_wildcard",
    /// `*.` in front of an IP address.
    WildcardOverIp => "wildcard_over_ip",
    /// A port that is empty, 0, above 65535, has a leading zero or is not a number.
    InvalidPort => "invalid_port",
    /// An IP literal that is not a valid (or not the canonical) address.
    InvalidIp => "invalid_ip",
    /// An IPv4-mapped IPv6 address such as `[::ffff:7f00:1]`.
    Ipv4MappedIpv6 => "ipv4_mapped_ipv6",
    /// An empty label (`a..b`, a leading dot, two trailing dots).
    EmptyLabel => "empty_label",
    /// A label over 63 bytes.
    LabelTooLong => "label_too_long",
    /// A host over 253 bytes.
    HostTooLong => "host_too_long",
    /// A character a host cannot have, or a label starting or ending with `-`.
    InvalidHost => "invalid_host",
    /// An `xn--` label that is not valid Punycode decoding to a valid IDNA label.
    InvalidPunycode => "invalid_punycode",
    /// `null` without `dangerously_allow_null_origin`.
    NullOrigin => "null_origin",
    /// A `regex:` entry that does not compile.
    InvalidRegex => "invalid_regex",
    /// A `regex:` entry with an unescaped `.` between host characters.
    RegexUnescapedDot => "regex_unescaped_dot",
    // ---- origins: credentials ----------------------------------------------------------
    /// `*` with `credentials = true`.
    AnyOriginWithCredentials => "any_origin_with_credentials",
    /// A scheme other than `https` on a non-loopback host with `credentials = true`.
    InsecureOriginWithCredentials => "insecure_origin_with_credentials",
    /// A wildcard over a public suffix with `credentials = true`.
    PublicSuffixWildcard => "public_suffix_wildcard",
    /// With credentials, a `regex:` entry that matches an origin on a host outside the
    /// domains it names (reflection in disguise).
    RegexReflection => "regex_reflection",
    /// With credentials, a `regex:` entry that could not be proven safe within the analysis
    /// budget.
    RegexUnprovable => "regex_unprovable",
    // ---- methods and headers -----------------------------------------------------------
    /// A method that is not an HTTP token.
    InvalidMethod => "invalid_method",
    /// `CONNECT`, `TRACE` or `TRACK`.
    ForbiddenMethod => "forbidden_method",
    /// A header name that is not an HTTP token.
    InvalidHeaderName => "invalid_header_name",
    /// A forbidden request header (`Cookie`, `Host`, `Sec-*`, …) or a response-only name.
    ForbiddenRequestHeader => "forbidden_request_header",
    /// A name that can never be exposed (`Set-Cookie`, preflight-only headers, …).
    ForbiddenExposedHeader => "forbidden_exposed_header",
    /// `expose_headers = ["*"]` with `credentials = true`.
    WildcardExposeWithCredentials => "wildcard_expose_with_credentials",
    // ---- numbers -------------------------------------------------------------------------
    /// `max_age` negative or above 86400.
    MaxAgeOutOfRange => "max_age_out_of_range",
    /// `preflight_status` other than 200 or 204.
    InvalidPreflightStatus => "invalid_preflight_status",
    // ---- warnings --------------------------------------------------------------------
    /// The entry was rewritten to the form browsers send (case, trailing `/`, default port,
    /// Unicode host, IPv6 spelling).
    NonCanonicalOrigin => "non_canonical_origin",
    /// The entry is already covered by another one and was merged into it.
    RedundantOrigin => "redundant_origin",
    /// The same value appears twice.
    DuplicateEntry => "duplicate_entry",
    /// A CORS-safelisted response header in `expose_headers`; browsers expose it anyway.
    SafelistedExposedHeader => "safelisted_exposed_header",
    /// `max_age` above 7200: Chromium caps it at 7200 seconds.
    MaxAgeAboveBrowserCap => "max_age_above_browser_cap",
    /// A `dangerously_*` option that changes nothing in this policy.
    UnusedOption => "unused_option",
    // ---- policy files ------------------------------------------------------------------
    /// The file is not valid TOML or JSON.
    Syntax => "syntax",
    /// Arrays, tables or dotted keys nested deeper than the cap (32 levels).
    NestingTooDeep => "nesting_too_deep",
    /// A field corsgate does not know.
    UnknownField => "unknown_field",
    /// A field whose value has the wrong type.
    WrongType => "wrong_type",
    /// An environment that the file does not define.
    UnknownEnvironment => "unknown_environment",
    /// An environment name with a character other than ASCII letters, digits, `-`, `_`, `.`.
    InvalidEnvironmentName => "invalid_environment_name",
    /// A warning: an environment section sets a `dangerously_*` option to `true`.
    DangerousOptionInEnvironment => "dangerous_option_in_environment",
    /// The file could not be read.
    Io => "io",
    // ---- policy sets ---------------------------------------------------------------------
    /// A policy name that is empty, too long, or has a character other than ASCII letters,
    /// digits, `-` and `_`.
    InvalidPolicyName => "invalid_policy_name",
    /// `default` or `off` used as the name of a named policy.
    ReservedPolicyName => "reserved_policy_name",
    /// A route names a policy the set does not define.
    UnknownPolicy => "unknown_policy",
    /// A route host that is not a DNS name, a `*.` wildcard over one, or an IP literal.
    InvalidRouteHost => "invalid_route_host",
    /// A `path_prefix` that does not start with `/`, has a `.` or `..` segment, a `%`, an
    /// empty segment, or a character outside a path.
    InvalidPathPrefix => "invalid_path_prefix",
    /// Two routes (or one route twice) with the same host entry and path prefix.
    DuplicateRoute => "duplicate_route",
    /// Two routes with the same name.
    DuplicateRouteName => "duplicate_route_name",
    /// More routes, hosts or policies than a set may hold.
    TooManyRoutes => "too_many_routes",
    /// A warning: a route host or prefix was rewritten to its canonical form.
    NonCanonicalRoute => "non_canonical_route",
    /// A warning: a named policy that no route uses.
    UnusedPolicy => "unused_policy",
    /// A warning: a route no request can reach.
    UnreachableRoute => "unreachable_route",
    /// An `origins_file` path that is absolute, leaves the policy file's directory, or is not
    /// a regular file of at most the size cap.
    InvalidOriginsFile => "invalid_origins_file",
}

impl fmt::Display for IssueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where in a policy file an [`Issue`] was found.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    /// The file's path as given.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One problem found while validating a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    pub(crate) kind: IssueKind,
    pub(crate) severity: Severity,
    pub(crate) field: Field,
    pub(crate) index: Option<usize>,
    pub(crate) value: Option<String>,
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
    pub(crate) location: Option<Location>,
    /// The environment whose effective policy was being validated.
    pub(crate) environment: Option<String>,
    /// The environment section the offending value is written in (`None`: the base policy).
    pub(crate) section: Option<String>,
    /// The named policy of a set the issue is about (`None`: the default policy, or a route).
    pub(crate) policy: Option<String>,
    /// The route of a set the issue is about, by position.
    pub(crate) route: Option<usize>,
}

impl Issue {
    pub(crate) fn error(kind: IssueKind, field: Field, message: impl Into<String>) -> Issue {
        Issue {
            kind,
            severity: Severity::Error,
            field,
            index: None,
            value: None,
            message: message.into(),
            hint: None,
            location: None,
            environment: None,
            section: None,
            policy: None,
            route: None,
        }
    }

    pub(crate) fn warning(kind: IssueKind, field: Field, message: impl Into<String>) -> Issue {
        Issue {
            severity: Severity::Warning,
            ..Issue::error(kind, field, message)
        }
    }

    pub(crate) fn at(mut self, index: usize) -> Issue {
        self.index = Some(index);
        self
    }

    pub(crate) fn with_value(mut self, value: impl Into<String>) -> Issue {
        self.value = Some(value.into());
        self
    }

    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Issue {
        self.hint = Some(hint.into());
        self
    }

    #[cfg(feature = "file")]
    pub(crate) fn with_location(mut self, location: Location) -> Issue {
        self.location = Some(location);
        self
    }

    #[cfg(feature = "file")]
    pub(crate) fn in_section(mut self, name: &str) -> Issue {
        self.environment = Some(name.to_owned());
        self.section = Some(name.to_owned());
        self
    }

    pub(crate) fn in_policy(mut self, name: &str) -> Issue {
        self.policy = Some(name.to_owned());
        self
    }

    pub(crate) fn in_route(mut self, index: usize) -> Issue {
        self.route = Some(index);
        self
    }

    /// The named policy of a policy set the issue is about; `None` for the default policy
    /// (the top-level fields) and for routes.
    pub fn policy(&self) -> Option<&str> {
        self.policy.as_deref()
    }

    /// The route of a policy set the issue is about, by its position in `routes`.
    pub fn route(&self) -> Option<usize> {
        self.route
    }

    /// The machine-readable kind.
    pub fn kind(&self) -> IssueKind {
        self.kind
    }
    /// Error or warning.
    pub fn severity(&self) -> Severity {
        self.severity
    }
    /// `true` for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
    /// The field the issue belongs to.
    pub fn field(&self) -> Field {
        self.field
    }
    /// The index within a list field (`origins[2]`).
    pub fn index(&self) -> Option<usize> {
        self.index
    }
    /// The offending value, as written.
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }
    /// The offending value, as written.
    #[deprecated(since = "0.1.0", note = "renamed to `value`")]
    pub fn offending_value(&self) -> Option<&str> {
        self.value()
    }
    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
    /// How to fix it, when corsgate can tell.
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }
    /// How to fix it, when corsgate can tell.
    #[deprecated(since = "0.1.0", note = "renamed to `hint`")]
    pub fn hint_text(&self) -> Option<&str> {
        self.hint()
    }
    /// `file:line:column`, for issues found in policy files.
    pub fn location(&self) -> Option<&Location> {
        self.location.as_ref()
    }
    /// The environment whose effective policy (base plus that environment's section) was being
    /// validated when the issue was found, if any.
    pub fn environment(&self) -> Option<&str> {
        self.environment.as_deref()
    }

    /// The environment section the offending value is written in; `None` for the base policy.
    pub fn section(&self) -> Option<&str> {
        self.section.as_deref()
    }

    /// `origins[2]` or `methods`, prefixed by `environments.NAME.` for values written in an
    /// environment section.
    pub fn path(&self) -> String {
        let whole = matches!(self.field, Field::Environments | Field::Document);
        let mut path = String::new();
        if let Some(env) = &self.section {
            path.push_str("environments.");
            path.push_str(env);
            if !whole {
                path.push('.');
            }
        }
        if let Some(route) = self.route {
            path.push_str(&format!("routes[{route}]"));
            if self.field != Field::Routes {
                path.push('.');
                path.push_str(self.field.as_str());
                if let Some(i) = self.index {
                    path.push_str(&format!("[{i}]"));
                }
            }
            return path;
        }
        if let Some(policy) = &self.policy {
            path.push_str("policies.");
            path.push_str(policy);
            if self.field == Field::Policies {
                return path;
            }
            path.push('.');
        }
        if !whole || self.section.is_none() && self.field == Field::Environments {
            path.push_str(self.field.as_str());
        }
        if let Some(i) = self.index {
            path.push_str(&format!("[{i}]"));
        }
        path
    }
}

impl fmt::Display for Issue {
    /// Formats like a compiler diagnostic:
    /// `policy.toml:3:12: error[origin_has_path]: origins[1] "https://a.com/x": an origin has no path`
    /// followed by `  hint: …` on its own line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(location) = &self.location {
            write!(f, "{location}: ")?;
        }
        write!(f, "{}[{}]: ", self.severity.as_str(), self.kind)?;
        // Document-level issues (syntax, unknown fields, environments) say it all in the message.
        let whole = matches!(self.field, Field::Document | Field::Environments);
        if !whole || self.section.is_some() {
            f.write_str(&self.path())?;
            if let (Some(value), false) = (&self.value, whole) {
                write!(f, " {value:?}")?;
            }
            f.write_str(": ")?;
        }
        f.write_str(&self.message)?;
        if let Some(env) = &self.environment {
            if self.section.as_deref() != Some(env) {
                write!(f, " (in environment {env})")?;
            }
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// A refused policy: every issue found, errors and warnings alike, in the order found.
///
/// # Example
/// ```
/// use corsgate::{IssueKind, Policy};
///
/// let err = Policy::builder()
///     .origins(["https://example.com/app", "https://*.com"])
///     .credentials(true)
///     .build()
///     .unwrap_err();
/// let kinds: Vec<IssueKind> = err.errors().map(|i| i.kind()).collect();
/// assert_eq!(kinds, [IssueKind::OriginHasPath, IssueKind::PublicSuffixWildcard]);
/// assert_eq!(err.errors().next().unwrap().hint(), Some("did you mean \"https://example.com\"?"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    issues: Vec<Issue>,
}

impl PolicyError {
    pub(crate) fn new(issues: Vec<Issue>) -> PolicyError {
        debug_assert!(issues.iter().any(Issue::is_error));
        PolicyError { issues }
    }

    /// The kind of the first error.
    pub fn kind(&self) -> IssueKind {
        self.errors()
            .next()
            .map(Issue::kind)
            .unwrap_or(IssueKind::Syntax)
    }

    /// Every issue, errors and warnings, in the order found.
    pub fn issues(&self) -> &[Issue] {
        &self.issues
    }

    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Issue> {
        self.issues.iter().filter(|i| i.is_error())
    }

    /// The warnings only.
    pub fn warnings(&self) -> impl Iterator<Item = &Issue> {
        self.issues.iter().filter(|i| !i.is_error())
    }

    pub(crate) fn into_issues(self) -> Vec<Issue> {
        self.issues
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors = self.errors().count();
        write!(
            f,
            "invalid CORS policy: {errors} error{}",
            if errors == 1 { "" } else { "s" }
        )?;
        for issue in &self.issues {
            write!(f, "\n{issue}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyError {}

/// One problem with one value, before it is placed in a field: the checks of origins,
/// methods and header names say what is wrong; the policy places it with
/// [`Problem::into_issue`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    pub kind: IssueKind,
    pub message: String,
    pub hint: Option<String>,
}

impl Problem {
    pub(crate) fn new(kind: IssueKind, message: impl Into<String>) -> Problem {
        Problem {
            kind,
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Problem {
        self.hint = Some(hint.into());
        self
    }

    /// The one conversion into an error [`Issue`]: the problem placed at `field[index]`, whose
    /// value was `raw`.
    pub(crate) fn into_issue(self, field: Field, index: usize, raw: &str) -> Issue {
        let mut issue = Issue::error(self.kind, field, self.message)
            .at(index)
            .with_value(raw);
        issue.hint = self.hint;
        issue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The accessors' old names still answer, the same.
    #[test]
    #[allow(deprecated)]
    fn deprecated_accessors_are_aliases() {
        let issue = Issue::error(IssueKind::InvalidMethod, Field::Methods, "not a token")
            .with_value("G ET")
            .with_hint("remove the space");
        assert_eq!(issue.value(), Some("G ET"));
        assert_eq!(issue.hint(), Some("remove the space"));
        assert_eq!(issue.offending_value(), issue.value());
        assert_eq!(issue.hint_text(), issue.hint());
    }
}
