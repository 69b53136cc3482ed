// SPDX-License-Identifier: GPL-2.0

//! [`KernelMem`]: the pure core's `PageMem` on real pages.
//!
//! Pages are allocated with the page allocator (order 0, zeroed), reached through the
//! direct map (`pa + offset`, no call per access), and preserved / claimed with
//! `kho_preserve_pages()` / `kho_restore_pages()` after a check of KHO's per-page mark.

use core::ptr::NonNull;
use core::slice;

use kernel::ffi::{c_uint, c_ulong};
use kernel::prelude::*;
use kernel::sync::atomic::{Atomic, Relaxed};

use super::ffi;
use crate::pure::error::{Error, Result};
use crate::pure::geometry::Geometry;
use crate::pure::mem::{BlockList, PageMem};

/// Geometry of this kernel's pages.
pub(crate) const GEOMETRY: Geometry =
    Geometry::new(kernel::page::PAGE_SHIFT as u32).with_max_page_order(MAX_PAGE_ORDER);

const _: () = assert!(GEOMETRY.page_size == kernel::page::PAGE_SIZE);

/// `MAX_PAGE_ORDER` of the kernel the module is built against.
const MAX_PAGE_ORDER: u16 = {
    let order = kernel::bindings::MAX_PAGE_ORDER;
    assert!(order <= 16);
    order as u16
};

// Page counts cross the FFI as `unsigned long`, which is 64 bits wide on every kernel KHO
// supports; the `as c_ulong` conversions below are lossless.
const _: () = assert!(core::mem::size_of::<c_ulong>() == core::mem::size_of::<u64>());

/// Pages currently owned through any [`KernelMem`]: allocated or claimed, not yet freed
/// or handed over (a vmap area that owns them, see [`VmapPages::vmap`]). Order-k blocks
/// count as 2^k pages.
/// Used to prove that rejected incoming state leaves nothing claimed behind.
static OWNED_PAGES: Atomic<i64> = Atomic::new(0);

/// Pages claimed from the previous kernel so far (order-k claims counted as 2^k pages).
static CLAIMED_PAGES: Atomic<i64> = Atomic::new(0);

/// `virt - phys` of the direct map, read once from the kernel (0 until then).
static DIRECT_MAP_OFFSET: Atomic<u64> = Atomic::new(0);

/// Real physical memory, seen by physical address through the direct map.
///
/// Translation is `pa + offset` with the direct-map offset read once from the kernel: no C
/// call and no RAM lookup per access. Whether a page may be reached at all is the caller's
/// promise (the `unsafe` accessors of [`PageMem`]): only pages the module allocated, or
/// claimed from the previous kernel with [`PageMem::claim`], which checks KHO's
/// preservation mark before it restores anything.
pub(crate) struct KernelMem {
    /// `virt - phys` of the direct map.
    offset: u64,
}

impl KernelMem {
    /// Creates the accessor.
    pub(crate) fn new() -> Self {
        let mut offset = DIRECT_MAP_OFFSET.load(Relaxed);
        if offset == 0 {
            // SAFETY: `phys_to_virt(0)` is address arithmetic on the direct-map base.
            offset = unsafe { ffi::kho_rs_direct_map_offset() } as u64;
            DIRECT_MAP_OFFSET.store(offset, Relaxed);
        }
        Self { offset }
    }

    /// Pages currently owned through `KernelMem` (allocated or claimed, not freed).
    pub(crate) fn owned_pages() -> i64 {
        OWNED_PAGES.load(Relaxed)
    }

    /// Pages claimed from the previous kernel since the module was loaded.
    pub(crate) fn claimed_pages() -> i64 {
        CLAIMED_PAGES.load(Relaxed)
    }

    /// Allocates a naturally aligned block of `2^order` pages (not zeroed).
    pub(crate) fn alloc_pages(&mut self, order: u32) -> Result<u64> {
        // SAFETY: allocating pages has no preconditions.
        match unsafe { ffi::kho_rs_alloc_pages(order) } {
            0 => Err(Error::nomem("page block allocation failed")),
            pa => {
                OWNED_PAGES.add(1i64 << order, Relaxed);
                Ok(pa)
            }
        }
    }

    /// Frees a block returned by [`KernelMem::alloc_pages`] with the same `order`.
    ///
    /// # Safety
    ///
    /// `pa` must be a block allocated by [`KernelMem::alloc_pages`] with `order`, not
    /// preserved, not referenced any more.
    pub(crate) unsafe fn free_pages(&mut self, pa: u64, order: u32) {
        OWNED_PAGES.add(-(1i64 << order), Relaxed);
        // SAFETY: the caller owns the block, allocated with `order`.
        unsafe { ffi::kho_rs_free_pages(pa, order) }
    }

    /// The `nr_pages` contiguous pages at `pa` as words.
    ///
    /// # Safety
    ///
    /// The pages must be owned by the caller (allocated or claimed as one block) and not
    /// accessed otherwise while the slice lives.
    pub(crate) unsafe fn block_words_mut(
        &mut self,
        pa: u64,
        nr_pages: usize,
    ) -> Option<&mut [u64]> {
        let p = self.virt(pa)?;
        // SAFETY: `p` is the direct-map address of `nr_pages` physically contiguous pages
        // (contiguous in the direct map as well) owned by the caller; `&mut self` and the
        // caller's promise make the borrow unique for the slice's life.
        Some(unsafe { slice::from_raw_parts_mut(p, nr_pages * GEOMETRY.page_words) })
    }

    /// The `nr_pages` contiguous pages at `pa` as words, for reading, for a lifetime the
    /// caller chooses (the owner of the pages borrows them to its own lifetime).
    ///
    /// # Safety
    ///
    /// The pages must be owned by the caller (allocated or claimed as one block) for all
    /// of `'a`, and not written during `'a`.
    pub(crate) unsafe fn owned_words<'a>(pa: u64, nr_pages: usize) -> Option<&'a [u64]> {
        let p = Self::new().virt(pa)?;
        // SAFETY: `p` is the direct-map address of `nr_pages` physically contiguous pages
        // owned by the caller, who keeps them unwritten for `'a`.
        Some(unsafe { slice::from_raw_parts(p, nr_pages * GEOMETRY.page_words) })
    }

    /// As [`KernelMem::owned_words`], for writing.
    ///
    /// # Safety
    ///
    /// The pages must be owned by the caller (allocated or claimed as one block) for all
    /// of `'a`, and not accessed otherwise during `'a`.
    pub(crate) unsafe fn owned_words_mut<'a>(pa: u64, nr_pages: usize) -> Option<&'a mut [u64]> {
        let p = Self::new().virt(pa)?;
        // SAFETY: `p` is the direct-map address of `nr_pages` physically contiguous pages
        // owned by the caller, who gives this slice the only access to them for `'a`.
        Some(unsafe { slice::from_raw_parts_mut(p, nr_pages * GEOMETRY.page_words) })
    }

    /// Direct-map address of `pa` if it is non-zero and page aligned.
    #[inline]
    fn virt(&self, pa: u64) -> Option<*mut u64> {
        if pa == 0 || !GEOMETRY.is_page_aligned(pa) {
            return None;
        }
        Some(pa.wrapping_add(self.offset) as usize as *mut u64)
    }

    /// Raw KHO preservation mark (`page->private`) of the page at `pa`, for tests.
    pub(crate) fn page_private(pa: u64) -> u64 {
        // SAFETY: reads one word of the `struct page` of an online PFN, or returns 0.
        unsafe { ffi::kho_rs_page_private(pa) }
    }
}

impl PageMem for KernelMem {
    type Pages = VmapPages;

    fn geometry(&self) -> &Geometry {
        &GEOMETRY
    }

    fn alloc_zeroed(&mut self) -> Result<u64> {
        // SAFETY: allocating a page has no preconditions.
        match unsafe { ffi::kho_rs_alloc_zeroed_page() } {
            0 => Err(Error::nomem("page allocation failed")),
            pa => {
                OWNED_PAGES.add(1, Relaxed);
                Ok(pa)
            }
        }
    }

    unsafe fn free(&mut self, pa: u64) {
        OWNED_PAGES.add(-1, Relaxed);
        // SAFETY: `pa` is an order-0 page owned by the caller (this function's contract).
        unsafe { ffi::kho_rs_free_page(pa) }
    }

    unsafe fn page(&self, pa: u64) -> Option<&[u64]> {
        let p = self.virt(pa)?;
        // SAFETY: `p` is the direct-map address of a whole, page-aligned page owned by the
        // caller (this function's contract): mapped, valid and aligned for `page_words`
        // u64 reads, and nobody writes it while the slice lives.
        Some(unsafe { slice::from_raw_parts(p, GEOMETRY.page_words) })
    }

    #[inline]
    unsafe fn page_mut(&mut self, pa: u64) -> Option<&mut [u64]> {
        let p = self.virt(pa)?;
        // SAFETY: as in `page`; the caller guarantees exclusive access.
        Some(unsafe { slice::from_raw_parts_mut(p, GEOMETRY.page_words) })
    }

    #[inline]
    unsafe fn bytes(&self, pa: u64) -> Option<&[u8]> {
        let p = self.virt(pa)?;
        // SAFETY: as in `page`, for `page_size` bytes.
        Some(unsafe { slice::from_raw_parts(p.cast::<u8>(), GEOMETRY.page_size) })
    }

    #[inline]
    unsafe fn bytes_mut(&mut self, pa: u64) -> Option<&mut [u8]> {
        let p = self.virt(pa)?;
        // SAFETY: as in `page_mut`, for `page_size` bytes.
        Some(unsafe { slice::from_raw_parts_mut(p.cast::<u8>(), GEOMETRY.page_size) })
    }

    unsafe fn preserve(&mut self, pa: u64, nr_pages: u64) -> Result {
        // SAFETY: the caller owns the pages and keeps them until they are unpreserved or
        // the kernel kexecs (this function's contract); `kho_preserve_pages()` only records
        // the range, and the shim refuses it with -EOPNOTSUPP when KHO is disabled.
        match unsafe { ffi::kho_rs_preserve_pages(pa, nr_pages as c_ulong) } {
            0 => Ok(()),
            e => Err(Error::new(-e, "kho_preserve_pages failed", pa)),
        }
    }

    unsafe fn unpreserve(&mut self, pa: u64, nr_pages: u64) {
        // SAFETY: the range was preserved by the caller with the same arguments (this
        // function's contract).
        unsafe { ffi::kho_rs_unpreserve_pages(pa, nr_pages as c_ulong) }
    }

    unsafe fn claim(&mut self, pa: u64, nr_pages: u64) -> Result {
        // SAFETY: the range comes from the caller's own state of the previous kernel (this
        // function's contract); the shim checks KHO's mark of every block first (no WARN)
        // and calls `kho_restore_pages()` only if the whole range is preserved and
        // unclaimed, under its claim lock.
        match unsafe { ffi::kho_rs_claim_pages(pa, nr_pages as c_ulong) } {
            0 => {
                OWNED_PAGES.add(nr_pages as i64, Relaxed);
                CLAIMED_PAGES.add(nr_pages as i64, Relaxed);
                Ok(())
            }
            e => Err(Error::new(
                -e,
                "page not preserved by the previous kernel or claimed already",
                pa,
            )),
        }
    }

    unsafe fn preserve_blocks_in(&mut self, list: BlockList) -> (usize, Result) {
        let Some(words) = self.virt(list.page) else {
            return (
                0,
                Err(Error::inval("block list page misaligned", list.page)),
            );
        };
        if list.first.saturating_add(list.n) > GEOMETRY.page_words {
            return (
                0,
                Err(Error::inval("block list outside its page", list.page)),
            );
        }
        let mut done: c_ulong = 0;
        // SAFETY: `list.page` is owned by the caller (contract), so its words
        // `first..first + n` (checked to be inside the page) are readable; each is a block
        // the caller owns and keeps while preserved (contract); C writes `done`.
        let ret = unsafe {
            ffi::kho_rs_preserve_blocks(
                words.add(list.first),
                list.n as c_ulong,
                list.nr_pages as c_ulong,
                &mut done,
            )
        };
        let done = (done as usize).min(list.n);
        if ret == 0 {
            return (done, Ok(()));
        }
        // SAFETY: as above; `done < n` names the block that failed.
        let bad = unsafe { words.add(list.first + done).read() };
        (
            done,
            Err(Error::new(-ret, "kho_preserve_pages failed", bad)),
        )
    }

    unsafe fn unpreserve_blocks_in(&mut self, list: BlockList) {
        let Some(words) = self.virt(list.page) else {
            return;
        };
        if list.first.saturating_add(list.n) > GEOMETRY.page_words {
            return;
        }
        // SAFETY: `list.page` is owned by the caller (contract), so its words
        // `first..first + n` (checked to be inside the page) are readable; each is a block
        // the caller preserved with `nr_pages` pages.
        unsafe {
            ffi::kho_rs_unpreserve_blocks(
                words.add(list.first),
                list.n as c_ulong,
                list.nr_pages as c_ulong,
            )
        }
    }

    unsafe fn claim_blocks_into(
        &mut self,
        list: BlockList,
        out: &mut VmapPages,
    ) -> (usize, Result) {
        let BlockList {
            page: list_pa,
            first,
            n,
            nr_pages,
        } = list;
        let Some(words) = self.virt(list_pa) else {
            return (0, Err(Error::inval("block list page misaligned", list_pa)));
        };
        if first.saturating_add(n) > GEOMETRY.page_words {
            return (0, Err(Error::inval("block list outside its page", list_pa)));
        }
        if !nr_pages.is_power_of_two() || nr_pages > 1 << MAX_PAGE_ORDER {
            return (
                0,
                Err(Error::inval("block size not a page order", nr_pages)),
            );
        }
        // At most `page_words << MAX_PAGE_ORDER` pages: no overflow.
        let need = n * nr_pages as usize;
        if out.0.reserve(need, GFP_KERNEL).is_err() {
            return (0, Err(Error::nomem("page list allocation failed")));
        }
        let mut claimed: c_ulong = 0;
        // SAFETY: `list_pa` is owned by the caller (contract), so its words
        // `first..first + n` (checked to be inside the page) are readable; the spare capacity
        // of `out` has room for the `n * nr_pages` pointers C may write; the shim checks every
        // block's mark before it restores it.
        let ret = unsafe {
            ffi::kho_rs_claim_blocks_pages(
                words.add(first),
                n as c_ulong,
                nr_pages.trailing_zeros(),
                out.0.spare_capacity_mut().as_mut_ptr().cast(),
                &mut claimed,
            )
        };
        let claimed = (claimed as usize).min(n);
        // SAFETY: C initialized one pointer per page of each claimed block, right after the
        // list's length and inside the capacity reserved above.
        unsafe { out.0.inc_len(claimed * nr_pages as usize) };
        let pages = (claimed as u64 * nr_pages) as i64;
        OWNED_PAGES.add(pages, Relaxed);
        CLAIMED_PAGES.add(pages, Relaxed);
        if ret == 0 {
            return (claimed, Ok(()));
        }
        // SAFETY: as above; `claimed < n` names the block that failed.
        let bad = unsafe { words.add(first + claimed).read() };
        (
            claimed,
            Err(Error::new(
                -ret,
                "page not preserved by the previous kernel or claimed already",
                bad,
            )),
        )
    }
}

/// The page list of a vmalloc area being restored ([`PageMem::Pages`] of [`KernelMem`]):
/// the `struct page` of every claimed page, in area order, in a `kvmalloc()`ed array that
/// `vmap(VM_MAP_PUT_PAGES)` takes over.
///
/// # Invariants
///
/// Every element is the `struct page` of an order-0 page claimed by
/// [`KernelMem::claim_blocks_into`]. Dropping the list drops only the array: who owns the
/// pages is up to the restore that filled it (the pure core frees them itself when it
/// fails).
pub(crate) struct VmapPages(KVVec<*mut ffi::Page>);

impl VmapPages {
    /// An empty list with room for `n` pages.
    pub(crate) fn with_capacity(n: usize) -> kernel::error::Result<Self> {
        Ok(Self(KVVec::with_capacity(n, GFP_KERNEL)?))
    }

    /// Number of pages in the list.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Maps the pages with `vmap(VM_MAP | VM_MAP_PUT_PAGES)`; the area then owns the pages
    /// and the array. On failure nothing is mapped and the list is given back.
    ///
    /// # Safety
    ///
    /// The caller owns every page of the list, and nothing else references them.
    pub(crate) unsafe fn vmap(self) -> core::result::Result<NonNull<u8>, Self> {
        let Ok(n) = c_uint::try_from(self.len()) else {
            return Err(self);
        };
        let mut v = self.0;
        // SAFETY: `v` holds `n` initialized pointers to order-0 pages the caller owns, in a
        // `kvmalloc()`ed buffer (the `KVmalloc` allocator), which `vfree()` may `kvfree()`.
        let raw = unsafe { ffi::kho_rs_vmap_put_pages(v.as_mut_ptr(), n) };
        let Some(ptr) = NonNull::new(raw.cast::<u8>()) else {
            return Err(Self(v));
        };
        OWNED_PAGES.add(-i64::from(n), Relaxed);
        // The area owns the buffer now: forget it without freeing.
        let _ = v.into_raw_parts();
        Ok(ptr)
    }

    /// Frees every page of the list.
    ///
    /// # Safety
    ///
    /// The caller owns every page of the list, and nothing else references them.
    pub(crate) unsafe fn free_pages(self) {
        // SAFETY: `self.0` holds `len` pointers to order-0 pages the caller owns.
        unsafe { ffi::kho_rs_free_page_array(self.0.as_ptr(), self.0.len() as c_ulong) };
        OWNED_PAGES.add(-(self.0.len() as i64), Relaxed);
    }
}
