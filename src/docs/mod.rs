//! Documentation only: how corsgate performs (with the figures measured), what it protects
//! against, and what it does not do.

pub mod limitations;
pub mod performance;
pub mod security;
