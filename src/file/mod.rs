//! Policy files (feature `file`): TOML, or JSON when the file name ends in `.json`, with the
//! builder's field names, and `[environments.NAME]` sections whose `origins` are added to the
//! base list and whose other fields override it.
//!
//! A file holds a policy set (design §8): the top-level fields make the `default` policy,
//! `[policies.NAME]` tables named policies that start from them (`set`), `[[routes]]` the
//! routes that choose one (`routes`), and `origins_file` adds a file of origins to a policy
//! (`origins_file`). [`PolicyFile::policy_set`] builds the set; [`PolicyFile::source_files`]
//! lists the files it reads.
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
mod fields;
mod origins_file;
pub(crate) mod read;
mod routes;
mod section;
mod set;

mod tree;
mod write;

use std::path::{Path, PathBuf};

use crate::suggest::did_you_mean;
use ahash::AHashSet;
use origins_file::OriginsFile;
pub use read::{read_regular_file, MAX_POLICY_FILE_BYTES};
use routes::RouteEntry;
use section::{Place, Section};
use tree::{LineIndex, Node, Spanned};
pub use write::to_toml;

use crate::error::{Field, Issue, IssueKind, Location, PolicyError};
use crate::policy::{Policy, PolicyBuilder, PolicySet, PolicySetBuilder};

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

/// A parsed policy file: the base section and its environments, each field with its position.
#[derive(Clone, Debug)]
pub struct PolicyFile {
    path: String,
    text: String,
    lines: LineIndex,
    /// Where `origins_file` paths are resolved: the directory of `path`.
    directory: PathBuf,
    /// The top-level fields; its `policies` are the named policies.
    base: Section,
    environments: Vec<(Spanned<String>, Section)>,
    routes: Vec<RouteEntry>,
    /// Every origins file read, once each.
    origins_files: Vec<OriginsFile>,
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

    /// Parses policy text; `path` is used in messages, and its directory is where
    /// `origins_file` paths are resolved (and read, now).
    pub fn parse(text: &str, path: &str, format: Format) -> Result<PolicyFile, PolicyError> {
        let mut file = PolicyFile {
            path: path.to_owned(),
            text: text.to_owned(),
            lines: LineIndex::new(text),
            directory: Path::new(path)
                .parent()
                .map_or_else(PathBuf::new, Path::to_path_buf),
            base: Section::default(),
            environments: Vec::new(),
            routes: Vec::new(),
            origins_files: Vec::new(),
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
            .with_hint("a policy file is a few levels deep: environments.NAME.origins")
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
        file.base = file.read_section(&members, root.span.clone(), Place::Base, &mut issues);
        file.check_environment_policies(&mut issues);
        if issues.iter().any(Issue::is_error) {
            file.add_policy_issues(&mut issues);
            return Err(PolicyError::new(issues));
        }
        Ok(file)
    }

    /// Every problem at once: a file with an unknown field or a value of the wrong type is
    /// still checked as a policy, as far as it could be read, so that the problems of the other
    /// values are reported beside it. A policy issue about a field the file already reported
    /// (one of the wrong type, left out of the policy) is not added: it would only repeat it.
    fn add_policy_issues(&self, issues: &mut Vec<Issue>) {
        /// A value already reported: its field, environment section, policy and route.
        type Reported = (Field, Option<String>, Option<String>, Option<usize>);
        let reported: AHashSet<Reported> = issues
            .iter()
            .filter(|i| i.is_error())
            // An origins file that could not be read leaves its policy's origins short.
            .map(|i| match i.field {
                Field::OriginsFile => Field::Origins,
                field => field,
            })
            .zip(issues.iter().filter(|i| i.is_error()))
            .map(|(field, i)| (field, i.section.clone(), i.policy.clone(), i.route))
            .collect();
        let before = issues.len();
        issues.extend(self.check(None).issues.into_iter().filter(|i| {
            !reported.contains(&(i.field, i.section.clone(), i.policy.clone(), i.route))
        }));
        if issues.len() > before {
            self.sort_in_file_order(issues);
        }
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

    /// The files the policy set is built from: the policy file and every `origins_file` it
    /// names (of every section and environment), once each. A watcher reloads the set when
    /// any of them changes.
    pub fn source_files(&self) -> Vec<PathBuf> {
        let mut files = vec![PathBuf::from(&self.path)];
        files.extend(self.origins_files.iter().map(|f| f.path.clone()));
        files
    }

    /// The named policies, in file order.
    pub fn policy_names(&self) -> Vec<&str> {
        self.base
            .policies
            .iter()
            .map(|(n, _)| n.value.as_str())
            .collect()
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
        .with_value(name)
        .with_location(self.location(0));
        if let Some(best) = did_you_mean(name, known.iter().copied()) {
            issue = issue.with_hint(format!("did you mean {best:?}?"));
        } else if !known.is_empty() {
            issue = issue.with_hint(format!("use one of: {}", known.join(", ")));
        } else {
            issue = issue
                .with_hint("add an [environments.NAME] section, or run without an environment");
        }
        PolicyError::new(vec![issue])
    }

    /// The settings of the base policy, or of the base with an environment applied.
    pub fn builder(&self, environment: Option<&str>) -> Result<PolicyBuilder, PolicyError> {
        let env = match environment {
            Some(name) => Some((name, self.environment(name)?)),
            None => None,
        };
        Ok(self.settings_of(None, env))
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

    /// Builds the policy set of the base, or of an environment: the default policy from the
    /// top-level fields, the named policies, the routes. Every issue carries its
    /// `file:line:column` (in the policy file, or in an origins file) and names its policy or
    /// route.
    pub fn policy_set(&self, environment: Option<&str>) -> Result<PolicySet, PolicyError> {
        let env = match environment {
            Some(name) => Some((name, self.environment(name)?)),
            None => None,
        };
        self.build_set(env)
    }

    /// The settings of the set of the base, or of an environment.
    pub fn set_builder(&self, environment: Option<&str>) -> Result<PolicySetBuilder, PolicyError> {
        let env = match environment {
            Some(name) => Some((name, self.environment(name)?)),
            None => None,
        };
        Ok(self.set_builder_of(env))
    }

    /// The policy of the base with `env` (a name and its section) applied, if any, with a
    /// warning for each `dangerously_*` option the environment sets.
    fn build(&self, env: Option<(&str, &Section)>) -> Result<Policy, PolicyError> {
        let dangerous = env.map_or_else(Vec::new, |(name, section)| {
            self.dangerous_options(name, section)
        });
        match self.settings_of(None, env).build() {
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
        section
            .dangerous_options()
        .map(|(field, set)| {
                Issue::warning(
                    IssueKind::DangerousOptionInEnvironment,
                    field,
                    format!(
                        "environment {name} sets {} = true: its policy takes a risk that reviewing the base policy does not show",
                        field.as_str()
                    ),
                )
                .with_value("true")
                .with_hint(format!(
                    "keep it only if {name} must have it (check --strict refuses it); otherwise remove it"
                ))
                .in_section(name)
                .with_location(self.location(set.span.start))
        })
        .collect()
    }
}

/// Loads a file and builds the policy set of the active environment (the argument, else
/// `CORSGATE_ENV`, else the base): every file holds a set, a file with only top-level fields
/// a set of one policy, `default`.
pub fn load_policy_set(
    path: impl AsRef<Path>,
    environment: Option<&str>,
) -> Result<PolicySet, PolicyError> {
    let file = PolicyFile::load(path)?;
    let env = active_environment(environment);
    file.policy_set(env.as_deref())
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

    /// An unknown field no longer hides the other problems of the file.
    #[test]
    fn a_misspelt_field_and_five_invalid_values_are_six_errors() {
        let text = "origins = [\"https://a.example/app\"]\n\
                    methods = [\"TRACE\"]\n\
                    allow_headers = [\"cookie\"]\n\
                    credentails = true\n\
                    max_age = 100000\n\
                    preflight_status = 500\n";
        let err = PolicyFile::parse(text, "policy.toml", Format::Toml).unwrap_err();
        let found: Vec<_> = err
            .errors()
            .map(|i| (i.kind(), i.location().map(|l| l.line)))
            .collect();
        assert_eq!(
            found,
            [
                (IssueKind::OriginHasPath, Some(1)),
                (IssueKind::ForbiddenMethod, Some(2)),
                (IssueKind::ForbiddenRequestHeader, Some(3)),
                (IssueKind::UnknownField, Some(4)),
                (IssueKind::MaxAgeOutOfRange, Some(5)),
                (IssueKind::InvalidPreflightStatus, Some(6)),
            ]
        );
    }

    /// In an environment too; a field of the wrong type is reported once, not again as the
    /// policy's empty allowlist.
    #[test]
    fn environments_and_wrong_types_are_reported_once_each() {
        let text = "origins = \"https://a.example\"\n\
                    [environments.dev]\n\
                    origins = [\"https://b.example\"]\n\
                    max_agee = 5\n\
                    methods = [\"CONNECT\"]\n";
        let err = PolicyFile::parse(text, "policy.toml", Format::Toml).unwrap_err();
        let found: Vec<_> = err
            .errors()
            .map(|i| (i.kind(), i.location().map(|l| l.line)))
            .collect();
        assert_eq!(
            found,
            [
                (IssueKind::WrongType, Some(1)),
                (IssueKind::UnknownField, Some(4)),
                (IssueKind::ForbiddenMethod, Some(5)),
            ]
        );
    }
}
