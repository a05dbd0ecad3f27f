//! The integration tests, one binary (one link, one run): each module tests one face of
//! annotask end to end; what they share is in `tests/common`. A new test file goes here as a
//! module, never as another `tests/*.rs`.

#[path = "../common/mod.rs"]
mod common;

mod assist;
mod browser;
mod cli;
mod commands;
mod edits;
mod errors;
mod exit_codes;
mod export;
mod flags;
mod harden;
mod hook;
mod integrity;
mod project;
mod remote;
mod rules;
mod schema_cases;
mod serve;
mod strict;
mod tidy;
mod trust;
mod validate;
mod watch;
mod widths;
mod workflow;
mod yaml_corpus;
