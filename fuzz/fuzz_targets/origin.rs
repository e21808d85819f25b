#![no_main]
//! Arbitrary bytes through the request-side Origin parser: never panics, re-serialises what it
//! accepts to the same bytes, agrees with the reference, and accepts as configuration what it
//! accepts from requests.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: corsgate::fuzzing::origin::OriginInput| corsgate::fuzzing::origin::check(&input));
