// SPDX-License-Identifier: GPL-2.0

//! Abstract physical page memory used by the data-structure algorithms.
//!
//! The kernel glue implements [`PageMem`] on real pages (page allocator, direct map, KHO
//! preserve/restore calls); the host crate implements it on a simulated physical memory.
//! Algorithms address pages only by physical address, exactly as the wire format does, so
//! the same code writes and reads the bytes that cross kexec.
//!
//! # Ownership
//!
//! A physical address is only a number: nothing about it proves that the page behind it
//! belongs to the caller. Reaching a page is therefore `unsafe` ([`PageMem::page`] and
//! friends): the caller promises that it owns the page, because it allocated it through
//! [`PageMem::alloc_zeroed`] or claimed it from the previous kernel with
//! [`PageMem::claim`], and has not freed it. The data structures of the pure core state as
//! their type invariant that every page reachable from them is owned in that sense, and
//! discharge the promise from it. A raw address that came from the previous kernel becomes
//! readable only after a successful [`PageMem::claim`]: check, then claim, then read.

use super::error::Result;
use super::geometry::Geometry;

/// Page-granular physical memory with KHO preservation.
///
/// Every page is addressed by its page-aligned physical address. The accessors return
/// `None` for an address that is misaligned or 0; callers turn that into an error, never a
/// panic.
///
/// Preservation follows KHO's rules: [`PageMem::preserve`] marks pages for the next kernel
/// (`kho_preserve_pages()`), [`PageMem::unpreserve`] undoes it exactly, and in the next
/// kernel [`PageMem::claim`] takes preserved pages over (`kho_restore_pages()`). A claim
/// first checks, without any kernel warning, that the range was preserved as exactly the
/// blocks `kho_preserve_pages()` splits it into and that none of them was claimed yet; it
/// fails otherwise and then claims nothing. Claiming each page of an incoming structure
/// once therefore also proves that no page is shared or visited twice. A claimed page is
/// owned by the caller and released with [`PageMem::free`].
pub(crate) trait PageMem {
    /// A list of order-0 pages, filled by [`PageMem::claim_blocks_into`]: the page list of a
    /// restored vmalloc area, in area order. The host keeps physical addresses; the kernel
    /// keeps the `struct page *` array that `vmap()` takes over.
    type Pages;

    /// Page geometry of this memory.
    fn geometry(&self) -> &Geometry;

    /// Allocates one zeroed page and returns its physical address (owned by the caller).
    fn alloc_zeroed(&mut self) -> Result<u64>;

    /// Frees one page.
    ///
    /// # Safety
    ///
    /// `pa` must be an order-0 page owned by the caller (allocated by
    /// [`PageMem::alloc_zeroed`] or claimed by [`PageMem::claim`], not freed since), no
    /// longer preserved, and not referenced any more.
    unsafe fn free(&mut self, pa: u64);

    /// Read access to the page at `pa` as native-endian `u64` words.
    ///
    /// # Safety
    ///
    /// `pa` must be a page owned by the caller (allocated by [`PageMem::alloc_zeroed`], or
    /// claimed by [`PageMem::claim`]) and not freed while the slice lives.
    unsafe fn page(&self, pa: u64) -> Option<&[u64]>;

    /// Write access to the page at `pa` as native-endian `u64` words.
    ///
    /// # Safety
    ///
    /// As for [`PageMem::page`]; in addition nothing else reads or writes the page while
    /// the slice lives.
    unsafe fn page_mut(&mut self, pa: u64) -> Option<&mut [u64]>;

    /// Read access to the page at `pa` as bytes.
    ///
    /// # Safety
    ///
    /// As for [`PageMem::page`].
    unsafe fn bytes(&self, pa: u64) -> Option<&[u8]>;

    /// Write access to the page at `pa` as bytes.
    ///
    /// # Safety
    ///
    /// As for [`PageMem::page_mut`].
    unsafe fn bytes_mut(&mut self, pa: u64) -> Option<&mut [u8]>;

    /// Preserves `nr_pages` pages starting at `pa` for the next kernel.
    ///
    /// # Safety
    ///
    /// The pages must be owned by the caller (allocated through this memory, or claimed, and
    /// not freed), and stay allocated until they are unpreserved or the kernel kexecs: KHO
    /// hands them to the next kernel as they are.
    unsafe fn preserve(&mut self, pa: u64, nr_pages: u64) -> Result;

    /// Undoes [`PageMem::preserve`] for exactly the same range.
    ///
    /// # Safety
    ///
    /// The caller must have preserved exactly this range with [`PageMem::preserve`] and not
    /// unpreserved it since: unpreserving a range someone else preserved takes it away from
    /// the next kernel behind their back.
    unsafe fn unpreserve(&mut self, pa: u64, nr_pages: u64);

    /// Preserves every block of `list` (`list.nr_pages` pages each), in order, as
    /// [`PageMem::preserve`] does one by one, and stops at the first that fails. Returns how
    /// many were preserved and the error that stopped it. The kernel does it with one C
    /// call for the whole list.
    ///
    /// # Safety
    ///
    /// `list.page` must be a page owned by the caller, and every listed block owned by the
    /// caller and kept allocated until it is unpreserved or the kernel kexecs.
    unsafe fn preserve_blocks_in(&mut self, list: BlockList) -> (usize, Result) {
        for i in 0..list.n {
            // SAFETY: the caller owns `list.page`.
            let word = unsafe { self.page(list.page) }.and_then(|p| p.get(list.first + i));
            let Some(&pa) = word else {
                return (
                    i,
                    Err(super::error::Error::inval("block list outside its page", 0)),
                );
            };
            // SAFETY: a block the caller owns (this function's contract).
            if let Err(e) = unsafe { self.preserve(pa, list.nr_pages) } {
                return (i, Err(e));
            }
        }
        (list.n, Ok(()))
    }

    /// Undoes [`PageMem::preserve`] for every block of `list` (`list.nr_pages` pages each),
    /// in order. The kernel does it with one C call for the whole list.
    ///
    /// # Safety
    ///
    /// `list.page` must be a page owned by the caller, and every listed block must have been
    /// preserved with `list.nr_pages` pages and not unpreserved since.
    unsafe fn unpreserve_blocks_in(&mut self, list: BlockList) {
        for i in 0..list.n {
            // SAFETY: the caller owns `list.page`.
            let word = unsafe { self.page(list.page) }.and_then(|p| p.get(list.first + i));
            let Some(&pa) = word else {
                return;
            };
            // SAFETY: the caller preserved every listed block with `nr_pages` pages.
            unsafe { self.unpreserve(pa, list.nr_pages) };
        }
    }

    /// New kernel: checks, then claims, `nr_pages` pages at `pa` preserved by the previous
    /// kernel.
    ///
    /// Fails with an error, and claims nothing, if any block of the range is not preserved
    /// with the order the range implies, or was claimed already. On success the caller owns
    /// the pages.
    ///
    /// # Safety
    ///
    /// The range must come from the caller's own state of the previous kernel (a subtree it
    /// published, and the structures reached from it), not from anywhere else. The check
    /// proves that the pages were preserved by *someone*, not by whom: a damaged address
    /// that lands on another KHO user's preserved page would take it from that user, who
    /// later finds it gone (and `kho_restore_pages()` WARNs).
    unsafe fn claim(&mut self, pa: u64, nr_pages: u64) -> Result;

    /// Claims the blocks of `list` in order, as [`PageMem::claim`] does one by one, and
    /// appends the `list.nr_pages` order-0 pages of each claimed block to `out`, in address
    /// order. This is how a vmalloc restore fills the page list of the area.
    ///
    /// First makes room in `out` for all the pages, and claims nothing if it cannot
    /// (`-ENOMEM`). Stops at the first block that cannot be claimed. Returns how many
    /// blocks were claimed (they are owned by the caller, and their pages are in `out`) and
    /// the error that stopped it, whose value is the block's address. The kernel implements
    /// this with one C call for the whole list, writing `struct page` pointers straight
    /// into the array that `vmap()` takes over.
    ///
    /// # Safety
    ///
    /// `list.page` must be a page owned by the caller, and the blocks it lists must come
    /// from the caller's own state of the previous kernel, as for [`PageMem::claim`].
    unsafe fn claim_blocks_into(
        &mut self,
        list: BlockList,
        out: &mut Self::Pages,
    ) -> (usize, Result);
}

/// Blocks listed in a page, for [`PageMem::claim_blocks_into`] and
/// [`PageMem::unpreserve_blocks_in`]: their addresses are the words
/// `first..first + n` of the page at `page`, and each is `nr_pages` pages long (a power of
/// two, as a vmalloc chunk lists blocks of `2^order` pages).
#[derive(Clone, Copy, Debug)]
pub(crate) struct BlockList {
    /// Physical address of the page holding the list.
    pub(crate) page: u64,
    /// Index of the first address in the page, in words.
    pub(crate) first: usize,
    /// Number of blocks.
    pub(crate) n: usize,
    /// Pages per block.
    pub(crate) nr_pages: u64,
}

/// Splits `[pfn, pfn + nr)` into the naturally aligned blocks `kho_preserve_pages()` and
/// `kho_restore_pages()` use: `order = min(ctz(pfn), ilog2(remaining))`.
///
/// Yields `(pfn, order)` pairs; never more than 128 of them for any 64-bit range.
#[cfg(any(test, feature = "fuzz"))]
pub(crate) fn page_blocks(pfn: u64, nr: u64) -> impl Iterator<Item = (u64, u32)> {
    let end = pfn.saturating_add(nr);
    let mut cur = pfn;
    core::iter::from_fn(move || {
        if cur >= end {
            return None;
        }
        let order = cur.trailing_zeros().min(63 - (end - cur).leading_zeros());
        let block = (cur, order);
        cur = cur.saturating_add(1u64 << order);
        Some(block)
    })
}
