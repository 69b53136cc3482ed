// SPDX-License-Identifier: GPL-2.0

//! The workload's data: the [`Record`]s of its block set and the generator of every word it
//! preserves, shared by the module's workload (`rust/workload.rs`) and the host's simulated
//! kexec image (`rust/host/src/fuzz_api/image.rs`), so both write the same bytes.

use core::mem::{offset_of, size_of};

use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Record kinds in the block set.
pub(crate) const KIND_FOLIO: u32 = 1;
pub(crate) const KIND_VMALLOC: u32 = 2;
pub(crate) const KIND_FILLER: u32 = 3;
/// Tags separating the generated streams.
pub(crate) const TAG_VMALLOC: u64 = 1 << 62;
pub(crate) const TAG_FILLER: u64 = 1 << 61;

/// One block-set entry: 32 bytes, native endian, no padding (its layout is its wire form).
#[repr(C)]
#[derive(Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub(crate) struct Record {
    /// `KIND_FOLIO`, `KIND_VMALLOC` or `KIND_FILLER`.
    pub(crate) kind: u32,
    /// Folio order (0 for the other kinds).
    pub(crate) order: u32,
    /// Folio physical address (0 for the other kinds).
    pub(crate) pa: u64,
    /// Stream tag of the folio, MiB index of the vmalloc area, or filler index.
    pub(crate) tag: u64,
    /// Wrapping sum of the words described, or the filler's own word.
    pub(crate) sum: u64,
}

const _: () = {
    assert!(size_of::<Record>() == 32);
    assert!(offset_of!(Record, order) == 4);
    assert!(offset_of!(Record, pa) == 8);
    assert!(offset_of!(Record, tag) == 16);
    assert!(offset_of!(Record, sum) == 24);
};

/// SplitMix64 finaliser: the generator of every workload word.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Word `i` of the stream `tag` for `seed`.
pub(crate) fn word(seed: u64, tag: u64, i: u64) -> u64 {
    mix(seed ^ mix(tag.wrapping_add(0x9e37_79b9_7f4a_7c15)) ^ i)
}

/// Fills `words` with stream `tag` starting at word `first`; returns the wrapping sum.
pub(crate) fn fill(words: &mut [u64], seed: u64, tag: u64, first: u64) -> u64 {
    let mut sum = 0u64;
    for (i, w) in words.iter_mut().enumerate() {
        *w = word(seed, tag, first + i as u64);
        sum = sum.wrapping_add(*w);
    }
    sum
}

/// Counts words of `words` that differ from stream `tag`; also returns the sum.
pub(crate) fn verify(words: &[u64], seed: u64, tag: u64, first: u64) -> (u64, u64) {
    let mut bad = 0u64;
    let mut sum = 0u64;
    for (i, w) in words.iter().enumerate() {
        if *w != word(seed, tag, first + i as u64) {
            bad += 1;
        }
        sum = sum.wrapping_add(*w);
    }
    (bad, sum)
}
