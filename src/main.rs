//! The `mcq` binary: parse the command line, run it, print the error chain,
//! exit 0 on success, 1 on failure, 2 on a usage error.

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // SAFETY: the first thing main does; no other thread runs yet.
    unsafe { mcq::allocator::keep_freed_memory() };
    let cli = mcq::cli::Cli::parse();
    match mcq::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("mcq: {err:#}");
            let usage = err
                .downcast_ref::<mcq::Error>()
                .is_some_and(mcq::Error::is_usage);
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}
