//! Counters of what the engine decided, kept per thread and summed when read: decisions by
//! policy, kind and outcome, denials by policy and reason, verdict-cache lookups, reloads by
//! outcome, the serving generation and the time of the last successful reload; and
//! [`Disagreements`] between the serving policy and a second one. [`crate::Cors::metrics`]
//! reads them as a [`MetricsSnapshot`]; with feature `metrics`, `Collector` exports them to a
//! `prometheus-client` registry under the names of design §9.
//!
//! What a decision costs here: each thread owns a cache-padded block of counters, which only
//! it writes (a relaxed load and store, no read-modify-write, no shared cache line); a reader
//! sums every thread's block. A policy's counters are found by a slot number the policy's name
//! was given when a generation was compiled: a name keeps its slot across reloads, so its
//! counters survive them. Blocks of 64 slots are allocated per thread on the first decision of
//! a policy in that block (a thread's table of blocks, allocated on its first decision, is
//! 2,048 entries).
//!
//! Only policies that saw traffic produce rows, and only counters above zero produce samples:
//! a policy produces at most 5 decision series (`none` is never denied) and at most 16 denial
//! series, so 10,000 policies that all saw traffic produce at most 210,000 policy series, and
//! typically (actual and preflight, allowed and denied, one reason) about 50,000.
//!
//! Requests on an `off` route are counted under policy `off`, kind `none`, outcome `allowed`.

mod disagreements;
#[cfg(feature = "metrics")]
mod export;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::generation::CacheLookup;
use crate::verdict::{DecisionKind, DenyReason};

pub use disagreements::{Difference, Disagreements};
#[cfg(feature = "metrics")]
pub use export::{Collector, MetricsSource};

/// How many distinct policy names get their own counters over the life of a [`crate::Cors`]
/// (names survive reloads, so this counts every name ever served). Decisions of policies
/// named after this many others are not counted per policy.
pub const MAX_COUNTED_POLICIES: usize = 131_072;

/// Slots allocated together in a thread's block.
const SLOTS_PER_CHUNK: usize = 64;

const CHUNKS: usize = MAX_COUNTED_POLICIES / SLOTS_PER_CHUNK;

/// A slot number that counts nothing.
pub(crate) const NO_SLOT: u32 = u32::MAX;

/// Decision counters first (kind × outcome), then one per denial reason.
const DECISION_COUNTERS: usize = 6;
const ROW: usize = DECISION_COUNTERS + DenyReason::KIND_COUNT;

type Row = [AtomicU64; ROW];

/// The kinds, in the counters' order.
const KINDS: [DecisionKind; 3] = [
    DecisionKind::NotCors,
    DecisionKind::Actual,
    DecisionKind::Preflight,
];

/// How a reload attempt ended, as counted in `corsgate_reloads_total{outcome}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReloadResult {
    /// A policy was compiled and is serving (or was already: an unchanged reload is `ok`).
    Ok,
    /// The policy failed to parse or validate.
    Invalid,
    /// The policy could not be read (or the reload panicked).
    Error,
    /// The reload ran past its time limit.
    Timeout,
}

impl ReloadResult {
    /// Every result, in a stable order.
    pub const ALL: [ReloadResult; 4] = [
        ReloadResult::Ok,
        ReloadResult::Invalid,
        ReloadResult::Error,
        ReloadResult::Timeout,
    ];

    /// `ok`, `invalid`, `error` or `timeout`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ReloadResult::Ok => "ok",
            ReloadResult::Invalid => "invalid",
            ReloadResult::Error => "error",
            ReloadResult::Timeout => "timeout",
        }
    }
}

/// Policy names → slot numbers. Only reloads (and the first compile) take its lock.
#[derive(Debug, Default)]
pub(crate) struct Names {
    inner: Mutex<NamesInner>,
}

#[derive(Debug, Default)]
struct NamesInner {
    slots: HashMap<String, u32>,
    names: Vec<String>,
}

impl Names {
    /// The slot of `name`, given one if it has none yet ([`NO_SLOT`] past the limit).
    pub(crate) fn slot(&self, name: &str) -> u32 {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&slot) = inner.slots.get(name) {
            return slot;
        }
        if inner.names.len() >= MAX_COUNTED_POLICIES {
            return NO_SLOT;
        }
        let slot = inner.names.len() as u32;
        inner.names.push(name.to_owned());
        inner.slots.insert(name.to_owned(), slot);
        slot
    }

    fn names(&self) -> Vec<String> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .names
            .clone()
    }
}

/// One thread's counters. Only the owning thread writes them.
#[derive(Debug)]
pub(crate) struct ThreadCounters {
    cache: [AtomicU64; 2],
    chunks: Box<[OnceLock<Box<[Row]>>]>,
}

#[inline(always)]
fn bump(counter: &AtomicU64) {
    // The owner is the only writer: a load and a store, no locked read-modify-write.
    counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

impl ThreadCounters {
    pub(crate) fn new() -> ThreadCounters {
        ThreadCounters {
            cache: [AtomicU64::new(0), AtomicU64::new(0)],
            chunks: (0..CHUNKS).map(|_| OnceLock::new()).collect(),
        }
    }

    #[inline]
    fn row(&self, slot: u32) -> Option<&Row> {
        let slot = slot as usize;
        let chunk = self.chunks.get(slot / SLOTS_PER_CHUNK)?;
        let rows = chunk.get_or_init(|| {
            (0..SLOTS_PER_CHUNK)
                .map(|_| std::array::from_fn(|_| AtomicU64::new(0)))
                .collect()
        });
        rows.get(slot % SLOTS_PER_CHUNK)
    }

    /// Counts one decision. `denial` is the classified reason of a denied one.
    #[inline]
    pub(crate) fn count(
        &self,
        slot: u32,
        kind: DecisionKind,
        denial: Option<DenyReason>,
        cache: CacheLookup,
    ) {
        match cache {
            CacheLookup::None => {}
            CacheLookup::Hit => bump(&self.cache[0]),
            CacheLookup::Miss => bump(&self.cache[1]),
        }
        let Some(row) = self.row(slot) else { return };
        let kind = kind as usize;
        match denial {
            None => bump(&row[kind * 2]),
            Some(reason) => {
                bump(&row[kind * 2 + 1]);
                bump(&row[DECISION_COUNTERS + reason.kind_index()]);
            }
        }
    }
}

/// Sums every thread's counters.
pub(crate) fn snapshot<'a>(
    names: &Names,
    threads: impl Iterator<Item = &'a ThreadCounters>,
    reloads: &[AtomicU64; 4],
    generation: u64,
    last_reload_success: f64,
) -> MetricsSnapshot {
    let names = names.names();
    let mut sums = vec![[0u64; ROW]; names.len()];
    let mut cache = [0u64; 2];
    for thread in threads {
        for (i, total) in cache.iter_mut().enumerate() {
            *total += thread.cache[i].load(Ordering::Relaxed);
        }
        for (c, chunk) in thread.chunks.iter().enumerate() {
            let Some(rows) = chunk.get() else { continue };
            for (r, row) in rows.iter().enumerate() {
                let Some(sum) = sums.get_mut(c * SLOTS_PER_CHUNK + r) else {
                    continue;
                };
                for (total, counter) in sum.iter_mut().zip(row) {
                    *total += counter.load(Ordering::Relaxed);
                }
            }
        }
    }
    let policies = names
        .into_iter()
        .zip(sums)
        .filter(|(_, sum)| sum.iter().any(|&n| n > 0))
        .map(|(name, sum)| PolicyCounts {
            name,
            decisions: std::array::from_fn(|k| [sum[k * 2], sum[k * 2 + 1]]),
            denials: std::array::from_fn(|r| sum[DECISION_COUNTERS + r]),
        })
        .collect();
    MetricsSnapshot {
        policies,
        cache_hits: cache[0],
        cache_misses: cache[1],
        reloads: std::array::from_fn(|i| reloads[i].load(Ordering::Relaxed)),
        generation,
        last_reload_success,
    }
}

/// The engine's counters at one moment, summed over every thread: see [`crate::Cors::metrics`].
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsSnapshot {
    policies: Vec<PolicyCounts>,
    cache_hits: u64,
    cache_misses: u64,
    reloads: [u64; 4],
    generation: u64,
    last_reload_success: f64,
}

/// One policy's counters (only policies that decided at least one request have one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyCounts {
    name: String,
    /// `[kind][0 allowed, 1 denied]`, kinds in [`KINDS`]'s order.
    decisions: [[u64; 2]; 3],
    denials: [u64; DenyReason::KIND_COUNT],
}

impl PolicyCounts {
    /// The policy's name (`off` for requests on `off` routes).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Decisions of this kind that were allowed (`true`) or denied (`false`).
    pub fn decisions(&self, kind: DecisionKind, allowed: bool) -> u64 {
        self.decisions[kind as usize][usize::from(!allowed)]
    }

    /// Every (kind, allowed, count) with a count above zero.
    pub fn decision_counts(&self) -> impl Iterator<Item = (DecisionKind, bool, u64)> + '_ {
        KINDS.iter().flat_map(move |&kind| {
            [true, false]
                .into_iter()
                .map(move |allowed| (kind, allowed, self.decisions(kind, allowed)))
                .filter(|&(_, _, n)| n > 0)
        })
    }

    /// Denials for the reason named `reason` ([`DenyReason::kind`]); 0 for an unknown name.
    pub fn denials(&self, reason: &str) -> u64 {
        DenyReason::KINDS
            .iter()
            .position(|&k| k == reason)
            .map_or(0, |i| self.denials[i])
    }

    /// Every (reason, count) with a count above zero, reasons as [`DenyReason::kind`] names them.
    pub fn denial_counts(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        DenyReason::KINDS
            .iter()
            .zip(self.denials)
            .filter(|&(_, n)| n > 0)
            .map(|(&k, n)| (k, n))
    }
}

impl MetricsSnapshot {
    /// Every policy that decided at least one request, in the order their names were first
    /// compiled.
    pub fn policies(&self) -> &[PolicyCounts] {
        &self.policies
    }

    /// The counts of the policy named `name`, if it decided anything.
    pub fn policy(&self, name: &str) -> Option<&PolicyCounts> {
        self.policies.iter().find(|p| p.name == name)
    }

    /// Preflight verdict-cache hits.
    pub fn cache_hits(&self) -> u64 {
        self.cache_hits
    }

    /// Preflight verdict-cache misses (a verdict computed, then cached).
    pub fn cache_misses(&self) -> u64 {
        self.cache_misses
    }

    /// Reload attempts that ended with `result`.
    pub fn reloads(&self, result: ReloadResult) -> u64 {
        self.reloads[result as usize]
    }

    /// The serving generation's number.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// When the last successful reload (or the first compile) happened, in seconds since the
    /// Unix epoch.
    pub fn last_reload_success_seconds(&self) -> f64 {
        self.last_reload_success
    }
}
