//! Named policies in a policy file and the set they make (design §8).
//!
//! A policy's effective settings are layers applied in order:
//! 1. the top-level fields (its `origins`, then its `origins_file` entries);
//! 2. the environment's own fields, if one is selected (origins added, others replaced);
//! 3. for a named policy, `[policies.NAME]`: every field it sets replaces the layers below
//!    (`origins` too: replaced, not merged); its `origins_file` entries join the origins it
//!    has then (its own, or the inherited ones when it does not set `origins`);
//! 4. `[environments.E.policies.NAME]`, if any: origins added, others replaced.
//!
//! So an environment's origins reach every named policy that does not set its own `origins`.
//! The same layers locate every issue: an origin at position `i` of the effective list is
//! found in the layer (and the file: the policy file or an origins file) it came from.

use ahash::AHashSet;

use crate::error::{Field, Issue, IssueKind, Location, PolicyError};
use crate::policy::{PolicyBuilder, PolicySet, PolicySetBuilder};
use crate::suggest::did_you_mean;

use super::section::{Place, Section};
use super::tree::{Node, Spanned};
use super::{CheckReport, PolicyFile};

/// One layer of a policy's settings.
#[derive(Clone, Copy)]
struct Layer<'a> {
    section: &'a Section,
    /// The environment section it is written in.
    environment: Option<&'a str>,
    /// Origins added (an environment) rather than replaced.
    adds: bool,
}

/// Where a run of the effective origins came from.
#[derive(Clone, Copy)]
enum Source {
    /// The `origins` list of layer N.
    List(usize),
    /// The origins file of layer N.
    File(usize, usize),
}

/// A selected environment: its name and section.
pub(super) type Env<'a> = Option<(&'a str, &'a Section)>;

impl PolicyFile {
    /// Reads a `policies` table: each member a section of a named policy (or, in an
    /// environment, of what the environment changes in it).
    pub(super) fn read_policies(
        &mut self,
        value: &Spanned<Node>,
        environment: Option<&str>,
        issues: &mut Vec<Issue>,
    ) -> Vec<(Spanned<String>, Section)> {
        let tag = |issue: Issue| match environment {
            Some(env) => issue.in_section(env),
            None => issue,
        };
        let Node::Table(members) = &value.value else {
            issues.push(tag(Issue::error(
                IssueKind::WrongType,
                Field::Policies,
                format!(
                    "policies is a table of policies, not {}",
                    value.value.type_name()
                ),
            )
            .with_hint("write [policies.NAME] followed by its fields")
            .with_location(self.location(value.span.start))));
            return Vec::new();
        };
        let mut out = Vec::with_capacity(members.len());
        for (name, body) in members {
            let Node::Table(fields) = &body.value else {
                issues.push(tag(Issue::error(
                    IssueKind::WrongType,
                    Field::Policies,
                    format!(
                        "policy {:?} is a table of fields, not {}",
                        name.value,
                        body.value.type_name()
                    ),
                )
                .in_policy(&name.value)
                .with_hint(format!(
                    "write [policies.{}] followed by its fields",
                    name.value
                ))
                .with_location(self.location(body.span.start))));
                continue;
            };
            let place = match environment {
                Some(env) => Place::EnvironmentPolicy(env, &name.value),
                None => Place::Policy(&name.value),
            };
            let section = self.read_section(fields, body.span.clone(), place, issues);
            out.push((name.clone(), section));
        }
        out
    }

    /// An environment changes the policies the base defines; it adds none.
    pub(super) fn check_environment_policies(&self, issues: &mut Vec<Issue>) {
        let known: Vec<&str> = self
            .base
            .policies
            .iter()
            .map(|(n, _)| n.value.as_str())
            .collect();
        for (env, section) in &self.environments {
            for (name, _) in &section.policies {
                if known.contains(&name.value.as_str()) {
                    continue;
                }
                let issue = Issue::error(
                    IssueKind::UnknownPolicy,
                    Field::Policies,
                    format!(
                        "environment {} changes the policy {:?}, which the file does not define: an environment adds no policies",
                        env.value, name.value
                    ),
                )
                .with_value(name.value.as_str())
                .in_section(&env.value)
                .in_policy(&name.value)
                .with_location(self.location(name.span.start));
                issues.push(match did_you_mean(&name.value, known.iter().copied()) {
                    Some(best) => issue.with_hint(format!("did you mean {best:?}?")),
                    None => {
                        issue.with_hint(format!("define it under [policies.{}] first", name.value))
                    }
                });
            }
        }
    }

    /// The section of a named policy.
    fn policy_section(&self, name: &str) -> Option<&(Spanned<String>, Section)> {
        self.base.policies.iter().find(|(n, _)| n.value == name)
    }

    /// The layers of a policy (`None`: the default one) in an environment.
    fn layers<'a>(&'a self, policy: Option<&str>, env: Env<'a>) -> Vec<Layer<'a>> {
        let mut layers = vec![Layer {
            section: &self.base,
            environment: None,
            adds: false,
        }];
        if let Some((name, section)) = env {
            layers.push(Layer {
                section,
                environment: Some(name),
                adds: true,
            });
        }
        if let Some((_, section)) = policy.and_then(|p| self.policy_section(p)) {
            layers.push(Layer {
                section,
                environment: None,
                adds: false,
            });
            if let Some((env_name, env_section)) = env {
                if let Some((_, section)) = env_section
                    .policies
                    .iter()
                    .find(|(n, _)| Some(n.value.as_str()) == policy)
                {
                    layers.push(Layer {
                        section,
                        environment: Some(env_name),
                        adds: true,
                    });
                }
            }
        }
        layers
    }

    /// A policy's settings.
    fn effective(&self, layers: &[Layer<'_>]) -> PolicyBuilder {
        let mut b = PolicyBuilder::new();
        for layer in layers {
            layer.section.apply(&mut b, layer.adds);
            if let Some(file) = layer.section.origins_file_index() {
                b.append_origins(&self.origins_files[file].entries);
            }
        }
        debug_assert_eq!(self.runs(layers).1, b.origins.len());
        b
    }

    /// Where each run of a policy's origins came from (`(start, source)`), and how many origins
    /// it has: what `effective` does to the origins, counted rather than copied, so that
    /// locating an issue costs nothing per origin.
    fn runs(&self, layers: &[Layer<'_>]) -> (Vec<(usize, Source)>, usize) {
        let mut runs: Vec<(usize, Source)> = Vec::new();
        let mut len = 0;
        for (n, layer) in layers.iter().enumerate() {
            if layer.section.sets(Field::Origins) {
                // Added to the origins by an environment, else in place of them.
                if !layer.adds {
                    runs.clear();
                    len = 0;
                }
                runs.push((len, Source::List(n)));
                len += layer.section.origins_len();
            }
            if let Some(file) = layer.section.origins_file_index() {
                runs.push((len, Source::File(n, file)));
                len += self.origins_files[file].entries.len();
            }
        }
        (runs, len)
    }

    /// The settings of a policy (`None`: the default one) in an environment.
    pub(super) fn settings_of(&self, policy: Option<&str>, env: Env<'_>) -> PolicyBuilder {
        self.effective(&self.layers(policy, env))
    }

    /// Adds the position (in the policy file or an origins file) of the value an issue is
    /// about, and the environment section it is written in.
    pub(super) fn locate(&self, mut issue: Issue, env: Env<'_>) -> Issue {
        if let Some((name, _)) = env {
            issue.environment = Some(name.to_owned());
        }
        if let Some(route) = issue.route {
            let offset = self
                .routes
                .get(route)
                .map_or(0, |r| r.offset_of(issue.field, issue.index));
            issue.location = Some(self.location(offset));
            return issue;
        }
        if issue.field == Field::Policies {
            let offset = issue
                .policy
                .as_deref()
                .and_then(|p| self.policy_section(p))
                .map_or(self.base.span.start, |(n, _)| n.span.start);
            issue.location = Some(self.location(offset));
            return issue;
        }
        let layers = self.layers(issue.policy.as_deref(), env);
        let (layer, location) = self.place_of(&mut issue, &layers);
        if let Some(layer) = layer.and_then(|n| layers.get(n)) {
            if let Some(name) = layer.environment {
                issue.section = Some(name.to_owned());
            }
        }
        issue.location = Some(location);
        issue
    }

    /// The layer and position of an issue's value.
    fn place_of(&self, issue: &mut Issue, layers: &[Layer<'_>]) -> (Option<usize>, Location) {
        let at = |n: usize, field: Field, index: Option<usize>| {
            let section = layers[n].section;
            let offset = section
                .span_of(field, index)
                .or_else(|| {
                    (field == Field::Origins)
                        .then(|| section.origins_file.as_ref().map(|(s, _)| s.span.start))
                        .flatten()
                })
                .unwrap_or(section.span.start);
            (Some(n), self.location(offset))
        };
        if issue.field == Field::Origins {
            if let Some(i) = issue.index {
                let (runs, _) = self.runs(layers);
                let found = runs.iter().rev().find(|(start, _)| *start <= i);
                return match found {
                    Some(&(start, Source::List(n))) => {
                        issue.index = Some(i - start);
                        at(n, Field::Origins, Some(i - start))
                    }
                    Some(&(start, Source::File(n, file))) => {
                        let file = &self.origins_files[file];
                        (Some(n), file.location(Some(i - start)))
                    }
                    None => at(layers.len() - 1, Field::Origins, None),
                };
            }
            let n = layers
                .iter()
                .rposition(|l| l.section.sets(Field::Origins) || l.section.origins_file.is_some())
                .unwrap_or(layers.len() - 1);
            return at(n, Field::Origins, None);
        }
        let n = layers
            .iter()
            .rposition(|l| l.section.sets(issue.field))
            .unwrap_or(layers.len() - 1);
        at(n, issue.field, issue.index)
    }

    /// A warning for each `dangerously_*` option an environment sets to `true`, in its own
    /// fields or in one of its policies.
    fn dangerous_in(&self, env: Env<'_>) -> Vec<Issue> {
        let Some((name, section)) = env else {
            return Vec::new();
        };
        let mut found = self.dangerous_options(name, section);
        for (policy, section) in &section.policies {
            found.extend(
                self.dangerous_options(name, section)
                    .into_iter()
                    .map(|i| i.in_policy(&policy.value)),
            );
        }
        found
    }

    /// The set builder of the base, or of an environment.
    pub(super) fn set_builder_of(&self, env: Env<'_>) -> PolicySetBuilder {
        let mut set = PolicySet::builder(self.settings_of(None, env));
        for (name, _) in &self.base.policies {
            set = set.policy(name.value.clone(), self.settings_of(Some(&name.value), env));
        }
        for route in &self.routes {
            set = set.route(route.builder());
        }
        set
    }

    /// Builds the set of the base, or of an environment; every issue located.
    pub(super) fn build_set(&self, env: Env<'_>) -> Result<PolicySet, PolicyError> {
        let dangerous = self.dangerous_in(env);
        // A route without `policy` was reported when read; the builder's echo is dropped.
        let echo = |i: &Issue| {
            i.kind == IssueKind::UnknownPolicy
                && i.route
                    .and_then(|r| self.routes.get(r))
                    .is_some_and(|r| r.policy.is_none())
        };
        match self.set_builder_of(env).build() {
            Ok(mut set) => {
                let located: Vec<Issue> = set
                    .warnings()
                    .iter()
                    .cloned()
                    .map(|i| self.locate(i, env))
                    .chain(dangerous)
                    .collect();
                set.set_warnings(located);
                Ok(set)
            }
            Err(err) => Err(PolicyError::new(
                err.into_issues()
                    .into_iter()
                    .filter(|i| !echo(i))
                    .map(|i| self.locate(i, env))
                    .chain(dangerous)
                    .collect(),
            )),
        }
    }

    /// Validates the set of the base (unless its origins are empty and environments add
    /// them) and of every environment — or, with `Some(name)`, of that environment only.
    ///
    /// Time and memory are linear in the number of environments and of issues: sets are
    /// built one at a time and dropped, and an issue the base and the environments that
    /// inherit it all report is recognised by a hash lookup.
    pub fn check(&self, environment: Option<&str>) -> CheckReport {
        let mut targets: Vec<Env<'_>> = Vec::new();
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
                let base_origins = self.base.origins_len()
                    + self
                        .base
                        .origins_file_index()
                        .map_or(0, |f| self.origins_files[f].entries.len());
                if base_origins > 0 || self.environments.is_empty() {
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
            let result = self.build_set(target);
            results.push((target.map(|(n, _)| n.to_owned()), result.is_ok()));
            let found = match result {
                Ok(set) => set.warnings().to_vec(),
                Err(err) => err.into_issues(),
            };
            for issue in found {
                // The same value reported by the base and by an environment (or a policy)
                // that inherits it is one problem: keep the first report.
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
        self.sort_in_file_order(&mut issues);
        CheckReport { results, issues }
    }

    /// The policy file's issues by line and column, then each origins file's.
    pub(super) fn sort_in_file_order(&self, issues: &mut [Issue]) {
        issues.sort_by(|a, b| {
            let key = |i: &Issue| {
                i.location
                    .as_ref()
                    .map(|l| (l.file != self.path, l.file.clone(), l.line, l.column))
            };
            key(a).cmp(&key(b))
        });
    }
}
