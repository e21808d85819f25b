//! Which registrable domain a host has, decided left to right, one byte at a time: an
//! Aho–Corasick automaton over the names that matter for one set of candidate domains.
//!
//! The names are each candidate `k`, every name the Public Suffix List mentions beneath `k`,
//! and `localhost`, each written with a leading dot; the automaton reads `.` followed by the
//! host. At the end of the host, the names that are suffixes of it (at a label boundary) are
//! the automaton state's outputs, and they decide its class:
//!
//! - `localhost` among them: a loopback host;
//! - else the longest candidate `k*` among them, if any, is the host's registrable domain
//!   unless a name between `k*` and the host is itself a rule (or covered by a wildcard rule,
//!   or an exception: its registrable domain is then that name), or the deepest name is
//!   followed by another label while `*.deepest` is a rule. For example with candidate
//!   `amazonaws.com`, `x.s3.amazonaws.com` ends in the rule `s3.amazonaws.com` and is not
//!   allowed, while `x.example.amazonaws.com` is;
//! - else the host is outside the candidates.
//!
//! Whether the host *is* the deepest name (rather than a longer name ending in it) is one more
//! bit, `exact`, kept by the caller: the automaton never left the trie.

use ahash::AHashMap;

use crate::public_suffix::{self, NodeRules};

/// What a host is to the allowed language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum HostClass {
    /// `localhost`, `*.localhost`, `127.0.0.0/8`, `[::1]`.
    Loopback,
    /// A host whose registrable domain is a candidate.
    Candidate,
    /// Anything else: another registrable domain, a public suffix, an IP address.
    Outside,
}

/// Host bytes: `a-z`, `0-9`, `-`, `_`, `.`.
pub(crate) const SYMBOLS: usize = 39;
/// The symbol of `.`.
pub(crate) const DOT: usize = 38;

/// The automaton's symbol for a host byte.
pub(crate) fn symbol(b: u8) -> Option<usize> {
    match b {
        b'a'..=b'z' => Some(usize::from(b - b'a')),
        b'0'..=b'9' => Some(26 + usize::from(b - b'0')),
        b'-' => Some(36),
        b'_' => Some(37),
        b'.' => Some(DOT),
        _ => None,
    }
}

/// Most bytes in the names of one automaton (the list has about 600 rules beneath
/// `amazonaws.com`, 20 KB of names); past this a regex over such a domain is unprovable.
pub(crate) const MAX_NAME_BYTES: usize = 256 * 1024;

/// The names beneath the candidates are more than [`MAX_NAME_BYTES`].
#[derive(Debug)]
pub(crate) struct TooManyNames;

/// What one name is.
#[derive(Clone, Copy, Debug, Default)]
struct NameInfo {
    candidate: bool,
    localhost: bool,
    /// What the list says of it, when it lies beneath a candidate.
    beneath: Option<NodeRules>,
    /// `*.name` is a rule.
    wildcard_children: bool,
}

const NONE: u32 = u32::MAX;

/// The automaton for one set of candidates.
#[derive(Debug)]
pub(crate) struct SuffixAutomaton {
    /// `delta[state * SYMBOLS + symbol]`, complete.
    delta: Vec<u32>,
    /// Bytes from the root (the length of the state's string).
    depth: Vec<u32>,
    /// Per state: the class when the host is longer than the state's string, and when it is
    /// exactly the state's string.
    class: Vec<[HostClass; 2]>,
    /// The bytes its names are made of.
    bytes: [bool; 256],
}

impl SuffixAutomaton {
    /// Builds the automaton for these candidate domains (registrable domains, ASCII).
    pub(crate) fn new(candidates: &[String]) -> Result<SuffixAutomaton, TooManyNames> {
        let list = public_suffix::list();
        let mut names: AHashMap<String, NameInfo> = AHashMap::new();
        let mut bytes = 0usize;
        names.entry(".localhost".to_owned()).or_default().localhost = true;
        for k in candidates {
            let info = names.entry(format!(".{k}")).or_default();
            info.candidate = true;
            info.wildcard_children = list.wildcard_children(k);
            bytes += k.len() + 1;
            let complete = list.visit_beneath(k, |name, rules| {
                bytes += name.len() + 1;
                if bytes > MAX_NAME_BYTES {
                    return false;
                }
                let info = names.entry(format!(".{name}")).or_default();
                info.beneath = Some(rules);
                info.wildcard_children = rules.wildcard_children;
                true
            });
            if !complete || bytes > MAX_NAME_BYTES {
                return Err(TooManyNames);
            }
        }
        let mut names: Vec<(String, NameInfo)> = names.into_iter().collect();
        names.sort_by(|a, b| a.0.cmp(&b.0));
        let mut used = [false; 256];
        for (name, _) in &names {
            for b in name.bytes() {
                used[usize::from(b)] = true;
            }
        }

        // The trie.
        let mut goto: Vec<u32> = vec![NONE; SYMBOLS];
        let mut depth = vec![0u32];
        let mut terminal: Vec<Option<NameInfo>> = vec![None];
        for (name, info) in &names {
            let mut at = 0usize;
            for &b in name.as_bytes() {
                // Names come from the list and candidates: host bytes only.
                let Some(sym) = symbol(b) else { break };
                let next = goto[at * SYMBOLS + sym];
                at = if next == NONE {
                    let id = depth.len();
                    goto[at * SYMBOLS + sym] = id as u32;
                    goto.extend(std::iter::repeat_n(NONE, SYMBOLS));
                    depth.push(depth[at] + 1);
                    terminal.push(None);
                    id
                } else {
                    next as usize
                };
            }
            terminal[at] = Some(*info);
        }

        // Failure links, breadth-first, completing `goto` into `delta`.
        let states = depth.len();
        let mut fail = vec![0u32; states];
        // Nearest proper suffix state that ends a name.
        let mut dict = vec![NONE; states];
        let mut delta = goto;
        let mut queue = std::collections::VecDeque::new();
        for next in delta.iter_mut().take(SYMBOLS) {
            if *next == NONE {
                *next = 0;
            } else {
                fail[*next as usize] = 0;
                queue.push_back(*next);
            }
        }
        while let Some(u) = queue.pop_front() {
            let u = u as usize;
            for sym in 0..SYMBOLS {
                let next = delta[u * SYMBOLS + sym];
                let via_fail = delta[fail[u] as usize * SYMBOLS + sym];
                if next == NONE {
                    delta[u * SYMBOLS + sym] = via_fail;
                } else {
                    let v = next as usize;
                    fail[v] = via_fail;
                    let f = via_fail as usize;
                    dict[v] = if terminal[f].is_some() {
                        via_fail
                    } else {
                        dict[f]
                    };
                    queue.push_back(next);
                }
            }
        }

        let class = (0..states)
            .map(|s| {
                [
                    classify(s, false, &depth, &terminal, &dict),
                    classify(s, true, &depth, &terminal, &dict),
                ]
            })
            .collect();
        Ok(SuffixAutomaton {
            delta,
            depth,
            class,
            bytes: used,
        })
    }

    /// The state after the leading `.` that stands before every host.
    pub(crate) fn start(&self) -> u32 {
        self.delta[DOT]
    }

    /// The next state.
    #[inline]
    pub(crate) fn step(&self, state: u32, symbol: usize) -> u32 {
        self.delta[state as usize * SYMBOLS + symbol]
    }

    /// Bytes of the state's string.
    #[inline]
    pub(crate) fn depth(&self, state: u32) -> u32 {
        self.depth[state as usize]
    }

    /// The class of a host that ended in `state`; `exact` when every byte read (the leading
    /// dot included) is the state's string.
    pub(crate) fn class(&self, state: u32, exact: bool) -> HostClass {
        self.class[state as usize][usize::from(exact)]
    }

    /// Which bytes its names use: the only letters whose transitions differ from other
    /// letters'.
    pub(crate) fn bytes(&self) -> &[bool; 256] {
        &self.bytes
    }
}

/// The class of a host whose reading ended in state `s` (see the module documentation).
fn classify(
    s: usize,
    exact: bool,
    depth: &[u32],
    terminal: &[Option<NameInfo>],
    dict: &[u32],
) -> HostClass {
    // Outputs, longest first: the state itself if it ends a name, then its dictionary links.
    let mut outputs: Vec<(u32, NameInfo)> = Vec::new();
    if let Some(info) = terminal[s] {
        outputs.push((depth[s], info));
    }
    let mut at = dict[s];
    while at != NONE {
        if let Some(info) = terminal[at as usize] {
            outputs.push((depth[at as usize], info));
        }
        at = dict[at as usize];
    }
    if outputs.iter().any(|(_, info)| info.localhost) {
        return HostClass::Loopback;
    }
    let Some(k) = outputs.iter().position(|(_, info)| info.candidate) else {
        return HostClass::Outside;
    };
    // Every output longer than the deepest candidate lies beneath it.
    if outputs[..k]
        .iter()
        .any(|(_, info)| info.beneath.is_some_and(|r| r.excluded))
    {
        return HostClass::Outside;
    }
    let deepest = outputs[0].1;
    let host_is_deepest = exact && terminal[s].is_some();
    if !host_is_deepest && deepest.wildcard_children {
        return HostClass::Outside;
    }
    HostClass::Candidate
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class_of(automaton: &SuffixAutomaton, host: &str) -> HostClass {
        let mut state = automaton.start();
        let mut exact = automaton.depth(state) == 1;
        for b in host.bytes() {
            let next = automaton.step(state, symbol(b).unwrap());
            exact = exact && automaton.depth(next) == automaton.depth(state) + 1;
            state = next;
        }
        automaton.class(state, exact)
    }

    #[test]
    fn registrable_domain_is_a_candidate() {
        let a =
            SuffixAutomaton::new(&["example.com".to_owned(), "amazonaws.com".to_owned()]).unwrap();
        for (host, class) in [
            ("example.com", HostClass::Candidate),
            ("a.b.example.com", HostClass::Candidate),
            ("xexample.com", HostClass::Outside),
            ("example.com.evil.com", HostClass::Outside),
            ("com", HostClass::Outside),
            ("amazonaws.com", HostClass::Candidate),
            ("x.amazonaws.com", HostClass::Candidate),
            ("s3.amazonaws.com", HostClass::Outside),
            ("bucket.s3.amazonaws.com", HostClass::Outside),
            ("x.compute.amazonaws.com", HostClass::Outside),
            ("compute.amazonaws.com", HostClass::Candidate),
            ("localhost", HostClass::Loopback),
            ("a.localhost", HostClass::Loopback),
            ("xlocalhost", HostClass::Outside),
        ] {
            assert_eq!(class_of(&a, host), class, "{host}");
        }
    }

    #[test]
    fn candidates_beneath_other_candidates() {
        let a = SuffixAutomaton::new(&[
            "amazonaws.com".to_owned(),
            "mine.s3.amazonaws.com".to_owned(),
        ])
        .unwrap();
        assert_eq!(class_of(&a, "mine.s3.amazonaws.com"), HostClass::Candidate);
        assert_eq!(
            class_of(&a, "a.mine.s3.amazonaws.com"),
            HostClass::Candidate
        );
        assert_eq!(class_of(&a, "theirs.s3.amazonaws.com"), HostClass::Outside);
    }

    #[test]
    fn exceptions_and_wildcards() {
        // `*.kawasaki.jp` and `!city.kawasaki.jp`.
        let a = SuffixAutomaton::new(&["city.kawasaki.jp".to_owned()]).unwrap();
        assert_eq!(class_of(&a, "city.kawasaki.jp"), HostClass::Candidate);
        assert_eq!(class_of(&a, "www.city.kawasaki.jp"), HostClass::Candidate);
        assert_eq!(class_of(&a, "town.kawasaki.jp"), HostClass::Outside);
    }
}
