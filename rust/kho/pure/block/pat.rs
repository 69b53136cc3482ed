// SPDX-License-Identifier: GPL-2.0

//! Block entries of any size made from a seed: the entries of the `blockx` exchange
//! (`rust/blockx.rs`) and of the block tests.

use crate::pure::block::BlockEntry;

/// Byte `i` of the pattern of `seed` (0 for seed 0, never 0 otherwise).
pub(crate) fn pat_byte(seed: u64, i: usize) -> u8 {
    if seed == 0 {
        0
    } else {
        (seed.wrapping_mul(31).wrapping_add(i as u64 * 7) % 251) as u8 + 1
    }
}

/// Writes the bytes of the entry of `seed` into `out`, whatever its length: the seed (native
/// endian, cut to `out`), then the pattern of the seed.
pub(crate) fn pat_fill(seed: u64, out: &mut [u8]) {
    let head = seed.to_ne_bytes();
    for (i, o) in out.iter_mut().enumerate() {
        *o = match head.get(i) {
            Some(b) => *b,
            None => pat_byte(seed, i),
        };
    }
}

/// Whether `bytes` are the bytes [`pat_fill`] writes for `seed`.
pub(crate) fn is_pat(seed: u64, bytes: &[u8]) -> bool {
    let head = seed.to_ne_bytes();
    bytes.iter().enumerate().all(|(i, b)| match head.get(i) {
        Some(h) => b == h,
        None => *b == pat_byte(seed, i),
    })
}

/// An `N`-byte entry made from a seed: the seed (8 bytes, native endian) followed by the
/// pattern of the seed. Decoding checks every byte, so equal entries decode from equal bytes
/// only; it is small in memory, also for `N = 4080`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Pat<const N: usize> {
    seed: u64,
    /// Whether every byte read back matched the pattern of `seed`.
    intact: bool,
}

impl<const N: usize> Pat<N> {
    /// The entry of `seed`.
    pub(crate) const fn of(seed: u64) -> Self {
        Self { seed, intact: true }
    }
}

impl<const N: usize> BlockEntry for Pat<N> {
    const SIZE: usize = N;

    fn encode(&self, out: &mut [u8]) {
        pat_fill(self.seed, out);
    }

    fn decode(bytes: &[u8]) -> Self {
        let mut raw = [0u8; 8];
        for (r, b) in raw.iter_mut().zip(bytes) {
            *r = *b;
        }
        let seed = u64::from_ne_bytes(raw);
        let intact = bytes.len() == N && is_pat(seed, bytes);
        Self { seed, intact }
    }
}
