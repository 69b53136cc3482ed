// SPDX-License-Identifier: GPL-2.0

//! Abstract physical page memory used by the data-structure algorithms.
//!
//! The kernel glue implements [`PageMem`] on real pages (allocated with the page allocator,
//! reached through the direct map); the host crate implements it on a simulated physical
//! memory. Algorithms address pages only by physical address, exactly as the wire format
//! does, so the same code writes and reads the bytes that cross kexec.

use super::error::Result;
use super::geometry::Geometry;

/// Page-granular physical memory.
///
/// Every page is addressed by its page-aligned physical address. `page`/`page_mut` return
/// `None` for an address that is not a valid page of this memory (misaligned, outside RAM,
/// or, for memory handed over from the previous kernel, not preserved); callers turn that
/// into an error, never a panic.
pub(crate) trait PageMem {
    /// Page geometry of this memory.
    fn geometry(&self) -> &Geometry;

    /// Allocates one zeroed page and returns its physical address.
    fn alloc_zeroed(&mut self) -> Result<u64>;

    /// Frees a page returned by [`PageMem::alloc_zeroed`] (or adopted from the previous kernel).
    fn free(&mut self, pa: u64);

    /// Read access to the page at `pa` as native-endian `u64` words.
    fn page(&self, pa: u64) -> Option<&[u64]>;

    /// Write access to the page at `pa` as native-endian `u64` words.
    fn page_mut(&mut self, pa: u64) -> Option<&mut [u64]>;
}
