#![no_main]
//! Arbitrary Access-Control-Request-Headers lines: the bounded parser never panics, never
//! exceeds its bounds, agrees with an independent model, and preflights agree with the reference.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: corsgate::fuzzing::acrh::AcrhInput| corsgate::fuzzing::acrh::check(&input));
