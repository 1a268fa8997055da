//! Runtime dispatch of a few hot pixel loops to an AVX2 build of the same
//! code. The binary targets baseline x86-64 (SSE2) so that it runs on any
//! x86-64 machine; where the CPU has AVX2 (nearly every one since 2013),
//! these loops run twice as wide. The results are bit-identical: the same
//! integer operations, and the same float operations in the same order
//! (Rust never fuses a multiply and an add on its own).

/// Defines a function whose body is compiled twice, for baseline x86-64 and
/// for AVX2, and runs the AVX2 build when the CPU has it (std caches the
/// check). Only for non-generic functions of owned or borrowed arguments.
macro_rules! avx2_dispatch {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn body($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2, checked just above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

pub(crate) use avx2_dispatch;
