//! A log line budget: at most N lines a second for one kind of event (rejections, shadow
//! disagreements, report-only disagreements), so that a flood of hostile requests cannot
//! flood the log or slow the proxy with writes. What goes over the budget is counted, and
//! `report_dropped` (called once a second) logs the count, so that lines written plus lines
//! dropped is every event.
//!
//! What an event costs: reading the clock (a vDSO call) and one compare-and-swap on a word
//! shared by the workers; an event over the budget adds one atomic add. No lock, no
//! allocation, nothing formatted for a dropped line.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

pub struct LogRate {
    /// Lines a second (0: none).
    per_second: u32,
    /// What the count is for, in the dropped-lines message.
    what: &'static str,
    /// The log target of the dropped-lines message.
    target: &'static str,
    epoch: Instant,
    /// The current second since `epoch` (high 32 bits) and the lines written in it.
    window: AtomicU64,
    dropped: AtomicU64,
}

impl LogRate {
    pub fn new(per_second: u32, what: &'static str, target: &'static str) -> LogRate {
        LogRate {
            per_second,
            what,
            target,
            epoch: Instant::now(),
            window: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// `true` when one more line may be written now; otherwise the line is counted as
    /// dropped.
    pub fn admit(&self) -> bool {
        if self.per_second == 0 {
            return false;
        }
        let second = self.epoch.elapsed().as_secs() & 0xffff_ffff;
        let mut current = self.window.load(Ordering::Relaxed);
        loop {
            let (window, written) = (current >> 32, current & 0xffff_ffff);
            let next = if window == second {
                if written >= u64::from(self.per_second) {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    return false;
                }
                current + 1
            } else {
                (second << 32) | 1
            };
            match self.window.compare_exchange_weak(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(seen) => current = seen,
            }
        }
    }

    /// Logs how many lines were dropped since the last call, if any.
    pub fn report_dropped(&self) {
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(
                target: "corsgate::log_rate",
                log = self.target,
                dropped,
                "{dropped} {} log lines dropped (over {} a second)",
                self.what,
                self.per_second
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Four threads racing for one second's budget: exactly the budget is admitted, and
    /// everything else is counted as dropped.
    #[test]
    fn the_budget_is_exact_under_contention() {
        let rate = Arc::new(LogRate::new(10, "test", "test"));
        // Stay inside one second: wait for the start of a fresh one.
        let start = rate.epoch.elapsed().as_secs();
        while rate.epoch.elapsed().as_secs() == start {
            std::thread::yield_now();
        }
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let rate = Arc::clone(&rate);
                std::thread::spawn(move || (0..1000).filter(|_| rate.admit()).count())
            })
            .collect();
        let admitted: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        let dropped = rate.dropped.load(Ordering::Relaxed);
        assert_eq!(admitted as u64 + dropped, 4000);
        // The threads finish well within a second, but allow one window boundary.
        assert!((10..=20).contains(&admitted), "{admitted}");
    }

    #[test]
    fn zero_admits_nothing_and_counts_nothing() {
        let rate = LogRate::new(0, "test", "test");
        assert!(!rate.admit());
        assert_eq!(rate.dropped.load(Ordering::Relaxed), 0);
    }
}
