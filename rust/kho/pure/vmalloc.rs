// SPDX-License-Identifier: GPL-2.0

//! vmalloc preservation descriptors and chunks ("vmalloc-v1").
//!
//! Mirrors `struct kho_vmalloc` / `struct kho_vmalloc_chunk` of
//! `include/linux/kho/abi/kexec_handover.h` and the algorithms of `kho_preserve_vmalloc()`,
//! `kho_unpreserve_vmalloc()` and `kho_restore_vmalloc()` of Linux 7.3
//! (`kernel/liveupdate/kexec_handover.c`):
//!
//! ```text
//! struct kho_vmalloc (16 bytes, by value in the user's data):
//!   +0 u64 first (phys of the first chunk)  +8 u32 total_pages  +12 u16 flags  +14 u16 order
//! struct kho_vmalloc_chunk (one page):
//!   +0 u64 next (phys, 0 = end)  +8 u64 phys[N]  (N = 511 / 2047 / 8191)
//! ```
//!
//! `phys[]` lists the physical address of every `2^order`-page block of the area, ends at
//! the first 0 or at the end of the array, and a new chunk is linked as soon as the previous
//! one is full, so an exact multiple of N entries leaves an empty trailing chunk.
//!
//! This module never maps anything: [`restore`] hands every order-0 page to a sink, and the
//! kernel glue collects them and `vmap()`s them.

use core::mem::{align_of, offset_of, size_of};

use zerocopy::{FromBytes, IntoBytes};
use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout};

use super::error::{errno, Error, Result};
use super::geometry::Geometry;
use super::mem::{BlockList, PageMem};

/// Compatible string of the vmalloc format (`KHO_VMALLOC_COMPATIBLE`).
#[cfg(any(test, feature = "fuzz"))]
pub(crate) const KHO_VMALLOC_COMPATIBLE: &str = super::compat::VMALLOC_COMPAT;

/// `KHO_VMALLOC_ALLOC`: the area was a `VM_ALLOC` area.
pub(crate) const KHO_VMALLOC_ALLOC: u16 = 0x1;

/// `KHO_VMALLOC_HUGE_VMAP`: the area allowed huge mappings (`VM_ALLOW_HUGE_VMAP`).
pub(crate) const KHO_VMALLOC_HUGE_VMAP: u16 = 0x2;

/// Every flag bit this implementation knows.
pub(crate) const KHO_VMALLOC_KNOWN_FLAGS: u16 = KHO_VMALLOC_ALLOC | KHO_VMALLOC_HUGE_VMAP;

/// Largest page order accepted for `geo` (`MAX_PAGE_ORDER`).
pub(crate) const fn max_order(geo: &Geometry) -> u16 {
    geo.max_page_order
}

/// The vmalloc preservation descriptor (`struct kho_vmalloc`), 16 bytes on the wire.
///
/// A plain value: nothing about it is trusted when it comes from the previous kernel until
/// [`validate`] accepts it.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub(crate) struct KhoVmalloc {
    /// Physical address of the first chunk (`first.phys`), 0 = none.
    pub(crate) first: u64,
    /// Number of order-0 pages of the area.
    pub(crate) total_pages: u32,
    /// `KHO_VMALLOC_*` flags.
    pub(crate) flags: u16,
    /// Page order of every listed block.
    pub(crate) order: u16,
}

// `struct kho_vmalloc` is 16 bytes, 8-aligned: +0 first, +8 total_pages, +12 flags, +14 order.
const _: () = {
    assert!(size_of::<KhoVmalloc>() == 16);
    assert!(align_of::<KhoVmalloc>() == 8);
    assert!(offset_of!(KhoVmalloc, first) == 0);
    assert!(offset_of!(KhoVmalloc, total_pages) == 8);
    assert!(offset_of!(KhoVmalloc, flags) == 12);
    assert!(offset_of!(KhoVmalloc, order) == 14);
};

impl KhoVmalloc {
    /// Reads a descriptor from its wire bytes (zerocopy); the length must be exactly 16.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Self::read_from_bytes(bytes)
            .map_err(|_| Error::inval("vmalloc: descriptor is not 16 bytes", bytes.len() as u64))
    }
}

/// `struct kho_vmalloc_chunk`: one chunk page, the `next` chunk's physical address (0 at
/// the end) followed by the physical addresses of `2^order`-page blocks (0 ends the list).
///
/// Viewed in place on a page's words (zerocopy): a page of `PAGE_SIZE` bytes has
/// `KHO_VMALLOC_SIZE = (PAGE_SIZE - 8) / 8` entries.
///
/// `repr(C)` puts `phys` right after `next`, at offset 8 (both 8-aligned), as in C.
#[repr(C)]
#[derive(FromBytes, IntoBytes, Immutable, KnownLayout)]
pub(crate) struct KhoVmallocChunk {
    /// Physical address of the next chunk, 0 for the last one.
    pub(crate) next: u64,
    /// The listed blocks.
    pub(crate) phys: [u64],
}

impl KhoVmallocChunk {
    /// The chunk laid over the words of a page.
    pub(crate) fn of(page: &[u64]) -> Option<&Self> {
        Self::ref_from_bytes(page.as_bytes()).ok()
    }

    /// The chunk laid over the words of a page, writable.
    fn of_mut(page: &mut [u64]) -> Option<&mut Self> {
        Self::mut_from_bytes(page.as_mut_bytes()).ok()
    }

    /// The first `per_chunk` entries (all of them if there are fewer).
    fn entries(&self, per_chunk: usize) -> &[u64] {
        self.phys.get(..per_chunk).unwrap_or(&self.phys)
    }
}

/// What [`validate`] found in a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct VmallocStats {
    /// Number of chunks, including an empty trailing one.
    pub(crate) chunks: usize,
    /// Number of listed blocks of `2^order` pages.
    pub(crate) entries: usize,
}

/// `1 << order` as a page count.
const fn block_pages(order: u16) -> u64 {
    1u64 << order
}

/// Upper bound of the number of chunks for `entries` blocks: full chunks plus one
/// (the partial or empty trailing chunk).
const fn max_chunks(entries: u64, per_chunk: usize) -> u64 {
    entries / per_chunk as u64 + 1
}

/// Number of chunk pages `desc`'s chain has: a chunk is linked as soon as the previous one
/// fills (the C rule), so full chunks plus the partial or empty trailing one.
pub(crate) fn chunk_pages(geo: &Geometry, desc: &KhoVmalloc) -> u64 {
    if desc.first == 0 {
        return 0;
    }
    let nr = block_pages(desc.order.min(max_order(geo)));
    max_chunks(u64::from(desc.total_pages) / nr, geo.vmalloc_chunk_entries)
}

/// Whether `pages`, the physical addresses of an area's order-0 pages in area order, are
/// blocks of `2^order` pages: a whole number of groups of `2^order` consecutive entries,
/// each physically contiguous and aligned to `PAGE_SIZE << order`. Such an area can be
/// preserved with that `order` (every listed block is then one of them).
pub(crate) fn made_of_blocks(geo: &Geometry, pages: &[u64], order: u16) -> bool {
    if order > max_order(geo) {
        return false;
    }
    let nr = 1usize << order;
    let ps = geo.page_size as u64;
    let align = ps << order;
    if pages.is_empty() || pages.len() % nr != 0 {
        return false;
    }
    pages.chunks_exact(nr).all(|block| {
        let head = block.first().copied().unwrap_or(1);
        head % align == 0
            && block
                .iter()
                .enumerate()
                .all(|(k, &pa)| Some(pa) == head.checked_add(k as u64 * ps))
    })
}

/// Preserves a vmalloc area described by its blocks and returns the descriptor.
///
/// Like `kho_preserve_vmalloc()`: `pages` yields the physical address of each `2^order`-page
/// block in area order (`vm->pages[i]` for `i` in steps of `1 << order`). The first chunk is
/// allocated and preserved first; each block is preserved with `2^order` pages and appended;
/// a full chunk gets its successor linked immediately. `total_pages` must equal the number
/// of blocks times `2^order`. Unknown `flags` give `-EOPNOTSUPP`. Any failure unpreserves
/// everything and frees the chunks.
///
/// # Safety
///
/// Every block `pages` yields must be owned by the caller (the pages of a vmalloc area it
/// owns) and stay allocated until the descriptor is unpreserved or the kernel kexecs
/// ([`PageMem::preserve`]).
pub(crate) unsafe fn preserve<M: PageMem>(
    mem: &mut M,
    pages: impl Iterator<Item = u64>,
    total_pages: u32,
    order: u16,
    flags: u16,
) -> Result<KhoVmalloc> {
    let geo = *mem.geometry();
    if flags & !KHO_VMALLOC_KNOWN_FLAGS != 0 {
        return Err(Error::new(
            errno::EOPNOTSUPP,
            "vmalloc: unsupported flags",
            u64::from(flags),
        ));
    }
    if order > max_order(&geo) {
        return Err(Error::inval("vmalloc: order too large", u64::from(order)));
    }
    if total_pages == 0 {
        return Err(Error::inval("vmalloc: empty area", 0));
    }
    let first = mem.alloc_zeroed()?;
    // SAFETY: just allocated; the descriptor keeps it until `unpreserve`.
    if let Err(e) = unsafe { mem.preserve(first, 1) } {
        // SAFETY: just allocated, not preserved, not linked.
        unsafe { mem.free(first) };
        return Err(e);
    }
    let desc = KhoVmalloc {
        first,
        total_pages,
        flags,
        order,
    };
    // SAFETY: `desc.first` was allocated by this call and is preserved.
    match unsafe { fill_chunks(mem, &geo, pages, &desc) } {
        Ok(()) => Ok(desc),
        Err(e) => {
            // SAFETY: the chain is consistent and its chunks were allocated by this call.
            unsafe { unpreserve(mem, &desc) };
            Err(e)
        }
    }
}

/// Appends every block of `pages` to the chain starting at `desc.first` (see [`preserve`]).
///
/// On error the chain is consistent (linked, zero-terminated, every listed block and every
/// chunk preserved) so that [`unpreserve`] undoes it.
///
/// # Safety
///
/// `desc.first` must be a zeroed chunk page owned by the caller, the only chunk so far.
unsafe fn fill_chunks<M: PageMem>(
    mem: &mut M,
    geo: &Geometry,
    pages: impl Iterator<Item = u64>,
    desc: &KhoVmalloc,
) -> Result {
    let per_chunk = geo.vmalloc_chunk_entries;
    let nr = block_pages(desc.order);
    let align = (geo.page_size as u64) << desc.order;
    let mut pages = pages.peekable();
    let mut chunk = desc.first;
    let mut covered = 0u64;
    loop {
        // Fill the chunk with up to `per_chunk` block addresses, checked first; then
        // preserve them with one call. Entries are written only for blocks that end up
        // preserved (the others are zeroed again), so `unpreserve` undoes exactly this.
        // SAFETY: `chunk` is `desc.first` (owned, requirement) or a chunk this call
        // allocated.
        let Some(entries) = (unsafe { mem.page_mut(chunk) })
            .and_then(KhoVmallocChunk::of_mut)
            .map(|c| &mut c.phys)
        else {
            return Err(Error::new(
                errno::EFAULT,
                "vmalloc: chunk not in memory",
                chunk,
            ));
        };
        let mut used = 0usize;
        let mut bad = None;
        for slot in entries.iter_mut().take(per_chunk) {
            let Some(pa) = pages.next() else { break };
            if pa == 0 || pa & (align - 1) != 0 {
                bad = Some(Error::inval("vmalloc: block not aligned to its order", pa));
                break;
            }
            covered += nr;
            if covered > u64::from(desc.total_pages) {
                bad = Some(Error::inval(
                    "vmalloc: more pages than total_pages",
                    covered,
                ));
                break;
            }
            *slot = pa;
            used += 1;
        }
        let list = BlockList {
            page: chunk,
            first: 1,
            n: used,
            nr_pages: nr,
        };
        // SAFETY: `chunk` is owned (as above); its first `used` entries are blocks of the
        // caller's area (this function's contract).
        let (done, res) = unsafe { mem.preserve_blocks_in(list) };
        if let Some(e) = bad.or(res.err()) {
            // SAFETY: as above.
            if let Some(c) = (unsafe { mem.page_mut(chunk) }).and_then(KhoVmallocChunk::of_mut) {
                c.phys.iter_mut().take(used).skip(done).for_each(|w| *w = 0);
            }
            return Err(e);
        }
        if used < per_chunk {
            break;
        }
        // A full chunk gets its successor linked at once, as C does.
        let next = mem.alloc_zeroed()?;
        // SAFETY: just allocated; linked into the chain below, owned by the descriptor.
        if let Err(e) = unsafe { mem.preserve(next, 1) } {
            // SAFETY: just allocated, not preserved, not linked.
            unsafe { mem.free(next) };
            return Err(e);
        }
        // SAFETY: as above.
        let Some(link) = (unsafe { mem.page_mut(chunk) })
            .and_then(KhoVmallocChunk::of_mut)
            .map(|c| &mut c.next)
        else {
            // SAFETY: preserved just above.
            unsafe { mem.unpreserve(next, 1) };
            // SAFETY: just allocated, unpreserved again, not linked.
            unsafe { mem.free(next) };
            return Err(Error::new(
                errno::EFAULT,
                "vmalloc: chunk not in memory",
                chunk,
            ));
        };
        *link = next;
        chunk = next;
        if pages.peek().is_none() {
            break;
        }
    }
    if covered != u64::from(desc.total_pages) {
        return Err(Error::inval(
            "vmalloc: blocks do not cover total_pages",
            covered,
        ));
    }
    Ok(())
}

/// Undoes [`preserve`] (`kho_unpreserve_vmalloc()`) for an outgoing descriptor.
///
/// Unpreserves every listed block and every chunk page and frees the chunk pages; the data
/// pages belong to the vmalloc area and are not freed. The walk is bounded by what
/// `total_pages` allows, so a damaged descriptor cannot make it loop.
///
/// # Safety
///
/// `desc` must have been returned by [`preserve`] on this memory (or be the consistent
/// chain a failing [`preserve`] left) and not unpreserved yet: its chunk pages are owned by
/// the caller and are freed.
pub(crate) unsafe fn unpreserve<M: PageMem>(mem: &mut M, desc: &KhoVmalloc) {
    let geo = *mem.geometry();
    let per_chunk = geo.vmalloc_chunk_entries;
    let nr = block_pages(desc.order.min(max_order(&geo)));
    let bound = max_chunks(u64::from(desc.total_pages) / nr, per_chunk);
    let mut chunk = desc.first;
    let mut seen = 0u64;
    while chunk != 0 && seen < bound {
        seen += 1;
        // SAFETY: `chunk` is a chunk of the descriptor, owned by the caller (requirement).
        let Some(page) = (unsafe { mem.page(chunk) }).and_then(KhoVmallocChunk::of) else {
            return;
        };
        let next = page.next;
        let list = page.entries(per_chunk);
        let used = list.iter().position(|&pa| pa == 0).unwrap_or(list.len());
        let blocks = BlockList {
            page: chunk,
            first: 1,
            n: used,
            nr_pages: nr,
        };
        // SAFETY: as above; the chunk's first `used` entries are blocks this descriptor
        // preserved with `nr` pages each.
        unsafe { mem.unpreserve_blocks_in(blocks) };
        // SAFETY: a chunk of the descriptor, preserved by `preserve` (requirement).
        unsafe { mem.unpreserve(chunk, 1) };
        // SAFETY: as above; unpreserved, read for the last time, freed once.
        unsafe { mem.free(chunk) };
        chunk = next;
    }
}

/// Checks the chain of chunks (addresses, loops, length) read-only; returns the chunk count.
///
/// Runs Floyd's cycle detection; every chunk the hare visits must be a page-aligned page of
/// `mem`. A loop gives `-ELOOP`, more than `bound` chunks `-EINVAL`.
///
/// # Safety
///
/// As for [`validate`].
unsafe fn check_chunk_chain<M: PageMem>(mem: &M, first: u64, bound: u64) -> Result<usize> {
    let geo = mem.geometry();
    let next_of = |pa: u64| -> Result<u64> {
        if pa == 0 || !geo.is_page_aligned(pa) {
            return Err(Error::inval("vmalloc: chunk address not page aligned", pa));
        }
        // SAFETY: the caller vouches that every chunk page of the chain stays allocated and
        // unmodified ([`validate`]'s requirement).
        unsafe { mem.page(pa) }
            .and_then(KhoVmallocChunk::of)
            .map(|c| c.next)
            .ok_or(Error::inval(
                "vmalloc: chunk address is not a page of memory",
                pa,
            ))
    };
    // A loop over at most `bound` chunks is found before the hare has made twice that many
    // steps; past that the chain is too long whatever its shape.
    let hop_limit = bound.saturating_mul(2).saturating_add(2);
    let mut slow = first;
    let mut fast = first;
    let mut hops = 0u64;
    loop {
        for _ in 0..2 {
            let next = next_of(fast)?;
            hops += 1;
            if next == 0 {
                if hops > bound {
                    return Err(Error::inval(
                        "vmalloc: more chunks than total_pages needs",
                        hops,
                    ));
                }
                return Ok(hops as usize);
            }
            if hops >= hop_limit {
                return Err(Error::inval(
                    "vmalloc: more chunks than total_pages needs",
                    hops,
                ));
            }
            fast = next;
        }
        slow = next_of(slow)?;
        if slow == fast {
            return Err(Error::new(
                errno::ELOOP,
                "vmalloc: chunk chain has a loop",
                fast,
            ));
        }
    }
}

/// Validates a descriptor of this kernel and its chunks without claiming anything (e.g. to
/// check what this kernel, in Rust or in C, is about to hand over).
///
/// Not for incoming descriptors: [`restore`] claims each chunk before it reads it.
///
/// Checks: `first` non-zero and page aligned; no unknown flag bit; `order <=`
/// [`max_order`]; `total_pages > 0` and a multiple of `2^order`; the chunk chain free of
/// loops and no longer than `total_pages` needs; every chunk a page of `mem`; every listed
/// block aligned to `PAGE_SIZE << order` with all its pages in `mem`; no entry after a 0
/// terminator; a chunk that is not full is the last one; entries × `2^order ==
/// total_pages`.
///
/// # Safety
///
/// Every page the chunk chain of `desc` reaches must stay allocated and unmodified while
/// this runs, e.g. an outgoing descriptor of this kernel that is not unpreserved yet.
pub(crate) unsafe fn validate<M: PageMem>(mem: &M, desc: &KhoVmalloc) -> Result<VmallocStats> {
    let geo = *mem.geometry();
    let per_chunk = geo.vmalloc_chunk_entries;
    let expected = check_desc(&geo, desc)?;
    let nr = block_pages(desc.order);
    // SAFETY: this function's own requirement.
    let chunks = unsafe { check_chunk_chain(mem, desc.first, max_chunks(expected, per_chunk)) }?;

    let page_size = geo.page_size as u64;
    let align = page_size << desc.order;
    let mut entries = 0u64;
    let mut chunk = desc.first;
    for n in 0..chunks {
        // SAFETY: a chunk of the chain (this function's requirement).
        let page = unsafe { mem.page(chunk) }
            .and_then(KhoVmallocChunk::of)
            .ok_or(Error::inval(
                "vmalloc: chunk address is not a page of memory",
                chunk,
            ))?;
        let next = page.next;
        let blocks = chunk_blocks(page, per_chunk, n + 1 == chunks, align, chunk)?;
        for &pa in blocks {
            for k in 0..nr {
                let page_pa = pa
                    .checked_add(k * page_size)
                    .ok_or(Error::inval("vmalloc: block address overflows", pa))?;
                // SAFETY: only probes that the page exists; its contents are not read.
                if unsafe { mem.page(page_pa) }.is_none() {
                    return Err(Error::inval(
                        "vmalloc: block page is not a page of memory",
                        page_pa,
                    ));
                }
            }
            entries += 1;
            if entries > expected {
                return Err(Error::inval(
                    "vmalloc: more blocks than total_pages",
                    entries,
                ));
            }
        }
        chunk = next;
    }
    if entries != expected {
        return Err(Error::inval(
            "vmalloc: blocks do not cover total_pages",
            entries,
        ));
    }
    Ok(VmallocStats {
        chunks,
        entries: entries as usize,
    })
}

/// Calls `f` with the physical address of every listed block of a valid descriptor, in
/// order, without restoring anything (e.g. to compare with a chain written by C while
/// ignoring chunk addresses). Validates first.
///
/// # Safety
///
/// As for [`validate`].
pub(crate) unsafe fn for_each_entry<M: PageMem>(
    mem: &M,
    desc: &KhoVmalloc,
    mut f: impl FnMut(u64),
) -> Result<VmallocStats> {
    // SAFETY: this function's own requirement.
    let stats = unsafe { validate(mem, desc) }?;
    let per_chunk = mem.geometry().vmalloc_chunk_entries;
    let mut chunk = desc.first;
    for _ in 0..stats.chunks {
        // SAFETY: a chunk of the validated chain (this function's requirement).
        let Some(page) = (unsafe { mem.page(chunk) }).and_then(KhoVmallocChunk::of) else {
            break;
        };
        for &pa in page.entries(per_chunk) {
            if pa == 0 {
                break;
            }
            f(pa);
        }
        chunk = page.next;
    }
    Ok(stats)
}

/// The listed blocks of one chunk page, checked: no entry after the 0 terminator, only
/// the `last` chunk partly filled, every block aligned to `align`.
///
/// One pass over the listed blocks: the first entry that is 0 or misaligned ends them.
fn chunk_blocks(
    page: &KhoVmallocChunk,
    per_chunk: usize,
    last: bool,
    align: u64,
    chunk: u64,
) -> Result<&[u64]> {
    let list = page.entries(per_chunk);
    let mask = align - 1;
    let used = list
        .iter()
        .position(|&pa| pa == 0 || pa & mask != 0)
        .unwrap_or(list.len());
    let (blocks, rest) = list.split_at(used);
    if let Some(&bad) = rest.first().filter(|&&pa| pa != 0) {
        return Err(Error::inval("vmalloc: block not aligned to its order", bad));
    }
    if let Some(&stray) = rest.iter().find(|&&pa| pa != 0) {
        return Err(Error::inval("vmalloc: entry after the 0 terminator", stray));
    }
    if used < per_chunk && !last {
        return Err(Error::inval(
            "vmalloc: chunk not full but not the last",
            chunk,
        ));
    }
    Ok(blocks)
}

/// Checks the fields of an incoming descriptor that need no memory access; returns the
/// number of listed blocks it implies.
fn check_desc(geo: &Geometry, desc: &KhoVmalloc) -> Result<u64> {
    if desc.first == 0 {
        return Err(Error::inval("vmalloc: descriptor without chunks", 0));
    }
    if !geo.is_page_aligned(desc.first) {
        return Err(Error::inval(
            "vmalloc: first chunk not page aligned",
            desc.first,
        ));
    }
    if desc.flags & !KHO_VMALLOC_KNOWN_FLAGS != 0 {
        return Err(Error::inval(
            "vmalloc: unknown flag bits",
            u64::from(desc.flags),
        ));
    }
    if desc.order > max_order(geo) {
        return Err(Error::inval(
            "vmalloc: order too large",
            u64::from(desc.order),
        ));
    }
    let nr = block_pages(desc.order);
    let total = u64::from(desc.total_pages);
    if total == 0 {
        return Err(Error::inval("vmalloc: total_pages is 0", 0));
    }
    if !total.is_multiple_of(nr) {
        return Err(Error::inval(
            "vmalloc: total_pages not a multiple of 2^order",
            total,
        ));
    }
    Ok(total / nr)
}

/// Whether `pa` is one of the first `n` chunks of the chain at `first`.
///
/// # Safety
///
/// The first `n` chunks of the chain must be owned by the caller.
unsafe fn chunk_chain_contains<M: PageMem>(mem: &M, first: u64, n: usize, pa: u64) -> bool {
    let mut cur = first;
    for _ in 0..n {
        if cur == pa {
            return true;
        }
        // SAFETY: one of the first `n` chunks.
        match unsafe { mem.page(cur) }.and_then(KhoVmallocChunk::of) {
            Some(c) => cur = c.next,
            None => return false,
        }
    }
    false
}

/// New kernel: restores the pages of an incoming descriptor (`kho_restore_vmalloc()`
/// without the mapping).
///
/// Chunk by chunk: check, claim, then read. The descriptor's fields are checked first
/// (`first` non-zero and page aligned, no unknown flag bit, `order <=` [`max_order`],
/// `total_pages > 0` and a multiple of `2^order`). Each chunk is claimed ([`PageMem::claim`],
/// one order-0 page) before it is read; a chunk reached twice cannot be claimed twice and
/// is reported as a loop (`-ELOOP`); there may be no more chunks than `total_pages` needs.
/// In each chunk, every listed block must be aligned to `PAGE_SIZE << order`, no entry may
/// follow the 0 terminator, only the last chunk may be partly filled, and the blocks may
/// not exceed `total_pages`; then the chunk's blocks are claimed with one
/// [`PageMem::claim_blocks_into`] call (`2^order` pages each), which appends every order-0
/// page of them to `out`, in area order. At the end the blocks must cover exactly
/// `total_pages` and the chunk pages are freed.
///
/// On failure every data page and chunk claimed so far is freed and the error returned;
/// the pages already in `out` are then freed, so the caller must drop what it collected.
/// What was not reached stays preserved (reserved) memory of the previous kernel.
///
/// # Safety
///
/// `desc` must come from the caller's own state of the previous kernel (a subtree it
/// published): every chunk and block reached from it is claimed ([`PageMem::claim`]),
/// which proves that someone preserved it, not who.
pub(crate) unsafe fn restore<M: PageMem>(
    mem: &mut M,
    desc: &KhoVmalloc,
    out: &mut M::Pages,
) -> Result<VmallocStats> {
    let geo = *mem.geometry();
    let expected = check_desc(&geo, desc)?;
    let per_chunk = geo.vmalloc_chunk_entries;
    let nr = block_pages(desc.order);
    let page_size = geo.page_size as u64;
    let align = page_size << desc.order;
    let bound = max_chunks(expected, per_chunk);

    let mut blocks_done = 0usize;
    let mut chunks_done = 0usize;
    let mut entries = 0u64;
    let mut chunk = desc.first;
    let failure = loop {
        if chunks_done as u64 >= bound {
            break Some(Error::inval(
                "vmalloc: more chunks than total_pages needs",
                chunks_done as u64 + 1,
            ));
        }
        if !geo.is_page_aligned(chunk) {
            break Some(Error::inval(
                "vmalloc: chunk address not page aligned",
                chunk,
            ));
        }
        // SAFETY: `chunk` is reached from `desc`, which comes from the caller's own state
        // (this function's contract).
        if let Err(e) = unsafe { mem.claim(chunk, 1) } {
            // SAFETY: the first `chunks_done` chunks were claimed by this call.
            if unsafe { chunk_chain_contains(mem, desc.first, chunks_done, chunk) } {
                break Some(Error::new(
                    errno::ELOOP,
                    "vmalloc: chunk chain has a loop",
                    chunk,
                ));
            }
            break Some(Error::new(
                e.errno,
                "vmalloc: chunk not preserved by the previous kernel or claimed already",
                chunk,
            ));
        }
        chunks_done += 1;
        // SAFETY: claimed just above, so owned by this function.
        let Some(page) = (unsafe { mem.page(chunk) }).and_then(KhoVmallocChunk::of) else {
            break Some(Error::inval("vmalloc: chunk page not accessible", chunk));
        };
        let next = page.next;
        let used = match chunk_blocks(page, per_chunk, next == 0, align, chunk) {
            Ok(blocks) => blocks.len(),
            Err(e) => break Some(e),
        };
        entries += used as u64;
        if entries > expected {
            break Some(Error::inval(
                "vmalloc: more blocks than total_pages",
                entries,
            ));
        }
        let list = BlockList {
            page: chunk,
            first: 1,
            n: used,
            nr_pages: nr,
        };
        // SAFETY: `chunk` was claimed above, so it is owned by this function; its blocks
        // are reached from `desc`, the caller's own state (this function's contract).
        let (claimed, res) = unsafe { mem.claim_blocks_into(list, out) };
        blocks_done += claimed;
        if let Err(e) = res {
            let what = if e.errno == errno::ENOMEM {
                "vmalloc: no memory for the page list"
            } else {
                "vmalloc: block not preserved by the previous kernel or claimed already"
            };
            break Some(Error::new(e.errno, what, e.value));
        }
        if next == 0 {
            if entries != expected {
                break Some(Error::inval(
                    "vmalloc: blocks do not cover total_pages",
                    entries,
                ));
            }
            break None;
        }
        chunk = next;
    };

    // Success: free every chunk. Failure: free the claimed blocks, then the chunks.
    let mut chunk = desc.first;
    let mut blocks_left = if failure.is_some() { blocks_done } else { 0 };
    for _ in 0..chunks_done {
        // SAFETY: one of the `chunks_done` chunks claimed by this call, in chain order.
        let Some(page) = (unsafe { mem.page(chunk) }).and_then(KhoVmallocChunk::of) else {
            break;
        };
        let next = page.next;
        for i in 1..=per_chunk {
            if blocks_left == 0 {
                break;
            }
            // SAFETY: as above.
            let pa = unsafe { mem.page(chunk) }
                .and_then(KhoVmallocChunk::of)
                .and_then(|c| c.phys.get(i - 1))
                .copied()
                .unwrap_or(0);
            if pa == 0 {
                break;
            }
            for k in 0..nr {
                // SAFETY: the first `blocks_done` blocks (in chain order) were claimed by
                // this call; each order-0 page of them is freed once.
                unsafe { mem.free(pa.wrapping_add(k * page_size)) };
            }
            blocks_left -= 1;
        }
        // SAFETY: a chunk claimed by this call, read for the last time, freed once.
        unsafe { mem.free(chunk) };
        chunk = next;
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(VmallocStats {
            chunks: chunks_done,
            entries: entries as usize,
        }),
    }
}
