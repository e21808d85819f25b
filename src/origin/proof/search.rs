//! The emptiness search: is there an origin the regex matches that the allowed language
//! refuses? `regex-automata` has no intersection or complement, so the search walks the
//! product of the regex's dense DFA and the origin-language automaton itself, breadth-first
//! from both start states, one byte class at a time, and stops at the first pairs where the
//! regex matches and the language says "an origin, but not an allowed one". Breadth-first
//! gives the shortest counterexample, which is the most readable.
//!
//! The language automaton accepts slightly more than the origin grammar (it counts no
//! lengths), so every counterexample is parsed with the request-side grammar before it is
//! reported; a search that finds only strings no browser could send reports them as
//! unverified, and the proof then refuses the regex as unprovable rather than accept it.

use ahash::AHashMap;
use regex_automata::dfa::{dense, Automaton};
use regex_automata::util::primitives::StateID;
use regex_automata::util::start;
use regex_automata::Anchored;

use super::language::{Language, DEAD};
use crate::origin::RequestOrigin;

/// Most (regex state, language state) pairs one search visits. The regexes the design names
/// take under 400; a label loop over `amazonaws.com` (600 names of the list beneath it) about
/// 10,000.
pub(crate) const MAX_PRODUCT_STATES: usize = 100_000;
/// Most counterexamples checked against the real grammar for one kind of violation.
const MAX_WITNESS_CHECKS: usize = 32;
/// Once a refusal is certain, how many more pairs the search visits looking for the other
/// kind of violation (so that the refusal can name both options when both are needed).
const EXTRA_AFTER_REFUSAL: usize = 5_000;

/// What the search found for one kind of violation.
#[derive(Clone, Debug, Default)]
pub(crate) struct Violation {
    /// The shortest valid origin found that the regex matches and the language refuses.
    pub(crate) witness: Option<String>,
    /// The automata reach such strings, but none checked is a valid origin.
    pub(crate) unverified: bool,
}

impl Violation {
    /// Reached at all (verified or not).
    pub(crate) fn found(&self) -> bool {
        self.witness.is_some() || self.unverified
    }
}

/// What the search found.
#[derive(Clone, Debug, Default)]
pub(crate) struct Findings {
    /// Origins whose scheme is not allowed (not `https`, and not `http` on a loopback host).
    pub(crate) insecure: Violation,
    /// Origins whose host is not allowed (not loopback, registrable domain not a candidate).
    pub(crate) outside: Violation,
    /// The search stopped at its budget before it was complete.
    pub(crate) exhausted: bool,
    /// Pairs visited.
    pub(crate) visited: usize,
}

/// Bytes in the order the search tries them: letters first, so that counterexamples read
/// like hosts.
const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789.-_:/[]+";

/// Searches the product of `dfa` (the regex, anchored at both ends) and `language`.
/// `tolerated` says which kinds of violation the policy's options accept (insecure, outside):
/// once a violation that is not tolerated is found, the regex is refused whatever else the
/// search would find, so it goes on only a little further.
pub(crate) fn search(
    dfa: &dense::DFA<Vec<u32>>,
    language: &mut Language,
    tolerated: (bool, bool),
    budget: usize,
) -> Findings {
    let mut findings = Findings::default();
    let Ok(start_r) = dfa.start_state(&start::Config::new().anchored(Anchored::Yes)) else {
        // No anchored start state: the DFA matches nothing.
        return findings;
    };
    let start_c = language.start();

    // One byte per (regex class, language class) pair: bytes of a pair lead both automata
    // to the same states.
    let mut seen_pairs: Vec<(u8, u8)> = Vec::new();
    let mut representatives: Vec<u8> = Vec::new();
    for &b in ALPHABET {
        let pair = (dfa.byte_classes().get(b), language.class_of(b));
        if pair.1 != 0 && !seen_pairs.contains(&pair) {
            seen_pairs.push(pair);
            representatives.push(b);
        }
    }

    // Breadth-first over pairs; `nodes[i]` = (regex state, language state, parent, byte).
    let mut nodes: Vec<(StateID, u32, u32, u8)> = vec![(start_r, start_c, u32::MAX, 0)];
    let mut visited: AHashMap<u64, ()> = AHashMap::new();
    let key = |r: StateID, c: u32| (u64::from(r.as_u32()) << 32) | u64::from(c);
    visited.insert(key(start_r, start_c), ());
    let mut checks = (0usize, 0usize);
    let mut deadline = usize::MAX;
    let mut i = 0;
    while i < nodes.len() && nodes.len() <= deadline {
        let (r, c, _, _) = nodes[i];
        if dfa.is_match_state(dfa.next_eoi_state(r)) {
            if let Some(verdict) = language.verdict(c) {
                if !verdict.scheme_ok && findings.insecure.witness.is_none() {
                    record(&mut findings.insecure, &nodes, i, &mut checks.0);
                }
                if !verdict.host_ok && findings.outside.witness.is_none() {
                    record(&mut findings.outside, &nodes, i, &mut checks.1);
                }
                if findings.insecure.witness.is_some() && findings.outside.witness.is_some() {
                    break;
                }
                let refused = (!tolerated.0 && findings.insecure.witness.is_some())
                    || (!tolerated.1 && findings.outside.witness.is_some());
                if refused && deadline == usize::MAX {
                    deadline = nodes.len() + EXTRA_AFTER_REFUSAL;
                }
            }
        }
        for &b in &representatives {
            let r2 = dfa.next_state(r, b);
            if dfa.is_dead_state(r2) || dfa.is_quit_state(r2) {
                continue;
            }
            let c2 = language.next(c, b);
            if c2 == DEAD {
                continue;
            }
            if visited.insert(key(r2, c2), ()).is_none() {
                nodes.push((r2, c2, i as u32, b));
            }
        }
        if nodes.len() > budget {
            findings.exhausted = true;
            break;
        }
        i += 1;
    }
    findings.visited = nodes.len();
    findings
}

/// Rebuilds the string that leads to `nodes[at]` and records it if it is a valid origin.
fn record(
    violation: &mut Violation,
    nodes: &[(StateID, u32, u32, u8)],
    at: usize,
    checks: &mut usize,
) {
    if *checks >= MAX_WITNESS_CHECKS {
        violation.unverified = true;
        return;
    }
    *checks += 1;
    let mut bytes = Vec::new();
    let mut node = at;
    while nodes[node].2 != u32::MAX {
        bytes.push(nodes[node].3);
        node = nodes[node].2 as usize;
    }
    bytes.reverse();
    if matches!(RequestOrigin::parse(&bytes), Ok(RequestOrigin::Tuple(_))) {
        // Only ASCII bytes are ever pushed.
        violation.witness = Some(String::from_utf8_lossy(&bytes).into_owned());
    } else {
        violation.unverified = true;
    }
}
