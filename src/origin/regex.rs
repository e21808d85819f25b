//! `regex:` entries: compiled together into one linear-time `regex-automata` matcher, linted
//! for the unescaped-dot mistake, and — with credentials — probed for reflection in disguise.
//!
//! Every pattern is anchored as `^(?:pattern)$` and applied only to a request Origin that
//! already passed the serialized-origin grammar, never to `null`.

use std::cell::RefCell;

use ahash::AHashSet;
use regex_automata::meta::{self, Regex};
use regex_automata::{Anchored, Input, MatchKind, PatternSet};
use regex_syntax::hir::{Class, Hir, HirKind};
use thread_local::ThreadLocal;

use super::parse::RequestOrigin;
use super::pattern::Problem;
use crate::engine::CachePadded;
use crate::error::IssueKind;

/// Compiled NFA size limit per pattern set; far above any allowlist regex.
const NFA_SIZE_LIMIT: usize = 64 << 20;

fn anchored(source: &str) -> String {
    format!("^(?:{source})$")
}

fn builder(kind: MatchKind) -> meta::Builder {
    let mut builder = Regex::builder();
    builder.configure(
        Regex::config()
            .match_kind(kind)
            .nfa_size_limit(Some(NFA_SIZE_LIMIT)),
    );
    builder
}

/// Compiles one entry on its own, to report its syntax errors against its index.
pub(crate) fn check_syntax(source: &str) -> Result<(), Problem> {
    builder(MatchKind::LeftmostFirst)
        .build(&anchored(source))
        .map(|_| ())
        .map_err(|err| {
            Problem::new(
                IssueKind::InvalidRegex,
                format!("the regex does not compile: {err}"),
            )
            .hint("regex entries use Rust regex syntax and must match the whole origin")
        })
}

/// Compiles every entry into one matcher whose pattern IDs are the entries' positions in
/// `sources`.
pub(crate) fn compile_set(sources: &[&str]) -> Result<Regex, Problem> {
    let patterns: Vec<String> = sources.iter().map(|s| anchored(s)).collect();
    builder(MatchKind::LeftmostFirst)
        .build_many(&patterns)
        .map_err(|err| {
            Problem::new(
                IssueKind::InvalidRegex,
                format!("the regex entries together do not compile: {err}"),
            )
            .hint("split very large patterns, or use exact and wildcard entries")
        })
}

fn is_host_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// Finds an unescaped `.` outside a character class that sits between a host character (or
/// the end of a group, class or repetition: `)`, `]`, `+`, `*`, `?`, `}`) and a host
/// character: in `https://www.example.com` the dot matches any byte, so
/// `https://wwwxexample.com` would be allowed, and `[a-z]+.example\.com` allows
/// `https://axexample.com`.
pub(crate) fn check_unescaped_dots(source: &str) -> Result<(), Problem> {
    let chars: Vec<char> = source.chars().collect();
    let mut escaped_at = vec![false; chars.len()];
    let mut class_depth = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            if i + 1 < chars.len() {
                escaped_at[i + 1] = true;
            }
            i += 2;
            continue;
        }
        if class_depth > 0 {
            match c {
                '[' => class_depth += 1,
                ']' => class_depth -= 1,
                _ => {}
            }
            i += 1;
            continue;
        }
        if c == '[' {
            class_depth = 1;
            // A `]` (or `^]`) right after the opening bracket is a literal.
            let mut j = i + 1;
            if chars.get(j) == Some(&'^') {
                j += 1;
            }
            if chars.get(j) == Some(&']') {
                j += 1;
            }
            i = j;
            continue;
        }
        if c == '.' && i > 0 && i + 1 < chars.len() {
            let before = chars[i - 1];
            let after = chars[i + 1];
            let before_ok = !escaped_at[i - 1] && ends_atom(before);
            if before_ok && is_host_char(after) {
                let fixed = escape_host_dots(source);
                return Err(Problem::new(
                    IssueKind::RegexUnescapedDot,
                    format!(
                        "the unescaped '.' at byte {} matches any character, not just a dot",
                        source.char_indices().nth(i).map_or(i, |(b, _)| b)
                    ),
                )
                .hint(format!("escape the dots between labels: regex:{fixed}")));
            }
        }
        i += 1;
    }
    Ok(())
}

/// A character after which a `.` stands between two parts of a host.
fn ends_atom(c: char) -> bool {
    is_host_char(c) || matches!(c, ')' | ']' | '+' | '*' | '?' | '}')
}

fn escape_host_dots(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len() + 8);
    let mut i = 0;
    let mut escaped = false;
    while i < chars.len() {
        let c = chars[i];
        if !escaped
            && c == '.'
            && i > 0
            && i + 1 < chars.len()
            && ends_atom(chars[i - 1])
            && is_host_char(chars[i + 1])
        {
            out.push_str("\\.");
        } else {
            out.push(c);
        }
        escaped = !escaped && c == '\\';
        i += 1;
    }
    out
}

/// The serving matcher: all regex entries in one `meta::Regex`, with one search cache per
/// thread (lock-free after a thread's first search; the regex's own cache pool would take a
/// mutex under contention).
pub(crate) struct RegexMatcher {
    regex: Regex,
    caches: ThreadLocal<CachePadded<RefCell<meta::Cache>>>,
    /// Pattern ID → entry index in the policy's origin list.
    entries: Vec<usize>,
}

impl RegexMatcher {
    pub(crate) fn new(regex: Regex, entries: Vec<usize>) -> RegexMatcher {
        RegexMatcher {
            regex,
            caches: ThreadLocal::new(),
            entries,
        }
    }

    /// The entry index of a regex that matches the whole origin.
    #[inline]
    pub(crate) fn find(&self, origin: &[u8]) -> Option<usize> {
        let cache = self
            .caches
            .get_or(|| CachePadded(RefCell::new(self.regex.create_cache())));
        let input = Input::new(origin).anchored(Anchored::Yes).earliest(true);
        let found = match cache.0.try_borrow_mut() {
            Ok(mut cache) => self.regex.search_half_with(&mut cache, &input)?,
            // Cannot happen (a search does not call back into corsgate); a fresh cache rather
            // than a panic if it ever did.
            Err(_) => self
                .regex
                .search_half_with(&mut self.regex.create_cache(), &input)?,
        };
        self.entries.get(found.pattern().as_usize()).copied()
    }
}

impl std::fmt::Debug for RegexMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegexMatcher")
            .field("patterns", &self.entries.len())
            .finish()
    }
}

/// What a regex entry was found to match among the probes.
#[derive(Debug)]
pub(crate) struct ProbeFinding {
    /// Position of the regex among the probed sources.
    pub regex: usize,
    pub problem: Problem,
}

/// Probes regex entries for a policy with credentials (design 2.2).
///
/// `configured_exact` are the policy's exact origins; `configured_domains` the hosts of its
/// exact and wildcard entries. Returns one finding per offending regex.
pub(crate) fn probe(
    sources: &[&str],
    configured_exact: &[String],
    configured_domains: &[String],
) -> Vec<ProbeFinding> {
    let patterns: Vec<String> = sources.iter().map(|s| anchored(s)).collect();
    let Ok(all) = builder(MatchKind::All).build_many(&patterns) else {
        // Syntax problems are reported by `check_syntax`.
        return Vec::new();
    };
    let mut cache = all.create_cache();
    let mut set = PatternSet::new(all.pattern_len());
    let mut matching = |text: &str, set: &mut PatternSet| {
        set.clear();
        let input = Input::new(text).anchored(Anchored::Yes);
        all.which_overlapping_matches_with(&mut cache, &input, set);
    };

    // Domains: configured, spelled in a regex, or the host of a string generated from one.
    let mut domains: Vec<String> = configured_domains.to_vec();
    let mut candidates: Vec<String> = configured_exact.to_vec();
    for source in sources {
        domains.extend(literal_domains(source));
        for sample in samples(source, 64) {
            if let Ok(RequestOrigin::Tuple(t)) = RequestOrigin::parse(sample.as_bytes()) {
                if t.host_kind() == super::host::HostKind::Domain {
                    domains.push(String::from_utf8_lossy(t.host()).into_owned());
                }
                candidates.push(sample);
            }
        }
    }
    let mut seen = AHashSet::new();
    domains.retain(|d| !d.is_empty() && seen.insert(d.clone()));
    for d in &domains {
        for prefix in ["", "a.", "www."] {
            candidates.push(format!("https://{prefix}{d}"));
        }
    }

    let mut findings: Vec<Option<Problem>> = vec![None; sources.len()];
    let flag =
        |set: &PatternSet, findings: &mut Vec<Option<Problem>>, make: &dyn Fn() -> Problem| {
            for id in set.iter() {
                let slot = &mut findings[id.as_usize()];
                if slot.is_none() {
                    *slot = Some(make());
                }
            }
        };

    // Hosts no configured domain owns.
    let random = random_label();
    let mut unowned = vec![
        format!("https://{random}.invalid"),
        format!("http://{random}.invalid"),
    ];
    for d in &domains {
        unowned.push(format!("https://{d}.evil.test"));
        unowned.push(format!("https://{d}.evil"));
        unowned.push(format!("https://www.{d}.evil.test"));
        // A label glued in front of the registrable domain: `evilexample.com` is someone
        // else's, while `evila.example.com` still belongs to example.com.
        if let Some(registrable) = crate::public_suffix::list().registrable_domain(d) {
            unowned.push(format!("https://evil{registrable}"));
            unowned.push(format!("https://evil-{registrable}"));
        }
    }
    for probe in &unowned {
        matching(probe, &mut set);
        flag(&set, &mut findings, &|| {
            Problem::new(
                IssueKind::RegexReflection,
                format!(
                    "with credentials, this regex also matches {probe:?}, an origin no configured \
                     domain owns (reflection in disguise)"
                ),
            )
            .hint(
                "escape every dot, and end each host with its domain, e.g. \
                 regex:https://([a-z0-9-]+\\.)*example\\.com(:[0-9]+)?",
            )
        });
    }

    // Insecure schemes among the matching origins, and the http:// variant of each.
    let mut other = PatternSet::new(all.pattern_len());
    for candidate in &candidates {
        let Ok(RequestOrigin::Tuple(t)) = RequestOrigin::parse(candidate.as_bytes()) else {
            continue;
        };
        if t.is_loopback() {
            continue;
        }
        matching(candidate, &mut set);
        if set.is_empty() {
            continue;
        }
        if t.scheme() != b"https" {
            flag(&set, &mut findings, &|| insecure(candidate));
            continue;
        }
        let http = format!("http{}", &candidate["https".len()..]);
        other.clear();
        let input = Input::new(&http).anchored(Anchored::Yes);
        all.which_overlapping_matches_with(&mut all.create_cache(), &input, &mut other);
        let both: PatternSet = {
            let mut both = PatternSet::new(all.pattern_len());
            for id in set.iter().filter(|id| other.contains(*id)) {
                both.insert(id);
            }
            both
        };
        flag(&both, &mut findings, &|| insecure(&http));
    }

    findings
        .into_iter()
        .enumerate()
        .filter_map(|(regex, p)| p.map(|problem| ProbeFinding { regex, problem }))
        .collect()
}

fn insecure(origin: &str) -> Problem {
    Problem::new(
        IssueKind::InsecureOriginWithCredentials,
        format!(
            "with credentials, this regex matches {origin:?}, which a network attacker can \
             impersonate"
        ),
    )
    .hint("match https:// only (loopback hosts excepted), or set dangerously_allow_insecure_origins = true")
}

fn random_label() -> String {
    let state = ahash::RandomState::new();
    let mut bits = state.hash_one(0x636f_7273u32);
    let mut label = String::from("corsgate-probe-");
    for _ in 0..12 {
        label.push(char::from(b'a' + (bits % 26) as u8));
        bits /= 26;
        if bits == 0 {
            bits = state.hash_one(label.len());
        }
    }
    label
}

/// Domain names spelled literally in a regex: runs of host characters and (escaped) dots with
/// at least one dot, e.g. `example.com` in `https://([a-z]+\.)?example\.com`.
pub(crate) fn literal_domains(source: &str) -> Vec<String> {
    let unescaped = source.replace("\\.", ".").to_ascii_lowercase();
    let mut out = Vec::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut Vec<String>| {
        let trimmed = run.trim_matches('.');
        if trimmed.contains('.') && trimmed.split('.').all(|l| !l.is_empty()) {
            let last = trimmed.rsplit('.').next().unwrap_or("");
            if last.bytes().any(|b| b.is_ascii_alphabetic()) {
                out.push(trimmed.to_owned());
            }
        }
        run.clear();
    };
    let chars: Vec<char> = unescaped.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        // `\w`, `\d` and friends are classes, not letters.
        let escaped_letter = i > 0 && chars[i - 1] == '\\';
        if (c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.') && !escaped_letter {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Strings the regex matches, generated from its syntax tree: each class stands for a few
/// representative characters, each repetition for its minimum and one more, each alternation
/// for every branch; at most `limit` strings.
pub(crate) fn samples(source: &str, limit: usize) -> Vec<String> {
    let Ok(hir) = regex_syntax::Parser::new().parse(source) else {
        return Vec::new();
    };
    generate(&hir, limit)
}

fn generate(hir: &Hir, limit: usize) -> Vec<String> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => vec![String::new()],
        HirKind::Literal(lit) => vec![String::from_utf8_lossy(&lit.0).into_owned()],
        HirKind::Class(class) => class_representatives(class)
            .into_iter()
            .map(String::from)
            .collect(),
        HirKind::Capture(cap) => generate(&cap.sub, limit),
        HirKind::Repetition(rep) => {
            let sub = generate(&rep.sub, limit);
            let Some(first) = sub.first() else {
                return vec![String::new()];
            };
            let min = rep.min.min(16) as usize;
            let mut out = vec![first.repeat(min)];
            if rep.max.is_none_or(|max| max as usize > min) {
                for s in sub.iter().take(limit.saturating_sub(1)) {
                    out.push(format!("{}{s}", first.repeat(min)));
                }
            }
            out.truncate(limit);
            out
        }
        HirKind::Concat(subs) => {
            let mut acc = vec![String::new()];
            for sub in subs {
                let parts = generate(sub, limit);
                let mut next = Vec::with_capacity(limit);
                'outer: for prefix in &acc {
                    for part in &parts {
                        if next.len() >= limit {
                            break 'outer;
                        }
                        next.push(format!("{prefix}{part}"));
                    }
                }
                acc = next;
            }
            acc
        }
        HirKind::Alternation(subs) => {
            let mut out = Vec::new();
            for sub in subs {
                for s in generate(sub, limit) {
                    if out.len() >= limit {
                        return out;
                    }
                    out.push(s);
                }
            }
            out
        }
    }
}

fn class_representatives(class: &Class) -> Vec<char> {
    let contains = |c: char| match class {
        Class::Unicode(u) => u.ranges().iter().any(|r| r.start() <= c && c <= r.end()),
        Class::Bytes(b) => b
            .ranges()
            .iter()
            .any(|r| c.is_ascii() && r.start() <= c as u8 && c as u8 <= r.end()),
    };
    let mut out: Vec<char> = ['a', 'x', '0', '-', '.']
        .into_iter()
        .filter(|&c| contains(c))
        .take(2)
        .collect();
    if out.is_empty() {
        let first = match class {
            Class::Unicode(u) => u.ranges().first().map(|r| r.start()),
            Class::Bytes(b) => b.ranges().first().map(|r| char::from(r.start())),
        };
        out.extend(first);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescaped_dots() {
        assert!(check_unescaped_dots(r"https://www.example.com").is_err());
        assert!(check_unescaped_dots(r"https://(a|b).example\.com").is_err());
        assert!(check_unescaped_dots(r"https://[a-z]+\.example\.com").is_ok());
        assert!(check_unescaped_dots(r"https://.*\.example\.com").is_ok());
        assert!(check_unescaped_dots(r"https://[a-z]+.example\.com").is_err());
        assert!(check_unescaped_dots(r"https://.+").is_ok());
        assert!(check_unescaped_dots(r"https://[a.b]x\.com").is_ok());
        assert!(check_unescaped_dots(r"https://a\..b\.com").is_ok());
        let hint = check_unescaped_dots("https://www.example.com")
            .unwrap_err()
            .hint
            .unwrap();
        assert_eq!(
            hint,
            r"escape the dots between labels: regex:https://www\.example\.com"
        );
    }

    #[test]
    fn literal_domains_are_found() {
        assert_eq!(
            literal_domains(r"https://([a-z]+\.)?example\.com(:\d+)?"),
            vec!["example.com".to_owned()]
        );
        assert!(literal_domains(r"https://[a-z]+").is_empty());
    }

    #[test]
    fn samples_match_their_regex() {
        for source in [
            r"https://([a-z]+\.)?example\.com",
            r"https://(app|admin)\.example\.com(:[0-9]{2,4})?",
            r"https://.*",
        ] {
            let regex = Regex::new(&anchored(source)).unwrap();
            let samples = samples(source, 64);
            assert!(!samples.is_empty());
            assert!(
                samples.iter().any(|s| regex.is_match(s)),
                "{source}: {samples:?}"
            );
        }
    }

    #[test]
    fn probes_find_reflection() {
        let found = probe(
            &[
                r"https://.*",
                r"https://([a-z0-9-]+\.)*example\.com",
                r"https://.*example\.com",
                r"https://example\.com.*",
                r"https?://app\.example\.com",
            ],
            &[],
            &[],
        );
        let flagged: Vec<(usize, IssueKind)> =
            found.iter().map(|f| (f.regex, f.problem.kind)).collect();
        assert_eq!(
            flagged,
            vec![
                (0, IssueKind::RegexReflection),
                (2, IssueKind::RegexReflection),
                (3, IssueKind::RegexReflection),
                (4, IssueKind::InsecureOriginWithCredentials),
            ]
        );
    }
}
