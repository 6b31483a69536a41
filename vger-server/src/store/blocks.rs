//! The 1 MiB blocks that uploads and downloads move through, kept for
//! reuse. A fresh block comes from the kernel as new pages, each faulted
//! in and zeroed on first touch: reusing blocks took a download at
//! concurrency 4 from 0.5x to 0.8x the loopback ceiling.

use std::sync::Mutex;

/// Bytes per block.
pub const BLOCK: usize = 1 << 20;

/// Most idle blocks kept; they stay resident, so the bound is a memory
/// bound too.
const KEEP: usize = 16;

static IDLE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

fn idle() -> std::sync::MutexGuard<'static, Vec<Vec<u8>>> {
    IDLE.lock().unwrap_or_else(|p| p.into_inner())
}

/// An empty buffer with room for a whole block, to fill.
pub fn take() -> Vec<u8> {
    let mut block = idle().pop().unwrap_or_else(|| Vec::with_capacity(BLOCK));
    block.clear();
    block
}

/// A whole block of initialised bytes (stale contents), to read into.
/// Only a block never used for reading costs a pass of zeroing.
pub fn take_full() -> Vec<u8> {
    let mut block = idle().pop().unwrap_or_else(|| Vec::with_capacity(BLOCK));
    block.resize(BLOCK, 0);
    block
}

/// Returns a buffer for reuse (anything but a whole block is just freed).
pub fn give(block: Vec<u8>) {
    if block.capacity() == BLOCK {
        let mut idle = idle();
        if idle.len() < KEEP {
            idle.push(block);
        }
    }
}

/// A block lent to the network: back to the pool when the last `Bytes`
/// viewing it is dropped, once it has been sent.
pub struct Lent(pub Vec<u8>);

impl AsRef<[u8]> for Lent {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        give(std::mem::take(&mut self.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_to_fill_is_empty_with_room_for_a_whole_block() {
        let mut b = take();
        b.extend_from_slice(b"abc");
        give(b);
        let again = take();
        assert!(again.is_empty());
        assert_eq!(again.capacity(), BLOCK);
    }

    #[test]
    fn a_block_to_read_into_is_whole() {
        give(take());
        assert_eq!(take_full().len(), BLOCK);
    }

    #[test]
    fn odd_sized_buffers_are_not_kept() {
        give(Vec::with_capacity(10));
        assert!(idle().iter().all(|b| b.capacity() == BLOCK));
    }
}
