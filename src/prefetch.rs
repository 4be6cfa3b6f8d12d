//! Hints that start fetching memory into the CPU's caches before it is read. The swarm's event
//! loop handles a few dozen ready sockets per wake-up, and each bot's data (its connection, its
//! player, its replica's states) was last touched a tick earlier, since when a thousand other
//! bots have passed through the caches. Fetching the next bots' data while this one is handled
//! overlaps misses that would otherwise come one after another. On other architectures than
//! x86-64 these do nothing.

/// A cache line's size in bytes on the machines this runs on.
const LINE: usize = 64;

/// Starts fetching the cache lines holding `len` bytes from `start`, at most `max_lines` of them.
#[inline]
pub fn bytes(start: *const u8, len: usize, max_lines: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let lines = (start as usize % LINE + len).div_ceil(LINE).min(max_lines);
        for line in 0..lines {
            let at = start.wrapping_add(line * LINE);
            // SAFETY: a prefetch is only a hint: it reads nothing and cannot fault, whatever
            // the address.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(at.cast()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (start, len, max_lines);
}

/// Starts fetching `value` (all of its lines; the heap data it points to is not followed).
#[inline]
pub fn value<T>(value: &T) {
    bytes((value as *const T).cast(), size_of::<T>(), usize::MAX);
}

/// Starts fetching the first `max_lines` cache lines of `items`.
#[inline]
pub fn slice<T>(items: &[T], max_lines: usize) {
    bytes(items.as_ptr().cast(), size_of_val(items), max_lines);
}
