// SPDX-License-Identifier: GPL-2.0

//! [`KernelMem`]: the pure core's `PageMem` on real pages.
//!
//! Pages are allocated with the page allocator (order 0, zeroed), reached through the
//! direct map, and preserved / restored with `kho_preserve_pages()` /
//! `kho_restore_pages()`.

use core::slice;

use kernel::ffi::c_ulong;
use kernel::sync::atomic::{Atomic, Relaxed};

use super::ffi;
use crate::pure::error::{Error, Result};
use crate::pure::geometry::Geometry;
use crate::pure::mem::PageMem;

/// Geometry of this kernel's pages.
pub(crate) const GEOMETRY: Geometry = Geometry::new(kernel::page::PAGE_SHIFT as u32);

// Page counts cross the FFI as `unsigned long`, which is 64 bits wide on every kernel KHO
// supports; the `as c_ulong` conversions below are lossless.
const _: () = assert!(core::mem::size_of::<c_ulong>() == core::mem::size_of::<u64>());

/// Pages currently owned through any [`KernelMem`]: allocated or restored, not yet freed
/// or handed over (see [`KernelMem::handed_over`]). Used to prove that rejected incoming
/// state leaves nothing claimed behind.
static OWNED_PAGES: Atomic<i64> = Atomic::new(0);

/// Real physical memory, seen by physical address through the direct map.
///
/// # Invariants
///
/// Whoever uses a `KernelMem` only writes pages it allocated through it (or restored
/// through it), and only frees pages it owns; every page it reads is RAM
/// (`kho_rs_ram_virt()` checks it on every access). This is what the data structures of
/// the pure core do: they write only pages they allocated and read incoming pages after
/// validating their addresses.
pub(crate) struct KernelMem {
    _private: (),
}

impl KernelMem {
    /// Creates the accessor.
    ///
    /// # Safety
    ///
    /// The caller must uphold the type invariant: the structures driven through this
    /// `KernelMem` must only write and free pages they own, so that no other kernel object is
    /// reached through a physical address.
    pub(crate) const unsafe fn new() -> Self {
        // INVARIANT: upheld by the caller, as required above.
        Self { _private: () }
    }

    /// Pages currently owned through `KernelMem` (allocated or restored, not freed).
    pub(crate) fn owned_pages() -> i64 {
        OWNED_PAGES.load(Relaxed)
    }

    /// Records that `nr_pages` owned pages were handed to another owner (e.g. a vmap area
    /// created with `VM_MAP_PUT_PAGES`, which frees them on `vfree`).
    pub(crate) fn handed_over(&self, nr_pages: usize) {
        OWNED_PAGES.add(-(nr_pages as i64), Relaxed);
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
    pub(crate) fn free_pages(&mut self, pa: u64, order: u32) {
        OWNED_PAGES.add(-(1i64 << order), Relaxed);
        // SAFETY: by the type invariant the caller owns the block, allocated with `order`.
        unsafe { ffi::kho_rs_free_pages(pa, order) }
    }

    /// The `nr_pages` contiguous pages at `pa` (owned by the caller) as words.
    pub(crate) fn block_words_mut(&mut self, pa: u64, nr_pages: usize) -> Option<&mut [u64]> {
        let p = self.virt(pa)?;
        // The last page must be RAM too.
        self.virt(pa + ((nr_pages.max(1) - 1) * GEOMETRY.page_size) as u64)?;
        // SAFETY: `p` is the direct-map address of a block of `nr_pages` physically
        // contiguous RAM pages (contiguous in the direct map as well) that, by the type
        // invariant, the caller owns; the borrow of `self` is unique for the slice's life.
        Some(unsafe { slice::from_raw_parts_mut(p, nr_pages * GEOMETRY.page_words) })
    }

    /// Direct-map address of `pa` if it is a page-aligned page of RAM.
    fn virt(&self, pa: u64) -> Option<*mut u64> {
        if pa == 0 || !GEOMETRY.is_page_aligned(pa) {
            return None;
        }
        // SAFETY: `kho_rs_ram_virt` looks up the page struct of a PFN and returns the
        // direct-map address only for online RAM (covered by the direct map on 64-bit).
        let p = unsafe { ffi::kho_rs_ram_virt(pa) }.cast::<u64>();
        (!p.is_null()).then_some(p)
    }
}

impl PageMem for KernelMem {
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

    fn free(&mut self, pa: u64) {
        OWNED_PAGES.add(-1, Relaxed);
        // SAFETY: by the type invariant, `pa` is an order-0 page owned by the caller.
        unsafe { ffi::kho_rs_free_page(pa) }
    }

    fn page(&self, pa: u64) -> Option<&[u64]> {
        let p = self.virt(pa)?;
        // SAFETY: `p` is the direct-map address of a whole, page-aligned RAM page, so it is
        // valid and aligned for `page_words` u64 reads; by the type invariant nobody writes
        // it through another path while the structure using `self` reads it.
        Some(unsafe { slice::from_raw_parts(p, GEOMETRY.page_words) })
    }

    fn page_mut(&mut self, pa: u64) -> Option<&mut [u64]> {
        let p = self.virt(pa)?;
        // SAFETY: as in `page`; by the type invariant the page is owned by the caller, and
        // the borrow of `self` is unique for the lifetime of the slice.
        Some(unsafe { slice::from_raw_parts_mut(p, GEOMETRY.page_words) })
    }

    fn bytes(&self, pa: u64) -> Option<&[u8]> {
        let p = self.virt(pa)?;
        // SAFETY: as in `page`, for `page_size` bytes.
        Some(unsafe { slice::from_raw_parts(p.cast::<u8>(), GEOMETRY.page_size) })
    }

    fn bytes_mut(&mut self, pa: u64) -> Option<&mut [u8]> {
        let p = self.virt(pa)?;
        // SAFETY: as in `page_mut`, for `page_size` bytes.
        Some(unsafe { slice::from_raw_parts_mut(p.cast::<u8>(), GEOMETRY.page_size) })
    }

    fn preserve(&mut self, pa: u64, nr_pages: u64) -> Result {
        // SAFETY: the range consists of pages owned by the caller (type invariant).
        match unsafe { ffi::kho_rs_preserve_pages(pa, nr_pages as c_ulong) } {
            0 => Ok(()),
            e => Err(Error::new(-e, "kho_preserve_pages failed", pa)),
        }
    }

    fn unpreserve(&mut self, pa: u64, nr_pages: u64) {
        // SAFETY: the range was preserved by the caller with the same arguments.
        unsafe { ffi::kho_rs_unpreserve_pages(pa, nr_pages as c_ulong) }
    }

    fn restore(&mut self, pa: u64, nr_pages: u64) -> Result {
        if pa == 0 || !GEOMETRY.is_page_aligned(pa) {
            return Err(Error::inval("restoring a misaligned address", pa));
        }
        // SAFETY: `kho_restore_pages()` checks itself that the range was preserved by the
        // previous kernel and not restored yet, and fails otherwise.
        match unsafe { ffi::kho_rs_restore_pages(pa, nr_pages as c_ulong) } {
            0 => {
                OWNED_PAGES.add(nr_pages as i64, Relaxed);
                Ok(())
            }
            _ => Err(Error::inval(
                "page not preserved by the previous kernel",
                pa,
            )),
        }
    }
}
