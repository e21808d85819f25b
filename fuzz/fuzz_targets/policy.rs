#![no_main]
//! Arbitrary settings, TOML and JSON through validation: never panics; what builds compiles and
//! decides; canonical forms and policy files round-trip.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: corsgate::fuzzing::policy::PolicyInput| corsgate::fuzzing::policy::check(&input));
