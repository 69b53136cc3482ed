// SPDX-License-Identifier: GPL-2.0

//! The seal of a published state on real pages: the kernel's `crc32c()`, the state's own
//! pages in the first kernel, and copies of the previous kernel's pages (checked against
//! KHO's mark, never claimed) in the next one. What is hashed is decided by
//! [`crate::pure::seal`].
//!
//! C header: [`include/linux/crc32.h`](srctree/include/linux/crc32.h)

use kernel::prelude::*;

use super::ffi;
use super::mem::{KernelMem, GEOMETRY};
use crate::pure::error::{Error as CoreError, Result as CoreResult};
use crate::pure::mem::PageMem;
use crate::pure::seal::{self, Parts, Seal, SealSource};
use crate::pure::subtree::SubtreeInfo;

/// The kernel's `crc32c()` over `bytes`, continuing `crc`.
pub(crate) fn crc32c(crc: u32, bytes: &[u8]) -> u32 {
    // SAFETY: `bytes` is a valid slice for the duration of the call; `crc32c()` only reads
    // it.
    unsafe { ffi::kho_rs_crc32c(crc, bytes.as_ptr().cast(), bytes.len()) }
}

/// Pages of the previous kernel, read as copies: a page is copied only if KHO's mark says
/// it was preserved as an order-0 page and is not claimed yet; nothing is claimed.
struct Previous;

impl SealSource for Previous {
    fn copy_page(&mut self, pa: u64, out: &mut [u64]) -> CoreResult {
        if out.len() != GEOMETRY.page_words {
            return Err(CoreError::inval("seal: copy buffer is not one page", pa));
        }
        // SAFETY: `out` is a writable buffer of exactly one page (checked above); the shim
        // copies the page only after checking that it is a preserved page of the previous
        // kernel that nobody claimed, under the module's claim lock.
        let ret = unsafe { ffi::kho_rs_peek_page(pa, out.as_mut_ptr().cast()) };
        if ret != 0 {
            return Err(CoreError::new(-ret, "seal: page not readable", pa));
        }
        Ok(())
    }

    fn crc32c(&self, crc: u32, bytes: &[u8]) -> u32 {
        crc32c(crc, bytes)
    }
}

/// The state's own pages in the first kernel.
///
/// # Invariants
///
/// Every page a seal walk reaches from the state being sealed is owned by the holder of
/// `mem` and not written while the walk runs.
struct Owned<'a> {
    mem: &'a KernelMem,
}

impl SealSource for Owned<'_> {
    fn copy_page(&mut self, pa: u64, out: &mut [u64]) -> CoreResult {
        // SAFETY: the walk only reaches pages of the state being sealed, owned by the
        // holder of `mem` (type invariant).
        let page = unsafe { self.mem.page(pa) }
            .ok_or(CoreError::inval("seal: page not accessible", pa))?;
        out.get_mut(..page.len())
            .ok_or(CoreError::inval("seal: copy buffer is not one page", pa))?
            .copy_from_slice(page);
        Ok(())
    }

    fn crc32c(&self, crc: u32, bytes: &[u8]) -> u32 {
        crc32c(crc, bytes)
    }
}

/// Scratch memory for a seal walk.
fn scratch() -> Result<KVVec<u64>> {
    KVVec::from_elem(0u64, seal::scratch_words(&GEOMETRY), GFP_KERNEL).map_err(|_| {
        pr_err!("seal: out of memory for the walk\n");
        ENOMEM
    })
}

/// Seals the state `info` describes, just before its blob is written.
///
/// # Safety
///
/// Every page reachable from `info` (the radix tree's pages, the vmalloc chunks, the
/// blocks) must be a page of the caller's own state, owned through `mem`, and not written
/// until this returns.
pub(crate) unsafe fn seal_outgoing(mem: &KernelMem, info: &SubtreeInfo) -> Result<Seal> {
    let mut scratch = scratch()?;
    // INVARIANT: the caller's state owns every page reachable from `info` (this function's
    // contract).
    let mut src = Owned { mem };
    seal::seal(&mut src, &GEOMETRY, info, &mut scratch).map_err(|e| super::kho::core_err("seal", e))
}

/// Checks the previous kernel's state `info` against its seal, for `parts` and the root's
/// values, before anything of it is claimed. Reads only copies of pages KHO's mark says
/// are preserved and unclaimed; claims nothing. Errors are the pure core's, for the caller
/// to log in its context.
pub(crate) fn check_incoming(info: &SubtreeInfo, parts: Parts) -> Result<CoreResult> {
    let mut scratch = scratch()?;
    Ok(seal::check(
        &mut Previous,
        &GEOMETRY,
        info,
        parts,
        &mut scratch,
    ))
}
