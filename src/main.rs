//! The `mcq` binary: parse the command line, run it, print the error chain,
//! exit 0 on success, 1 on failure, 2 on a usage error.

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`: 15 in `mimalloc.h` of both v3 (what
/// libmimalloc-sys builds) and v2, the option after
/// `mi_option_eager_commit_delay`, which libmimalloc-sys names as 14 (it
/// names no constant for this one).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> ExitCode {
    // Keep freed memory instead of returning it to the OS after a delay: an
    // image ingest frees and allocates megabytes per image, and the kernel
    // zeroed those pages again each time (200 full-size images: 0.6 s
    // instead of 1.0 s of system time, peak RSS +10 %: the memory is kept
    // and reused, not grown).
    // SAFETY: sets one integer option before any other thread starts.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
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
