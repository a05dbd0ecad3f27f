//! The machine's number of cores, asked once per process, and work split across them. Must
//! not do anything else.
//!
//! `std::thread::available_parallelism` reads cgroup files under `/proc` on every call; a
//! sync that asked once per task spent a quarter of a 20,000-task cold sync there.

use std::ops::Range;
use std::sync::OnceLock;

/// The number of threads worth running at once (at least 1).
pub fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Splits `0..len` into `threads` ranges and runs `f` on each, the results in range order.
/// Callers keep the parts independent, so the result does not depend on the number of threads.
pub fn in_parallel<T: Send>(
    len: usize,
    threads: usize,
    f: impl Fn(Range<usize>) -> T + Sync,
) -> Vec<T> {
    let threads = threads.clamp(1, len.max(1));
    if threads == 1 {
        return vec![f(0..len)];
    }
    let chunk = len.div_ceil(threads);
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = (0..threads)
            .map(|t| scope.spawn(move || f(t * chunk..((t + 1) * chunk).min(len))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}
