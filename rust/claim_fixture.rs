// SPDX-License-Identifier: GPL-2.0

//! Test fixture for the KUnit suite `kho_rs_kexec_claim` (module parameter `claim_prep`).
//!
//! KHO sets its per-page preservation mark only in the *next* kernel, while it reads the
//! previous kernel's memory map at boot, so the mark can only be observed after a real
//! kexec. With `claim_prep=1` the first kernel preserves one order-0 page and one order-2
//! block, filled with a known pattern, and publishes their addresses and orders as the
//! raw subtree `kho-rs-claim` (four native-endian `u64`: `pa0, 0, pa2, 2`), and
//! [`RACE_PAGES`] order-0 pages, which two threads race to claim, as the raw subtree
//! [`RACE_SUBTREE`] (their number, then their addresses).
//! The kexec selftest (case `claim`) then kexecs, and the suite, running at insmod in the
//! second kernel, pins the mark's layout against these pages, claims them and checks
//! every rule.
//!
//! It also publishes the [`FAULT_STATES`] small states of the KUnit suite
//! `kho_rs_kexec_faults` (see `crate::tests::faults`), which restores them one by one with
//! an allocation failure injected at every point in turn.

use kernel::prelude::*;

use crate::glue::kho::core_err;
use crate::glue::mem::KernelMem;
use crate::glue::subtree::OutgoingBlob;
use crate::kho::Published;
use crate::pure::mem::PageMem;
use crate::tests::faults::{fault_state, FAULT_STATES};

/// Name of the fixture's subtree.
pub(crate) const CLAIM_SUBTREE: &CStr = c"kho-rs-claim";

/// Orders of the fixture's blocks.
pub(crate) const CLAIM_ORDERS: [u32; 2] = [0, 2];

/// Order-0 pages that two threads race to claim (`two_threads_claim_each_page_once`),
/// published as the raw subtree [`RACE_SUBTREE`]: their number, then their addresses.
pub(crate) const RACE_PAGES: usize = 64;

/// Name of the race pages' subtree (each test restores its own subtree: retrieving one
/// consumes it).
pub(crate) const RACE_SUBTREE: &CStr = c"kho-rs-race";

/// Word `i` of the fixture pattern in the block at `pa`.
pub(crate) const fn pattern(pa: u64, i: u64) -> u64 {
    (pa ^ 0x6b68_6f2d_636c_6169).wrapping_add(i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// The preserved blocks and their subtree; everything is unpreserved and freed on drop.
///
/// # Invariants
///
/// Each `(pa, order)` of `blocks` was allocated with `order` and is preserved.
pub(crate) struct ClaimFixture {
    blocks: KVec<(u64, u32)>,
    mem: KernelMem,
    _blob: OutgoingBlob,
    _race_blob: OutgoingBlob,
    /// The fault sweep's states, published; dropping them unpublishes them.
    faults: KVec<Published<[u64; 4]>>,
}

impl ClaimFixture {
    /// Allocates, fills and preserves the blocks and publishes their addresses.
    pub(crate) fn create() -> Result<Self> {
        let mut mem = KernelMem::new();
        let orders = Iterator::chain(
            CLAIM_ORDERS.iter().copied(),
            core::iter::repeat_n(0, RACE_PAGES),
        );
        let mut blocks = KVec::with_capacity(CLAIM_ORDERS.len() + RACE_PAGES, GFP_KERNEL)?;
        blocks.extend_with(CLAIM_ORDERS.len() + RACE_PAGES, (0u64, 0u32), GFP_KERNEL)?;
        let mut done = 0usize;
        let res = (|| -> Result {
            for (slot, order) in blocks.iter_mut().zip(orders) {
                let pa = mem
                    .alloc_pages(order)
                    .map_err(|e| core_err("claim fixture", e))?;
                // SAFETY: just allocated with `order`, owned here.
                if let Some(words) = unsafe { mem.block_words_mut(pa, 1 << order) } {
                    for (i, w) in words.iter_mut().enumerate() {
                        *w = pattern(pa, i as u64);
                    }
                }
                // SAFETY: allocated above; the fixture keeps it until it unpreserves it.
                if let Err(e) = unsafe { mem.preserve(pa, 1 << order) } {
                    // SAFETY: allocated above with `order`, not preserved.
                    unsafe { mem.free_pages(pa, order) };
                    return Err(core_err("claim fixture", e));
                }
                *slot = (pa, order);
                done += 1;
            }
            Ok(())
        })();
        // Writes `words` (native-endian) to a blob page and returns their size.
        let put = |buf: &mut [u8], words: &mut dyn Iterator<Item = u64>| {
            let mut size = 0;
            for (i, v) in words.enumerate() {
                let dst = buf
                    .get_mut(i * 8..i * 8 + 8)
                    .ok_or(crate::pure::error::Error::inval("claim fixture blob", 0))?;
                dst.copy_from_slice(&v.to_ne_bytes());
                size = i * 8 + 8;
            }
            Ok(size)
        };
        let blob = res.and_then(|()| {
            let (fixed, race) = blocks.split_at(CLAIM_ORDERS.len());
            let claim = OutgoingBlob::publish(CLAIM_SUBTREE, |buf| {
                put(
                    buf,
                    &mut fixed.iter().flat_map(|&(pa, order)| [pa, u64::from(order)]),
                )
            })?;
            let race = OutgoingBlob::publish(RACE_SUBTREE, |buf| {
                put(
                    buf,
                    &mut Iterator::chain([race.len() as u64].into_iter(), race.iter().map(|b| b.0)),
                )
            })?;
            Ok((claim, race))
        });
        match blob {
            Ok((blob, race_blob)) => {
                pr_info!(
                    "claim fixture: preserved order-0 page {:#x}, order-2 block {:#x} and {} pages to race for\n",
                    blocks[0].0,
                    blocks[1].0,
                    RACE_PAGES
                );
                // INVARIANT: every block allocated with its order and preserved.
                let mut fixture = Self {
                    blocks,
                    mem,
                    _blob: blob,
                    _race_blob: race_blob,
                    faults: KVec::new(),
                };
                // On error `fixture` is dropped, which undoes everything made so far.
                fixture.faults.reserve(FAULT_STATES as usize, GFP_KERNEL)?;
                for n in 0..FAULT_STATES {
                    fixture.faults.push(fault_state(n)?, GFP_KERNEL)?;
                }
                pr_info!(
                    "claim fixture: published {} fault-sweep states\n",
                    FAULT_STATES
                );
                Ok(fixture)
            }
            Err(e) => {
                for &(pa, order) in blocks.iter().take(done) {
                    // SAFETY: preserved by this loop, exactly this range.
                    unsafe { mem.unpreserve(pa, 1 << order) };
                    // SAFETY: allocated with `order` above, unpreserved again.
                    unsafe { mem.free_pages(pa, order) };
                }
                Err(e)
            }
        }
    }
}

impl Drop for ClaimFixture {
    fn drop(&mut self) {
        for &(pa, order) in self.blocks.iter() {
            // SAFETY: preserved by `create`, which records exactly what it preserved in `self`.
            unsafe { self.mem.unpreserve(pa, 1 << order) };
            // SAFETY: allocated with `order` and preserved (type invariant), unpreserved
            // just above; freed once.
            unsafe { self.mem.free_pages(pa, order) };
        }
    }
}
