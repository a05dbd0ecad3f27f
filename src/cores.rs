//! The machine's number of cores, asked once per process. Must not do anything else.
//!
//! `std::thread::available_parallelism` reads cgroup files under `/proc` on every call; a
//! sync that asked once per task spent a quarter of a 20,000-task cold sync there.

use std::sync::OnceLock;

/// The number of threads worth running at once (at least 1).
pub fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
