//! A regex entry's candidate domains (design 2.2): the registrable domains of the host strings
//! in its finite literal expansions.
//!
//! The pattern is expanded into every string its alternations and optional parts spell, with
//! each character class and each repetition standing for an unknown stretch (a break): so
//! `https://(app|api)\.example\.(com|net)` spells four hosts, `https://pr-[0-9]+\.preview\.example\.com`
//! spells the stretch `.preview.example.com` after a break. Every run of host characters and
//! dots in those strings is a host string; its registrable domain, by the Public Suffix List,
//! is a candidate. Runs whose last label is a number (IP addresses) and runs without a
//! registrable domain (a single label, a public suffix) name none.
//!
//! A class that stands for one byte (`[.]`, `\x2e`) or for one letter in either case (what
//! `(?i)` makes of a letter) counts as that lowercase byte.

use regex_syntax::hir::{Class, Hir, HirKind};

use crate::origin::host;
use crate::public_suffix;

/// Most literal expansions of one pattern; past this the candidates are unknown and the
/// regex is unprovable.
pub(crate) const MAX_EXPANSIONS: usize = 4096;
/// Most bytes in all expansions together.
const MAX_EXPANSION_BYTES: usize = 1 << 20;

/// One position of an expansion: a known byte, or a class or repetition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Piece {
    Byte(u8),
    Break,
}

/// The expansions' size went past [`MAX_EXPANSIONS`].
#[derive(Debug)]
pub(crate) struct TooManyExpansions;

struct Expander;

impl Expander {
    /// Keeps every intermediate set of expansions within the caps, so that memory stays
    /// bounded whatever the nesting.
    fn charge(&mut self, set: &[Vec<Piece>]) -> Result<(), TooManyExpansions> {
        if set.len() > MAX_EXPANSIONS
            || set.iter().map(Vec::len).sum::<usize>() > MAX_EXPANSION_BYTES
        {
            return Err(TooManyExpansions);
        }
        Ok(())
    }

    fn expand(&mut self, hir: &Hir) -> Result<Vec<Vec<Piece>>, TooManyExpansions> {
        let out = match hir.kind() {
            HirKind::Empty | HirKind::Look(_) => vec![Vec::new()],
            HirKind::Literal(lit) => vec![lit.0.iter().map(|&b| Piece::Byte(b)).collect()],
            HirKind::Class(class) => vec![vec![match single_byte(class) {
                Some(b) => Piece::Byte(b),
                None => Piece::Break,
            }]],
            HirKind::Repetition(rep) if rep.min == 0 && rep.max == Some(1) => {
                let mut out = vec![Vec::new()];
                out.extend(self.expand(&rep.sub)?);
                out
            }
            HirKind::Repetition(_) => vec![vec![Piece::Break]],
            HirKind::Capture(cap) => self.expand(&cap.sub)?,
            HirKind::Concat(subs) => {
                let mut acc: Vec<Vec<Piece>> = vec![Vec::new()];
                for sub in subs {
                    let parts = self.expand(sub)?;
                    if acc.len().saturating_mul(parts.len()) > MAX_EXPANSIONS {
                        return Err(TooManyExpansions);
                    }
                    let mut next = Vec::with_capacity(acc.len() * parts.len());
                    for prefix in &acc {
                        for part in &parts {
                            let mut joined = prefix.clone();
                            joined.extend_from_slice(part);
                            next.push(joined);
                        }
                    }
                    self.charge(&next)?;
                    acc = next;
                }
                acc
            }
            HirKind::Alternation(subs) => {
                let mut out = Vec::new();
                for sub in subs {
                    out.extend(self.expand(sub)?);
                    if out.len() > MAX_EXPANSIONS {
                        return Err(TooManyExpansions);
                    }
                }
                out
            }
        };
        self.charge(&out)?;
        Ok(out)
    }
}

/// The one lowercase byte a class stands for, if it stands for one (`[.]`, or `[Aa]`).
fn single_byte(class: &Class) -> Option<u8> {
    let mut members = Vec::new();
    match class {
        Class::Bytes(b) => {
            for r in b.ranges() {
                if usize::from(r.end() - r.start()) + members.len() >= 2 {
                    return None;
                }
                members.extend(r.start()..=r.end());
            }
        }
        Class::Unicode(u) => {
            for r in u.ranges() {
                if (u32::from(r.end()) - u32::from(r.start())) as usize + members.len() >= 2 {
                    return None;
                }
                for c in r.start()..=r.end() {
                    members.push(u8::try_from(u32::from(c)).ok()?);
                }
            }
        }
    }
    match members[..] {
        [b] => Some(b),
        [upper, lower] if upper.is_ascii_uppercase() && upper.to_ascii_lowercase() == lower => {
            Some(lower)
        }
        _ => None,
    }
}

fn is_run_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_' || b == b'.'
}

/// The candidate domains of a pattern (its ASCII form), sorted and deduplicated.
pub(crate) fn candidates(hir: &Hir) -> Result<Vec<String>, TooManyExpansions> {
    let expansions = Expander.expand(hir)?;
    let list = public_suffix::list();
    let mut out: Vec<String> = Vec::new();
    for expansion in &expansions {
        for run in expansion.split(|p| !matches!(p, Piece::Byte(b) if is_run_byte(*b))) {
            let text: String = run
                .iter()
                .map(|p| match p {
                    Piece::Byte(b) => char::from(*b),
                    Piece::Break => '?',
                })
                .collect();
            let name = text.trim_matches('.');
            if !name.contains('.') || name.split('.').any(str::is_empty) {
                continue;
            }
            let last = name.rsplit('.').next().unwrap_or_default();
            if host::ends_in_number(last.as_bytes()) {
                continue;
            }
            if let Some(registrable) = list.registrable_domain(name) {
                out.push(registrable.to_owned());
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(source: &str) -> Vec<String> {
        let hir = crate::origin::regex::parse(source).unwrap().hir;
        candidates(&hir).unwrap()
    }

    #[test]
    fn registrable_domains_of_literal_hosts() {
        assert_eq!(
            of(r"https://(app|api)\.example\.(com|net)"),
            ["example.com", "example.net"]
        );
        assert_eq!(
            of(r"https://pr-[0-9]+\.preview\.example\.com"),
            ["example.com"]
        );
        assert_eq!(
            of(r"https://([a-z0-9-]+\.)+amazonaws\.com"),
            ["amazonaws.com"]
        );
        assert_eq!(of(r"https://x\.s3\.amazonaws\.com"), ["x.s3.amazonaws.com"]);
        assert_eq!(of(r"https://example\.com(\.[a-z]{2})?"), ["example.com"]);
        assert_eq!(of(r"(?i)https://APP\.Example\.COM"), ["example.com"]);
        assert_eq!(of(r"https://app[.]example[.]org"), ["example.org"]);
        assert!(of(r"https://example\.[a-z]{2,}").is_empty());
        assert!(of(r"https://[a-z.]+com").is_empty());
        assert!(of(r"https://.*:(8443|9443)").is_empty());
        assert!(of(r"https://10\.0\.0\.1").is_empty());
        assert!(of(r"http://localhost:[0-9]+").is_empty());
    }

    #[test]
    fn expansions_are_bounded() {
        let many = format!("https://{}", "(aa|bb|cc|dd)".repeat(8));
        let hir = crate::origin::regex::parse(&many).unwrap().hir;
        assert!(candidates(&hir).is_err());
    }
}
