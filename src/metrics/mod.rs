//! Counters of what the engine decided, kept per thread and summed when read: decisions by
//! policy, kind and outcome, denials by policy and reason, verdict-cache lookups, reloads by
//! outcome, the serving generation and the time of the last successful reload; and
//! [`Disagreements`] between the serving policy and a second one.

mod disagreements;

pub use disagreements::{Difference, Disagreements};
