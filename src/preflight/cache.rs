//! The preflight verdict cache: a fixed table of seqlock-protected slots, one per generation.
//!
//! - **Keyed by raw bytes**: the requested method, the single `Access-Control-Request-Headers`
//!   line (browsers send one, lowercase, sorted) and the private-network flag. Requests whose key
//!   is longer than [`MAX_KEY_LEN`], or with several header lines, are not cached.
//! - **Bounded**: [`CAPACITY`] slots allocated when the generation is compiled; nothing is
//!   allocated, and the table never grows, afterwards.
//! - **Lock-free**: a reader loads a slot's sequence number, its words and the sequence again;
//!   a torn read is a miss. A writer claims a slot with one compare-and-swap and gives up if
//!   another writer holds it. Readers never write on a hit, except once to set the slot's
//!   reference bit.
//! - **Flood-proof**: an insert into an occupied slot whose entry was hit since the last
//!   insert attempt only clears the reference bit (a second chance, as in CLOCK), so a stream of
//!   distinct hostile preflights can neither grow the table nor easily evict the entries real
//!   browsers keep hitting; an uncached decision costs the same with or without the flood.
//! - **Never stale**: the cache belongs to one compiled generation; a reload starts empty.

use std::sync::atomic::{fence, AtomicU64, Ordering};

use super::{PreflightDenial, Verdict};

/// Slots per generation.
pub const CAPACITY: usize = 512;
const KEY_WORDS: usize = 16;
/// Longest cacheable key: method length byte, method, header line, flag byte.
pub const MAX_KEY_LEN: usize = KEY_WORDS * 8;

// meta: bits 0..8 key length, 8..16 verdict code (0 = empty), bit 16 referenced, 17..64 tag.
const LEN_MASK: u64 = 0xff;
const CODE_SHIFT: u32 = 8;
const REFERENCED: u64 = 1 << 16;
const TAG_SHIFT: u32 = 17;

#[derive(Debug, Default)]
struct Slot {
    seq: AtomicU64,
    meta: AtomicU64,
    words: [AtomicU64; KEY_WORDS],
}

/// A cache key, packed into words on the stack.
pub(crate) struct Key {
    words: [u64; KEY_WORDS],
    len: usize,
    hash: u64,
}

impl Key {
    /// Builds the key, or `None` when it does not fit.
    #[inline]
    pub(crate) fn new(
        state: &ahash::RandomState,
        method: &[u8],
        request_headers: Option<&[u8]>,
        private_network: bool,
    ) -> Option<Key> {
        let headers = request_headers.unwrap_or_default();
        // The length prefix keeps method and headers apart; `request_headers: None` and an
        // empty line differ in the final byte.
        let len = 1 + method.len() + headers.len() + 1;
        if len > MAX_KEY_LEN || method.len() > 255 {
            return None;
        }
        let mut bytes = [0u8; MAX_KEY_LEN];
        bytes[0] = method.len() as u8;
        bytes[1..1 + method.len()].copy_from_slice(method);
        bytes[1 + method.len()..len - 1].copy_from_slice(headers);
        bytes[len - 1] = u8::from(private_network) | (u8::from(request_headers.is_some()) << 1);
        let mut words = [0u64; KEY_WORDS];
        for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            *word = u64::from_le_bytes(b);
        }
        let hash = state.hash_one(&bytes[..len]);
        Some(Key { words, len, hash })
    }

    fn word_count(&self) -> usize {
        self.len.div_ceil(8)
    }

    fn tag(&self) -> u64 {
        self.hash >> TAG_SHIFT
    }
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
    state: ahash::RandomState,
    slots: Box<[Slot]>,
}

impl std::fmt::Debug for VerdictCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerdictCache")
            .field("capacity", &CAPACITY)
            .field("len", &self.len())
            .finish()
    }
}

impl VerdictCache {
    pub(crate) fn new() -> VerdictCache {
        VerdictCache {
            state: ahash::RandomState::new(),
            slots: (0..CAPACITY).map(|_| Slot::default()).collect(),
        }
    }

    pub(crate) fn hasher(&self) -> &ahash::RandomState {
        &self.state
    }

    #[inline]
    fn slot(&self, key: &Key) -> &Slot {
        &self.slots[(key.hash as usize) & (CAPACITY - 1)]
    }

    #[inline]
    pub(crate) fn get(&self, key: &Key) -> Option<Verdict> {
        let slot = self.slot(key);
        let seq = slot.seq.load(Ordering::Acquire);
        if seq & 1 == 1 {
            return None;
        }
        let meta = slot.meta.load(Ordering::Relaxed);
        if (meta & LEN_MASK) as usize != key.len || meta >> TAG_SHIFT != key.tag() {
            return None;
        }
        for i in 0..key.word_count() {
            if slot.words[i].load(Ordering::Relaxed) != key.words[i] {
                return None;
            }
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
    pub(crate) fn insert(&self, key: &Key, verdict: Verdict) {
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
        let occupied = (meta >> CODE_SHIFT) & 0xff != 0;
        if occupied && meta & REFERENCED != 0 {
            // Second chance: the entry was used since the last attempt to replace it.
            slot.meta.store(meta & !REFERENCED, Ordering::Relaxed);
        } else {
            for i in 0..KEY_WORDS {
                slot.words[i].store(key.words[i], Ordering::Relaxed);
            }
            let meta = key.len as u64 | (encode(verdict) << CODE_SHIFT) | (key.tag() << TAG_SHIFT);
            slot.meta.store(meta, Ordering::Relaxed);
        }
        slot.seq.store(seq + 2, Ordering::Release);
    }

    /// Occupied slots.
    pub(crate) fn len(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| (s.meta.load(Ordering::Relaxed) >> CODE_SHIFT) & 0xff != 0)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hit_miss_and_bound() {
        let cache = VerdictCache::new();
        let key = |m: &[u8], h: &[u8]| Key::new(cache.hasher(), m, Some(h), false).unwrap();
        let allowed = Verdict::Allowed {
            headers_requested: true,
        };
        assert_eq!(cache.get(&key(b"PUT", b"x-a")), None);
        cache.insert(&key(b"PUT", b"x-a"), allowed);
        assert_eq!(cache.get(&key(b"PUT", b"x-a")), Some(allowed));
        assert_eq!(cache.get(&key(b"PUT", b"x-b")), None);
        assert_eq!(cache.get(&key(b"PU", b"Tx-a")), None);
        let denied = Verdict::Denied(PreflightDenial::HeaderNotAllowed);
        for i in 0..10_000 {
            cache.insert(&key(b"PUT", format!("x-{i}").as_bytes()), denied);
        }
        assert!(cache.len() <= CAPACITY);
        assert!(Key::new(cache.hasher(), b"PUT", Some(&[b'a'; MAX_KEY_LEN]), false).is_none());
        assert_ne!(
            Key::new(cache.hasher(), b"PUT", None, false).unwrap().words,
            Key::new(cache.hasher(), b"PUT", Some(b""), false)
                .unwrap()
                .words
        );
    }
}
