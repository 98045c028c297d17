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
/// arena's free pages). Called after a KDF run, the one large allocation.
pub fn give_back_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free pages malloc owns.
    unsafe {
        libc::malloc_trim(0);
    }
}
