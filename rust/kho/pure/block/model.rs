// SPDX-License-Identifier: GPL-2.0

//! The model the block tests check a [`BlockSet`] against: the semantics of
//! `kernel/liveupdate/kho_block.c` on plain words.
//!
//! Built for the tests only, and the same for both test builds: the host's property test
//! (`rust/host/src/tests/block.rs`, on the simulated memory) and the KUnit suite
//! `kho_rs_block` (`rust/tests/block.rs`, on real preserved pages) drive a set and a
//! [`Model`] through the same operations and compare the two with [`Model::check`].
//!
//! The model holds what the blocks hold: the header `count` of every block and, for every
//! entry slot, the seed of the entry in it (0 for the zero bytes of a grown or cleared
//! block), plus one iterator position `(block, index)` as `struct kho_block_set_it` keeps
//! it. Entries are made from seeds by [`TestEntry`], so one model serves every entry type.
//! The pure core has no allocator: the words live in a [`Words`] store of the test's build
//! (`Vec<u64>` on the host, `KVec<u64>` in the kernel).
//!
//! Where the Rust reader deliberately differs from C, the model follows Rust: `read_entry`
//! stops before a block whose count is 0 instead of stepping into it (see
//! [`BlockIter::read_entry`](super::BlockIter::read_entry)).

use core::fmt;
use core::ops::DerefMut;

use super::pat::Pat;
use super::{BlockEntry, BlockSet, BLOCK_HEADER_SIZE};
use crate::pure::error::{Error, Result};
use crate::pure::mem::PageMem;

/// An entry type the block tests make from seeds.
///
/// Seed 0 gives the all-zero entry, what a slot holds before it is written. Other seeds give
/// entries that are not all zero, distinct for distinct seeds (for entries of at least 8
/// bytes). An entry decodes equal to `from_seed(s)` only from the bytes that `from_seed(s)`
/// encodes to, so comparing decoded entries compares their bytes.
pub(crate) trait TestEntry: BlockEntry + PartialEq {
    /// The entry of `seed`.
    fn from_seed(seed: u64) -> Self;
}

impl TestEntry for u64 {
    fn from_seed(seed: u64) -> Self {
        // Odd multiplier: a bijection on u64 that keeps 0 at 0.
        seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }
}

/// The bytes of the [`Pat`] of the seed.
impl<const N: usize> TestEntry for [u8; N] {
    fn from_seed(seed: u64) -> Self {
        let mut a = [0u8; N];
        Pat::<N>::of(seed).encode(&mut a);
        a
    }
}

/// Small in memory also for 4080-byte entries, and every byte checked when read.
impl<const N: usize> TestEntry for Pat<N> {
    fn from_seed(seed: u64) -> Self {
        Pat::of(seed)
    }
}

/// The growable word store of a [`Model`]: `Vec<u64>` on the host, `KVec<u64>` in the kernel.
pub(crate) trait Words: Default + DerefMut<Target = [u64]> {
    /// Appends `n` zero words; fails only when memory runs out.
    fn push_zeros(&mut self, n: usize) -> Result;

    /// Keeps the first `len` words.
    fn truncate(&mut self, len: usize);
}

/// Where a set differs from its model: what, at which block, slot or entry, the set's value
/// and the model's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Mismatch {
    /// What differs.
    pub(crate) what: &'static str,
    /// Block, slot or entry number.
    pub(crate) at: usize,
    /// The set's value (for an entry in a slot: its first word; for an entry read: 1 if
    /// there was one).
    pub(crate) got: u64,
    /// The model's value (for an entry: its seed).
    pub(crate) want: u64,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at {}: set {:#x}, model {:#x}",
            self.what, self.at, self.got, self.want
        )
    }
}

/// `Ok` if `got == want`, the [`Mismatch`] otherwise.
fn same(what: &'static str, at: usize, got: u64, want: u64) -> core::result::Result<(), Mismatch> {
    if got == want {
        Ok(())
    } else {
        Err(Mismatch {
            what,
            at,
            got,
            want,
        })
    }
}

/// Word `w` of `bytes`, native endian (0 where `bytes` is too short).
fn word(bytes: &[u8], w: usize) -> u64 {
    let mut raw = [0u8; 8];
    if let Some(src) = bytes.get(w * 8..w * 8 + 8) {
        raw.copy_from_slice(src);
    }
    u64::from_ne_bytes(raw)
}

/// The blocks of the chain of `set` as `(address, bytes)`, walked from the head by the
/// `next` words: at most `set.nblocks()` of them, fewer if the walk leaves memory.
fn blocks<'m, E: BlockEntry, M: PageMem>(
    mem: &'m M,
    set: &BlockSet<E>,
) -> impl Iterator<Item = (u64, &'m [u8])> + 'm {
    let mut pa = set.head_pa();
    let mut left = set.nblocks();
    core::iter::from_fn(move || {
        left = left.checked_sub(1)?;
        // SAFETY: one of the first `nblocks` blocks of the chain of `set` (the walk starts
        // at its head, follows `next` and stops after `nblocks` blocks), all owned by the set
        // (its type invariant); freeing one needs `&mut M`, which the borrow of `mem` excludes.
        let page = unsafe { mem.bytes(pa) }?;
        let at = pa;
        pa = word(page, 0);
        Some((at, page))
    })
}

/// A block set as words: what every block holds, and one iterator.
///
/// `seeds` has `cap` slots per block of `counts`; a count is at most `cap`, and so is the
/// iterator's index.
pub(crate) struct Model<W: Words> {
    /// Entries per block.
    cap: usize,
    /// Header `count` of every block.
    counts: W,
    /// Seed of the entry in every slot, `cap` per block (0: zero bytes).
    seeds: W,
    /// The iterator: block number, and index of the next entry in that block.
    it: (usize, usize),
}

impl<W: Words> Model<W> {
    /// An empty set with `cap` entries per block, and an iterator at its start.
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            cap,
            counts: W::default(),
            seeds: W::default(),
            it: (0, 0),
        }
    }

    /// Entries per block.
    pub(crate) const fn cap(&self) -> usize {
        self.cap
    }

    /// Number of blocks.
    pub(crate) fn nblocks(&self) -> usize {
        self.counts.len()
    }

    /// Entries the blocks hold.
    pub(crate) fn capacity(&self) -> usize {
        self.nblocks() * self.cap
    }

    /// Header count of block `b` (0 past the end).
    fn count(&self, b: usize) -> usize {
        self.counts.get(b).map_or(0, |&c| c as usize)
    }

    /// Seed of the entry in slot `i` of block `b` (0 past the end).
    pub(crate) fn seed(&self, b: usize, i: usize) -> u64 {
        self.seeds.get(b * self.cap + i).copied().unwrap_or(0)
    }

    /// Sum of the header counts (`BlockSet::written`).
    pub(crate) fn written(&self) -> usize {
        (0..self.nblocks()).map(|b| self.count(b)).sum()
    }

    /// `kho_block_set_grow()`: appends zeroed blocks with count 0 until `count` entries fit.
    pub(crate) fn grow(&mut self, count: usize) -> Result {
        if self.cap == 0 {
            return Err(Error::inval("block model: no entries per block", 0));
        }
        while count > self.capacity() {
            self.seeds.push_zeros(self.cap)?;
            self.counts.push_zeros(1)?;
        }
        Ok(())
    }

    /// Drops the last block.
    fn pop_block(&mut self) {
        let n = self.nblocks().saturating_sub(1);
        self.counts.truncate(n);
        self.seeds.truncate(n * self.cap);
    }

    /// `kho_block_set_shrink()`: drops the last block while the others hold `count` entries.
    pub(crate) fn shrink(&mut self, count: usize) {
        while self.nblocks() > 0 && count <= (self.nblocks() - 1) * self.cap {
            self.pop_block();
        }
    }

    /// `kho_block_set_clear()`: every count 0, every slot zero bytes; the blocks stay.
    pub(crate) fn clear(&mut self) {
        self.counts.fill(0);
        self.seeds.fill(0);
    }

    /// `BlockSet::trim`: drops the blocks after the last one with a count above 0.
    pub(crate) fn trim(&mut self) {
        while self.nblocks() > 0 && self.count(self.nblocks() - 1) == 0 {
            self.pop_block();
        }
    }

    /// `kho_block_set_it_init()`: the iterator back at the first entry of the first block.
    pub(crate) fn rewind(&mut self) {
        self.it = (0, 0);
    }

    /// `kho_block_set_it_reserve_entry()` and a write of the entry of `seed` into the slot:
    /// moves to the next block when the current one is full and stores the new index as the
    /// block's count. Returns the slot `(block, index)`, or `None` at the end of the last
    /// block.
    pub(crate) fn write(&mut self, seed: u64) -> Option<(usize, usize)> {
        if self.nblocks() == 0 {
            return None;
        }
        if self.it.1 == self.cap {
            if self.it.0 + 1 >= self.nblocks() {
                return None;
            }
            self.it = (self.it.0 + 1, 0);
        }
        let (b, i) = self.it;
        *self.seeds.get_mut(b * self.cap + i)? = seed;
        *self.counts.get_mut(b)? = (i + 1) as u64;
        self.it.1 = i + 1;
        Some((b, i))
    }

    /// The next read from iterator position `it`, moving it.
    fn read_at(&self, it: &mut (usize, usize)) -> Option<u64> {
        if it.1 >= self.count(it.0) {
            if it.0 + 1 >= self.nblocks() || self.count(it.0 + 1) == 0 {
                return None;
            }
            *it = (it.0 + 1, 0);
        }
        let seed = self.seed(it.0, it.1);
        it.1 += 1;
        Some(seed)
    }

    /// `kho_block_set_it_read_entry()`: the seed of the next entry, bounded by each block's
    /// count; moves to the next block when the current one's entries are used up, but not
    /// into a block with count 0 (Rust's reader, see the module documentation).
    pub(crate) fn read(&mut self) -> Option<u64> {
        let mut it = self.it;
        let seed = self.read_at(&mut it);
        self.it = it;
        seed
    }

    /// `kho_block_set_it_prev()`: steps back one slot and returns it; at the start of a block
    /// to the last slot of the previous block, `None` at the very start. Counts stay.
    pub(crate) fn prev(&mut self) -> Option<(usize, usize)> {
        if self.nblocks() == 0 {
            return None;
        }
        if self.it.1 == 0 {
            if self.it.0 == 0 {
                return None;
            }
            self.it = (self.it.0 - 1, self.cap - 1);
        } else {
            self.it.1 -= 1;
        }
        Some(self.it)
    }

    /// The seeds a fresh iterator's `read_entry` returns, in order.
    pub(crate) fn reads(&self) -> impl Iterator<Item = u64> + '_ {
        let mut it = (0, 0);
        core::iter::from_fn(move || self.read_at(&mut it))
    }

    /// The seeds a reader of the published chain gets after `kho_block_set_restore()`: every
    /// counted entry of every block, in chain order.
    pub(crate) fn restored(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.nblocks()).flat_map(move |b| (0..self.count(b)).map(move |i| self.seed(b, i)))
    }

    /// Compares `set` in `mem` with the model: the accessors; the raw chain (exactly
    /// `nblocks` blocks linked from the head, the last one's `next` 0, every header count,
    /// every entry slot, zero bytes after the last slot); `written()`; and the entries a fresh
    /// iterator reads.
    pub(crate) fn check<E: TestEntry, M: PageMem>(
        &self,
        mem: &M,
        set: &BlockSet<E>,
    ) -> core::result::Result<(), Mismatch> {
        let n = self.nblocks();
        same(
            "count_per_block",
            0,
            set.count_per_block() as u64,
            self.cap as u64,
        )?;
        same("nblocks", 0, set.nblocks() as u64, n as u64)?;
        same("capacity", 0, set.capacity() as u64, self.capacity() as u64)?;
        same("is_empty", 0, set.is_empty().into(), (n == 0).into())?;
        same(
            "head_pa is 0",
            0,
            (set.head_pa() == 0).into(),
            (n == 0).into(),
        )?;
        let slots_end = BLOCK_HEADER_SIZE + self.cap * E::SIZE;
        let mut walked = 0;
        for (b, (_, page)) in blocks(mem, set).enumerate() {
            walked += 1;
            if b + 1 == n {
                same("next of the last block", b, word(page, 0), 0)?;
            }
            same("header count", b, word(page, 1), self.count(b) as u64)?;
            for i in 0..self.cap {
                let start = BLOCK_HEADER_SIZE + i * E::SIZE;
                let seed = self.seed(b, i);
                let raw = page.get(start..start + E::SIZE).unwrap_or(&[]);
                if raw.len() != E::SIZE || E::decode(raw) != E::from_seed(seed) {
                    return Err(Mismatch {
                        what: "entry in slot",
                        at: b * self.cap + i,
                        got: word(raw, 0),
                        want: seed,
                    });
                }
            }
            let tail = page.get(slots_end..).unwrap_or(&[]);
            same(
                "non-zero bytes after the last slot",
                b,
                tail.iter().filter(|&&x| x != 0).count() as u64,
                0,
            )?;
        }
        same("blocks on the chain", 0, walked, n as u64)?;
        same(
            "written()",
            0,
            set.written(mem) as u64,
            self.written() as u64,
        )?;
        let mut it = set.iter();
        let mut k = 0;
        for seed in self.reads() {
            let got = it.read_entry(mem);
            if got != Some(E::from_seed(seed)) {
                return Err(Mismatch {
                    what: "read_entry",
                    at: k,
                    got: got.is_some().into(),
                    want: seed,
                });
            }
            k += 1;
        }
        same(
            "read_entry past the last entry",
            k,
            it.read_entry(mem).is_some().into(),
            0,
        )
    }

    /// Compares the position `(block_pa, index)` of an iterator of `set` with the model's.
    pub(crate) fn check_position<E: BlockEntry, M: PageMem>(
        &self,
        mem: &M,
        set: &BlockSet<E>,
        pos: (u64, usize),
    ) -> core::result::Result<(), Mismatch> {
        let (b, i) = self.it;
        let block_pa = match self.nblocks() {
            0 => 0,
            _ => blocks(mem, set).nth(b).map_or(u64::MAX, |(pa, _)| pa),
        };
        same("iterator block", b, pos.0, block_pa)?;
        same("iterator index", b, pos.1 as u64, i as u64)
    }
}
