//! Helpers shared by the integration tests that speak HTTP on loopback.

#![allow(dead_code)]

#[cfg(feature = "cli")]
pub mod decide;
#[cfg(feature = "cli")]
pub mod gateway;
pub mod http_client;
pub mod raw_http;
pub mod rewrites;
#[cfg(feature = "cli")]
pub mod upstream;
