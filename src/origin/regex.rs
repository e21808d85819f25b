//! `regex:` entries: parsed once (with the unescaped-dot lint), compiled into dense DFAs that
//! match without capture slots or per-thread caches, in a time bounded whatever Origin arrives.
//!
//! Every pattern is anchored as `^(?:pattern)$` and applied only to a request Origin that
//! already passed the serialized-origin grammar, never to `null`. Such an Origin is ASCII, so
//! each pattern is compiled in its ASCII form (`ascii_only`): character classes cut to ASCII,
//! non-ASCII literals that can never match removed, Unicode word boundaries replaced by ASCII
//! ones. On ASCII text the two forms match exactly the same strings, and the ASCII form is the
//! one the credential proof (`proof`) analyses, so what is proven is what serves.
//!
//! # Matching in bounded time and memory
//!
//! Entries are compiled, in order, in groups of [`GROUP_SIZE`], each group into one dense
//! (fully built) DFA, shared by every thread: a decision runs each group's DFA over the Origin
//! until it matches or dies, at most [`MAX_GROUPS`] scans of at most
//! [`MAX_ORIGIN_LEN`](super::MAX_ORIGIN_LEN) bytes, one table lookup a byte, whatever the
//! Origin. No search allocates, locks or keeps a cache. (A lazy DFA, or the PikeVM behind
//! `regex`'s meta engine, builds its automaton while it searches: a stream of distinct
//! near-miss Origins against a thousand entries then costs milliseconds and up to a gigabyte
//! per thread.) Groups, rather than one DFA for every entry, keep determinization cheap: an
//! automaton's states hold the NFA states of every entry alive at once, so one DFA over a
//! thousand `([a-z0-9-]+\.)*tN\.example\.com` entries takes tens of seconds to build, and
//! thirty-two at a time take tens of milliseconds.
//!
//! A group whose DFA would exceed [`MAX_GROUP_DFA_BYTES`] is split into one DFA per entry; an
//! entry whose DFA alone exceeds [`MAX_ENTRY_DFA_BYTES`] is refused (its automaton explodes,
//! as `[a-z]*a[a-z]{20}` does), and so is a policy whose DFAs together pass
//! [`MAX_SET_DFA_BYTES`], whose attempts past a limit pass [`MAX_FAILED_DFA_BYTES`], or that
//! needs more than [`MAX_GROUPS`] of them.
//!
//! # Bounds
//!
//! All refused with an error naming the entry (design 2.2, "every input is bounded"):
//!
//! | what | cap |
//! |---|---|
//! | one pattern's text | [`MAX_PATTERN_LEN`] bytes |
//! | nesting of groups, classes and repetitions | [`NEST_LIMIT`] levels |
//! | one pattern compiled (Thompson NFA) | [`MAX_ENTRY_NFA_BYTES`] |
//! | one pattern's DFA, alone | [`MAX_ENTRY_DFA_BYTES`] |
//! | all DFAs of a policy | [`MAX_SET_DFA_BYTES`] |
//! | DFA attempts past their limit, counted at their limit | [`MAX_FAILED_DFA_BYTES`] |
//! | `regex:` entries in one policy | [`MAX_REGEX_ENTRIES`] ([`MAX_GROUPS`] DFAs) |

use std::sync::Arc;

use regex_automata::dfa::{dense, Automaton, StartKind};
use regex_automata::nfa::thompson::{self, WhichCaptures, NFA};
use regex_automata::util::primitives::StateID;
use regex_automata::util::start;
use regex_automata::{Anchored, MatchKind};
use regex_syntax::ast::parse::ParserBuilder;
use regex_syntax::hir::{self, Class, ClassBytes, ClassBytesRange, Hir, HirKind, Look};

use super::regex_lint;
use crate::error::{IssueKind, Problem};

/// Longest `regex:` pattern, in bytes.
pub const MAX_PATTERN_LEN: usize = 8 * 1024;
/// Deepest nesting of groups, classes and repetitions in a pattern.
pub const NEST_LIMIT: u32 = 64;
/// Largest compiled form (Thompson NFA) of one pattern.
pub const MAX_ENTRY_NFA_BYTES: usize = 1 << 20;
/// Entries compiled into one DFA.
pub const GROUP_SIZE: usize = 32;
/// Largest DFA (and determinization working memory) of one group of entries.
pub const MAX_GROUP_DFA_BYTES: usize = 2 << 20;
/// Largest DFA (and determinization working memory) of one entry compiled alone.
pub const MAX_ENTRY_DFA_BYTES: usize = 1 << 20;
/// Largest total of a policy's DFAs.
pub const MAX_SET_DFA_BYTES: usize = 64 << 20;
/// Largest total of the limits of a policy's DFA attempts that went past them: an attempt
/// costs time in proportion to its limit (about a second for a group's), so these are
/// bounded too.
pub const MAX_FAILED_DFA_BYTES: usize = 8 << 20;
/// Most DFAs one decision runs.
pub const MAX_GROUPS: usize = 128;
/// Most `regex:` entries in one policy: [`MAX_GROUPS`] groups of [`GROUP_SIZE`]. Exact and
/// wildcard entries have no such cap: they are hash lookups.
pub const MAX_REGEX_ENTRIES: usize = MAX_GROUPS * GROUP_SIZE;

/// One parsed `regex:` entry: its ASCII form, anchored at both ends.
#[derive(Clone, Debug)]
pub(crate) struct ParsedRegex {
    pub(crate) hir: Hir,
}

fn invalid(message: String) -> Problem {
    Problem::new(IssueKind::InvalidRegex, message)
        .with_hint("regex entries use Rust regex syntax and must match the whole origin")
}

/// Parses one entry's pattern: syntax (standalone, so that `a)|(b` cannot escape the anchors),
/// the unescaped-dot lint, the ASCII form, and its compiled size.
pub(crate) fn parse(source: &str) -> Result<ParsedRegex, Problem> {
    if source.len() > MAX_PATTERN_LEN {
        return Err(Problem::new(
            IssueKind::InvalidRegex,
            format!(
                "the pattern is {} bytes long; corsgate takes at most {MAX_PATTERN_LEN}",
                source.len()
            ),
        )
        .with_hint("split it into several regex: entries, or list the origins as exact entries"));
    }
    let ast = ParserBuilder::new()
        .nest_limit(NEST_LIMIT)
        .build()
        .parse(source)
        .map_err(|err| invalid(format!("the regex does not parse: {}", err.kind())))?;
    regex_lint::check_unescaped_dots(source, &ast)?;
    let unicode = regex_syntax::hir::translate::Translator::new()
        .translate(source, &ast)
        .map_err(|err| invalid(format!("the regex does not compile: {}", err.kind())))?;
    let hir = Hir::concat(vec![
        Hir::look(Look::Start),
        ascii_only(&unicode),
        Hir::look(Look::End),
    ]);
    compile(std::slice::from_ref(&hir), MAX_ENTRY_NFA_BYTES).ok_or_else(|| {
        Problem::new(
            IssueKind::InvalidRegex,
            format!(
                "the regex compiles to more than {} KiB (large counted repetitions such as \
                 {{1000}} multiply its size)",
                MAX_ENTRY_NFA_BYTES >> 10
            ),
        )
        .with_hint("use smaller repetition counts, or split it into several regex: entries")
    })?;
    Ok(ParsedRegex { hir })
}

/// The ASCII form of a pattern: what it matches among ASCII strings, which is all a valid
/// request Origin can be. Recursion is bounded by [`NEST_LIMIT`].
pub(crate) fn ascii_only(hir: &Hir) -> Hir {
    match hir.kind() {
        HirKind::Empty => Hir::empty(),
        HirKind::Literal(lit) if lit.0.is_ascii() => Hir::literal(lit.0.clone()),
        HirKind::Literal(_) => Hir::fail(),
        HirKind::Class(class) => {
            let mut bytes = match class {
                Class::Unicode(u) => {
                    let ranges = u.ranges().iter().filter_map(|r| {
                        let start = u32::from(r.start());
                        let end = u32::from(r.end()).min(0x7f);
                        (start <= 0x7f).then(|| ClassBytesRange::new(start as u8, end as u8))
                    });
                    ClassBytes::new(ranges)
                }
                Class::Bytes(b) => b.clone(),
            };
            bytes.intersect(&ClassBytes::new([ClassBytesRange::new(0, 0x7f)]));
            if bytes.ranges().is_empty() {
                Hir::fail()
            } else {
                Hir::class(Class::Bytes(bytes))
            }
        }
        HirKind::Look(look) => Hir::look(match look {
            Look::WordUnicode => Look::WordAscii,
            Look::WordUnicodeNegate => Look::WordAsciiNegate,
            Look::WordStartUnicode => Look::WordStartAscii,
            Look::WordEndUnicode => Look::WordEndAscii,
            Look::WordStartHalfUnicode => Look::WordStartHalfAscii,
            Look::WordEndHalfUnicode => Look::WordEndHalfAscii,
            other => *other,
        }),
        HirKind::Repetition(rep) => Hir::repetition(hir::Repetition {
            min: rep.min,
            max: rep.max,
            greedy: rep.greedy,
            sub: Box::new(ascii_only(&rep.sub)),
        }),
        // Capture groups mean nothing to an allowlist: matching never reports them.
        HirKind::Capture(cap) => ascii_only(&cap.sub),
        HirKind::Concat(subs) => Hir::concat(subs.iter().map(ascii_only).collect()),
        HirKind::Alternation(subs) => Hir::alternation(subs.iter().map(ascii_only).collect()),
    }
}

/// Compiles patterns (already anchored) into one NFA without capture states, within `limit`
/// bytes; `None` past it.
pub(crate) fn compile(hirs: &[Hir], limit: usize) -> Option<NFA> {
    thompson::Compiler::new()
        .configure(
            thompson::Config::new()
                .which_captures(WhichCaptures::None)
                .nfa_size_limit(Some(limit))
                .shrink(false),
        )
        .build_many_from_hir(hirs)
        .ok()
}

/// A dense DFA for anchored searches, within `limit` bytes (for the DFA and for its
/// determinization); `None` past it. Not minimized, not accelerated: both cost build time,
/// and the walks over these DFAs read one transition a byte.
pub(crate) fn dense_dfa(nfa: &NFA, limit: usize, kind: MatchKind) -> Option<dense::DFA<Vec<u32>>> {
    dense::Builder::new()
        .configure(
            dense::Config::new()
                .match_kind(kind)
                .start_kind(StartKind::Anchored)
                .minimize(false)
                .accelerate(false)
                .dfa_size_limit(Some(limit))
                .determinize_size_limit(Some(limit)),
        )
        .build_from_nfa(nfa)
        .ok()
}

/// Why a set of entries does not compile.
#[derive(Debug)]
pub(crate) enum SetError {
    /// This entry (its position in the set) needs a DFA over [`MAX_ENTRY_DFA_BYTES`].
    Entry(usize, Problem),
    /// The set as a whole is over [`MAX_SET_DFA_BYTES`] or [`MAX_GROUPS`].
    Set(Problem),
}

/// One group's DFA and the entries its pattern IDs stand for.
#[derive(Clone, Debug)]
struct Group {
    dfa: dense::DFA<Vec<u32>>,
    /// The anchored start state (at the start of the text).
    start: StateID,
    /// Pattern ID → entry index in the policy's origin list.
    entries: Vec<usize>,
}

impl Group {
    fn new(dfa: dense::DFA<Vec<u32>>, entries: Vec<usize>) -> Option<Group> {
        let start = dfa
            .start_state(&start::Config::new().anchored(Anchored::Yes))
            .ok()?;
        Some(Group {
            dfa,
            start,
            entries,
        })
    }

    /// The entry of the highest-priority pattern that matches all of `origin`. A plain walk
    /// over the transition table: every pattern ends in `$`, so a match can only be seen at
    /// the end of the input, and a dead state ends the walk early.
    #[inline]
    fn find(&self, origin: &[u8]) -> Option<usize> {
        let dfa = &self.dfa;
        let mut state = self.start;
        for &b in origin {
            state = dfa.next_state(state, b);
            if dfa.is_special_state(state) && dfa.is_dead_state(state) {
                return None;
            }
        }
        let end = dfa.next_eoi_state(state);
        if !dfa.is_match_state(end) {
            return None;
        }
        // Leftmost-first: the first pattern of a match state is the highest-priority one.
        self.entries
            .get(dfa.match_pattern(end, 0).as_usize())
            .copied()
    }
}

/// Every regex entry of a policy, compiled; cheap to clone (shared).
#[derive(Clone, Debug)]
pub(crate) struct CompiledSet {
    groups: Arc<[Group]>,
}

/// Compiles `hirs` (anchored ASCII forms), whose entry indices are `entries`, in groups of
/// [`GROUP_SIZE`]. Every entry that fails alone is reported.
pub(crate) fn compile_set(hirs: &[Hir], entries: &[usize]) -> Result<CompiledSet, Vec<SetError>> {
    let mut groups: Vec<Group> = Vec::new();
    let mut errors = Vec::new();
    // Bytes of DFAs kept, and of attempts that went past their limit (each costs time in
    // proportion to its limit, so they are bounded too).
    let mut kept = 0usize;
    let mut failed = 0usize;
    let set_problem = || {
        SetError::Set(
            Problem::new(
                IssueKind::InvalidRegex,
                format!(
                    "the regex entries together need more than {} MiB of automata, or more \
                     than {MAX_GROUPS} of them, to match in bounded time",
                    MAX_SET_DFA_BYTES >> 20
                ),
            )
            .with_hint(
                "use fewer or simpler regex: entries; exact and wildcard entries have no such \
                 limit",
            ),
        )
    };
    for (n, (chunk, chunk_entries)) in hirs
        .chunks(GROUP_SIZE)
        .zip(entries.chunks(GROUP_SIZE))
        .enumerate()
    {
        let dfa = compile(chunk, MAX_SET_NFA_BYTES)
            .and_then(|nfa| dense_dfa(&nfa, MAX_GROUP_DFA_BYTES, MatchKind::LeftmostFirst));
        if let Some(group) = dfa.and_then(|dfa| Group::new(dfa, chunk_entries.to_vec())) {
            kept += group.dfa.memory_usage();
            groups.push(group);
        } else {
            failed += MAX_GROUP_DFA_BYTES;
            // Too large together: one DFA per entry, and name those too large alone.
            for (i, (hir, &entry)) in chunk.iter().zip(chunk_entries).enumerate() {
                if failed > MAX_FAILED_DFA_BYTES {
                    break;
                }
                let dfa = compile(std::slice::from_ref(hir), MAX_ENTRY_NFA_BYTES)
                    .and_then(|nfa| dense_dfa(&nfa, MAX_ENTRY_DFA_BYTES, MatchKind::LeftmostFirst));
                if let Some(group) = dfa.and_then(|dfa| Group::new(dfa, vec![entry])) {
                    kept += group.dfa.memory_usage();
                    groups.push(group);
                    continue;
                }
                failed += MAX_ENTRY_DFA_BYTES;
                errors.push(SetError::Entry(
                    n * GROUP_SIZE + i,
                    Problem::new(
                        IssueKind::InvalidRegex,
                        format!(
                            "matching this regex in bounded time needs an automaton over {} \
                             KiB: it has a repetition after which many positions stay open, \
                             as in [a-z]*a[a-z]{{20}}",
                            MAX_ENTRY_DFA_BYTES >> 10
                        ),
                    )
                    .with_hint("anchor the repeated part to a literal, or use smaller counts"),
                ));
            }
        }
        if kept > MAX_SET_DFA_BYTES || failed > MAX_FAILED_DFA_BYTES || groups.len() > MAX_GROUPS {
            errors.push(set_problem());
            return Err(errors);
        }
    }
    if errors.is_empty() {
        Ok(CompiledSet {
            groups: groups.into(),
        })
    } else {
        Err(errors)
    }
}

/// Largest NFA of one group (the per-entry cap times the group size, so never the limit).
const MAX_SET_NFA_BYTES: usize = MAX_ENTRY_NFA_BYTES * GROUP_SIZE;

/// The serving matcher: every regex entry's DFA group, shared.
pub(crate) struct RegexMatcher {
    set: CompiledSet,
}

impl RegexMatcher {
    pub(crate) fn new(set: CompiledSet) -> RegexMatcher {
        RegexMatcher { set }
    }

    /// The entry index of a regex that matches the whole origin (the first listed, when
    /// several do). At most [`MAX_GROUPS`] scans of the Origin; no allocation, no lock.
    #[inline]
    pub(crate) fn find(&self, origin: &[u8]) -> Option<usize> {
        self.set.groups.iter().find_map(|group| group.find(origin))
    }

    /// Heap bytes of the DFAs (shared by every thread; no thread keeps anything of its own).
    pub(crate) fn memory_usage(&self) -> usize {
        self.set.groups.iter().map(|g| g.dfa.memory_usage()).sum()
    }
}

impl std::fmt::Debug for RegexMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegexMatcher")
            .field("groups", &self.set.groups.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(sources: &[&str]) -> RegexMatcher {
        let hirs: Vec<Hir> = sources.iter().map(|s| parse(s).unwrap().hir).collect();
        let entries: Vec<usize> = (0..sources.len()).collect();
        RegexMatcher::new(compile_set(&hirs, &entries).unwrap())
    }

    #[test]
    fn anchored_whole_origin_and_first_listed() {
        let m = matcher(&[
            r"https://(app|api)\.example\.com",
            r"https://[a-z]+\.example\.com",
        ]);
        assert_eq!(m.find(b"https://app.example.com"), Some(0));
        assert_eq!(m.find(b"https://www.example.com"), Some(1));
        assert_eq!(m.find(b"https://app.example.com.evil.com"), None);
        assert_eq!(m.find(b"xhttps://app.example.com"), None);
        assert!(m.memory_usage() > 0);
    }

    #[test]
    fn groups_keep_the_first_listed_entry() {
        let sources: Vec<String> = (0..80)
            .map(|i| format!(r"https://[a-z]+\.g{}\.example\.com", i % 40))
            .collect();
        let refs: Vec<&str> = sources.iter().map(String::as_str).collect();
        let m = matcher(&refs);
        assert_eq!(m.set.groups.len(), 3);
        assert_eq!(m.find(b"https://a.g39.example.com"), Some(39));
        assert_eq!(m.find(b"https://a.g3.example.com"), Some(3));
        assert_eq!(m.find(b"https://a.g40.example.com"), None);
    }

    #[test]
    fn exploding_entries_are_refused_by_name() {
        let hirs: Vec<Hir> = [
            r"https://a\.example\.com",
            r"https://[a-z]*a[a-z]{20}\.example\.com",
        ]
        .iter()
        .map(|s| parse(s).unwrap().hir)
        .collect();
        let errors = compile_set(&hirs, &[7, 9]).unwrap_err();
        assert!(
            matches!(&errors[..], [SetError::Entry(1, p)] if p.kind == IssueKind::InvalidRegex),
            "{errors:?}"
        );
    }

    #[test]
    fn patterns_cannot_escape_their_anchors() {
        let err = parse(r"https://a\.com)|(.*").unwrap_err();
        assert_eq!(err.kind, IssueKind::InvalidRegex);
    }

    #[test]
    fn ascii_form_matches_what_the_unicode_form_matches_on_ascii() {
        for (source, yes, no) in [
            (
                r"https://\w+\.example\.com",
                "https://a_1.example.com",
                "https://-.example.com",
            ),
            (
                r"https://(?i)APP\.example\.com",
                "https://app.example.com",
                "https://ap.example.com",
            ),
            (
                r"https://\bapp\b\.example\.com",
                "https://app.example.com",
                "https://xapp.example.com",
            ),
            (
                r"https://bücher\.example|https://b\.example",
                "https://b.example",
                "https://bücher.example",
            ),
            (
                r"https://\p{Greek}+|https://[^é]\.example",
                "https://x.example",
                "https://é.example",
            ),
        ] {
            let m = matcher(&[source]);
            assert_eq!(m.find(yes.as_bytes()), Some(0), "{source} {yes}");
            assert_eq!(m.find(no.as_bytes()), None, "{source} {no}");
        }
    }

    #[test]
    fn bounds() {
        let long = format!("https://{}", "a".repeat(MAX_PATTERN_LEN));
        assert_eq!(parse(&long).unwrap_err().kind, IssueKind::InvalidRegex);
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert_eq!(parse(&deep).unwrap_err().kind, IssueKind::InvalidRegex);
        let big = parse(r"https://(a{1000}){1000}").unwrap_err();
        assert!(
            big.message.contains("compiles to more than"),
            "{}",
            big.message
        );
    }
}
