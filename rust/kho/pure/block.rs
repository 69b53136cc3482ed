// SPDX-License-Identifier: GPL-2.0

//! Linked serialization blocks ("block-v1"), wire compatible with `kho_block_*`.
//!
//! Mirrors `include/linux/kho/abi/block.h` and `kernel/liveupdate/kho_block.c` of Linux 7.3.
//! A block is one preserved page:
//!
//! ```text
//! +0   u64 next     physical address of the next block, 0 = end of the chain
//! +8   u64 count    number of valid entries in this block
//! +16  entry 0, entry 1, ...   entry i at 16 + i * entry_size, no padding
//! ```
//!
//! with `(PAGE_SIZE - 16) / entry_size` entries per block. The chain head is a bare `u64`
//! physical address stored by the user; there is no magic, size or version in the block.
//!
//! The C implementation keeps a list of tracking nodes; [`BlockSet`] keeps only the head,
//! the tail and the number of blocks, and walks the chain in memory when it needs a block
//! in the middle, so nothing here allocates. The entry type `E` of a set fixes the entry
//! size, so entries can only be read and written with the size the set was created with.

use core::marker::PhantomData;
use core::ops::Range;

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};
use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout};

use super::error::{errno, Error, Result};
use super::geometry::{Geometry, G4K};
use super::mem::PageMem;

// The model the host tests and the KUnit suite `kho_rs_block` check a set against.
#[cfg(any(test, CONFIG_KUNIT = "y"))]
pub(crate) mod model;
pub(crate) mod pat;

/// Compatible string of the block format (`KHO_BLOCK_COMPATIBLE`).
#[cfg(any(test, feature = "fuzz"))]
pub(crate) const KHO_BLOCK_COMPATIBLE: &str = super::compat::BLOCK_COMPAT;

/// Safety cap on the number of blocks in a chain (`KHO_MAX_BLOCKS`).
pub(crate) const KHO_MAX_BLOCKS: usize = 10000;

/// `struct kho_block_header_ser`: the header at the start of every block.
///
/// C declares it `__packed`; with two `u64` fields the packed and the `repr(C)` layouts
/// are the same (asserted below), and a block page is always 8-byte aligned.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub(crate) struct BlockHeader {
    /// Physical address of the next block, 0 at the end of the chain.
    pub(crate) next: u64,
    /// Number of valid entries in this block.
    pub(crate) count: u64,
}

const _: () = {
    assert!(size_of::<BlockHeader>() == 16);
    assert!(core::mem::offset_of!(BlockHeader, next) == 0);
    assert!(core::mem::offset_of!(BlockHeader, count) == 8);
};

/// Size of `struct kho_block_header_ser` (`u64 next; u64 count;`, packed).
pub(crate) const BLOCK_HEADER_SIZE: usize = size_of::<BlockHeader>();

/// Largest entry size that fits in a block of the smallest supported page size.
pub(crate) const MAX_ENTRY_SIZE: usize = G4K.page_size - BLOCK_HEADER_SIZE;

/// A fixed-size entry stored in a block.
///
/// `SIZE` is the `entry_size` of the C block set; it must be between 1 and
/// [`MAX_ENTRY_SIZE`], which is checked at build time when a [`BlockSet`] of the type is
/// created. The byte slices passed to [`BlockEntry::encode`] and [`BlockEntry::decode`] are
/// exactly `SIZE` bytes long.
pub(crate) trait BlockEntry: Sized {
    /// Size of one entry on the wire, in bytes.
    const SIZE: usize;

    /// Writes the wire form of `self` into `out` (`SIZE` bytes).
    fn encode(&self, out: &mut [u8]);

    /// Reads an entry from its wire form `bytes` (`SIZE` bytes); must not panic on any input.
    fn decode(bytes: &[u8]) -> Self;

    /// Decodes the wire form in `bytes` into `out` (what [`BlockIter::read_entry_into`]
    /// uses: no entry passes through a return value).
    #[inline]
    fn decode_into(bytes: &[u8], out: &mut Self) {
        *out = Self::decode(bytes);
    }

    /// Writes the wire forms of `entries` back to back into `out`
    /// (`entries.len() * SIZE` bytes; what does not fit is not written).
    fn encode_slice(entries: &[Self], out: &mut [u8]) {
        for (e, o) in entries.iter().zip(out.chunks_exact_mut(Self::SIZE)) {
            e.encode(o);
        }
    }

    /// Reads `out.len()` entries from their wire forms back to back in `bytes`
    /// (`out.len() * SIZE` bytes; entries past the end of `bytes` are left as they are).
    fn decode_slice(bytes: &[u8], out: &mut [Self]) {
        for (o, b) in out.iter_mut().zip(bytes.chunks_exact(Self::SIZE)) {
            *o = Self::decode(b);
        }
    }
}

/// Build-time check of [`BlockEntry::SIZE`].
struct SizeCheck<E>(PhantomData<E>);

impl<E: BlockEntry> SizeCheck<E> {
    /// Evaluating this constant fails the build unless `1 <= E::SIZE <= MAX_ENTRY_SIZE`.
    const OK: () = assert!(
        E::SIZE >= 1 && E::SIZE <= MAX_ENTRY_SIZE,
        "BlockEntry::SIZE must be between 1 and PAGE_SIZE - 16 of 4K pages"
    );
}

/// Every wire layout is an entry: `SIZE` is its size, and it is copied to and from the
/// block as its bytes (zerocopy), with no codec of its own. `u64`, `[u8; N]` and the
/// workload's records are entries this way; only test and benchmark entries that generate
/// or check their bytes implement the trait by hand.
impl<T: FromBytes + IntoBytes + Immutable + KnownLayout> BlockEntry for T {
    const SIZE: usize = size_of::<T>();

    #[inline]
    fn encode(&self, out: &mut [u8]) {
        // A copy of the constant size `SIZE`, which the compiler inlines; nothing if `out` is
        // shorter.
        let _ = self.write_to_prefix(out);
    }

    #[inline]
    fn decode(bytes: &[u8]) -> Self {
        T::read_from_prefix(bytes).map_or_else(|_| T::new_zeroed(), |(v, _)| v)
    }

    /// One copy of `SIZE` bytes straight into `out`; zeroes if `bytes` is shorter.
    #[inline]
    fn decode_into(bytes: &[u8], out: &mut Self) {
        match bytes.get(..Self::SIZE) {
            Some(src) => out.as_mut_bytes().copy_from_slice(src),
            None => out.as_mut_bytes().fill(0),
        }
    }

    /// One copy for the whole run of entries.
    fn encode_slice(entries: &[Self], out: &mut [u8]) {
        let src = entries.as_bytes();
        if let Some(out) = out.get_mut(..src.len()) {
            out.copy_from_slice(src);
        }
    }

    /// One copy for the whole run of entries.
    fn decode_slice(bytes: &[u8], out: &mut [Self]) {
        let dst = out.as_mut_bytes();
        if let Some(src) = bytes.get(..dst.len()) {
            dst.copy_from_slice(src);
        }
    }
}

/// Reads the `next` word of the block at `pa`.
///
/// # Safety
///
/// `pa` must be a page owned by the caller.
#[inline]
unsafe fn read_next<M: PageMem>(mem: &M, pa: u64) -> Option<u64> {
    // SAFETY: the caller owns `pa`.
    unsafe { mem.page(pa) }?.first().copied()
}

/// Reads the `count` word of the block at `pa`.
///
/// # Safety
///
/// `pa` must be a page owned by the caller.
#[inline]
unsafe fn read_count<M: PageMem>(mem: &M, pa: u64) -> Option<u64> {
    // SAFETY: the caller owns `pa`.
    unsafe { mem.page(pa) }?.get(1).copied()
}

/// The header of the block at `pa` and the block's bytes.
///
/// # Safety
///
/// `pa` must be a page owned by the caller and not freed while the slice lives.
#[inline]
unsafe fn header<M: PageMem>(mem: &M, pa: u64) -> Option<(BlockHeader, &[u8])> {
    // SAFETY: the caller owns `pa`.
    let page = unsafe { mem.bytes(pa) }?;
    let (hdr, _) = BlockHeader::read_from_prefix(page).ok()?;
    Some((hdr, page))
}

/// Writes the `next` word of the block at `pa`; returns `None` if the page does not exist.
///
/// # Safety
///
/// `pa` must be a page owned by the caller and not borrowed elsewhere.
#[inline]
unsafe fn write_next<M: PageMem>(mem: &mut M, pa: u64, next: u64) -> Option<()> {
    // SAFETY: the caller owns `pa` exclusively.
    *unsafe { mem.page_mut(pa) }?.first_mut()? = next;
    Some(())
}

/// Writes the `count` word of the block at `pa`; returns `None` if the page does not exist.
///
/// # Safety
///
/// `pa` must be a page owned by the caller and not borrowed elsewhere.
#[inline]
unsafe fn write_count<M: PageMem>(mem: &mut M, pa: u64, count: u64) -> Option<()> {
    // SAFETY: the caller owns `pa` exclusively.
    *unsafe { mem.page_mut(pa) }?.get_mut(1)? = count;
    Some(())
}

/// The error of an entry slot of the block at `block_pa` whose bytes are not in the memory
/// (which breaks the memory's contract).
const fn not_in_memory(block_pa: u64) -> Error {
    Error::new(errno::EFAULT, "block: entry slot not in memory", block_pa)
}

/// Byte range of entry `index` of size `size` inside a block.
#[inline]
fn entry_range(index: usize, size: usize) -> Option<Range<usize>> {
    let start = index.checked_mul(size)?.checked_add(BLOCK_HEADER_SIZE)?;
    Some(start..start.checked_add(size)?)
}

/// Byte range of the `n` entries of size `size` from entry `index` on inside a block.
#[inline]
fn entry_run(index: usize, n: usize, size: usize) -> Option<Range<usize>> {
    let start = index.checked_mul(size)?.checked_add(BLOCK_HEADER_SIZE)?;
    Some(start..start.checked_add(n.checked_mul(size)?)?)
}

/// Releases `n` blocks of a chain owned by a set, starting at `first`: unpreserve and free
/// (outgoing) or free (incoming, claimed).
///
/// Reads each block's `next` before releasing it; stops early at a 0 link or a missing page
/// (neither can happen on a chain that satisfies the [`BlockSet`] invariants).
///
/// # Safety
///
/// The first `n` blocks of the chain at `first` must be owned by the caller and not
/// referenced elsewhere; outgoing ones must be preserved, incoming ones claimed.
unsafe fn release_chain<M: PageMem>(mem: &mut M, first: u64, n: usize, incoming: bool) {
    let mut pa = first;
    for _ in 0..n {
        if pa == 0 {
            break;
        }
        // SAFETY: one of the first `n` blocks, owned by the caller, read before it is freed.
        let next = unsafe { read_next(mem, pa) }.unwrap_or(0);
        if !incoming {
            // SAFETY: an outgoing block of the chain, preserved by `grow` (requirement).
            unsafe { mem.unpreserve(pa, 1) };
        }
        // SAFETY: owned, no longer preserved, not referenced (requirements); freed once.
        unsafe { mem.free(pa) };
        pa = next;
    }
}

/// Whether `pa` is one of the first `n` blocks of the chain at `head`.
///
/// # Safety
///
/// The first `n` blocks of the chain at `head` must be owned by the caller.
unsafe fn chain_contains<M: PageMem>(mem: &M, head: u64, n: usize, pa: u64) -> bool {
    let mut cur = head;
    for _ in 0..n {
        if cur == pa {
            return true;
        }
        // SAFETY: `cur` is one of the first `n` blocks.
        cur = match unsafe { read_next(mem, cur) } {
            Some(next) => next,
            None => return false,
        };
    }
    false
}

/// A chain of serialization blocks holding entries of type `E` (`struct kho_block_set`).
///
/// An outgoing set (created by [`BlockSet::new`]) owns blocks it allocated and preserved; an
/// incoming set (returned by [`BlockSet::restore`]) owns blocks restored from the previous
/// kernel. Blocks are released only by [`BlockSet::shrink`] and [`BlockSet::destroy`];
/// dropping a set without destroying it leaks its blocks (the set cannot reach the memory
/// on drop).
///
/// # Invariants
///
/// * `count_per_block == (page_size - 16) / E::SIZE >= 1`.
/// * `nblocks == 0` if and only if `head_pa == 0`, and then `tail_pa == 0`.
/// * Otherwise `head_pa` starts a chain of exactly `nblocks <= KHO_MAX_BLOCKS` distinct
///   pages linked by their `next` words, ending at `tail_pa` whose `next` is 0. Every page is
///   owned by the set in the sense of [`PageMem`]: allocated and preserved (outgoing) or
///   claimed (incoming). The set's `unsafe` page accesses rely on this.
pub(crate) struct BlockSet<E: BlockEntry> {
    /// Physical address of the first block, 0 when empty.
    head_pa: u64,
    /// Physical address of the last block, 0 when empty.
    tail_pa: u64,
    nblocks: usize,
    /// Entries per block, `(PAGE_SIZE - 16) / E::SIZE`.
    count_per_block: usize,
    /// Whether the set was restored from the previous kernel.
    incoming: bool,
    /// The entry type; `fn() -> E` keeps the set `Send` regardless of `E`.
    _entry: PhantomData<fn() -> E>,
    /// Not `Sync`: entries are written through a shared reference ([`BlockSet::iter`],
    /// [`Slot::write`]) with a `&mut M` of the caller's, so two threads holding `&BlockSet`
    /// could write the same page at once. A value that owns a set and never reaches its
    /// pages through `&self` may say it is `Sync` itself.
    _not_sync: PhantomData<core::cell::Cell<()>>,
}

impl<E: BlockEntry> BlockSet<E> {
    /// Creates an empty outgoing set for pages of geometry `geo` (`KHO_BLOCK_SET_INIT`).
    pub(crate) const fn new(geo: Geometry) -> Self {
        let () = SizeCheck::<E>::OK;
        Self {
            head_pa: 0,
            tail_pa: 0,
            nblocks: 0,
            count_per_block: (geo.page_size - BLOCK_HEADER_SIZE) / E::SIZE,
            incoming: false,
            _entry: PhantomData,
            _not_sync: PhantomData,
        }
    }

    /// Physical address of the first block (the value to publish), 0 when empty.
    pub(crate) const fn head_pa(&self) -> u64 {
        self.head_pa
    }

    /// Whether the set has no blocks.
    pub(crate) const fn is_empty(&self) -> bool {
        self.nblocks == 0
    }

    /// Number of blocks in the chain.
    pub(crate) const fn nblocks(&self) -> usize {
        self.nblocks
    }

    /// Entries per block, `(PAGE_SIZE - 16) / E::SIZE`.
    pub(crate) const fn count_per_block(&self) -> usize {
        self.count_per_block
    }

    /// Number of entries that fit in the blocks the set has now (`nblocks * count_per_block`).
    pub(crate) const fn capacity(&self) -> usize {
        self.nblocks * self.count_per_block
    }

    /// Whether the set was restored from the previous kernel.
    pub(crate) const fn is_incoming(&self) -> bool {
        self.incoming
    }

    /// Ensures room for `count` entries by appending preserved blocks (outgoing sets only).
    ///
    /// Like `kho_block_set_grow()`: fails with `-ENOSPC` beyond [`KHO_MAX_BLOCKS`] blocks and
    /// with `-EINVAL` on an incoming set. On failure the blocks added by this call are
    /// unpreserved and freed and the set is exactly as before.
    pub(crate) fn grow<M: PageMem>(&mut self, mem: &mut M, count: usize) -> Result {
        if self.incoming {
            return Err(Error::inval("block: grow on an incoming set", count as u64));
        }
        let max = KHO_MAX_BLOCKS * self.count_per_block;
        if count > max {
            return Err(Error::new(
                errno::ENOSPC,
                "block: more entries than KHO_MAX_BLOCKS hold",
                count as u64,
            ));
        }
        let old_nblocks = self.nblocks;
        let old_tail = self.tail_pa;
        while count > self.capacity() {
            if let Err(e) = self.append_block(mem) {
                self.rollback_grow(mem, old_nblocks, old_tail);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Allocates, preserves and links one block at the tail.
    fn append_block<M: PageMem>(&mut self, mem: &mut M) -> Result {
        if self.nblocks >= KHO_MAX_BLOCKS {
            return Err(Error::new(
                errno::ENOSPC,
                "block: KHO_MAX_BLOCKS reached",
                self.nblocks as u64,
            ));
        }
        let pa = mem.alloc_zeroed()?;
        // SAFETY: just allocated; the set keeps it until it unpreserves it.
        if let Err(e) = unsafe { mem.preserve(pa, 1) } {
            // SAFETY: just allocated, not preserved, not linked.
            unsafe { mem.free(pa) };
            return Err(e);
        }
        if self.nblocks == 0 {
            self.head_pa = pa;
        // SAFETY: `tail_pa` is a block of the set (type invariant).
        } else if unsafe { write_next(mem, self.tail_pa, pa) }.is_none() {
            // SAFETY: preserved just above.
            unsafe { mem.unpreserve(pa, 1) };
            // SAFETY: just allocated, unpreserved again, not linked.
            unsafe { mem.free(pa) };
            return Err(Error::new(
                errno::EFAULT,
                "block: tail block not in memory",
                self.tail_pa,
            ));
        }
        self.tail_pa = pa;
        self.nblocks += 1;
        Ok(())
    }

    /// Removes the blocks appended after the set had `old_nblocks` blocks ending at `old_tail`.
    fn rollback_grow<M: PageMem>(&mut self, mem: &mut M, old_nblocks: usize, old_tail: u64) {
        let added = self.nblocks - old_nblocks;
        if added == 0 {
            return;
        }
        let first_new = if old_nblocks == 0 {
            self.head_pa
        } else {
            // SAFETY: `old_tail` is a block of the set (type invariant).
            unsafe { read_next(mem, old_tail) }.unwrap_or(0)
        };
        // SAFETY: the `added` blocks after `old_tail` belong to the set and are preserved
        // outgoing blocks; they are unlinked below.
        unsafe { release_chain(mem, first_new, added, false) };
        if old_nblocks == 0 {
            self.head_pa = 0;
        } else {
            // SAFETY: `old_tail` is a block of the set.
            let _ = unsafe { write_next(mem, old_tail, 0) };
        }
        self.tail_pa = old_tail;
        self.nblocks = old_nblocks;
    }

    /// Address of block number `n` (0-based) of the chain, walking from the head.
    fn block_at<M: PageMem>(&self, mem: &M, n: usize) -> Option<u64> {
        if n >= self.nblocks {
            return None;
        }
        let mut pa = self.head_pa;
        for _ in 0..n {
            // SAFETY: `pa` is one of the first `n < nblocks` blocks of the set.
            pa = unsafe { read_next(mem, pa) }?;
        }
        Some(pa)
    }

    /// Drops tail blocks that are not needed for `count` entries (`kho_block_set_shrink()`).
    ///
    /// Removes the tail while `nblocks > 0 && count <= (nblocks - 1) * count_per_block`,
    /// releasing it by direction (outgoing: unpreserve and free; incoming: free), then ends
    /// the chain at the new tail. Only correct if entries were removed last-in first-out.
    pub(crate) fn shrink<M: PageMem>(&mut self, mem: &mut M, count: usize) {
        let mut keep = self.nblocks;
        while keep > 0 && count <= (keep - 1) * self.count_per_block {
            keep -= 1;
        }
        if keep == self.nblocks {
            return;
        }
        let first_drop = if keep == 0 {
            let head = self.head_pa;
            self.head_pa = 0;
            self.tail_pa = 0;
            head
        } else {
            let Some(new_tail) = self.block_at(mem, keep - 1) else {
                return;
            };
            // SAFETY: `new_tail` is a block of the set.
            let first_drop = unsafe { read_next(mem, new_tail) }.unwrap_or(0);
            // SAFETY: as above.
            let _ = unsafe { write_next(mem, new_tail, 0) };
            self.tail_pa = new_tail;
            first_drop
        };
        // SAFETY: the dropped blocks belong to the set and are unlinked from it now.
        unsafe { release_chain(mem, first_drop, self.nblocks - keep, self.incoming) };
        self.nblocks = keep;
    }

    /// Sets every block's count to 0 and zeroes its entry area; keeps the blocks.
    pub(crate) fn clear<M: PageMem>(&mut self, mem: &mut M) {
        let mut pa = self.head_pa;
        for _ in 0..self.nblocks {
            // SAFETY: `pa` walks the blocks of the set (type invariant).
            let next = unsafe { read_next(mem, pa) }.unwrap_or(0);
            // SAFETY: as above; `&mut self` excludes other borrows through the set.
            if let Some(bytes) = unsafe { mem.bytes_mut(pa) } {
                if let Some(entries) = bytes.get_mut(BLOCK_HEADER_SIZE..) {
                    entries.fill(0);
                }
            }
            // SAFETY: as above.
            let _ = unsafe { write_count(mem, pa, 0) };
            pa = next;
        }
    }

    /// Releases every block by direction and leaves the set empty (keeps the direction).
    pub(crate) fn destroy<M: PageMem>(&mut self, mem: &mut M) {
        // SAFETY: the set owns its blocks (type invariant) and forgets them below.
        unsafe { release_chain(mem, self.head_pa, self.nblocks, self.incoming) };
        self.head_pa = 0;
        self.tail_pa = 0;
        self.nblocks = 0;
    }

    /// Total number of entries recorded in the block headers (sum of the counts).
    pub(crate) fn written<M: PageMem>(&self, mem: &M) -> usize {
        let mut total = 0usize;
        let mut pa = self.head_pa;
        for _ in 0..self.nblocks {
            // SAFETY: `pa` walks the blocks of the set (type invariant).
            let (count, next) = unsafe { (read_count(mem, pa), read_next(mem, pa)) };
            let count = count.unwrap_or(0).min(self.count_per_block as u64);
            total = total.saturating_add(count as usize);
            pa = next.unwrap_or(0);
        }
        total
    }

    /// Checks that the chain can be published: the C reader rejects any block with count 0
    /// (e.g. a grown but unused tail) or a count above the entries per block.
    pub(crate) fn validate_outgoing<M: PageMem>(&self, mem: &M) -> Result {
        let mut pa = self.head_pa;
        for _ in 0..self.nblocks {
            // SAFETY: `pa` walks the blocks of the set (type invariant).
            let Some(count) = (unsafe { read_count(mem, pa) }) else {
                return Err(Error::new(errno::EFAULT, "block: block not in memory", pa));
            };
            if count == 0 {
                return Err(Error::inval("block: outgoing block with count 0", pa));
            }
            if count > self.count_per_block as u64 {
                return Err(Error::inval(
                    "block: outgoing block count exceeds entries per block",
                    count,
                ));
            }
            // SAFETY: as above.
            pa = unsafe { read_next(mem, pa) }.unwrap_or(0);
        }
        Ok(())
    }

    /// Drops the blocks after the last block holding entries, so that no block with count 0
    /// is published (see [`BlockSet::validate_outgoing`]).
    pub(crate) fn trim<M: PageMem>(&mut self, mem: &mut M) {
        let mut used_blocks = 0usize;
        let mut last_count = 0usize;
        let mut pa = self.head_pa;
        for n in 0..self.nblocks {
            // SAFETY: `pa` walks the blocks of the set (type invariant).
            let (count, next) = unsafe { (read_count(mem, pa), read_next(mem, pa)) };
            let count = count.unwrap_or(0).min(self.count_per_block as u64);
            if count > 0 {
                used_blocks = n + 1;
                last_count = count as usize;
            }
            pa = next.unwrap_or(0);
        }
        let keep_count = match used_blocks {
            0 => 0,
            n => (n - 1) * self.count_per_block + last_count,
        };
        self.shrink(mem, keep_count);
    }

    /// An iterator positioned at the first entry of the first block (`kho_block_set_it_init`).
    pub(crate) fn iter(&self) -> BlockIter<'_, E> {
        BlockIter {
            set: self,
            block_pa: self.head_pa,
            index: 0,
        }
    }

    /// New kernel: takes over the chain starting at `head_pa` (`kho_block_set_restore()`).
    ///
    /// `head_pa == 0` gives an empty set. Block by block: check, claim, then read. Each
    /// block address must be page aligned and name an order-0 page the previous kernel
    /// preserved and nobody claimed yet; it is claimed with [`PageMem::claim`] before a
    /// byte of it is read, and then its count must be in `1..=count_per_block` of this
    /// reader's `E`. A block reached twice cannot be claimed twice: that is a loop
    /// (`-ELOOP`). More than [`KHO_MAX_BLOCKS`] blocks is `-EINVAL`. On error every block
    /// claimed so far is freed; the blocks not reached stay preserved (reserved) memory of
    /// the previous kernel.
    ///
    /// # Safety
    ///
    /// `head_pa` must come from the caller's own state of the previous kernel (a subtree it
    /// published): every page reached from it is claimed ([`PageMem::claim`]), which
    /// proves that someone preserved it, not who.
    pub(crate) unsafe fn restore<M: PageMem>(mem: &mut M, head_pa: u64) -> Result<Self> {
        let mut set = Self::new(*mem.geometry());
        set.incoming = true;
        if head_pa == 0 {
            return Ok(set);
        }
        let cap = set.count_per_block as u64;
        let mut pa = head_pa;
        let mut claimed = 0usize;
        let res = loop {
            if claimed >= KHO_MAX_BLOCKS {
                break Err(Error::inval(
                    "block: chain longer than KHO_MAX_BLOCKS",
                    claimed as u64 + 1,
                ));
            }
            if !mem.geometry().is_page_aligned(pa) {
                break Err(Error::inval("block: block address not page aligned", pa));
            }
            // SAFETY: `pa` is reached from `head_pa`, which comes from the caller's own state
            // (this function's contract).
            if let Err(e) = unsafe { mem.claim(pa, 1) } {
                // SAFETY: the first `claimed` blocks of the chain were claimed by this call.
                if unsafe { chain_contains(mem, head_pa, claimed, pa) } {
                    break Err(Error::new(errno::ELOOP, "block: chain has a loop", pa));
                }
                break Err(Error::new(
                    e.errno,
                    "block: block not preserved by the previous kernel or claimed already",
                    pa,
                ));
            }
            claimed += 1;
            // SAFETY: claimed just above.
            let (next, count) = unsafe { (read_next(mem, pa), read_count(mem, pa)) };
            let (Some(next), Some(count)) = (next, count) else {
                break Err(Error::inval("block: page too small for a block header", pa));
            };
            if count == 0 {
                break Err(Error::inval("block: block with count 0", pa));
            }
            if count > cap {
                break Err(Error::inval(
                    "block: block count exceeds entries per block",
                    count,
                ));
            }
            if next == 0 {
                break Ok(pa);
            }
            pa = next;
        };
        match res {
            Ok(tail) => {
                // INVARIANT: `claimed` distinct blocks (each claimed once), at most
                // KHO_MAX_BLOCKS, linked from `head_pa` to `tail` whose `next` is 0.
                set.head_pa = head_pa;
                set.tail_pa = tail;
                set.nblocks = claimed;
                Ok(set)
            }
            Err(e) => {
                // SAFETY: the first `claimed` blocks were claimed by this call and are not
                // referenced by anything else.
                unsafe { release_chain(mem, head_pa, claimed, true) };
                Err(e)
            }
        }
    }
}

/// A typed entry slot inside a block of a set, returned by the iterator.
///
/// # Invariants
///
/// `block_pa` is a block of the set the slot borrows (lifetime `'s`), so the set owns the
/// page for as long as the slot lives, and `index` is below the set's entries per block,
/// so a slot reads and writes exactly `E::SIZE` bytes at the right offset. Only this module
/// creates slots.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Slot<'s, E: BlockEntry> {
    block_pa: u64,
    index: usize,
    /// The set the block belongs to, and the entry type.
    _set: PhantomData<&'s BlockSet<E>>,
}

impl<E: BlockEntry> Clone for Slot<'_, E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E: BlockEntry> Copy for Slot<'_, E> {}

impl<'s, E: BlockEntry> Slot<'s, E> {
    /// Creates a slot of a block of `_set`.
    ///
    /// # Safety
    ///
    /// `block_pa` must be a block of `_set` and `index` below its entries per block.
    #[inline]
    const unsafe fn new(_set: &'s BlockSet<E>, block_pa: u64, index: usize) -> Self {
        // INVARIANT: upheld by the caller, as required above.
        Self {
            block_pa,
            index,
            _set: PhantomData,
        }
    }

    /// Physical address of the block holding the entry.
    pub(crate) const fn block_pa(&self) -> u64 {
        self.block_pa
    }

    /// Index of the entry in its block.
    pub(crate) const fn index(&self) -> usize {
        self.index
    }

    /// Writes `entry` into the slot.
    #[inline]
    pub(crate) fn write<M: PageMem>(&self, mem: &mut M, entry: &E) -> Result {
        // SAFETY: the block belongs to the borrowed set, which owns it (type invariant).
        let page = unsafe { mem.bytes_mut(self.block_pa) };
        let out = entry_range(self.index, E::SIZE).and_then(|r| page?.get_mut(r));
        entry.encode(out.ok_or(not_in_memory(self.block_pa))?);
        Ok(())
    }

    /// Reads the entry in the slot.
    #[inline]
    pub(crate) fn read<M: PageMem>(&self, mem: &M) -> Result<E> {
        // SAFETY: the block belongs to the borrowed set, which owns it (type invariant).
        let page = unsafe { mem.bytes(self.block_pa) };
        let bytes = entry_range(self.index, E::SIZE).and_then(|r| page?.get(r));
        Ok(E::decode(bytes.ok_or(not_in_memory(self.block_pa))?))
    }
}

/// A position in a [`BlockSet`] for writing or reading entries (`struct kho_block_set_it`).
///
/// # Invariants
///
/// `block_pa` is 0 (the set is empty) or a block of `set`, and `index <= count_per_block`.
pub(crate) struct BlockIter<'s, E: BlockEntry> {
    set: &'s BlockSet<E>,
    /// Current block, 0 when the set has no blocks.
    block_pa: u64,
    /// Index of the next entry in the current block.
    index: usize,
}

impl<'s, E: BlockEntry> BlockIter<'s, E> {
    /// The position as `(block_pa, index)`.
    pub(crate) const fn position(&self) -> (u64, usize) {
        (self.block_pa, self.index)
    }

    /// Moves to the next block if the current one is full; `false` on an empty set and at
    /// the end of the last block (or if a full block's page is not in `mem`).
    #[inline]
    fn step_to_free<M: PageMem>(&mut self, mem: &M) -> bool {
        if self.block_pa == 0 {
            return false;
        }
        if self.index >= self.set.count_per_block {
            // SAFETY: `block_pa` is a block of the set (type invariant), owned by it.
            match unsafe { read_next(mem, self.block_pa) } {
                Some(next) if next != 0 => {
                    // INVARIANT: the successor of a block of the set is a block of the set.
                    self.block_pa = next;
                    self.index = 0;
                }
                _ => return false,
            }
        }
        true
    }

    /// Reserves the next entry for writing (`kho_block_set_it_reserve_entry()`).
    ///
    /// Moves to the next block when the current one is full; returns `None` at the end of
    /// the last block. Stores the new index into the block's `count`.
    #[inline]
    pub(crate) fn reserve_entry<M: PageMem>(&mut self, mem: &mut M) -> Option<Slot<'s, E>> {
        if !self.step_to_free(mem) {
            return None;
        }
        // SAFETY: `block_pa` is a block of the set and `index < count_per_block`.
        let slot = unsafe { Slot::new(self.set, self.block_pa, self.index) };
        // SAFETY: `block_pa` is a block of the set.
        unsafe { write_count(mem, self.block_pa, (self.index + 1) as u64) }?;
        self.index += 1;
        Some(slot)
    }

    /// Reserves the next entry and writes `entry` into it; `-ENOSPC` if the set is full.
    #[inline]
    pub(crate) fn write<M: PageMem>(&mut self, mem: &mut M, entry: &E) -> Result {
        let slot = self.reserve_entry(mem).ok_or_else(|| {
            Error::new(
                errno::ENOSPC,
                "block: no free entry left (grow first)",
                self.set.nblocks as u64,
            )
        })?;
        slot.write(mem, entry)
    }

    /// Writes the entries of `entries` in order, as [`BlockIter::write`] would one by one,
    /// until the set is full; returns how many were written.
    ///
    /// Each block is reached once: its part of `entries` is copied in with one
    /// [`BlockEntry::encode_slice`] and its `count` is stored once.
    pub(crate) fn write_slice<M: PageMem>(&mut self, mem: &mut M, entries: &[E]) -> usize {
        let cap = self.set.count_per_block;
        let mut done = 0;
        while done < entries.len() && self.step_to_free(mem) {
            let n = (cap - self.index).min(entries.len() - done);
            let Some(range) = entry_run(self.index, n, E::SIZE) else {
                break;
            };
            // SAFETY: `block_pa` is a block of the set, which owns it; `&mut M` excludes
            // other borrows of the page.
            let Some(out) =
                (unsafe { mem.bytes_mut(self.block_pa) }).and_then(|b| b.get_mut(range))
            else {
                break;
            };
            E::encode_slice(&entries[done..done + n], out);
            // SAFETY: as above.
            if unsafe { write_count(mem, self.block_pa, (self.index + n) as u64) }.is_none() {
                break;
            }
            self.index += n;
            done += n;
        }
        done
    }

    /// Reads entries into `out` in order, as [`BlockIter::read_entry`] would one by one,
    /// until `out` is full or the entries end; returns how many were read.
    ///
    /// Each block is reached once: its counted entries (the count bounded by the entries per
    /// block, so an incoming count is never trusted beyond the page) are copied out with one
    /// [`BlockEntry::decode_slice`].
    pub(crate) fn read_slice<M: PageMem>(&mut self, mem: &M, out: &mut [E]) -> usize {
        let cap = self.set.count_per_block as u64;
        if self.block_pa == 0 {
            return 0;
        }
        // The header of the current block; the one of the next block is read once, to
        // decide whether to move there, and then kept.
        // SAFETY: `block_pa` is a block of the set (type invariant), owned by it.
        let Some(mut cur) = (unsafe { header(mem, self.block_pa) }) else {
            return 0;
        };
        let mut done = 0;
        while done < out.len() {
            let (hdr, page) = cur;
            let count = hdr.count.min(cap) as usize;
            if self.index < count {
                let n = (count - self.index).min(out.len() - done);
                let Some(src) = entry_run(self.index, n, E::SIZE).and_then(|r| page.get(r)) else {
                    break;
                };
                E::decode_slice(src, &mut out[done..done + n]);
                self.index += n;
                done += n;
                continue;
            }
            if hdr.next == 0 {
                break;
            }
            // SAFETY: `hdr.next` is the successor of a block of the set, itself a block of it.
            match unsafe { header(mem, hdr.next) } {
                Some(next) if next.0.count != 0 => {
                    // INVARIANT: `hdr.next` is a block of the set.
                    self.block_pa = hdr.next;
                    self.index = 0;
                    cur = next;
                }
                _ => break,
            }
        }
        done
    }

    /// Reads the next entry (`kho_block_set_it_read_entry()`), bounded by each block's count.
    ///
    /// Moves to the next block when the current block's counted entries are used up.
    /// Returns `None` after the last counted entry of the last block, and also, without
    /// moving, when the next block has count 0 (a grown but unwritten block, which a restored
    /// set never has), so that a writer continuing from this position leaves no gap.
    #[inline]
    pub(crate) fn read_entry<M: PageMem>(&mut self, mem: &M) -> Option<E> {
        self.next_entry(mem).map(E::decode)
    }

    /// As [`BlockIter::read_entry`], into `out`: one copy from the block to `out`, where
    /// `read_entry` moves the entry through its return value. Returns whether there was an
    /// entry (`out` is left as it was if not).
    #[inline]
    pub(crate) fn read_entry_into<M: PageMem>(&mut self, mem: &M, out: &mut E) -> bool {
        match self.next_entry(mem) {
            Some(bytes) => {
                E::decode_into(bytes, out);
                true
            }
            None => false,
        }
    }

    /// The bytes of the next entry (see [`BlockIter::read_entry`]), and the position moved
    /// past it.
    #[inline]
    fn next_entry<'m, M: PageMem>(&mut self, mem: &'m M) -> Option<&'m [u8]> {
        if self.block_pa == 0 {
            return None;
        }
        let cap = self.set.count_per_block;
        // One look at each block's page: its header, then the entry's bytes from it.
        // SAFETY: `block_pa` is a block of the set (type invariant), owned by it.
        let (hdr, mut page) = unsafe { header(mem, self.block_pa) }?;
        if self.index as u64 >= hdr.count.min(cap as u64) {
            if hdr.next == 0 {
                return None;
            }
            // SAFETY: `hdr.next` is the successor of a block of the set, itself a block.
            let (next, next_page) = unsafe { header(mem, hdr.next) }?;
            if next.count == 0 {
                return None;
            }
            // INVARIANT: `hdr.next` is a block of the set.
            self.block_pa = hdr.next;
            self.index = 0;
            page = next_page;
        }
        if self.index >= cap {
            return None;
        }
        let bytes = entry_range(self.index, E::SIZE).and_then(|r| page.get(r))?;
        self.index += 1;
        Some(bytes)
    }

    /// Steps back one entry and returns its slot (`kho_block_set_it_prev()`).
    ///
    /// At a block boundary moves to the previous block's last slot (`count_per_block - 1`);
    /// returns `None` at the very start. Does not lower any block's `count`.
    pub(crate) fn prev<M: PageMem>(&mut self, mem: &M) -> Option<Slot<'s, E>> {
        if self.block_pa == 0 {
            return None;
        }
        if self.index == 0 {
            if self.block_pa == self.set.head_pa {
                return None;
            }
            // Walk from the head to the predecessor of the current block.
            let mut pa = self.set.head_pa;
            let mut found = false;
            for _ in 0..self.set.nblocks {
                // SAFETY: `pa` walks the blocks of the set (its type invariant).
                let next = unsafe { read_next(mem, pa) }?;
                if next == self.block_pa {
                    found = true;
                    break;
                }
                pa = next;
            }
            if !found {
                return None;
            }
            // INVARIANT: `pa` is a block of the set.
            self.block_pa = pa;
            self.index = self.set.count_per_block - 1;
        } else {
            self.index -= 1;
        }
        // SAFETY: `block_pa` is a block of the set and `index < count_per_block`.
        Some(unsafe { Slot::new(self.set, self.block_pa, self.index) })
    }
}
