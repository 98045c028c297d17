//! The allocator's hold on freed memory.
//!
//! An Argon2id unlock allocates the KDF's memory (64 MiB by default) and
//! frees it a moment later. glibc's malloc keeps freed memory in its arenas
//! (one per thread that allocated: the unlock runs on a blocking thread),
//! and it raises its mmap threshold after a large mmapped block is freed, so
//! a later unlock's blocks can come from the heap and stay resident. Two
//! calls keep the daemon near its idle size: a fixed mmap threshold at
//! start-up (which also turns off that raising), and a trim after each KDF.
//! There is no crate for this; these are two libc calls, hence this module.
//!
//! Freed memory must not keep secrets either. A PIN or an otpauth secret
//! reaches the daemon as bytes in hyper's and h2's buffers, in prost's
//! decoded `String`s and in zbus's messages, none of which zeroize; their
//! blocks go back to malloc with the text in them, and stay readable (in
//! `/proc/PID/mem`, a core dump, swap) long after Lock. [`ZeroOnFree`],
//! the daemon's global allocator, wipes every heap block as it is freed, so
//! after Lock no copy is left whatever library made it. It is hand-written
//! because it is a dozen lines over `std::alloc::System` and the wiping
//! itself is `zeroize`'s.

use std::alloc::{GlobalAlloc, Layout, System};

use zeroize::Zeroize;

/// The system allocator, wiping each block before it is freed (and the
/// old block when a reallocation moves one). Blocks of
/// [`MMAP_THRESHOLD`] and up are mapped alone and unmapped when freed, so
/// their pages leave the process without a wipe.
pub struct ZeroOnFree;

/// Wipes `size` bytes at `ptr`.
///
/// # Safety
/// `ptr` must be valid for writes of `size` bytes.
unsafe fn wipe(ptr: *mut u8, size: usize) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if size >= MMAP_THRESHOLD as usize {
        return;
    }
    // SAFETY: the caller's contract.
    unsafe { std::slice::from_raw_parts_mut(ptr, size) }.zeroize();
}

// SAFETY: every method hands the allocation itself to `System` with the
// same layouts; the wipes write only inside blocks this allocator owns.
unsafe impl GlobalAlloc for ZeroOnFree {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` is a live block of `layout.size()` bytes.
        unsafe {
            wipe(ptr, layout.size());
            System.dealloc(ptr, layout);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` is a live block of `layout.size()` bytes; a new
        // block of `new_size` bytes has room for the `min` copied.
        unsafe {
            if new_size <= layout.size() {
                // Shrinking stays in place (or remaps a mapped block).
                wipe(ptr.add(new_size), layout.size() - new_size);
                return System.realloc(ptr, layout, new_size);
            }
            // Growing through System.realloc could move the block and free
            // the old one unwiped: allocate, copy, wipe and free instead.
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            let new = System.alloc(new_layout);
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size());
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}

/// Blocks from this size up are mapped on their own and returned to the
/// system when freed (glibc's default, but fixed rather than raised).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 128 * 1024;

/// Sets the allocator up for a long-running daemon; call once at start-up.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes malloc's parameters; it is called before
    // the runtime starts its threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

/// Gives the memory freed since the last trim back to the system (every
/// arena's free pages). Called after a KDF run, the one large allocation,
/// and when the last gRPC client disconnects (`grpc::connections`).
pub fn give_back_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free pages malloc owns.
    unsafe {
        libc::malloc_trim(0);
    }
}
