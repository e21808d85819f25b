//! The unescaped-dot lint for `regex:` entries, with or without credentials (design 2.2).
//!
//! In `https://www.example.com` the `.` matches any character, so `https://wwwxexample.com`
//! is allowed; in `https://app\.?example\.com` the label boundary is optional, so
//! `https://appexample.com` is. Both are refused wherever a label boundary belongs: where a host
//! character can come right before the dot and right after it, in any spelling — after a
//! letter, a `)`, a `]`, a repetition or an escape such as `\w` or `\d`, and before a letter, a
//! `(`, a `[` or an escape. The analysis runs on the parsed pattern (regex-syntax's AST, with
//! byte offsets), computing for every position whether a host character can precede or follow
//! it, so groups, alternations and repetitions are seen through rather than spelled out.
//!
//! Deliberate wildcards are left alone: a repeated dot (`.*`, `.+`, `.{2,}`) and a dot after
//! `://`, `:` or an escaped `\.`.

use regex_syntax::ast::{self, Ast, RepetitionKind, RepetitionRange};
use regex_syntax::hir::{Class, HirKind};

use crate::error::{IssueKind, Problem};

/// A host character, as a person writing a host pattern thinks of one (either case).
fn is_host_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// What a sub-pattern can do at its edges.
#[derive(Clone, Copy, Debug)]
struct Edges {
    /// It can match the empty string.
    nullable: bool,
    /// It can start with a host character.
    first: bool,
    /// It can end with a host character.
    last: bool,
}

impl Edges {
    const EMPTY: Edges = Edges {
        nullable: true,
        first: false,
        last: false,
    };

    fn char(host: bool) -> Edges {
        Edges {
            nullable: false,
            first: host,
            last: host,
        }
    }
}

/// One mistake found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Finding {
    /// An unescaped `.` (or `.?`) between host characters: byte range of the dot.
    AnyChar(usize, usize),
    /// An optional dot (`\.?`, `[.]?`, `(\.)?`, `\.*`) between host characters: byte range of
    /// the repetition, and of the dot inside it.
    OptionalDot(usize, usize, usize, usize),
}

struct Lint<'p> {
    pattern: &'p str,
    findings: Vec<Finding>,
}

impl Lint<'_> {
    /// Does this class (bracketed or `\pL`-style) contain a host character? Evaluated by
    /// translating the class alone; a class that does not translate is assumed to.
    fn class_has_host_char(&self, class: Ast) -> bool {
        let Ok(hir) =
            regex_syntax::hir::translate::Translator::new().translate(self.pattern, &class)
        else {
            return true;
        };
        match hir.kind() {
            HirKind::Class(Class::Unicode(u)) => u
                .ranges()
                .iter()
                .any(|r| (r.start()..=r.end()).any(is_host_char_lazy)),
            HirKind::Class(Class::Bytes(b)) => b
                .ranges()
                .iter()
                .any(|r| (r.start()..=r.end()).any(|b| is_host_char(char::from(b)))),
            HirKind::Literal(lit) => lit.0.iter().any(|&b| is_host_char(char::from(b))),
            _ => true,
        }
    }

    /// Does this class match exactly the one character `.`?
    fn class_is_dot(&self, class: Ast) -> bool {
        let Ok(hir) =
            regex_syntax::hir::translate::Translator::new().translate(self.pattern, &class)
        else {
            return false;
        };
        match hir.kind() {
            HirKind::Class(Class::Unicode(u)) => {
                matches!(u.ranges(), [r] if r.start() == '.' && r.end() == '.')
            }
            HirKind::Class(Class::Bytes(b)) => {
                matches!(b.ranges(), [r] if r.start() == b'.' && r.end() == b'.')
            }
            HirKind::Literal(lit) => &*lit.0 == b".",
            _ => false,
        }
    }

    /// The span of a sub-pattern that matches exactly `.` (an escaped dot, `[.]`, `\x2E`, a
    /// group around one), if this is one.
    fn dot_literal(&self, ast: &Ast) -> Option<(usize, usize)> {
        match ast {
            Ast::Literal(lit) if lit.c == '.' => Some((lit.span.start.offset, lit.span.end.offset)),
            Ast::ClassBracketed(c) if self.class_is_dot(Ast::ClassBracketed(c.clone())) => {
                Some((c.span.start.offset, c.span.end.offset))
            }
            Ast::Group(g) => self.dot_literal(&g.ast),
            _ => None,
        }
    }

    fn edges(&self, ast: &Ast) -> Edges {
        match ast {
            Ast::Empty(_) | Ast::Flags(_) | Ast::Assertion(_) => Edges::EMPTY,
            Ast::Literal(lit) => Edges::char(is_host_char(lit.c)),
            Ast::Dot(_) => Edges::char(true),
            Ast::ClassPerl(c) => {
                Edges::char(!matches!(c.kind, ast::ClassPerlKind::Space) || c.negated)
            }
            Ast::ClassUnicode(c) => {
                Edges::char(self.class_has_host_char(Ast::ClassUnicode(c.clone())))
            }
            Ast::ClassBracketed(c) => {
                Edges::char(self.class_has_host_char(Ast::ClassBracketed(c.clone())))
            }
            Ast::Repetition(rep) => {
                let sub = self.edges(&rep.ast);
                Edges {
                    nullable: sub.nullable || min_of(&rep.op.kind) == 0,
                    ..sub
                }
            }
            Ast::Group(g) => self.edges(&g.ast),
            Ast::Alternation(alt) => {
                alt.asts
                    .iter()
                    .map(|a| self.edges(a))
                    .fold(Edges::char(false), |acc, e| Edges {
                        nullable: acc.nullable || e.nullable,
                        first: acc.first || e.first,
                        last: acc.last || e.last,
                    })
            }
            Ast::Concat(concat) => {
                let mut out = Edges::EMPTY;
                let mut prefix_nullable = true;
                for e in concat.asts.iter().map(|a| self.edges(a)) {
                    if prefix_nullable {
                        out.first |= e.first;
                    }
                    out.last = e.last || (e.nullable && out.last);
                    prefix_nullable &= e.nullable;
                }
                out.nullable = prefix_nullable;
                out
            }
        }
    }

    /// Walks `ast`, knowing whether a host character can come right before it (`before`) and
    /// right after it (`after`). `repeated` is true for the direct operand of a repetition
    /// that can match more than one copy (`.*`, `.+`, `(.)+`): a deliberate wildcard.
    fn walk(&mut self, ast: &Ast, before: bool, after: bool, repeated: bool) {
        match ast {
            Ast::Dot(span) if !repeated && before && after => self
                .findings
                .push(Finding::AnyChar(span.start.offset, span.end.offset)),
            Ast::Repetition(rep) => {
                let multiple = max_of(&rep.op.kind) != Some(1);
                if min_of(&rep.op.kind) == 0 && before && after {
                    if let Some((start, end)) = self.dot_literal(&rep.ast) {
                        self.findings.push(Finding::OptionalDot(
                            rep.span.start.offset,
                            rep.span.end.offset,
                            start,
                            end,
                        ));
                        return;
                    }
                }
                let sub = self.edges(&rep.ast);
                self.walk(
                    &rep.ast,
                    before || (multiple && sub.last),
                    after || (multiple && sub.first),
                    multiple,
                );
            }
            Ast::Group(g) => self.walk(&g.ast, before, after, repeated),
            Ast::Alternation(alt) => {
                for branch in &alt.asts {
                    self.walk(branch, before, after, repeated);
                }
            }
            Ast::Concat(concat) => {
                let edges: Vec<Edges> = concat.asts.iter().map(|a| self.edges(a)).collect();
                // after[i]: can a host character follow child i?
                let mut follows = vec![after; edges.len()];
                let mut next = after;
                for i in (0..edges.len()).rev() {
                    follows[i] = next;
                    next = edges[i].first || (edges[i].nullable && next);
                }
                let mut preceded = before;
                for (i, child) in concat.asts.iter().enumerate() {
                    self.walk(child, preceded, follows[i], false);
                    preceded = edges[i].last || (edges[i].nullable && preceded);
                }
            }
            _ => {}
        }
    }
}

/// `is_host_char` for a char range walk (only ASCII can be one).
fn is_host_char_lazy(c: char) -> bool {
    c.is_ascii() && is_host_char(c)
}

fn min_of(kind: &RepetitionKind) -> u32 {
    match kind {
        RepetitionKind::ZeroOrOne | RepetitionKind::ZeroOrMore => 0,
        RepetitionKind::OneOrMore => 1,
        RepetitionKind::Range(
            RepetitionRange::Exactly(n)
            | RepetitionRange::AtLeast(n)
            | RepetitionRange::Bounded(n, _),
        ) => *n,
    }
}

fn max_of(kind: &RepetitionKind) -> Option<u32> {
    match kind {
        RepetitionKind::ZeroOrOne => Some(1),
        RepetitionKind::ZeroOrMore | RepetitionKind::OneOrMore => None,
        RepetitionKind::Range(RepetitionRange::Exactly(n) | RepetitionRange::Bounded(_, n)) => {
            Some(*n)
        }
        RepetitionKind::Range(RepetitionRange::AtLeast(_)) => None,
    }
}

/// Refuses a dot that stands where a label boundary belongs but matches any character, or a
/// label boundary made optional. `ast` is the entry's parsed pattern (without corsgate's
/// anchors), `source` its text.
pub(crate) fn check_unescaped_dots(source: &str, ast: &Ast) -> Result<(), Problem> {
    let mut lint = Lint {
        pattern: source,
        findings: Vec::new(),
    };
    lint.walk(ast, false, false, false);
    let Some(&first) = lint.findings.first() else {
        return Ok(());
    };
    // The fix: every stray dot escaped, every optional boundary made a plain one.
    let mut edits: Vec<(usize, usize, String)> = lint
        .findings
        .iter()
        .map(|f| match *f {
            Finding::AnyChar(start, end) => (start, end, "\\.".to_owned()),
            Finding::OptionalDot(start, end, dot_start, dot_end) => {
                (start, end, source[dot_start..dot_end].to_owned())
            }
        })
        .collect();
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut fixed = source.to_owned();
    let mut limit = usize::MAX;
    for (start, end, text) in edits {
        // Nested findings (a dot inside an optional group already replaced) keep the outer.
        if end <= limit {
            fixed.replace_range(start..end, &text);
            limit = start;
        }
    }
    let (message, hint) = match first {
        Finding::AnyChar(start, _) => (
            format!(
                "the unescaped '.' at byte {start} matches any character, not just the dot \
                 between two labels"
            ),
            format!("escape the dots between labels: regex:{fixed}"),
        ),
        Finding::OptionalDot(start, end, _, _) => (
            format!(
                "{:?} at byte {start} makes a label boundary optional, so two labels can run \
                 together (as in appexample.com)",
                &source[start..end]
            ),
            format!(
                "a label boundary is always a dot: write regex:{fixed}, or make a whole label \
                 optional, as in (app\\.)?example\\.com"
            ),
        ),
    };
    Err(Problem::new(IssueKind::RegexUnescapedDot, message).with_hint(hint))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint(source: &str) -> Result<(), Problem> {
        let ast = ast::parse::Parser::new().parse(source).unwrap();
        check_unescaped_dots(source, &ast)
    }

    #[test]
    fn refuses_every_spelling() {
        for source in [
            r"https://www.example.com",
            r"https://(a|b).example\.com",
            r"https://(www|app).(example\.com|example\.net)",
            r"https://[a-z]+.example\.com",
            r"https://app.[a-z]+\.com",
            r"https://\w+.example\.com",
            r"https://pr-\d+.example\.com",
            r"https://app.(example|test)\.com",
            r"https://app.\w+\.com",
            r"https://(www.|api\.)example\.com",
            r"https://.*.example\.com",
            r"https://app\.?example\.com",
            r"https://app[.]?example\.com",
            r"https://app(\.)?example\.com",
            r"https://app(?:\.)?example\.com",
            r"https://app\x2E?example\.com",
            r"https://app\.{0,1}example\.com",
            r"https://app\.*example\.com",
            r"https://app.?example\.com",
            r"https://app.{1}example\.com",
            r"https://(ab.)+example\.com",
            r"https://[a-z]{2,}.example\.com",
        ] {
            let err = lint(source).expect_err(source);
            assert_eq!(err.kind, IssueKind::RegexUnescapedDot, "{source}");
        }
    }

    #[test]
    fn accepts_deliberate_wildcards_and_escaped_dots() {
        for source in [
            r"https://[a-z]+\.example\.com",
            r"https://.*\.example\.com",
            r"https://.+",
            r"https://[a.b]x\.com",
            r"https://a\..b\.com",
            r"https://([a-z0-9-]+\.)*example\.com",
            r"https://example\.com\.?",
            r"https://example\.com(:.+)?",
            r"https?://app\.example\.com:\d+",
            r"https://([a-z]+\.)?example\.com",
            r"https://x\.(?:com|net)",
        ] {
            assert!(lint(source).is_ok(), "{source}");
        }
    }

    #[test]
    fn hints_name_the_fix() {
        let hint = |source: &str| lint(source).unwrap_err().hint.unwrap();
        assert_eq!(
            hint("https://www.example.com"),
            r"escape the dots between labels: regex:https://www\.example\.com"
        );
        assert_eq!(
            hint("https://(www|app).(example\\.com|example\\.net)"),
            r"escape the dots between labels: regex:https://(www|app)\.(example\.com|example\.net)"
        );
        assert!(hint(r"https://app\.?example\.com").starts_with(
            r"a label boundary is always a dot: write regex:https://app\.example\.com,"
        ));
    }
}
