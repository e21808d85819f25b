//! One section of a policy file (the base, `[environments.NAME]`, `[policies.NAME]` or
//! `[environments.NAME.policies.NAME]`): reading its fields by the table of `fields`, where
//! each was written, and applying it to a builder.

use std::ops::Range;

use crate::error::{Field, Issue, IssueKind};
use crate::policy::PolicyBuilder;

use super::fields::{self, Shape, Value, FIELDS};
use super::tree::{Node, Spanned};
use super::{is_valid_environment_name, PolicyFile};
use crate::suggest::did_you_mean;

/// One section's fields, each with where it was written.
#[derive(Clone, Debug, Default)]
pub(super) struct Section {
    pub(super) span: Range<usize>,
    /// By the field's row in [`FIELDS`].
    values: [Option<Spanned<Value>>; FIELDS.len()],
    /// `origins_file`: the path as written, and the file read (its position in
    /// `PolicyFile::origins_files`) when it could be.
    pub(super) origins_file: Option<(Spanned<String>, Option<usize>)>,
    /// `policies.NAME` sections: the named policies (in the base), or what an environment
    /// changes in them.
    pub(super) policies: Vec<(Spanned<String>, Section)>,
}

/// Where a section is written: what it may hold, and what its issues name.
#[derive(Clone, Copy, Debug)]
pub(super) enum Place<'a> {
    Base,
    Environment(&'a str),
    Policy(&'a str),
    EnvironmentPolicy(&'a str, &'a str),
}

impl Place<'_> {
    /// Names the environment section and the policy an issue is written in.
    pub(super) fn tag(self, issue: Issue) -> Issue {
        match self {
            Place::Base => issue,
            Place::Environment(env) => issue.in_section(env),
            Place::Policy(name) => issue.in_policy(name),
            Place::EnvironmentPolicy(env, name) => issue.in_section(env).in_policy(name),
        }
    }

    /// The keys besides the policy fields.
    fn extra_keys(self) -> &'static [&'static str] {
        match self {
            Place::Base => &["origins_file", "environments", "policies", "routes"],
            Place::Environment(_) => &["origins_file", "policies"],
            Place::Policy(_) | Place::EnvironmentPolicy(..) => &["origins_file"],
        }
    }
}

impl Section {
    /// The value of a field, if this section sets it.
    pub(super) fn value(&self, field: Field) -> Option<&Spanned<Value>> {
        self.values[fields::position(field)?].as_ref()
    }

    /// The byte offset of a field's value (or, for a list element, of that element).
    pub(super) fn span_of(&self, field: Field, index: Option<usize>) -> Option<usize> {
        let value = self.value(field)?;
        Some(match (&value.value, index) {
            (Value::List(items), Some(i)) => items
                .get(i)
                .map_or(value.span.start, |item| item.span.start),
            _ => value.span.start,
        })
    }

    /// Whether this section sets the field.
    pub(super) fn sets(&self, field: Field) -> bool {
        self.value(field).is_some()
    }

    /// The number of `origins` entries written in the section itself.
    pub(super) fn origins_len(&self) -> usize {
        match self.value(Field::Origins).map(|v| &v.value) {
            Some(Value::List(items)) => items.len(),
            _ => 0,
        }
    }

    /// The read origins file, if the section names one that could be read.
    pub(super) fn origins_file_index(&self) -> Option<usize> {
        self.origins_file.as_ref().and_then(|(_, i)| *i)
    }

    /// Applies this section to a builder: as the base, or as an environment on top of it.
    pub(super) fn apply(&self, b: &mut PolicyBuilder, is_environment: bool) {
        for (spec, value) in FIELDS.iter().zip(&self.values) {
            if let Some(value) = value {
                spec.apply(b, &value.value, is_environment);
            }
        }
    }

    /// The `dangerously_*` options this section sets to `true`, with where.
    pub(super) fn dangerous_options(&self) -> impl Iterator<Item = (Field, &Spanned<Value>)> {
        FIELDS
            .iter()
            .zip(&self.values)
            .filter(|(spec, _)| spec.dangerous)
            .filter_map(|(spec, value)| {
                Some((spec.field, value.as_ref().filter(|v| v.value.is_true())?))
            })
    }
}

impl PolicyFile {
    /// Reads one section's fields; every problem goes to `issues`, and what could be read is
    /// kept, so that the policy's own checks can still run on it.
    pub(super) fn read_section(
        &mut self,
        members: &[(Spanned<String>, Spanned<Node>)],
        span: Range<usize>,
        place: Place<'_>,
        issues: &mut Vec<Issue>,
    ) -> Section {
        let mut section = Section {
            span,
            ..Section::default()
        };
        let mut seen: Vec<&str> = Vec::new();
        for (key, value) in members {
            let name = key.value.as_str();
            let in_section = |issue: Issue| place.tag(issue);
            let placed =
                |issue: Issue| in_section(issue.with_location(self.location(key.span.start)));
            if seen.contains(&name) {
                issues.push(placed(
                    Issue::error(
                        IssueKind::Syntax,
                        Field::Document,
                        format!("{name} is given twice"),
                    )
                    .with_value(name)
                    .with_hint("keep one"),
                ));
                continue;
            }
            seen.push(name);
            match (name, place) {
                ("environments", Place::Base) => {
                    self.read_environments(value, issues);
                    continue;
                }
                ("policies", Place::Base) => {
                    section.policies = self.read_policies(value, None, issues);
                    continue;
                }
                ("policies", Place::Environment(env)) => {
                    section.policies = self.read_policies(value, Some(env), issues);
                    continue;
                }
                ("routes", Place::Base) => {
                    self.read_routes(value, issues);
                    continue;
                }
                ("origins_file", _) => {
                    section.origins_file = self.read_origins_file(value, place, issues);
                    continue;
                }
                _ => {}
            }
            let Some(row) = fields::named(name) else {
                let mut known: Vec<&str> = FIELDS.iter().map(|f| f.name()).collect();
                known.extend(place.extra_keys());
                let mut issue = Issue::error(
                    IssueKind::UnknownField,
                    Field::Document,
                    format!("unknown field {name:?}"),
                )
                .with_value(name);
                issue = match did_you_mean(name, known.iter().copied()) {
                    Some(best) => issue.with_hint(format!("did you mean {best:?}?")),
                    None => issue.with_hint(format!("the fields are: {}", known.join(", "))),
                };
                issues.push(placed(issue));
                continue;
            };
            let spec = &FIELDS[row];
            let wrong = |expected: &str| {
                in_section(
                    Issue::error(
                        IssueKind::WrongType,
                        spec.field,
                        format!("expected {expected}, found {}", value.value.type_name()),
                    )
                    .with_hint(format!("for example: {name} = {}", spec.example))
                    .with_location(self.location(value.span.start)),
                )
            };
            let read = match (spec.shape, &value.value) {
                (Shape::List, Node::Array(items)) => {
                    let mut list = Vec::with_capacity(items.len());
                    for item in items {
                        match &item.value {
                            Node::Str(s) => list.push(Spanned {
                                value: s.clone(),
                                span: item.span.clone(),
                            }),
                            other => issues.push(in_section(
                                Issue::error(
                                    IssueKind::WrongType,
                                    spec.field,
                                    format!("expected a string, found {}", other.type_name()),
                                )
                                .at(list.len())
                                .with_hint("quote it")
                                .with_location(self.location(item.span.start)),
                            )),
                        }
                    }
                    Value::List(list)
                }
                (Shape::Number, Node::Int(n)) => Value::Number(*n),
                (Shape::Bool, Node::Bool(b)) => Value::Bool(*b),
                (Shape::List, _) => {
                    issues.push(wrong("a list of strings"));
                    continue;
                }
                (Shape::Number, _) => {
                    issues.push(wrong("a whole number"));
                    continue;
                }
                (Shape::Bool, _) => {
                    issues.push(wrong("true or false"));
                    continue;
                }
            };
            section.values[row] = Some(Spanned {
                value: read,
                span: value.span.clone(),
            });
        }
        section
    }

    pub(super) fn read_environments(&mut self, value: &Spanned<Node>, issues: &mut Vec<Issue>) {
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
                .with_hint("write [environments.development] followed by its fields")
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
                    .with_value(name.value.clone())
                    .with_hint(if fixed.is_empty() {
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
                    .with_hint(format!(
                        "write [environments.{}] followed by its fields",
                        name.value
                    ))
                    .in_section(&name.value)
                    .with_location(self.location(body.span.start)),
                );
                continue;
            };
            let section = self.read_section(
                members,
                body.span.clone(),
                Place::Environment(&name.value),
                issues,
            );
            self.environments.push((name.clone(), section));
        }
    }
}
