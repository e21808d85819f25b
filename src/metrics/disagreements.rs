//! [`Disagreements`]: how often a second policy (a shadow policy, or a report-only one) would
//! have decided a request differently from the serving one, counted by policy name and kind of
//! difference.
//!
//! Disagreements are rare, so the counters live in a mutex-guarded map: recording one takes the
//! lock and, the first time a (policy, difference) pair is seen, allocates its key. A request
//! on which both policies agree records nothing and costs nothing here.

use std::collections::BTreeMap;
use std::sync::Mutex;

pub use crate::browser_check::Difference;

/// Counters of disagreements between the serving policy and a second one, keyed by the
/// serving request's policy name and the [`Difference`].
///
/// Shared as an `Arc<Disagreements>` between whatever compares the decisions (a shadow or
/// report-only policy) and whatever exports them (`corsgate::metrics::Collector` with feature
/// `metrics`).
///
/// # Example
/// ```
/// use corsgate::metrics::{Difference, Disagreements};
///
/// let disagreements = Disagreements::new();
/// disagreements.record("api", Difference::AllowedToDenied);
/// disagreements.record("api", Difference::AllowedToDenied);
/// disagreements.record("web", Difference::Headers);
/// assert_eq!(
///     disagreements.snapshot(),
///     vec![
///         ("api".to_string(), Difference::AllowedToDenied, 2),
///         ("web".to_string(), Difference::Headers, 1),
///     ]
/// );
/// ```
#[derive(Debug, Default)]
pub struct Disagreements {
    /// Per policy name, one count per [`Difference`] (indexed by `Difference as usize`).
    counts: Mutex<BTreeMap<String, [u64; 3]>>,
}

impl Disagreements {
    /// No disagreements yet.
    pub fn new() -> Disagreements {
        Disagreements::default()
    }

    /// Counts one disagreement on a request served by policy `policy`.
    pub fn record(&self, policy: &str, difference: Difference) {
        // A panic while the lock was held left the map consistent (every update is one
        // insert or one add), so a poisoned lock is still usable.
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Look up by the borrowed name first: only a policy's first disagreement allocates.
        match counts.get_mut(policy) {
            Some(row) => row[difference as usize] += 1,
            None => {
                let mut row = [0; 3];
                row[difference as usize] = 1;
                counts.insert(policy.to_owned(), row);
            }
        }
    }

    /// Every (policy, difference, count) with a count above zero, sorted by policy name, then
    /// difference.
    pub fn snapshot(&self) -> Vec<(String, Difference, u64)> {
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        counts
            .iter()
            .flat_map(|(name, row)| {
                Difference::ALL
                    .iter()
                    .filter(|difference| row[**difference as usize] > 0)
                    .map(|difference| (name.clone(), *difference, row[*difference as usize]))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn names_are_stable() {
        let names: Vec<&str> = Difference::ALL.iter().map(|d| d.as_str()).collect();
        assert_eq!(names, ["allowed_to_denied", "denied_to_allowed", "headers"]);
    }

    #[test]
    fn concurrent_records_sum_exactly() {
        let disagreements = Arc::new(Disagreements::new());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let disagreements = Arc::clone(&disagreements);
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        let policy = if i % 2 == 0 { "a" } else { "b" };
                        disagreements.record(policy, Difference::ALL[t % 3]);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("a recording thread panicked");
        }
        let snapshot = disagreements.snapshot();
        let total: u64 = snapshot.iter().map(|(_, _, n)| n).sum();
        assert_eq!(total, 4000);
        // Threads 0 and 3 both record AllowedToDenied.
        assert!(snapshot.contains(&("a".to_string(), Difference::AllowedToDenied, 1000)));
        assert!(snapshot.contains(&("b".to_string(), Difference::Headers, 500)));
    }
}
