//! `[[routes]]` entries of a policy file (design §8): each with `name`, `hosts`,
//! `path_prefix` and `policy` (required), read with where every value was written, so that
//! the set's route issues (a host entry, a prefix, an unknown policy) point at the value.
//! What the values mean is checked by [`PolicySetBuilder`](crate::PolicySetBuilder); this
//! module only reads them.

use std::ops::Range;

use crate::error::{Field, Issue, IssueKind};
use crate::policy::RouteBuilder;
use crate::suggest::did_you_mean;

use super::tree::{Node, Spanned};
use super::PolicyFile;

/// The keys of a route.
const ROUTE_KEYS: [&str; 4] = ["name", "hosts", "path_prefix", "policy"];

/// One `[[routes]]` entry, as written.
#[derive(Clone, Debug, Default)]
pub(super) struct RouteEntry {
    pub(super) span: Range<usize>,
    pub(super) name: Option<Spanned<String>>,
    pub(super) hosts: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) path_prefix: Option<Spanned<String>>,
    pub(super) policy: Option<Spanned<String>>,
    /// A key of this entry was unknown or of the wrong type (already reported): its hosts
    /// and prefix are not what the file meant, so the builder does not compare them with
    /// other routes' (a duplicate found there would be an echo of that problem).
    pub(super) unreadable: bool,
}

impl RouteEntry {
    /// The route for the set builder. A route whose `policy` is missing (already reported)
    /// names the empty policy, which the builder refuses too; that echo is dropped.
    pub(super) fn builder(&self) -> RouteBuilder {
        let mut route = RouteBuilder::new(self.policy.as_ref().map_or("", |p| p.value.as_str()));
        if let Some(name) = &self.name {
            route = route.name(name.value.clone());
        }
        if let Some(hosts) = &self.hosts {
            route = route.hosts(hosts.value.iter().map(|h| h.value.clone()));
        }
        if let Some(prefix) = &self.path_prefix {
            route = route.path_prefix(prefix.value.clone());
        }
        route.unreadable = self.unreadable;
        route
    }

    /// The byte offset of the value a route issue is about.
    pub(super) fn offset_of(&self, field: Field, index: Option<usize>) -> usize {
        let start = |s: &Option<Spanned<String>>| s.as_ref().map(|s| s.span.start);
        match field {
            Field::Name => start(&self.name),
            Field::PathPrefix => start(&self.path_prefix),
            Field::Policy => start(&self.policy),
            Field::Hosts => self.hosts.as_ref().map(|h| {
                index
                    .and_then(|i| h.value.get(i))
                    .map_or(h.span.start, |item| item.span.start)
            }),
            _ => None,
        }
        .unwrap_or(self.span.start)
    }
}

impl PolicyFile {
    /// Reads the `routes` array; every problem goes to `issues`. Each table in the array is a
    /// route, kept at its position even when some of its values are wrong (route issues are
    /// named by position).
    pub(super) fn read_routes(&mut self, value: &Spanned<Node>, issues: &mut Vec<Issue>) {
        let Node::Array(items) = &value.value else {
            issues.push(
                Issue::error(
                    IssueKind::WrongType,
                    Field::Routes,
                    format!(
                        "routes is a list of tables, not {}",
                        value.value.type_name()
                    ),
                )
                .with_hint("write each route as [[routes]] followed by its keys")
                .with_location(self.location(value.span.start)),
            );
            return;
        };
        for (index, item) in items.iter().enumerate() {
            let mut entry = RouteEntry {
                span: item.span.clone(),
                ..RouteEntry::default()
            };
            let Node::Table(members) = &item.value else {
                issues.push(
                    Issue::error(
                        IssueKind::WrongType,
                        Field::Routes,
                        format!("a route is a table, not {}", item.value.type_name()),
                    )
                    .in_route(index)
                    .with_hint("write [[routes]] followed by hosts, path_prefix and policy")
                    .with_location(self.location(item.span.start)),
                );
                entry.unreadable = true;
                self.routes.push(entry);
                continue;
            };
            let issues_before = issues.len();
            for (key, value) in members {
                let at = |issue: Issue| issue.in_route(index);
                let string = |field: Field, issues: &mut Vec<Issue>| match &value.value {
                    Node::Str(s) => Some(Spanned {
                        value: s.clone(),
                        span: value.span.clone(),
                    }),
                    other => {
                        issues.push(at(self
                            .wrong_type(field, "a string", other, value.span.start)
                            .with_hint(format!(
                                "for example: {} = \"{}\"",
                                field.as_str(),
                                example(field)
                            ))));
                        None
                    }
                };
                match key.value.as_str() {
                    "name" => entry.name = string(Field::Name, issues),
                    "path_prefix" => entry.path_prefix = string(Field::PathPrefix, issues),
                    "policy" => entry.policy = string(Field::Policy, issues),
                    "hosts" => match &value.value {
                        Node::Array(hosts) => {
                            let mut list = Vec::with_capacity(hosts.len());
                            for (i, host) in hosts.iter().enumerate() {
                                match &host.value {
                                    Node::Str(s) => list.push(Spanned {
                                        value: s.clone(),
                                        span: host.span.clone(),
                                    }),
                                    other => issues.push(at(self
                                        .wrong_type(
                                            Field::Hosts,
                                            "a string",
                                            other,
                                            host.span.start,
                                        )
                                        .at(i)
                                        .with_hint("quote it"))),
                                }
                            }
                            entry.hosts = Some(Spanned {
                                value: list,
                                span: value.span.clone(),
                            });
                        }
                        other => issues.push(at(self
                            .wrong_type(Field::Hosts, "a list of strings", other, value.span.start)
                            .with_hint(
                                "for example: hosts = [\"api.example.com\", \"*.example.com\"]",
                            ))),
                    },
                    unknown => {
                        let issue = Issue::error(
                            IssueKind::UnknownField,
                            Field::Routes,
                            format!("unknown route key {unknown:?}"),
                        )
                        .with_value(unknown)
                        .with_location(self.location(key.span.start));
                        issues.push(at(
                            match did_you_mean(unknown, ROUTE_KEYS.iter().copied()) {
                                Some(best) => issue.with_hint(format!("did you mean {best:?}?")),
                                None => issue.with_hint(format!(
                                    "a route's keys are: {}",
                                    ROUTE_KEYS.join(", ")
                                )),
                            },
                        ));
                    }
                }
            }
            entry.unreadable = issues[issues_before..].iter().any(Issue::is_error);
            if entry.policy.is_none() && !members.iter().any(|(k, _)| k.value == "policy") {
                issues.push(
                    Issue::error(
                        IssueKind::UnknownPolicy,
                        Field::Policy,
                        "a route names the policy it chooses",
                    )
                    .in_route(index)
                    .with_hint("add policy = \"NAME\" (a policy under [policies.NAME], `default`, or `off`)")
                    .with_location(self.location(item.span.start)),
                );
            }
            self.routes.push(entry);
        }
    }

    pub(super) fn wrong_type(
        &self,
        field: Field,
        expected: &str,
        found: &Node,
        offset: usize,
    ) -> Issue {
        Issue::error(
            IssueKind::WrongType,
            field,
            format!("expected {expected}, found {}", found.type_name()),
        )
        .with_location(self.location(offset))
    }
}

fn example(field: Field) -> &'static str {
    match field {
        Field::Name => "public-api",
        Field::PathPrefix => "/api",
        _ => "public",
    }
}
