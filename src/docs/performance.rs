//! Performance: what a decision costs, measured, and why.
//!
#![doc = include_str!("../../BENCHMARKS.md")]
