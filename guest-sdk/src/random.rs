//! A small seeded random generator for tests that try many varied inputs
//! and must try the same ones on every run. At the bottom of the crate: it
//! imports nothing, so the unit tests of every module (the text layer's
//! included) can use it without importing [`testing`](crate::testing),
//! which sits on top of the chunk loop.

/// A small seeded random generator (xorshift64), for tests that try many
/// varied inputs and must try the same ones on every run. Not for anything
/// but tests.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator seeded with `seed` (0, which xorshift never leaves, is
    /// taken as 1).
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n`; `n` must not be 0.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}
