//! Strings a regex entry matches, drawn at random from its parsed form: the brute-force side
//! of the proof's fuzz check, and request origins for `FromEntry` in the other targets.
//!
//! Each class yields one of its bytes (often one that matters to origins: a letter, a digit,
//! `.`, `-`, `:`, `/`), each repetition a small count, each alternation one branch. The
//! strings come from the ASCII form the engine compiles, so they are ASCII.

use regex_syntax::hir::{Class, Hir, HirKind};

/// A small deterministic generator (xorshift), so that samples are reproducible from a seed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (any value).
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15 | 1)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        if n == 0 {
            0
        } else {
            (self.0 % n as u64) as usize
        }
    }
}

/// Bytes worth trying first when a class allows them.
const INTERESTING: &[u8] = b"aex0179.-:/_[]z";
/// Longest sample.
const MAX_LEN: usize = 300;

fn class_byte(class: &Class, rng: &mut Rng) -> Option<u8> {
    let ranges: Vec<(u8, u8)> = match class {
        Class::Bytes(b) => b.ranges().iter().map(|r| (r.start(), r.end())).collect(),
        Class::Unicode(u) => u
            .ranges()
            .iter()
            .filter(|r| r.start().is_ascii())
            .map(|r| (r.start() as u8, r.end().min('\x7f') as u8))
            .collect(),
    };
    if ranges.is_empty() {
        return None;
    }
    let contains = |b: u8| ranges.iter().any(|&(s, e)| s <= b && b <= e);
    if rng.below(3) > 0 {
        let start = rng.below(INTERESTING.len());
        for i in 0..INTERESTING.len() {
            let b = INTERESTING[(start + i) % INTERESTING.len()];
            if contains(b) && rng.below(2) == 0 {
                return Some(b);
            }
        }
    }
    let (s, e) = ranges[rng.below(ranges.len())];
    Some(s + rng.below(usize::from(e - s) + 1) as u8)
}

fn generate(hir: &Hir, rng: &mut Rng, out: &mut Vec<u8>) -> bool {
    if out.len() > MAX_LEN {
        return false;
    }
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => true,
        HirKind::Literal(lit) => {
            out.extend_from_slice(&lit.0);
            true
        }
        HirKind::Class(class) => match class_byte(class, rng) {
            Some(b) => {
                out.push(b);
                true
            }
            None => false,
        },
        HirKind::Repetition(rep) => {
            let spread = rep.max.map_or(6, |max| (max - rep.min).min(6)) as usize;
            let count = rep.min as usize + rng.below(spread + 1);
            (0..count.min(MAX_LEN)).all(|_| generate(&rep.sub, rng, out))
        }
        HirKind::Capture(cap) => generate(&cap.sub, rng, out),
        HirKind::Concat(subs) => subs.iter().all(|sub| generate(sub, rng, out)),
        HirKind::Alternation(subs) => generate(&subs[rng.below(subs.len())], rng, out),
    }
}

/// A string the regex entry `source` matches (its ASCII form), or `None` when the draw failed
/// (a class with no ASCII member, or too long) or the pattern does not parse.
pub fn sample(source: &str, rng: &mut Rng) -> Option<String> {
    let hir = crate::origin::regex::parse(source).ok()?.hir;
    sample_hir(&hir, rng)
}

/// Like [`sample`], from a parsed pattern.
pub(crate) fn sample_hir(hir: &Hir, rng: &mut Rng) -> Option<String> {
    let mut out = Vec::new();
    if !generate(hir, rng, &mut out) || out.len() > MAX_LEN {
        return None;
    }
    String::from_utf8(out).ok()
}
