//! Cache prefetch hints. They tell the CPU which memory will be needed soon; they never
//! change what a program computes, so they cannot affect determinism.

#[inline(always)]
fn prefetch_ptr(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it never faults, whatever the address, and loads
    // nothing into the program's state.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(p as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Hints that the cache line holding the start of `value` will be read soon.
#[inline(always)]
pub(crate) fn prefetch<T>(value: &T) {
    prefetch_ptr(value as *const T as *const u8);
}

/// Hints every cache line of `value`.
#[inline(always)]
pub(crate) fn prefetch_all<T>(value: &T) {
    let base = value as *const T as *const u8;
    let mut offset = 0;
    while offset < std::mem::size_of::<T>() {
        prefetch_ptr(base.wrapping_add(offset));
        offset += 64;
    }
}
