//! The `annotask` binary: runs the CLI and exits with its code. Nothing else lives here.

use std::process::ExitCode;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cli;

fn main() -> ExitCode {
    cli::run()
}
