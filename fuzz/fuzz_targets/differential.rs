#![no_main]
//! A policy, then requests and reloads: engine and reference give the same kind, allowed,
//! status and complete header set every time.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: corsgate::fuzzing::differential::DiffInput| corsgate::fuzzing::differential::check(&input));
