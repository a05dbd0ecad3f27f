//! The progress bar of a long sync. Drawn on stderr only when it is a terminal and not in CI,
//! and only once a sync has run for a second, so quick syncs and scripts never see it.

use std::cell::OnceCell;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

const DELAY: Duration = Duration::from_secs(1);

pub struct Bar {
    start: Instant,
    enabled: bool,
    bar: OnceCell<ProgressBar>,
}

impl Bar {
    pub fn new() -> Bar {
        Bar {
            start: Instant::now(),
            enabled: std::io::stderr().is_terminal() && std::env::var_os("CI").is_none(),
            bar: OnceCell::new(),
        }
    }

    /// `done` of `total` files are read.
    pub fn show(&self, done: usize, total: usize) {
        if !self.enabled || self.start.elapsed() < DELAY {
            return;
        }
        let bar = self.bar.get_or_init(|| {
            // The bar takes what the terminal's width leaves, so the line never wraps.
            let style = ProgressStyle::with_template(
                "reading task files {wide_bar} {pos}/{len} ({eta} left)",
            )
            .expect("the template is valid");
            ProgressBar::new(total as u64).with_style(style)
        });
        bar.set_position(done as u64);
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.get() {
            bar.finish_and_clear();
        }
    }
}
