//! Rendered header values with a `'static` lifetime, so that putting one into a response
//! copies two pointers instead of touching a reference count that every core shares.
//!
//! A `HeaderValue` built at run time keeps its bytes behind an atomic reference count; every
//! response that carries it increments and decrements that count, and on a many-core gateway
//! all cores write the same cache line for every response. A `HeaderValue::from_static` clone
//! touches no shared memory. So each distinct value a policy renders (the `Access-Control-*`
//! lists, the max-age, ...) is stored once for the life of the process, shared by every
//! generation that renders the same text; reloading a policy with the same values stores
//! nothing new.
//!
//! The store is bounded: past [`LIMIT_BYTES`] of distinct values (a process that reloads
//! ever-changing header lists), new values fall back to reference-counted `HeaderValue`s,
//! which behave identically and only cost the shared counter. The lock is taken when a policy
//! is compiled, never on the request path.

use std::collections::BTreeSet;
use std::sync::Mutex;

/// At most this many bytes of distinct values are kept for the life of the process.
pub(crate) const LIMIT_BYTES: usize = 1 << 20;

struct Store {
    values: BTreeSet<&'static str>,
    bytes: usize,
}

static STORE: Mutex<Store> = Mutex::new(Store {
    values: BTreeSet::new(),
    bytes: 0,
});

/// `value` as a `'static` string: the stored copy if there is one, a new stored copy if the
/// store has room, `None` if it is full.
pub(crate) fn intern(value: &str) -> Option<&'static str> {
    // A panic while holding the lock cannot leave the set inconsistent (insert is the last
    // step), so a poisoned lock is still usable.
    let mut store = STORE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(stored) = store.values.get(value) {
        return Some(stored);
    }
    if store.bytes + value.len() > LIMIT_BYTES {
        return None;
    }
    let stored: &'static str = Box::leak(value.to_owned().into_boxed_str());
    store.bytes += stored.len();
    store.values.insert(stored);
    Some(stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_text_is_stored_once() {
        let a = intern("x-interned-test-value").map(str::as_ptr);
        let b = intern(&String::from("x-interned-test-value")).map(str::as_ptr);
        assert!(a.is_some());
        assert_eq!(a, b);
    }

    #[test]
    fn a_full_store_declines_new_values() {
        let big = "a".repeat(LIMIT_BYTES + 1);
        assert_eq!(intern(&big), None);
    }
}
