//! The allocator setting shared by the `mcq` binary and the decode-only
//! ceiling of the image benchmark (`examples/decode`), which both use
//! mimalloc as their global allocator.

/// mimalloc's `mi_option_purge_delay`: 15 in `mimalloc.h` of both v3 (what
/// libmimalloc-sys builds) and v2, the option after
/// `mi_option_eager_commit_delay`, which libmimalloc-sys names as 14 (it
/// names no constant for this one).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps freed memory instead of returning it to the OS after a delay: an
/// image ingest frees and allocates megabytes per image, and the kernel
/// zeroed those pages again each time (200 full-size images: 0.6 s instead
/// of 1.0 s of system time, peak RSS +10 %: the memory is kept and reused,
/// not grown).
///
/// # Safety
/// Call it first thing in `main`, before any other thread starts: mimalloc
/// reads its options without synchronization.
pub unsafe fn keep_freed_memory() {
    // SAFETY: no other thread runs yet (the caller's promise).
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}
