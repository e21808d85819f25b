//! The preflight verdict cache: a fixed table of seqlock-protected slots, one per generation.
//!
//! - **Keyed by raw bytes**: the requested method, the single `Access-Control-Request-Headers`
//!   line (browsers send one, lowercase, sorted) and the private-network flag. Requests with a
//!   method over [`MAX_METHOD_LEN`] bytes, a header line over [`MAX_HEADERS_LEN`] bytes, or several
//!   header lines are not cached.
//! - **Bounded**: [`CAPACITY`] slots (or [`SMALL_CAPACITY`] for each policy of a set of more
//!   than [`LARGE_SETS_FROM`] policies) allocated on the policy's first preflight; nothing is
//!   allocated, and the table never grows, afterwards.
//! - **Lock-free**: a reader loads a slot's sequence number, compares its words with the
//!   request's bytes, and loads the sequence again; a torn read is a miss. A writer claims a
//!   slot with one compare-and-swap and gives up if another writer holds it. Readers never write on a hit, except once to set the slot's
//!   reference bit.
//! - **Flood-proof**: an insert into an occupied slot whose entry was hit since the last
//!   insert attempt only clears the reference bit (a second chance, as in CLOCK), so a stream of
//!   distinct hostile preflights can neither grow the table nor easily evict the entries real
//!   browsers keep hitting; an uncached decision costs the same with or without the flood.
//! - **Never stale**: the cache belongs to one compiled generation; a reload starts empty.

use std::sync::atomic::{fence, AtomicU64, Ordering};

use super::{PreflightDenial, Verdict};

/// Slots per policy.
pub(crate) const CAPACITY: usize = 512;
/// Slots per policy in a set of more than [`LARGE_SETS_FROM`] policies: 10,000 tenant
/// policies that all see preflights then hold 10,000 × 32 slots (about 47 MiB), not
/// 10,000 × 512 (about 750 MiB, measured). A browser sends a handful of distinct preflights
/// per page; 32 slots with second-chance replacement hold them.
pub(crate) const SMALL_CAPACITY: usize = 32;
/// Sets with more policies than this give each the small cache.
pub(crate) const LARGE_SETS_FROM: usize = 64;
const METHOD_WORDS: usize = 2;
const HEADER_WORDS: usize = 14;
const KEY_WORDS: usize = METHOD_WORDS + HEADER_WORDS;
/// Longest cacheable requested method.
pub(crate) const MAX_METHOD_LEN: usize = METHOD_WORDS * 8;
/// Longest cacheable `Access-Control-Request-Headers` line.
pub(crate) const MAX_HEADERS_LEN: usize = HEADER_WORDS * 8;

// meta: bits 0..8 method length, 8..16 header-line length, 16..18 flags, 18..26 verdict code
// (0 = empty), bit 26 referenced, 27..64 tag.
const CODE_SHIFT: u32 = 18;
const REFERENCED: u64 = 1 << 26;
const TAG_SHIFT: u32 = 27;
const SHAPE_MASK: u64 = (1 << 18) - 1;

#[derive(Debug, Default)]
struct Slot {
    seq: AtomicU64,
    meta: AtomicU64,
    /// The method in the first two words, the header line in the rest, each zero-padded.
    words: [AtomicU64; KEY_WORDS],
}

/// The slot index and tag: a randomly seeded mix of the key's lengths, flags, method and the
/// first and last eight bytes of the header line. Cheaper than a full hash by about a hash
/// lookup, which is most of a warm preflight's budget. Safe because every hit is verified word
/// for word: colliding keys only miss, never share a verdict; with the seed unknown, an
/// attacker cannot aim collisions at a slot, and the table never grows either way.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Seed([u64; 3]);

impl Seed {
    fn random() -> Seed {
        let state = ahash::RandomState::new();
        Seed([
            state.hash_one(1u8),
            state.hash_one(2u8),
            state.hash_one(3u8),
        ])
    }
}

fn load8(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(w)
}

fn load4(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&bytes[at..at + 4]);
    u64::from(u32::from_le_bytes(w))
}

fn load2(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 2];
    w.copy_from_slice(&bytes[at..at + 2]);
    u64::from(u16::from_le_bytes(w))
}

/// Word `i` of `bytes`, zero-padded past the end, with fixed-size loads only: a partial last
/// word is an overlapping load shifted into place, or two overlapping smaller loads (per-byte
/// loops and variable-length copies here cost more than the rest of a cache lookup).
#[inline]
fn word(bytes: &[u8], i: usize) -> u64 {
    let start = i * 8;
    let len = bytes.len();
    if len >= start + 8 {
        return load8(bytes, start);
    }
    if start >= len {
        return 0;
    }
    let rem = len - start; // 1..=7
    if len >= 8 {
        return load8(bytes, len - 8) >> ((8 - rem) * 8);
    }
    // The whole slice is shorter than a word (so `start` is 0): OR two overlapping loads; the
    // bytes they share are the same.
    match len {
        4..=7 => load4(bytes, 0) | (load4(bytes, len - 4) << ((len - 4) * 8)),
        2..=3 => load2(bytes, 0) | (load2(bytes, len - 2) << ((len - 2) * 8)),
        _ => u64::from(bytes[0]),
    }
}

#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let m = u128::from(a).wrapping_mul(u128::from(b));
    (m as u64) ^ ((m >> 64) as u64)
}

/// A cache key: the requested method and header line, borrowed, their shape (lengths and
/// flags) and mix. The flags tell an absent header line from an empty one and carry the
/// private-network request.
pub(crate) struct Key<'a> {
    method: &'a [u8],
    headers: &'a [u8],
    shape: u64,
    hash: u64,
}

impl<'a> Key<'a> {
    /// The key, or `None` when it does not fit a slot.
    #[inline]
    pub(crate) fn new(
        seed: &Seed,
        method: &'a [u8],
        request_headers: Option<&'a [u8]>,
        private_network: bool,
    ) -> Option<Key<'a>> {
        let headers = request_headers.unwrap_or_default();
        if method.len() > MAX_METHOD_LEN || headers.len() > MAX_HEADERS_LEN {
            return None;
        }
        let flags = u64::from(private_network) | (u64::from(request_headers.is_some()) << 1);
        let shape = method.len() as u64 | (headers.len() as u64) << 8 | flags << 16;
        let last = headers.len().saturating_sub(1) / 8;
        let hash = fold(
            word(method, 0) ^ seed.0[0] ^ shape,
            fold(
                word(headers, 0) ^ seed.0[1],
                word(headers, last) ^ seed.0[2],
            ),
        );
        Some(Key {
            method,
            headers,
            shape,
            hash,
        })
    }

    fn tag(&self) -> u64 {
        self.hash >> TAG_SHIFT
    }

    /// Word `i` of the slot layout: the method in the first [`METHOD_WORDS`], the header line
    /// after them, each zero-padded.
    #[inline]
    fn word(&self, i: usize) -> u64 {
        if i < METHOD_WORDS {
            word(self.method, i)
        } else {
            word(self.headers, i - METHOD_WORDS)
        }
    }

    /// Compares a slot's words with the key, reading them with `load`, up to the key's
    /// lengths (the caller has compared the lengths, in the shape, already).
    #[inline]
    fn matches(&self, load: impl Fn(usize) -> u64) -> bool {
        (0..self.method.len().div_ceil(8)).all(|i| load(i) == self.word(i))
            && (0..self.headers.len().div_ceil(8))
                .all(|i| load(METHOD_WORDS + i) == self.word(METHOD_WORDS + i))
    }
}

/// A slot's meta word holds a verdict (code 0 is an empty slot).
fn occupied(meta: u64) -> bool {
    (meta >> CODE_SHIFT) & 0xff != 0
}

fn encode(verdict: Verdict) -> u64 {
    match verdict {
        Verdict::Allowed {
            headers_requested: false,
        } => 1,
        Verdict::Allowed {
            headers_requested: true,
        } => 2,
        Verdict::Denied(denial) => 3 + denial as u64,
    }
}

fn decode(code: u64) -> Option<Verdict> {
    match code {
        0 => None,
        1 => Some(Verdict::Allowed {
            headers_requested: false,
        }),
        2 => Some(Verdict::Allowed {
            headers_requested: true,
        }),
        n => PreflightDenial::from_code((n - 3) as u8).map(Verdict::Denied),
    }
}

/// See the module documentation.
pub(crate) struct VerdictCache {
    seed: Seed,
    slots: Box<[Slot]>,
}

impl std::fmt::Debug for VerdictCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerdictCache")
            .field("capacity", &self.slots.len())
            .field("len", &self.len())
            .finish()
    }
}

impl VerdictCache {
    /// `capacity` is a power of two.
    pub(crate) fn new(capacity: usize) -> VerdictCache {
        debug_assert!(capacity.is_power_of_two());
        VerdictCache {
            seed: Seed::random(),
            slots: (0..capacity).map(|_| Slot::default()).collect(),
        }
    }

    /// Slots.
    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn seed(&self) -> &Seed {
        &self.seed
    }

    #[inline]
    fn slot(&self, key: &Key<'_>) -> &Slot {
        &self.slots[(key.hash as usize) & (self.slots.len() - 1)]
    }

    #[inline]
    pub(crate) fn get(&self, key: &Key<'_>) -> Option<Verdict> {
        let slot = self.slot(key);
        let seq = slot.seq.load(Ordering::Acquire);
        if seq & 1 == 1 {
            return None;
        }
        let meta = slot.meta.load(Ordering::Relaxed);
        if meta & SHAPE_MASK != key.shape || meta >> TAG_SHIFT != key.tag() {
            return None;
        }
        if !key.matches(|i| slot.words[i].load(Ordering::Relaxed)) {
            return None;
        }
        fence(Ordering::Acquire);
        if slot.seq.load(Ordering::Relaxed) != seq {
            return None;
        }
        let verdict = decode((meta >> CODE_SHIFT) & 0xff)?;
        if meta & REFERENCED == 0 {
            slot.meta.fetch_or(REFERENCED, Ordering::Relaxed);
        }
        Some(verdict)
    }

    #[inline]
    pub(crate) fn insert(&self, key: &Key<'_>, verdict: Verdict) {
        let slot = self.slot(key);
        let seq = slot.seq.load(Ordering::Relaxed);
        if seq & 1 == 1
            || slot
                .seq
                .compare_exchange(seq, seq + 1, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return; // another writer holds the slot: skip, never wait
        }
        fence(Ordering::Release);
        let meta = slot.meta.load(Ordering::Relaxed);
        if occupied(meta) && meta & REFERENCED != 0 {
            // Second chance: the entry was used since the last attempt to replace it.
            slot.meta.store(meta & !REFERENCED, Ordering::Relaxed);
        } else {
            for (i, stored) in slot.words.iter().enumerate() {
                stored.store(key.word(i), Ordering::Relaxed);
            }
            let meta = key.shape | (encode(verdict) << CODE_SHIFT) | (key.tag() << TAG_SHIFT);
            slot.meta.store(meta, Ordering::Relaxed);
        }
        slot.seq.store(seq + 2, Ordering::Release);
    }

    /// Occupied slots.
    pub(crate) fn len(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| occupied(s.meta.load(Ordering::Relaxed)))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_zero_padded_little_endian() {
        let bytes: Vec<u8> = (1..=23).collect();
        for len in 0..=23 {
            let slice = &bytes[..len];
            for i in 0..4 {
                let mut expected = [0u8; 8];
                for (j, e) in expected.iter_mut().enumerate() {
                    if let Some(b) = slice.get(i * 8 + j) {
                        *e = *b;
                    }
                }
                assert_eq!(
                    word(slice, i),
                    u64::from_le_bytes(expected),
                    "len {len}, word {i}"
                );
            }
        }
    }

    #[test]
    fn hit_miss_and_bound() {
        let cache = VerdictCache::new(CAPACITY);
        fn key<'a>(cache: &VerdictCache, m: &'a [u8], h: &'a [u8]) -> Key<'a> {
            Key::new(cache.seed(), m, Some(h), false).unwrap()
        }
        let allowed = Verdict::Allowed {
            headers_requested: true,
        };
        assert_eq!(cache.get(&key(&cache, b"PUT", b"x-a")), None);
        cache.insert(&key(&cache, b"PUT", b"x-a"), allowed);
        assert_eq!(cache.get(&key(&cache, b"PUT", b"x-a")), Some(allowed));
        assert_eq!(cache.get(&key(&cache, b"PUT", b"x-b")), None);
        assert_eq!(cache.get(&key(&cache, b"PU", b"Tx-a")), None);
        let denied = Verdict::Denied(PreflightDenial::HeaderNotAllowed);
        for i in 0..10_000 {
            let line = format!("x-{i}");
            cache.insert(&key(&cache, b"PUT", line.as_bytes()), denied);
        }
        assert!(cache.len() <= CAPACITY);
        assert!(Key::new(
            cache.seed(),
            b"PUT",
            Some(&[b'a'; MAX_HEADERS_LEN + 1]),
            false
        )
        .is_none());
        assert!(Key::new(cache.seed(), &[b'M'; MAX_METHOD_LEN + 1], None, false).is_none());
        assert!(Key::new(cache.seed(), b"PUT", Some(&[b'a'; MAX_HEADERS_LEN]), false).is_some());
        // Absent and empty header lines are different keys for lookups too.
        let fresh = VerdictCache::new(CAPACITY);
        let get = Verdict::Allowed {
            headers_requested: false,
        };
        fresh.insert(&Key::new(fresh.seed(), b"GET", None, false).unwrap(), get);
        assert_eq!(
            fresh.get(&Key::new(fresh.seed(), b"GET", Some(b""), false).unwrap()),
            None
        );
        assert_eq!(
            fresh.get(&Key::new(fresh.seed(), b"GET", None, false).unwrap()),
            Some(get)
        );
    }
}
