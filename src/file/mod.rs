//! Policy files (feature `file`): TOML, or JSON when the file name ends in `.json`, with the
//! builder's field names, and `[environments.NAME]` sections whose `origins` are added to the
//! base list and whose other fields override it.
//!
//! Every problem — syntax, unknown fields (with a "did you mean"), wrong types, and every
//! policy issue of the base and of each environment — is reported with `file:line:column`.
//!
//! Environment names hold only ASCII letters, digits, `-`, `_` and `.` (anything else is an
//! `invalid_environment_name` error), so that a name printed in a diagnostic or a log line can
//! never forge a line of its own. An environment that sets a `dangerously_*` option to `true`
//! draws a `dangerous_option_in_environment` warning naming both: a risk taken in one
//! environment only is easy to miss when the base policy is reviewed.
//!
//! # Example
//! ```
//! use corsgate::file::{Format, PolicyFile};
//!
//! let file = PolicyFile::parse(
//!     r#"
//! origins = ["https://myapp.com", "https://*.myapp.com"]
//! credentials = true
//!
//! [environments.development]
//! origins = ["http://localhost:*"]
//! "#,
//!     "policy.toml",
//!     Format::Toml,
//! )?;
//! assert_eq!(file.environments(), ["development"]);
//! let dev = file.policy(Some("development"))?;
//! assert_eq!(dev.origins().len(), 3);
//!
//! let err = file.policy(Some("production")).unwrap_err();
//! assert_eq!(err.kind(), corsgate::IssueKind::UnknownEnvironment);
//! # Ok::<(), corsgate::PolicyError>(())
//! ```

pub mod depth;
pub(crate) mod read;
mod tree;

use std::path::Path;

use ahash::AHashSet;
pub use read::{read_regular_file, MAX_POLICY_FILE_BYTES};
use tree::{LineIndex, Node, Spanned};

use crate::error::{Field, Issue, IssueKind, Location, PolicyError};
use crate::policy::{Policy, PolicyBuilder};

/// The environment variable that names the active environment when no argument does.
pub const ENV_VAR: &str = "CORSGATE_ENV";

/// A policy file's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// TOML (the default).
    Toml,
    /// JSON.
    Json,
}

impl Format {
    /// JSON for names ending in `.json` (any case), TOML otherwise.
    pub fn from_path(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("json") => Format::Json,
            _ => Format::Toml,
        }
    }
}

/// Whether `name` can name an environment: one or more ASCII letters, digits, `-`, `_` and
/// `.`. Names are printed in diagnostics and logs; this keeps a name from carrying a newline
/// or an escape sequence that could forge a line of output.
pub fn is_valid_environment_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The active environment: the argument if given, else `CORSGATE_ENV` if set and not empty.
pub fn active_environment(argument: Option<&str>) -> Option<String> {
    argument
        .map(str::to_owned)
        .or_else(|| std::env::var(ENV_VAR).ok().filter(|v| !v.trim().is_empty()))
}

type List = Spanned<Vec<Spanned<String>>>;

/// One section's fields, each with where it was written.
#[derive(Clone, Debug, Default)]
struct Section {
    span: std::ops::Range<usize>,
    origins: Option<List>,
    methods: Option<List>,
    allow_headers: Option<List>,
    expose_headers: Option<List>,
    credentials: Option<Spanned<bool>>,
    max_age: Option<Spanned<i64>>,
    private_network: Option<Spanned<bool>>,
    preflight_status: Option<Spanned<i64>>,
    preflight_passthrough: Option<Spanned<bool>>,
    dangerously_allow_null_origin: Option<Spanned<bool>>,
    dangerously_allow_insecure_origins: Option<Spanned<bool>>,
    dangerously_allow_public_suffix_wildcards: Option<Spanned<bool>>,
    dangerously_reflect_any_origin_with_credentials: Option<Spanned<bool>>,
}

const FIELDS: [Field; 13] = [
    Field::Origins,
    Field::Methods,
    Field::AllowHeaders,
    Field::ExposeHeaders,
    Field::Credentials,
    Field::MaxAge,
    Field::PrivateNetwork,
    Field::PreflightStatus,
    Field::PreflightPassthrough,
    Field::DangerouslyAllowNullOrigin,
    Field::DangerouslyAllowInsecureOrigins,
    Field::DangerouslyAllowPublicSuffixWildcards,
    Field::DangerouslyReflectAnyOriginWithCredentials,
];

impl Section {
    /// The byte offset of a field's value (or, for a list element, of that element).
    fn span_of(&self, field: Field, index: Option<usize>) -> Option<usize> {
        let list = |l: &Option<List>| {
            l.as_ref()
                .map(|l| match index.and_then(|i| l.value.get(i)) {
                    Some(item) => item.span.start,
                    None => l.span.start,
                })
        };
        let one = |s: Option<std::ops::Range<usize>>| s.map(|s| s.start);
        match field {
            Field::Origins => list(&self.origins),
            Field::Methods => list(&self.methods),
            Field::AllowHeaders => list(&self.allow_headers),
            Field::ExposeHeaders => list(&self.expose_headers),
            Field::Credentials => one(self.credentials.as_ref().map(|s| s.span.clone())),
            Field::MaxAge => one(self.max_age.as_ref().map(|s| s.span.clone())),
            Field::PrivateNetwork => one(self.private_network.as_ref().map(|s| s.span.clone())),
            Field::PreflightStatus => one(self.preflight_status.as_ref().map(|s| s.span.clone())),
            Field::PreflightPassthrough => {
                one(self.preflight_passthrough.as_ref().map(|s| s.span.clone()))
            }
            Field::DangerouslyAllowNullOrigin => one(self
                .dangerously_allow_null_origin
                .as_ref()
                .map(|s| s.span.clone())),
            Field::DangerouslyAllowInsecureOrigins => one(self
                .dangerously_allow_insecure_origins
                .as_ref()
                .map(|s| s.span.clone())),
            Field::DangerouslyAllowPublicSuffixWildcards => one(self
                .dangerously_allow_public_suffix_wildcards
                .as_ref()
                .map(|s| s.span.clone())),
            Field::DangerouslyReflectAnyOriginWithCredentials => one(self
                .dangerously_reflect_any_origin_with_credentials
                .as_ref()
                .map(|s| s.span.clone())),
            Field::Environments | Field::Document => None,
        }
    }

    /// Whether this section sets the field.
    fn sets(&self, field: Field) -> bool {
        self.span_of(field, None).is_some()
    }

    fn origins_len(&self) -> usize {
        self.origins.as_ref().map_or(0, |l| l.value.len())
    }

    /// Applies this section to a builder: as the base, or as an environment on top of it.
    fn apply(&self, b: &mut PolicyBuilder, is_environment: bool) {
        let strings = |l: &List| l.value.iter().map(|s| s.value.clone()).collect::<Vec<_>>();
        if let Some(o) = &self.origins {
            if is_environment {
                for s in strings(o) {
                    b.origin(s);
                }
            } else {
                b.origins(strings(o));
            }
        }
        if let Some(m) = &self.methods {
            b.methods(strings(m));
        }
        if let Some(h) = &self.allow_headers {
            b.allow_headers(strings(h));
        }
        if let Some(h) = &self.expose_headers {
            b.expose_headers(strings(h));
        }
        if let Some(v) = &self.credentials {
            b.credentials(v.value);
        }
        if let Some(v) = &self.max_age {
            b.max_age_raw(Some(v.value));
        }
        if let Some(v) = &self.private_network {
            b.private_network(v.value);
        }
        if let Some(v) = &self.preflight_status {
            b.preflight_status_raw(Some(v.value));
        }
        if let Some(v) = &self.preflight_passthrough {
            b.preflight_passthrough(v.value);
        }
        if let Some(v) = &self.dangerously_allow_null_origin {
            b.dangerously_allow_null_origin(v.value);
        }
        if let Some(v) = &self.dangerously_allow_insecure_origins {
            b.dangerously_allow_insecure_origins(v.value);
        }
        if let Some(v) = &self.dangerously_allow_public_suffix_wildcards {
            b.dangerously_allow_public_suffix_wildcards(v.value);
        }
        if let Some(v) = &self.dangerously_reflect_any_origin_with_credentials {
            b.dangerously_reflect_any_origin_with_credentials(v.value);
        }
    }
}

/// A parsed policy file: the base section and its environments, each field with its position.
#[derive(Clone, Debug)]
pub struct PolicyFile {
    path: String,
    text: String,
    lines: LineIndex,
    base: Section,
    environments: Vec<(Spanned<String>, Section)>,
}

/// The outcome of validating a file: which policies were validated (the base, and each
/// environment) and whether each is valid, and every issue found, deduplicated, in file order.
///
/// The policies themselves are not kept: a file of 300 environments over 100,000 origins
/// would otherwise hold 30 million entries. Build the one you need with [`PolicyFile::policy`].
#[derive(Debug)]
pub struct CheckReport {
    /// `(None, valid)` for the base policy, `(Some(name), valid)` for an environment.
    pub results: Vec<(Option<String>, bool)>,
    /// Every error and warning, once each.
    pub issues: Vec<Issue>,
}

impl CheckReport {
    /// Number of errors.
    pub fn errors(&self) -> usize {
        self.issues.iter().filter(|i| i.is_error()).count()
    }
    /// Number of warnings.
    pub fn warnings(&self) -> usize {
        self.issues.iter().filter(|i| !i.is_error()).count()
    }
}

impl PolicyFile {
    /// Reads and parses a file; JSON when its name ends in `.json`. Only a regular file (links
    /// followed) of at most [`MAX_POLICY_FILE_BYTES`] is read, without blocking on anything
    /// else (see [`read_regular_file`]).
    pub fn load(path: impl AsRef<Path>) -> Result<PolicyFile, PolicyError> {
        let path = path.as_ref();
        let text = read::read_policy_text(path)?;
        PolicyFile::parse(&text, &path.display().to_string(), Format::from_path(path))
    }

    /// Parses policy text; `path` is only used in messages.
    pub fn parse(text: &str, path: &str, format: Format) -> Result<PolicyFile, PolicyError> {
        let mut file = PolicyFile {
            path: path.to_owned(),
            text: text.to_owned(),
            lines: LineIndex::new(text),
            base: Section::default(),
            environments: Vec::new(),
        };
        // Before any parser recurses into it (see `depth`).
        let deep = match format {
            Format::Toml => depth::check_toml(text),
            Format::Json => depth::check_json(text),
        };
        if let Err(too_deep) = deep {
            return Err(PolicyError::new(vec![Issue::error(
                IssueKind::NestingTooDeep,
                Field::Document,
                format!(
                    "the file nests more than {} levels deep here (arrays, tables, inline \
                     tables and dotted keys each count one)",
                    depth::MAX_DEPTH
                ),
            )
            .hint("a policy file is a few levels deep: environments.NAME.origins")
            .with_location(file.location(too_deep.offset))]));
        }
        let root = match format {
            Format::Toml => tree::parse_toml(text),
            Format::Json => tree::parse_json(text),
        };
        let root = match root {
            Ok(root) => root,
            Err(errors) => {
                let issues = errors
                    .into_iter()
                    .map(|e| {
                        let kind = match format {
                            Format::Toml => "TOML",
                            Format::Json => "JSON",
                        };
                        Issue::error(
                            IssueKind::Syntax,
                            Field::Document,
                            format!("invalid {kind}: {}", e.message),
                        )
                        .with_location(file.location(e.offset))
                    })
                    .collect();
                return Err(PolicyError::new(issues));
            }
        };
        let mut issues = Vec::new();
        let Node::Table(members) = root.value else {
            issues.push(
                Issue::error(
                    IssueKind::WrongType,
                    Field::Document,
                    format!(
                        "a policy is a table of fields, not {}",
                        root.value.type_name()
                    ),
                )
                .with_location(file.location(root.span.start)),
            );
            return Err(PolicyError::new(issues));
        };
        file.base = file.read_section(&members, root.span.clone(), None, &mut issues);
        if issues.iter().any(Issue::is_error) {
            return Err(PolicyError::new(issues));
        }
        Ok(file)
    }

    /// The environments the file defines, in file order.
    pub fn environments(&self) -> Vec<&str> {
        self.environments
            .iter()
            .map(|(n, _)| n.value.as_str())
            .collect()
    }

    /// The path given when loading.
    pub fn path(&self) -> &str {
        &self.path
    }

    fn location(&self, offset: usize) -> Location {
        let (line, column) = self.lines.line_column(&self.text, offset);
        Location {
            file: self.path.clone(),
            line,
            column,
        }
    }

    fn environment(&self, name: &str) -> Result<&Section, PolicyError> {
        if let Some((_, section)) = self.environments.iter().find(|(n, _)| n.value == name) {
            return Ok(section);
        }
        Err(self.unknown_environment(name))
    }

    fn unknown_environment(&self, name: &str) -> PolicyError {
        let known = self.environments();
        let mut issue = Issue::error(
            IssueKind::UnknownEnvironment,
            Field::Environments,
            format!(
                "the file defines no environment {name:?}; it defines {}",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ),
        )
        .value(name)
        .with_location(self.location(0));
        if let Some(best) = did_you_mean(name, known.iter().copied()) {
            issue = issue.hint(format!("did you mean {best:?}?"));
        } else if !known.is_empty() {
            issue = issue.hint(format!("use one of: {}", known.join(", ")));
        } else {
            issue = issue.hint("add an [environments.NAME] section, or run without an environment");
        }
        PolicyError::new(vec![issue])
    }

    /// The settings of the base policy, or of the base with an environment applied.
    pub fn builder(&self, environment: Option<&str>) -> Result<PolicyBuilder, PolicyError> {
        let section = environment.map(|name| self.environment(name)).transpose()?;
        Ok(self.settings(section))
    }

    fn settings(&self, environment: Option<&Section>) -> PolicyBuilder {
        let mut b = PolicyBuilder::new();
        self.base.apply(&mut b, false);
        if let Some(section) = environment {
            section.apply(&mut b, true);
        }
        b
    }

    /// Builds the effective policy of the base, or of an environment. Every issue carries its
    /// `file:line:column`; those of an environment name it.
    pub fn policy(&self, environment: Option<&str>) -> Result<Policy, PolicyError> {
        let env = match environment {
            Some(name) => Some((name, self.environment(name)?)),
            None => None,
        };
        self.build(env)
    }

    /// The policy of the base with `env` (a name and its section) applied, if any, with a
    /// warning for each `dangerously_*` option the environment sets.
    fn build(&self, env: Option<(&str, &Section)>) -> Result<Policy, PolicyError> {
        let dangerous = env.map_or_else(Vec::new, |(name, section)| {
            self.dangerous_options(name, section)
        });
        match self.settings(env.map(|(_, section)| section)).build() {
            Ok(mut policy) => {
                let located: Vec<Issue> = policy
                    .warnings()
                    .iter()
                    .cloned()
                    .map(|i| self.locate(i, env))
                    .chain(dangerous)
                    .collect();
                policy.set_warnings(located);
                Ok(policy)
            }
            Err(err) => Err(PolicyError::new(
                err.into_issues()
                    .into_iter()
                    .map(|i| self.locate(i, env))
                    .chain(dangerous)
                    .collect(),
            )),
        }
    }

    /// A warning for each `dangerously_*` option an environment section sets to `true`: a
    /// risk taken in one environment only is easy to miss when the base policy is reviewed.
    fn dangerous_options(&self, name: &str, section: &Section) -> Vec<Issue> {
        [
            (
                Field::DangerouslyAllowNullOrigin,
                &section.dangerously_allow_null_origin,
            ),
            (
                Field::DangerouslyAllowInsecureOrigins,
                &section.dangerously_allow_insecure_origins,
            ),
            (
                Field::DangerouslyAllowPublicSuffixWildcards,
                &section.dangerously_allow_public_suffix_wildcards,
            ),
            (
                Field::DangerouslyReflectAnyOriginWithCredentials,
                &section.dangerously_reflect_any_origin_with_credentials,
            ),
        ]
        .into_iter()
        .filter_map(|(field, set)| {
            let set = set.as_ref().filter(|s| s.value)?;
            Some(
                Issue::warning(
                    IssueKind::DangerousOptionInEnvironment,
                    field,
                    format!(
                        "environment {name} sets {} = true: its policy takes a risk that reviewing the base policy does not show",
                        field.as_str()
                    ),
                )
                .value("true")
                .hint(format!(
                    "keep it only if {name} must have it (check --strict refuses it); otherwise remove it"
                ))
                .in_section(name)
                .with_location(self.location(set.span.start)),
            )
        })
        .collect()
    }

    /// Adds the position (and environment) of the value an issue is about.
    fn locate(&self, mut issue: Issue, env: Option<(&str, &Section)>) -> Issue {
        let mut section = &self.base;
        let mut in_env = false;
        if let Some((_, env_section)) = env {
            let base_origins = self.base.origins_len();
            if issue.field == Field::Origins {
                if let Some(i) = issue.index {
                    if i >= base_origins {
                        section = env_section;
                        in_env = true;
                        issue.index = Some(i - base_origins);
                    }
                } else if env_section.sets(Field::Origins) && !self.base.sets(Field::Origins) {
                    section = env_section;
                    in_env = true;
                }
            } else if env_section.sets(issue.field) {
                section = env_section;
                in_env = true;
            }
        }
        let offset = section
            .span_of(issue.field, issue.index)
            .unwrap_or(section.span.start);
        issue.location = Some(self.location(offset));
        if let Some((name, _)) = env {
            issue.environment = Some(name.to_owned());
            if in_env {
                issue.section = Some(name.to_owned());
            }
        }
        issue
    }

    /// Validates the base policy (unless it is empty and environments add the origins) and
    /// every environment — or, with `Some(name)`, that environment only.
    ///
    /// Time and memory are linear in the number of environments and of issues: policies are
    /// built one at a time and dropped, and an issue the base and the environments that inherit
    /// it all report is recognised by a hash lookup.
    pub fn check(&self, environment: Option<&str>) -> CheckReport {
        let mut targets: Vec<Option<(&str, &Section)>> = Vec::new();
        match environment {
            Some(name) => match self.environment(name) {
                Ok(section) => targets.push(Some((name, section))),
                Err(err) => {
                    return CheckReport {
                        results: vec![(Some(name.to_owned()), false)],
                        issues: err.into_issues(),
                    }
                }
            },
            None => {
                if self.base.origins_len() > 0 || self.environments.is_empty() {
                    targets.push(None);
                }
                targets.extend(
                    self.environments
                        .iter()
                        .map(|(n, section)| Some((n.value.as_str(), section))),
                );
            }
        }
        let mut results = Vec::with_capacity(targets.len());
        let mut issues: Vec<Issue> = Vec::new();
        type Seen = (IssueKind, Option<Location>, String, Option<String>);
        let mut seen: AHashSet<Seen> = AHashSet::new();
        for target in targets {
            let result = self.build(target);
            results.push((target.map(|(n, _)| n.to_owned()), result.is_ok()));
            let found = match result {
                Ok(policy) => policy.warnings().to_vec(),
                Err(err) => err.into_issues(),
            };
            for issue in found {
                // The same value reported by the base and by an environment that inherits it
                // is one problem: keep the first report.
                let key = (
                    issue.kind,
                    issue.location.clone(),
                    issue.message.clone(),
                    issue.section.clone(),
                );
                if seen.insert(key) {
                    issues.push(issue);
                }
            }
        }
        issues.sort_by(|a, b| {
            let key = |i: &Issue| i.location.as_ref().map(|l| (l.line, l.column));
            key(a).cmp(&key(b))
        });
        CheckReport { results, issues }
    }

    fn read_section(
        &mut self,
        members: &[(Spanned<String>, Spanned<Node>)],
        span: std::ops::Range<usize>,
        environment: Option<&str>,
        issues: &mut Vec<Issue>,
    ) -> Section {
        let mut section = Section {
            span,
            ..Section::default()
        };
        let mut seen: Vec<&str> = Vec::new();
        for (key, value) in members {
            let name = key.value.as_str();
            let place = |issue: Issue| {
                let issue = issue.with_location(self.location(key.span.start));
                match environment {
                    Some(env) => issue.in_section(env),
                    None => issue,
                }
            };
            if seen.contains(&name) {
                issues.push(place(
                    Issue::error(
                        IssueKind::Syntax,
                        Field::Document,
                        format!("{name} is given twice"),
                    )
                    .value(name)
                    .hint("keep one"),
                ));
                continue;
            }
            seen.push(name);
            if name == "environments" && environment.is_none() {
                self.read_environments(value, issues);
                continue;
            }
            let Some(field) = FIELDS.iter().copied().find(|f| f.as_str() == name) else {
                let mut known: Vec<&str> = FIELDS.iter().map(|f| f.as_str()).collect();
                if environment.is_none() {
                    known.push("environments");
                }
                let mut issue = Issue::error(
                    IssueKind::UnknownField,
                    Field::Document,
                    format!("unknown field {name:?}"),
                )
                .value(name);
                issue = match did_you_mean(name, known.iter().copied()) {
                    Some(best) => issue.hint(format!("did you mean {best:?}?")),
                    None => issue.hint(format!("the fields are: {}", known.join(", "))),
                };
                issues.push(place(issue));
                continue;
            };
            let wrong = |expected: &str, example: &str| {
                let issue = Issue::error(
                    IssueKind::WrongType,
                    field,
                    format!("expected {expected}, found {}", value.value.type_name()),
                )
                .hint(format!("for example: {name} = {example}"))
                .with_location(self.location(value.span.start));
                match environment {
                    Some(env) => issue.in_section(env),
                    None => issue,
                }
            };
            match field {
                Field::Origins | Field::Methods | Field::AllowHeaders | Field::ExposeHeaders => {
                    let example = match field {
                        Field::Origins => "[\"https://app.example.com\"]",
                        Field::Methods => "[\"GET\", \"PUT\"]",
                        Field::AllowHeaders => "[\"Content-Type\"]",
                        _ => "[\"X-Request-Id\"]",
                    };
                    let Node::Array(items) = &value.value else {
                        issues.push(wrong("a list of strings", example));
                        continue;
                    };
                    let mut list = Vec::with_capacity(items.len());
                    for item in items {
                        match &item.value {
                            Node::Str(s) => list.push(Spanned {
                                value: s.clone(),
                                span: item.span.clone(),
                            }),
                            other => {
                                let issue = Issue::error(
                                    IssueKind::WrongType,
                                    field,
                                    format!("expected a string, found {}", other.type_name()),
                                )
                                .at(list.len())
                                .hint("quote it")
                                .with_location(self.location(item.span.start));
                                issues.push(match environment {
                                    Some(env) => issue.in_section(env),
                                    None => issue,
                                });
                            }
                        }
                    }
                    let list = Some(Spanned {
                        value: list,
                        span: value.span.clone(),
                    });
                    match field {
                        Field::Origins => section.origins = list,
                        Field::Methods => section.methods = list,
                        Field::AllowHeaders => section.allow_headers = list,
                        _ => section.expose_headers = list,
                    }
                }
                Field::MaxAge | Field::PreflightStatus => {
                    let Node::Int(n) = value.value else {
                        let example = if field == Field::MaxAge {
                            "7200"
                        } else {
                            "204"
                        };
                        issues.push(wrong("a whole number", example));
                        continue;
                    };
                    let v = Some(Spanned {
                        value: n,
                        span: value.span.clone(),
                    });
                    if field == Field::MaxAge {
                        section.max_age = v;
                    } else {
                        section.preflight_status = v;
                    }
                }
                _ => {
                    let Node::Bool(b) = value.value else {
                        issues.push(wrong("true or false", "true"));
                        continue;
                    };
                    let v = Some(Spanned {
                        value: b,
                        span: value.span.clone(),
                    });
                    match field {
                        Field::Credentials => section.credentials = v,
                        Field::PrivateNetwork => section.private_network = v,
                        Field::PreflightPassthrough => section.preflight_passthrough = v,
                        Field::DangerouslyAllowNullOrigin => {
                            section.dangerously_allow_null_origin = v
                        }
                        Field::DangerouslyAllowInsecureOrigins => {
                            section.dangerously_allow_insecure_origins = v
                        }
                        Field::DangerouslyAllowPublicSuffixWildcards => {
                            section.dangerously_allow_public_suffix_wildcards = v
                        }
                        _ => section.dangerously_reflect_any_origin_with_credentials = v,
                    }
                }
            }
        }
        section
    }

    fn read_environments(&mut self, value: &Spanned<Node>, issues: &mut Vec<Issue>) {
        let Node::Table(envs) = &value.value else {
            issues.push(
                Issue::error(
                    IssueKind::WrongType,
                    Field::Environments,
                    format!(
                        "environments is a table of sections, not {}",
                        value.value.type_name()
                    ),
                )
                .hint("write [environments.development] followed by its fields")
                .with_location(self.location(value.span.start)),
            );
            return;
        };
        for (name, body) in envs {
            if !is_valid_environment_name(&name.value) {
                let fixed: String = name
                    .value
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                            c
                        } else {
                            '-'
                        }
                    })
                    .collect();
                // The section is not read: its issues would carry the name into every line.
                issues.push(
                    Issue::error(
                        IssueKind::InvalidEnvironmentName,
                        Field::Environments,
                        format!(
                            "environment name {:?}: a name holds only ASCII letters, digits, '-', '_' and '.'",
                            name.value
                        ),
                    )
                    .value(name.value.clone())
                    .hint(if fixed.is_empty() {
                        "name the section, e.g. [environments.staging]".to_owned()
                    } else {
                        format!("rename it, e.g. [environments.{fixed}]")
                    })
                    .with_location(self.location(name.span.start)),
                );
                continue;
            }
            let Node::Table(members) = &body.value else {
                issues.push(
                    Issue::error(
                        IssueKind::WrongType,
                        Field::Environments,
                        format!(
                            "environment {:?} is a table of fields, not {}",
                            name.value,
                            body.value.type_name()
                        ),
                    )
                    .hint(format!(
                        "write [environments.{}] followed by its fields",
                        name.value
                    ))
                    .in_section(&name.value)
                    .with_location(self.location(body.span.start)),
                );
                continue;
            };
            let section = self.read_section(members, body.span.clone(), Some(&name.value), issues);
            self.environments.push((name.clone(), section));
        }
    }
}

/// The closest candidate within a small edit distance.
fn did_you_mean<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let candidates: Vec<&'a str> = candidates.collect();
    let lower = name.to_ascii_lowercase();
    if lower.len() >= 3 {
        if let Some(prefixed) = candidates.iter().find(|c| c.starts_with(&lower)) {
            return Some(prefixed);
        }
    }
    let limit = (name.len() / 3).clamp(1, 4);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&name.to_ascii_lowercase(), c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Writes a builder's settings as a policy file (TOML) that loads back into the same settings.
///
/// ```
/// use corsgate::file::{to_toml, Format, PolicyFile};
/// use corsgate::Policy;
///
/// let mut builder = Policy::builder();
/// builder.origins(["https://a.example", "regex:https://[a-z]+\\.b\\.example"]).credentials(true).max_age(60);
/// let text = to_toml(&builder);
/// let loaded = PolicyFile::parse(&text, "policy.toml", Format::Toml)?.builder(None)?;
/// assert_eq!(loaded, builder);
/// # Ok::<(), corsgate::PolicyError>(())
/// ```
pub fn to_toml(builder: &PolicyBuilder) -> String {
    fn quote(s: &str) -> String {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    out.push_str(&format!("\\u{:04X}", c as u32))
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }
    fn list(values: &[String]) -> String {
        let items: Vec<String> = values.iter().map(|v| quote(v)).collect();
        format!("[{}]", items.join(", "))
    }
    let b = builder;
    let mut out = format!("origins = {}\n", list(&b.origins));
    if let Some(m) = &b.methods {
        out.push_str(&format!("methods = {}\n", list(m)));
    }
    if !b.allow_headers.is_empty() {
        out.push_str(&format!("allow_headers = {}\n", list(&b.allow_headers)));
    }
    if !b.expose_headers.is_empty() {
        out.push_str(&format!("expose_headers = {}\n", list(&b.expose_headers)));
    }
    if let Some(age) = b.max_age {
        out.push_str(&format!("max_age = {age}\n"));
    }
    if let Some(status) = b.preflight_status {
        out.push_str(&format!("preflight_status = {status}\n"));
    }
    for (name, on) in [
        ("credentials", b.credentials),
        ("private_network", b.private_network),
        ("preflight_passthrough", b.preflight_passthrough),
        (
            "dangerously_allow_null_origin",
            b.dangerously_allow_null_origin,
        ),
        (
            "dangerously_allow_insecure_origins",
            b.dangerously_allow_insecure_origins,
        ),
        (
            "dangerously_allow_public_suffix_wildcards",
            b.dangerously_allow_public_suffix_wildcards,
        ),
        (
            "dangerously_reflect_any_origin_with_credentials",
            b.dangerously_reflect_any_origin_with_credentials,
        ),
    ] {
        if on {
            out.push_str(&format!("{name} = true\n"));
        }
    }
    out
}

/// Loads a file and builds the policy of the active environment (the argument, else
/// `CORSGATE_ENV`, else the base policy).
pub fn load_policy(
    path: impl AsRef<Path>,
    environment: Option<&str>,
) -> Result<Policy, PolicyError> {
    let file = PolicyFile::load(path)?;
    let env = active_environment(environment);
    file.policy(env.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(
            did_you_mean("orgins", FIELDS.iter().map(|f| f.as_str())),
            Some("origins")
        );
        assert_eq!(
            did_you_mean("allowed_headers", FIELDS.iter().map(|f| f.as_str())),
            Some("allow_headers")
        );
        assert_eq!(
            did_you_mean("credential", FIELDS.iter().map(|f| f.as_str())),
            Some("credentials")
        );
        assert_eq!(did_you_mean("zzz", FIELDS.iter().map(|f| f.as_str())), None);
    }
}
