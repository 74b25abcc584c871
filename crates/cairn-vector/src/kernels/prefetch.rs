//! A cache prefetch hint: asks the CPU to start loading the cache line
//! that holds a value, without waiting for it and without reading it (the
//! graph walk issues it for the next candidate's links and the vectors it
//! is about to score, as hnswlib does). On targets without the instruction
//! it does nothing.

#![allow(unsafe_code)]

/// Starts loading the cache line that holds `x` into every cache level.
#[inline(always)]
pub fn prefetch<T>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` is a hint: it reads no data into a register,
    // never faults (not even on an invalid address, and `x` is a valid
    // reference) and has no effect the program can observe. SSE, which
    // has it, is part of the x86_64 baseline.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>((x as *const T).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}
