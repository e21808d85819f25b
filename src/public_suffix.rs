//! The Public Suffix List: corsgate's one copy of it, and the one structure built from it.
//!
//! `data/public_suffix_list.dat` is vendored at a pinned version (its header names the source
//! and checksum; `scripts/refresh-public-suffix-list` refreshes it). It is parsed once per
//! process, on first use, into a trie of labels read from the right (TLD first), ICANN and
//! private sections alike. That trie answers every question the policy checks ask:
//!
//! - is a name itself a public suffix (`https://*.github.io` with credentials), by the list's
//!   algorithm including its default rule (an unlisted TLD is a public suffix);
//! - the registrable domain of a name (public suffix plus one label), which is what a regex
//!   entry's candidate domains are;
//! - does any rule lie strictly beneath a name (`https://*.amazonaws.com` covers
//!   `bucket.s3.amazonaws.com`), and which nodes lie beneath it, with what rules, for the
//!   regex proof's allowed language.
//!
//! Names are ASCII (Unicode rules are converted to Punycode when the list is loaded, the form
//! browsers send), lowercase, without a trailing dot.

use std::sync::OnceLock;

/// The vendored list, as published (comments included).
const LIST: &str = include_str!("../data/public_suffix_list.dat");

/// One node of the trie: a name that is a rule, or lies on the way to one.
#[derive(Debug, Default)]
struct Node {
    /// Children by label, sorted for binary search.
    children: Vec<(Box<str>, u32)>,
    /// The name itself is a rule (`com`, `github.io`).
    rule: bool,
    /// `*.name` is a rule: every child of this name is a public suffix.
    wildcard: bool,
    /// `!name` is a rule: the name is not a public suffix although a wildcard covers it.
    exception: bool,
    /// Some rule (normal, wildcard or exception) lies strictly beneath this name.
    rules_beneath: bool,
}

/// The parsed list.
#[derive(Debug)]
pub(crate) struct PublicSuffixList {
    nodes: Vec<Node>,
}

/// What a name beneath another is, by the list (for the regex proof).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NodeRules {
    /// The name is a rule, or a wildcard rule covers it, or it is an exception: either way
    /// it is not part of the registrable domain above it.
    pub(crate) excluded: bool,
    /// `*.name` is a rule: every child of the name is a public suffix.
    pub(crate) wildcard_children: bool,
}

/// The list, parsed on first use.
pub(crate) fn list() -> &'static PublicSuffixList {
    static PARSED: OnceLock<PublicSuffixList> = OnceLock::new();
    PARSED.get_or_init(|| PublicSuffixList::parse(LIST))
}

/// The labels of a name from the right: `a.example.com` gives `com`, `example`, `a`.
fn labels(name: &str) -> impl Iterator<Item = &str> {
    name.rsplit('.')
}

impl PublicSuffixList {
    /// Parses the list's text format: one rule per line (the first whitespace-separated word),
    /// `//` comments and blank lines skipped, `*.` wildcard and `!` exception rules. Unicode
    /// rules are converted to Punycode; a rule that does not convert is skipped.
    pub(crate) fn parse(text: &str) -> PublicSuffixList {
        let mut list = PublicSuffixList {
            nodes: vec![Node::default()],
        };
        for line in text.lines() {
            let Some(word) = line.split_whitespace().next() else {
                continue;
            };
            if word.starts_with("//") {
                continue;
            }
            let (exception, rest) = match word.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, word),
            };
            let (wildcard, rest) = match rest.strip_prefix("*.") {
                Some(rest) => (true, rest),
                None => (false, rest),
            };
            let name = if rest.is_ascii() {
                rest.to_ascii_lowercase()
            } else {
                match idna::domain_to_ascii(rest) {
                    Ok(converted) => converted,
                    Err(_) => continue,
                }
            };
            if name.is_empty() || name.split('.').any(str::is_empty) {
                continue;
            }
            let node = list.insert(&name);
            let node = &mut list.nodes[node as usize];
            if exception {
                node.exception = true;
            } else if wildcard {
                node.wildcard = true;
            } else {
                node.rule = true;
            }
        }
        list.mark_rules_beneath(0);
        list
    }

    fn insert(&mut self, name: &str) -> u32 {
        let mut at = 0u32;
        for label in labels(name) {
            let children = &self.nodes[at as usize].children;
            at = match children.binary_search_by(|(l, _)| (**l).cmp(label)) {
                Ok(i) => children[i].1,
                Err(i) => {
                    let id = self.nodes.len() as u32;
                    self.nodes.push(Node::default());
                    self.nodes[at as usize]
                        .children
                        .insert(i, (label.into(), id));
                    id
                }
            };
        }
        at
    }

    /// Sets `rules_beneath` bottom-up; returns whether this node or anything beneath it is a
    /// rule. Iterative, so that no list can exhaust the stack.
    fn mark_rules_beneath(&mut self, root: u32) {
        // Children always get larger ids than their parent, so a reverse sweep sees every
        // child before its parent.
        let mut has_rule = vec![false; self.nodes.len()];
        for id in (root as usize..self.nodes.len()).rev() {
            let node = &self.nodes[id];
            let beneath = node.wildcard || node.children.iter().any(|&(_, c)| has_rule[c as usize]);
            has_rule[id] = beneath || node.rule || node.exception;
            self.nodes[id].rules_beneath = beneath;
        }
    }

    fn child(&self, node: u32, label: &str) -> Option<u32> {
        let children = &self.nodes[node as usize].children;
        children
            .binary_search_by(|(l, _)| (**l).cmp(label))
            .ok()
            .map(|i| children[i].1)
    }

    /// The node of exactly this name, if the trie has one.
    fn find(&self, name: &str) -> Option<u32> {
        let mut at = 0u32;
        for label in labels(name) {
            at = self.child(at, label)?;
        }
        Some(at)
    }

    /// How many labels of `name` (from the right) are its public suffix, by the list's
    /// algorithm: the longest matching rule (a wildcard rule counts its `*`), unless an
    /// exception rule matches, which makes the public suffix the exception minus its first
    /// label; no match at all is the default rule `*` (one label).
    fn public_suffix_labels(&self, name: &str) -> usize {
        let total = labels(name).count();
        let mut best = 1usize;
        let mut at = 0u32;
        for (depth, label) in labels(name).enumerate() {
            let depth = depth + 1;
            // A wildcard at the parent matches this label whatever it is.
            if self.nodes[at as usize].wildcard {
                best = best.max(depth);
            }
            let Some(next) = self.child(at, label) else {
                return best;
            };
            at = next;
            let node = &self.nodes[at as usize];
            if node.exception {
                return depth - 1;
            }
            if node.rule {
                best = best.max(depth);
            }
        }
        best.min(total)
    }

    /// `true` when `name` is itself a public suffix (the list's default rule included: any
    /// single label is one). A trailing dot is ignored.
    pub(crate) fn is_public_suffix(&self, name: &str) -> bool {
        let name = name.strip_suffix('.').unwrap_or(name);
        self.public_suffix_labels(name) >= labels(name).count()
    }

    /// The registrable domain of `name` (its public suffix and one more label), or `None`
    /// when the name is itself a public suffix. A trailing dot is ignored.
    pub(crate) fn registrable_domain<'n>(&self, name: &'n str) -> Option<&'n str> {
        let name = name.strip_suffix('.').unwrap_or(name);
        if name.is_empty() {
            return None;
        }
        let keep = self.public_suffix_labels(name) + 1;
        if keep > labels(name).count() {
            return None;
        }
        // The start of the `keep`-th label from the right.
        let start = name
            .rmatch_indices('.')
            .nth(keep - 1)
            .map_or(0, |(i, _)| i + 1);
        Some(&name[start..])
    }

    /// A rule that lies strictly beneath `name` (so that some name beneath it is a public
    /// suffix), for messages: `*.name` itself, or the shortest rule found below. `None` when
    /// nothing beneath `name` is a public suffix.
    pub(crate) fn rule_beneath(&self, name: &str) -> Option<String> {
        let name = name.strip_suffix('.').unwrap_or(name);
        let node = self.find(name)?;
        if !self.nodes[node as usize].rules_beneath {
            return None;
        }
        if self.nodes[node as usize].wildcard {
            return Some(format!("*.{name}"));
        }
        // Breadth-first, level by level: the shortest rule is the most telling example, and
        // within a level a plain rule (`s3.amazonaws.com`) reads better than a wildcard.
        let mut level = vec![(node, name.to_owned())];
        while !level.is_empty() {
            let mut found: Option<(u8, String)> = None;
            let mut next = Vec::new();
            for (at, text) in &level {
                for (label, child) in &self.nodes[*at as usize].children {
                    let child_name = format!("{label}.{text}");
                    let c = &self.nodes[*child as usize];
                    let candidate = if c.rule {
                        Some((0, child_name.clone()))
                    } else if c.wildcard {
                        Some((1, format!("*.{child_name}")))
                    } else if c.exception {
                        Some((2, format!("!{child_name}")))
                    } else {
                        None
                    };
                    if let Some(candidate) = candidate {
                        if found.as_ref().is_none_or(|f| candidate.0 < f.0) {
                            found = Some(candidate);
                        }
                    }
                    next.push((*child, child_name));
                }
            }
            if let Some((_, rule)) = found {
                return Some(rule);
            }
            level = next;
        }
        None
    }

    /// Calls `visit` with every name strictly beneath `name` that the list mentions, and what
    /// the list says of it; `name`'s own wildcard rule is reported through
    /// [`PublicSuffixList::wildcard_children`]. Iterative, in breadth-first order; stops and
    /// returns `false` when `visit` does.
    pub(crate) fn visit_beneath(
        &self,
        name: &str,
        mut visit: impl FnMut(&str, NodeRules) -> bool,
    ) -> bool {
        let Some(node) = self.find(name) else {
            return true;
        };
        let mut queue = std::collections::VecDeque::from([(node, name.to_owned())]);
        while let Some((at, text)) = queue.pop_front() {
            let parent_wildcard = self.nodes[at as usize].wildcard;
            for (label, child) in &self.nodes[at as usize].children {
                let child_name = format!("{label}.{text}");
                let c = &self.nodes[*child as usize];
                let rules = NodeRules {
                    excluded: c.rule || c.exception || parent_wildcard,
                    wildcard_children: c.wildcard,
                };
                if !visit(&child_name, rules) {
                    return false;
                }
                if !c.children.is_empty() {
                    queue.push_back((*child, child_name));
                }
            }
        }
        true
    }

    /// `true` when `*.name` is a rule.
    pub(crate) fn wildcard_children(&self, name: &str) -> bool {
        self.find(name)
            .is_some_and(|node| self.nodes[node as usize].wildcard)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_algorithm() {
        let l = list();
        assert!(l.is_public_suffix("com"));
        assert!(l.is_public_suffix("co.uk"));
        assert!(l.is_public_suffix("github.io"));
        assert!(l.is_public_suffix("corp"), "default rule");
        assert!(l.is_public_suffix("com."));
        assert!(!l.is_public_suffix("example.com"));
        assert!(!l.is_public_suffix("myapp.github.io"));
        assert_eq!(l.registrable_domain("a.b.example.com"), Some("example.com"));
        assert_eq!(
            l.registrable_domain("example.co.uk."),
            Some("example.co.uk")
        );
        assert_eq!(l.registrable_domain("co.uk"), None);
        assert_eq!(l.registrable_domain("x.corp"), Some("x.corp"));
        // Wildcard and exception: `*.kawasaki.jp`, `!city.kawasaki.jp`.
        assert!(l.is_public_suffix("foo.kawasaki.jp"));
        assert_eq!(
            l.registrable_domain("a.foo.kawasaki.jp"),
            Some("a.foo.kawasaki.jp")
        );
        assert!(!l.is_public_suffix("city.kawasaki.jp"));
        assert_eq!(
            l.registrable_domain("www.city.kawasaki.jp"),
            Some("city.kawasaki.jp")
        );
        // Private section.
        assert!(l.is_public_suffix("s3.amazonaws.com"));
        assert_eq!(
            l.registrable_domain("bucket.s3.amazonaws.com"),
            Some("bucket.s3.amazonaws.com")
        );
        // Unicode rules are matched in Punycode: 公司.cn.
        assert!(l.is_public_suffix("xn--55qx5d.cn"));
    }

    #[test]
    fn rules_beneath() {
        let l = list();
        assert!(l.rule_beneath("amazonaws.com").is_some());
        assert!(l.rule_beneath("core.windows.net").is_some());
        assert!(l.rule_beneath("example.com").is_none());
        assert!(l.rule_beneath("nowhere.example").is_none());
        assert_eq!(
            l.rule_beneath("compute.amazonaws.com"),
            Some("*.compute.amazonaws.com".to_owned())
        );
        let mut beneath = Vec::new();
        l.visit_beneath("kawasaki.jp", |name, rules| {
            beneath.push((name.to_owned(), rules));
            true
        });
        assert_eq!(
            beneath,
            [(
                "city.kawasaki.jp".to_owned(),
                NodeRules {
                    excluded: true,
                    wildcard_children: false
                }
            )]
        );
        assert!(l.wildcard_children("kawasaki.jp"));
    }

    /// The `psl` crate of the same version is generated from the same list: both must give
    /// the same registrable domain for every rule, a name under it, and a name two levels
    /// under it.
    #[test]
    fn agrees_with_the_psl_crate_of_the_same_version() {
        let l = list();
        let mut compared = 0;
        for line in LIST.lines() {
            let Some(word) = line.split_whitespace().next() else {
                continue;
            };
            if word.starts_with("//") {
                continue;
            }
            let bare = word.trim_start_matches('!').replace('*', "x");
            let Ok(ascii) = idna::domain_to_ascii(&bare) else {
                continue;
            };
            for name in [ascii.clone(), format!("a.{ascii}"), format!("b.a.{ascii}")] {
                let ours = l.registrable_domain(&name);
                let theirs = psl::domain_str(&name);
                assert_eq!(ours, theirs, "registrable domain of {name} (rule {word})");
                let suffix = psl::suffix(name.as_bytes());
                let theirs_is_suffix = suffix.is_none_or(|s| s.as_bytes() == name.as_bytes());
                assert_eq!(
                    l.is_public_suffix(&name),
                    theirs_is_suffix,
                    "{name} (rule {word})"
                );
                compared += 1;
            }
        }
        assert!(compared > 30_000, "{compared}");
    }

    #[test]
    fn parses_the_upstream_format() {
        let l = PublicSuffixList::parse(
            "// comment\n\n// ===BEGIN ICANN DOMAINS===\nuk\nco.uk\n*.sch.uk  trailing words\n\
             !www.sch.uk\n// ===END ICANN DOMAINS===\nbücher.example\n",
        );
        assert!(l.is_public_suffix("co.uk"));
        assert!(l.is_public_suffix("x.sch.uk"));
        assert!(!l.is_public_suffix("www.sch.uk"));
        assert!(l.is_public_suffix("xn--bcher-kva.example"));
        assert_eq!(l.registrable_domain("a.b.co.uk"), Some("b.co.uk"));
    }
}
