//! Documentation only: what corsgate decides and why (the semantics), how it performs (with
//! the figures measured), what it protects against, and what it does not do.

pub mod limitations;
pub mod performance;
pub mod security;
pub mod semantics;
