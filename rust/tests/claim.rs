// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `kho_rs_kexec_claim`: check, then claim, on pages really preserved by the
//! previous kernel.
//!
//! It needs a kexec, so the kexec selftest runs it (case `claim`): the first kernel loads
//! the module with `claim_prep=1` (see [`crate::claim_fixture`]), kexecs with KHO and
//! `kunit.enable=1 kunit.filter_glob=kho_rs_kexec_claim`, and the suite runs at insmod in
//! the second kernel, where KHO has marked the fixture's blocks;
//! `tools/testing/kunit/kunit.py parse` judges its KTAP. `scripts/kunit.sh` (one cold boot)
//! runs every other suite with the filter `kho_rs_[!k]*`. The suite
//!
//! * pins the private layout of KHO's mark (`page->private` = `{u32 order, u32 magic}`) that
//!   the shim reads before it claims: a layout change fails here instead of misreading;
//! * checks that a claim with the wrong order is refused and claims nothing;
//! * checks that a claim takes the block (mark cleared, data intact, counted as 2^order
//!   pages), and that a second claim of a consumed page fails with an errno and no WARN
//!   (the test kernel runs with `panic_on_warn=1`);
//! * lets two threads claim the same [`RACE_PAGES`] pages at the same time: each page must
//!   be claimed exactly once, with no WARN (the shim's check-then-restore is one step
//!   under its claim lock; without it both threads could pass the check of one page, and
//!   the second `kho_restore_pages()` would WARN).
//!
//! Without the fixture (a cold boot, or the module loaded by hand) the suite fails and says
//! why: it is never skipped silently.

use kernel::prelude::*;
use kernel::sync::atomic::{Atomic, Relaxed};

use super::run_workers;
use crate::claim_fixture::{pattern, CLAIM_ORDERS, CLAIM_SUBTREE, RACE_PAGES, RACE_SUBTREE};
use crate::glue::mem::KernelMem;
use crate::glue::subtree::IncomingBlob;
use crate::pure::mem::PageMem;

/// KHO's magic in the upper half of `page->private` (`KHO_PAGE_MAGIC`, "KHOP").
const KHO_PAGE_MAGIC: u64 = 0x4b48_4f50;

/// Native-endian word `i` of `b`.
fn word(b: &[u8], i: usize) -> Result<u64> {
    let raw = b.get(i * 8..i * 8 + 8).ok_or(EINVAL)?;
    let mut w = [0u8; 8];
    w.copy_from_slice(raw);
    Ok(u64::from_ne_bytes(w))
}

/// The raw subtree `name` of the fixture (claimed and freed: it can be read once).
fn fixture_blob(name: &CStr) -> Result<IncomingBlob> {
    IncomingBlob::retrieve_consumed(name)?.ok_or_else(|| {
        pr_err!("kho_rs_kexec_claim: no fixture subtree: run through the kexec selftest (case claim), which preserves the fixture and kexecs first\n");
        ENOENT
    })
}

/// The fixture's `(pa, order)` pairs from the `kho-rs-claim` subtree.
fn fixture() -> Result<[(u64, u32); 2]> {
    let blob = fixture_blob(CLAIM_SUBTREE)?;
    let b = blob.bytes();
    let out = [
        (word(b, 0)?, word(b, 1)? as u32),
        (word(b, 2)?, word(b, 3)? as u32),
    ];
    if out.iter().map(|b| b.1).ne(CLAIM_ORDERS) {
        pr_err!("kho_rs_kexec_claim: fixture orders {:?}\n", out);
        return Err(EINVAL);
    }
    Ok(out)
}

/// The addresses of the pages to race for, from the `kho-rs-race` subtree.
fn race_pages() -> Result<KVec<u64>> {
    let blob = fixture_blob(RACE_SUBTREE)?;
    let b = blob.bytes();
    if word(b, 0)? != RACE_PAGES as u64 {
        pr_err!("kho_rs_kexec_claim: {} race pages\n", word(b, 0)?);
        return Err(EINVAL);
    }
    let mut race = KVec::with_capacity(RACE_PAGES, GFP_KERNEL)?;
    for i in 0..RACE_PAGES {
        race.push(word(b, 1 + i)?, GFP_KERNEL)?;
    }
    Ok(race)
}

/// What the two racing threads share.
struct Race {
    /// The pages to claim.
    pages: KVec<u64>,
    /// How many times each page was claimed.
    wins: KVec<Atomic<i64>>,
}

/// Claims every page of `race`, counting the wins.
fn race_claims(race: &Race, _thread: usize) {
    let mut mem = KernelMem::new();
    for (pa, wins) in race.pages.iter().zip(race.wins.iter()) {
        // SAFETY: a page of this module's own claim fixture, preserved by the previous
        // kernel; the other thread claims the same pages, which is what is tested.
        if unsafe { mem.claim(*pa, 1) }.is_ok() {
            wins.add(1, Relaxed);
        }
    }
}

#[kunit_tests(kho_rs_kexec_claim)]
mod tests {
    use super::*;

    /// The shim's reading of KHO's mark matches what KHO wrote for these blocks.
    #[test]
    fn page_mark_layout() -> Result {
        let blocks = fixture()?;
        for &(pa, order) in blocks.iter() {
            let private = KernelMem::page_private(pa);
            assert_eq!(private >> 32, KHO_PAGE_MAGIC);
            assert_eq!(private & 0xffff_ffff, u64::from(order));
        }
        let mut mem = KernelMem::new();
        let claimed = KernelMem::claimed_pages();
        let owned = KernelMem::owned_pages();
        let page = crate::glue::mem::GEOMETRY.page_size as u64;
        for &(pa, order) in blocks.iter() {
            // A wrong order (the order-2 block as one page; the order-0 page as the
            // order-1 block of its even-aligned pair) is refused before anything is
            // restored: the mark is still there afterwards. (Two pages from an odd page
            // would be two order-0 blocks, and its neighbour may be another preserved
            // order-0 page of the fixture.)
            let (start, wrong) = match order {
                0 => (pa & !(2 * page - 1), 2),
                _ => (pa, 1),
            };
            // SAFETY: the range holds a page of this module's own claim fixture, preserved by the previous kernel; the claim is refused, nothing is claimed.
            assert!(unsafe { mem.claim(start, wrong) }.is_err());
            assert_eq!(KernelMem::page_private(pa) >> 32, KHO_PAGE_MAGIC);
        }
        assert_eq!(KernelMem::claimed_pages(), claimed);
        let mut total = 0i64;
        for &(pa, order) in blocks.iter() {
            let n = 1u64 << order;
            // SAFETY: `pa` is a page of this module's own claim fixture, preserved by the previous kernel.
            assert!(unsafe { mem.claim(pa, n) }.is_ok());
            total += n as i64;
            // Claimed: KHO cleared the mark; the data is what the first kernel wrote.
            assert_eq!(KernelMem::page_private(pa) >> 32, 0);
            // SAFETY: the block was claimed just above and is owned by this test.
            let words = unsafe { mem.block_words_mut(pa, n as usize) }.ok_or(EFAULT)?;
            let bad = words
                .iter()
                .enumerate()
                .filter(|&(i, &w)| w != pattern(pa, i as u64))
                .count();
            assert_eq!(bad, 0);
            // A consumed page cannot be claimed again: an errno, no WARN.
            // SAFETY: `pa` is a page of this module's own claim fixture, claimed above: the check refuses it.
            let again = unsafe { mem.claim(pa, n) };
            assert!(matches!(again, Err(e) if e.errno == ENOENT.to_errno().abs()));
        }
        // Order-k claims count as 2^k pages.
        assert_eq!(KernelMem::claimed_pages() - claimed, total);
        assert_eq!(KernelMem::owned_pages() - owned, total);
        for &(pa, order) in blocks.iter() {
            for i in 0..(1u64 << order) {
                // SAFETY: claimed above (order-0 pages after `kho_restore_pages()`), not
                // referenced any more; each freed once.
                unsafe { mem.free(pa + i * crate::glue::mem::GEOMETRY.page_size as u64) };
            }
        }
        assert_eq!(KernelMem::owned_pages(), owned);
        Ok(())
    }

    /// Two threads claim the same pages at the same time: each page once, no WARN.
    #[test]
    fn two_threads_claim_each_page_once() -> Result {
        let pages = race_pages()?;
        let claimed = KernelMem::claimed_pages();
        let owned = KernelMem::owned_pages();
        let mut wins = KVec::with_capacity(pages.len(), GFP_KERNEL)?;
        for _ in 0..pages.len() {
            wins.push(Atomic::new(0i64), GFP_KERNEL)?;
        }
        let (spawned, workers) = run_workers(2, Race { pages, wins }, race_claims)?;
        let race = &workers.data;
        assert_eq!(spawned, 2);
        let once = race.wins.iter().filter(|w| w.load(Relaxed) == 1).count();
        assert_eq!(once, RACE_PAGES);
        assert_eq!(KernelMem::claimed_pages() - claimed, RACE_PAGES as i64);
        let mut mem = KernelMem::new();
        for &pa in race.pages.iter() {
            // SAFETY: claimed exactly once above (checked), by this test, not referenced.
            unsafe { mem.free(pa) };
        }
        assert_eq!(KernelMem::owned_pages(), owned);
        Ok(())
    }
}
