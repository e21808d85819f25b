//! The build-time proof that a `regex:` entry is safe with credentials (design 2.2).
//!
//! A regex entry with `credentials = true` is accepted only when every origin it matches is
//! allowed, and this module decides that exactly, with automata, instead of trying samples:
//!
//! 1. **Candidates** (`candidates`): the registrable domains of the hosts the pattern spells
//!    out literally, its alternations and optional parts expanded (`https://(app|api)\.example\.(com|net)`
//!    names `example.com` and `example.net`).
//! 2. **Allowed language** (`language`, `suffix`): every origin of the request grammar (2.1)
//!    with scheme `https` and a host whose registrable domain is a candidate — so a host
//!    beneath a Public Suffix List rule below a candidate, such as `x.s3.amazonaws.com` for
//!    `amazonaws.com`, is not allowed —, any port, one trailing dot; plus loopback hosts over
//!    `http` or `https`. Built as a deterministic automaton that also says, of every origin it
//!    refuses, whether the scheme or the host (or both) is at fault.
//! 3. **Search** (`search`): the regex's dense DFA (`regex-automata`, from the same ASCII form
//!    that serves requests) and that automaton are walked together, breadth-first, looking for
//!    an origin in the regex's language and outside the allowed one. None: proven. One: the
//!    shortest such origin is the counterexample the refusal shows.
//!
//! Which `dangerously_*` option lifts which refusal: an insecure scheme →
//! `dangerously_allow_insecure_origins`; a host outside the candidates →
//! `dangerously_reflect_any_origin_with_credentials`; both → both.
//!
//! Everything is bounded, and a regex past a bound is refused as unprovable (the hint names
//! the fix): [`candidates::MAX_EXPANSIONS`] literal expansions, [`suffix::MAX_NAME_BYTES`] of
//! list names beneath its candidates, a DFA of [`MAX_DFA_BYTES`], and
//! [`search::MAX_PRODUCT_STATES`] pairs searched for one regex and
//! [`MAX_POLICY_PRODUCT_STATES`] for all of a policy's. Memory is proportional to one regex at
//! a time (plus one language automaton per distinct candidate set, shared by the regexes that
//! name the same domains), so a policy's analysis is linear in its number of regexes.

mod candidates;
mod language;
mod search;
mod suffix;

use ahash::AHashMap;
use regex_automata::MatchKind;
use regex_syntax::hir::Hir;

use super::{host::HostKind, regex, RequestOrigin};
use crate::error::{IssueKind, Problem};
use crate::public_suffix;

/// Largest dense DFA built for one regex (and largest determinization working memory).
pub(crate) const MAX_DFA_BYTES: usize = 1 << 20;

#[cfg(feature = "internal-reference")]
pub(crate) use candidates::candidates;

/// The options that tolerate what a regex matches.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Tolerance {
    /// `dangerously_allow_insecure_origins`
    pub(crate) insecure: bool,
    /// `dangerously_reflect_any_origin_with_credentials`
    pub(crate) reflect: bool,
}

/// The outcome for one regex.
#[derive(Debug, Default)]
pub(crate) struct Proof {
    /// Why the regex is refused, if it is.
    pub(crate) problem: Option<Problem>,
    /// `dangerously_allow_insecure_origins` was needed (or could not be shown unneeded).
    pub(crate) used_insecure: bool,
    /// `dangerously_reflect_any_origin_with_credentials` was needed (or could not be shown
    /// unneeded).
    pub(crate) used_reflect: bool,
}

/// Most product pairs the searches of one policy visit together: a policy of thousands of
/// honest regexes needs a few hundred thousand; past this, its remaining regexes are
/// unprovable, so that a policy's analysis time is bounded whatever its regexes.
pub(crate) const MAX_POLICY_PRODUCT_STATES: usize = 1_000_000;

/// Proves the regex entries of one policy, sharing the language automata of candidate sets
/// between them.
#[derive(Debug)]
pub(crate) struct Prover {
    languages: AHashMap<Vec<String>, Option<language::Language>>,
    /// Product pairs the policy may still visit.
    remaining: usize,
}

impl Default for Prover {
    fn default() -> Prover {
        Prover {
            languages: AHashMap::new(),
            remaining: MAX_POLICY_PRODUCT_STATES,
        }
    }
}

const FIX: &str = "list the hosts (regex:https://(app|api)\\.example\\.com), or use \
                   https://*.example.com";

fn both_options(tolerance: Tolerance) -> String {
    let mut missing = Vec::new();
    if !tolerance.reflect {
        missing.push("dangerously_reflect_any_origin_with_credentials = true");
    }
    if !tolerance.insecure {
        missing.push("dangerously_allow_insecure_origins = true");
    }
    missing.join(" and ")
}

impl Prover {
    pub(crate) fn new() -> Prover {
        Prover::default()
    }

    /// Proves one regex (its ASCII form, anchored at both ends).
    pub(crate) fn prove(&mut self, hir: &Hir, tolerance: Tolerance) -> Proof {
        let unprovable = |why: String| {
            let refused = !(tolerance.insecure && tolerance.reflect);
            Proof {
                problem: refused.then(|| {
                    Problem::new(
                        IssueKind::RegexUnprovable,
                        format!(
                            "with credentials, a regex must be proven to match only origins on \
                             the domains it names, and this one could not be: {why}"
                        ),
                    )
                    .with_hint(format!(
                        "{FIX}; to accept it unproven, set {}",
                        both_options(tolerance)
                    ))
                }),
                used_insecure: true,
                used_reflect: true,
            }
        };
        let Ok(candidates) = candidates::candidates(hir) else {
            return unprovable(format!(
                "it spells out more than {} hosts",
                candidates::MAX_EXPANSIONS
            ));
        };
        let entry = self
            .languages
            .entry(candidates.clone())
            .or_insert_with(|| language::Language::new(&candidates).ok());
        let Some(language) = entry.as_mut() else {
            return unprovable(format!(
                "the Public Suffix List names more than {} KiB of hosts beneath its domains",
                suffix::MAX_NAME_BYTES >> 10
            ));
        };
        let dfa = regex::compile(std::slice::from_ref(hir), regex::MAX_ENTRY_NFA_BYTES)
            .and_then(|nfa| regex::dense_dfa(&nfa, MAX_DFA_BYTES, MatchKind::All));
        let Some(dfa) = dfa else {
            return unprovable(format!(
                "its automaton is larger than {} MiB",
                MAX_DFA_BYTES >> 20
            ));
        };
        if self.remaining == 0 {
            return unprovable(format!(
                "the policy's regex entries have used its whole analysis budget ({} states)",
                MAX_POLICY_PRODUCT_STATES
            ));
        }
        let budget = search::MAX_PRODUCT_STATES.min(self.remaining);
        let found = search::search(
            &dfa,
            language,
            (tolerance.insecure, tolerance.reflect),
            budget,
        );
        self.remaining = self.remaining.saturating_sub(found.visited);
        if language.len() > search::MAX_PRODUCT_STATES {
            // A language shared by many regexes keeps what their searches explored; start it
            // afresh before it outgrows one search.
            self.languages.remove(&candidates);
        }
        decide(&found, &candidates, tolerance).unwrap_or_else(|| {
            unprovable(if budget < search::MAX_PRODUCT_STATES {
                format!(
                    "the policy's regex entries have used its whole analysis budget ({} states)",
                    MAX_POLICY_PRODUCT_STATES
                )
            } else {
                format!(
                    "the search stopped after {} states without a verdict",
                    search::MAX_PRODUCT_STATES
                )
            })
        })
    }
}

/// Turns what the search found into a proof; `None` when it is inconclusive.
fn decide(found: &search::Findings, candidates: &[String], tolerance: Tolerance) -> Option<Proof> {
    let outside = !tolerance.reflect && found.outside.witness.is_some();
    let insecure = !tolerance.insecure && found.insecure.witness.is_some();
    let proof = |problem| Proof {
        problem,
        used_insecure: found.insecure.found(),
        used_reflect: found.outside.found(),
    };
    if outside {
        let witness = found.outside.witness.as_deref().unwrap_or_default();
        let mut message = format!(
            "with credentials, this regex also matches {witness:?}, {}, outside the domains it \
             names ({}): reflection in disguise",
            describe_host(witness),
            name_list(candidates),
        );
        if let Some(other) = found.insecure.witness.as_deref().filter(|_| insecure) {
            if other != witness {
                message.push_str(&format!(
                    "; it also matches {other:?}, which a network attacker can impersonate"
                ));
            }
        }
        let mut tolerance_needed = tolerance;
        tolerance_needed.insecure |= !found.insecure.found();
        return Some(proof(Some(
            Problem::new(IssueKind::RegexReflection, message).with_hint(format!(
                "match only hosts on your domains: {FIX}; to accept it as it is, set {}",
                both_options(tolerance_needed)
            )),
        )));
    }
    if insecure {
        let witness = found.insecure.witness.as_deref().unwrap_or_default();
        return Some(proof(Some(
            Problem::new(
                IssueKind::InsecureOriginWithCredentials,
                format!(
                    "with credentials, this regex matches {witness:?}, a non-https origin on a \
                     host that is not loopback, which a network attacker can impersonate"
                ),
            )
            .with_hint(
                "match https:// only (http:// is fine for localhost, *.localhost, 127.0.0.0/8 \
                 and [::1]), or set dangerously_allow_insecure_origins = true",
            ),
        )));
    }
    // Nothing verified that is not tolerated; anything unverified or unexplored that is not
    // tolerated leaves the question open.
    let open = found.exhausted
        || (!tolerance.reflect && found.outside.unverified)
        || (!tolerance.insecure && found.insecure.unverified);
    if open {
        return None;
    }
    Some(proof(None))
}

fn name_list(candidates: &[String]) -> String {
    if candidates.is_empty() {
        "none".to_owned()
    } else {
        candidates.join(", ")
    }
}

/// What a counterexample's host is, in words.
fn describe_host(origin: &str) -> String {
    let Ok(RequestOrigin::Tuple(t)) = RequestOrigin::parse(origin.as_bytes()) else {
        return "an origin".to_owned();
    };
    let host = String::from_utf8_lossy(t.host()).into_owned();
    match t.host_kind() {
        HostKind::Ipv4 | HostKind::Ipv6 => format!("whose host is the IP address {host}"),
        HostKind::Domain => match public_suffix::list().registrable_domain(&host) {
            Some(domain) => format!("whose registrable domain is {domain}"),
            None => format!("whose host {host} is a public suffix"),
        },
    }
}

#[cfg(test)]
mod tests;
