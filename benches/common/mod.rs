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
