// SPDX-License-Identifier: GPL-2.0

//! Deterministic xorshift64 generator for workloads, tests and benchmarks.

/// SplitMix64 finaliser: turns related inputs (consecutive seeds) into unrelated values.
pub(crate) const fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Marsaglia's xorshift64: a fast, deterministic, non-cryptographic sequence.
///
/// # Invariants
///
/// The state is never 0 (0 is a fixed point); [`XorShift::new`] maps a 0 seed to 1.
#[derive(Clone, Copy, Debug)]
pub(crate) struct XorShift(u64);

impl XorShift {
    /// A generator seeded with `seed` (0 is replaced by 1).
    pub(crate) const fn new(seed: u64) -> Self {
        // INVARIANT: the state is non-zero.
        Self(if seed == 0 { 1 } else { seed })
    }

    /// Next value of the sequence (never 0).
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value in `0..n`, or 0 if `n` is 0.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        // `usize` is at most 64 bits wide on every kernel KHO supports, so the conversions
        // are lossless.
        self.next().checked_rem(n as u64).unwrap_or(0) as usize
    }
}
