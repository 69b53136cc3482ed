// SPDX-License-Identifier: GPL-2.0

//! Abstract physical page memory used by the data-structure algorithms.
//!
//! The kernel glue implements [`PageMem`] on real pages (page allocator, direct map, KHO
//! preserve/restore calls); the host crate implements it on a simulated physical memory.
//! Algorithms address pages only by physical address, exactly as the wire format does, so
//! the same code writes and reads the bytes that cross kexec.

use super::error::Result;
use super::geometry::Geometry;

/// Page-granular physical memory with KHO preservation.
///
/// Every page is addressed by its page-aligned physical address. The accessors return
/// `None` for an address that is not a valid page of this memory (misaligned or outside
/// RAM); callers turn that into an error, never a panic.
///
/// Preservation follows KHO's rules: [`PageMem::preserve`] marks pages for the next kernel
/// (`kho_preserve_pages()`), [`PageMem::unpreserve`] undoes it exactly, and in the next
/// kernel [`PageMem::restore`] claims preserved pages (`kho_restore_pages()`): it fails for
/// pages the previous kernel did not preserve and for pages already restored, so restoring
/// each page of an incoming structure once also proves that no page is shared or visited
/// twice. A restored page is owned by the caller and released with [`PageMem::free`].
pub(crate) trait PageMem {
    /// Page geometry of this memory.
    fn geometry(&self) -> &Geometry;

    /// Allocates one zeroed page and returns its physical address.
    fn alloc_zeroed(&mut self) -> Result<u64>;

    /// Frees one page that was allocated by [`PageMem::alloc_zeroed`] or restored by
    /// [`PageMem::restore`]. The page must not be preserved any more.
    fn free(&mut self, pa: u64);

    /// Read access to the page at `pa` as native-endian `u64` words.
    fn page(&self, pa: u64) -> Option<&[u64]>;

    /// Write access to the page at `pa` as native-endian `u64` words.
    fn page_mut(&mut self, pa: u64) -> Option<&mut [u64]>;

    /// Read access to the page at `pa` as bytes.
    fn bytes(&self, pa: u64) -> Option<&[u8]>;

    /// Write access to the page at `pa` as bytes.
    fn bytes_mut(&mut self, pa: u64) -> Option<&mut [u8]>;

    /// Preserves `nr_pages` pages starting at `pa` for the next kernel.
    fn preserve(&mut self, pa: u64, nr_pages: u64) -> Result;

    /// Undoes [`PageMem::preserve`] for exactly the same range.
    fn unpreserve(&mut self, pa: u64, nr_pages: u64);

    /// New kernel: claims `nr_pages` pages at `pa` that the previous kernel preserved.
    fn restore(&mut self, pa: u64, nr_pages: u64) -> Result;
}
