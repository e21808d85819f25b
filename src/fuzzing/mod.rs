//! The checks behind the fuzz targets in `fuzz/`, shared with `tests/regression.rs`, which
//! replays every file in `fuzz/regressions/` through them on each `cargo test`.
//!
//! Each module has an input type (decoded with `arbitrary`, like `libfuzzer-sys` does, and whose
//! `Debug` prints a reproducer), a `check(&Input)` that panics when a property is violated, and
//! `check_bytes(&[u8])`, which decodes raw fuzzer bytes the way the fuzz target does.
//!
//! - [`origin`]: the request-side Origin grammar never panics, re-serialises what it accepts to
//!   the same bytes, agrees with the reference, and accepts as configuration what it accepts
//!   from requests.
//! - [`policy`]: validation never panics on builder settings, TOML or JSON; a policy that
//!   builds compiles and decides; canonical forms and files round-trip.
//! - [`differential`]: a policy, requests and reloads; engine and reference agree on kind,
//!   allowed, status and the complete header set every time.
//! - [`acrh`]: the bounded `Access-Control-Request-Headers` parser never panics, never exceeds
//!   its bounds, agrees with an independent model, and preflights agree with the reference.
//!
//! Enabled by the `internal-reference` feature; not part of the supported API.

pub mod acrh;
pub mod differential;
pub mod origin;
pub mod policy;
pub mod regex_strings;
pub mod spec;

/// Decodes raw fuzzer bytes the way `libfuzzer-sys` decodes a typed target's input.
fn decode<'a, T: arbitrary::Arbitrary<'a>>(data: &'a [u8]) -> Option<T> {
    T::arbitrary_take_rest(arbitrary::Unstructured::new(data)).ok()
}

/// A few requests every compiled policy must decide without panicking.
fn smoke_requests() -> Vec<spec::Rendered> {
    let r = |method: &str, headers: &[(&str, &str)]| spec::Rendered {
        method: method.as_bytes().to_vec(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect(),
    };
    vec![
        r("GET", &[]),
        r("GET", &[("origin", "https://example.com")]),
        r("GET", &[("origin", "null")]),
        r(
            "OPTIONS",
            &[
                ("origin", "https://a.example.com"),
                ("access-control-request-method", "PUT"),
                ("access-control-request-headers", "content-type,x-token"),
            ],
        ),
    ]
}
