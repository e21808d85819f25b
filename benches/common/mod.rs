//! Shared by the benchmarks: allowlists of every size, and the floor every CORS check is
//! measured against — a bare `ahash` lookup of the same Origin bytes.

#![allow(dead_code)]

use ahash::AHashMap;

/// `https://app{i}.tenant{i % 97}.example.com`, for `i` in `0..n`.
pub fn exact_origins(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("https://app{i}.tenant{}.example.com", i % 97))
        .collect()
}

/// `https://*.tenant{i}.example.com`, for `i` in `0..n`.
pub fn wildcards(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("https://*.tenant{i}.example.com"))
        .collect()
}

/// `regex:https://pr-[0-9]+\.r{i}\.example\.net`, for `i` in `0..n`.
pub fn regexes(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!(r"regex:https://pr-[0-9]+\.r{i}\.example\.net"))
        .collect()
}

/// The floor: a hash table of the origins' bytes, as a hand-written gateway would keep.
pub struct Floor(AHashMap<Box<[u8]>, u32>);

impl Floor {
    pub fn new(origins: &[String]) -> Floor {
        Floor(
            origins
                .iter()
                .enumerate()
                .map(|(i, o)| (o.as_bytes().into(), i as u32))
                .collect(),
        )
    }

    #[inline]
    pub fn get(&self, origin: &[u8]) -> Option<u32> {
        self.0.get(origin).copied()
    }
}

/// Regex entries of three shapes, cycled: a PR-preview host, service names with an optional
/// port, a tenant label. Every one is proven with credentials.
pub fn mixed_regexes(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| match i % 3 {
            0 => format!(r"regex:https://pr-[0-9]+\.r{i}\.example\.net"),
            1 => format!(r"regex:https://(app|api|www)\.t{i}\.example\.com(:[0-9]{{2,5}})?"),
            _ => format!(r"regex:https://[a-z0-9-]+\.s{i}\.example\.org"),
        })
        .collect()
}

/// Regex entries that all loop over labels: `https://([a-z0-9-]+\.)*t{i}\.example\.com`. A lazy
/// DFA over a thousand of them costs milliseconds per hostile Origin; one dense DFA over them
/// all takes tens of seconds to build.
pub fn loop_regexes(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!(r"regex:https://([a-z0-9-]+\.)*t{i}\.example\.com"))
        .collect()
}

/// A small deterministic generator for hostile inputs.
pub struct Xorshift(pub u64);

impl Xorshift {
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Distinct Origins that walk deep into many of `n` regex entries (of `mixed_regexes` and
/// `loop_regexes`) before they miss: long labels of their characters, their literal parts cut
/// short or bent, odd ports.
pub fn hostile_origins(n: usize, count: usize) -> Vec<String> {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-";
    let mut rng = Xorshift(0x2545_f491_4f6c_dd1d);
    (0..count)
        .map(|_| {
            let mut host = String::new();
            for l in 0..1 + rng.below(4) {
                if l > 0 {
                    host.push('.');
                }
                for _ in 0..1 + rng.below(60) {
                    host.push(char::from(CHARS[rng.below(CHARS.len() - 1)]));
                }
            }
            let i = rng.below(n);
            host.push_str(&match rng.below(6) {
                0 => format!(".r{i}.example.ne"),
                1 => format!(".t{i}.example.co"),
                2 => format!(".s{i}x.example.org"),
                3 => format!(".t{i}.example.com.{}", rng.below(1000)),
                4 => format!(".pr-{i}.r{i}.example"),
                // Now and then a hit, for a mixed family whose entry `i` has this shape.
                _ => format!(".s{i}.example.org"),
            });
            match rng.below(3) {
                0 => format!("https://{host}"),
                1 => format!("https://{host}:{}", 1 + rng.below(65535)),
                _ => format!("http://{host}"),
            }
        })
        .collect()
}
