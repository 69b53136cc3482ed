// SPDX-License-Identifier: GPL-2.0

//! Host tests of the claim rules (`PageMem::claim`) as the simulator models KHO's mark.

use std::vec::Vec;

use crate::pure::geometry::G4K;
use crate::pure::mem::{page_blocks, PageMem};
use crate::sim::SimMem;

/// Greedy split written independently of `page_blocks`: the largest power of two that is
/// both an alignment of `pfn` and fits in what is left.
fn model_blocks(mut pfn: u64, nr: u64) -> Vec<(u64, u32)> {
    let end = pfn + nr;
    let mut out = Vec::new();
    while pfn < end {
        let mut order = 0u32;
        while order < 63
            && pfn.is_multiple_of(1u64 << (order + 1))
            && pfn + (1u64 << (order + 1)) <= end
        {
            order += 1;
        }
        out.push((pfn, order));
        pfn += 1u64 << order;
    }
    out
}

#[test]
fn page_blocks_matches_the_greedy_split() {
    for pfn in 1..300u64 {
        for nr in 1..70u64 {
            let got: Vec<_> = page_blocks(pfn, nr).collect();
            assert_eq!(got, model_blocks(pfn, nr), "pfn {pfn} nr {nr}");
        }
    }
}

/// A memory with one order-2 block at `pa` preserved by the previous kernel.
fn kexeced_block() -> (SimMem, u64) {
    let mut mem = SimMem::new(G4K);
    // Allocate until a 4-page aligned run of 4 pages exists.
    let mut pages = Vec::new();
    for _ in 0..8 {
        pages.push(mem.alloc_zeroed().unwrap());
    }
    let pa = *pages.iter().find(|&&p| (p >> 12) % 4 == 0).unwrap();
    // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
    unsafe { mem.preserve(pa, 4) }.unwrap();
    (mem.kexec(), pa)
}

#[test]
fn claim_needs_the_preserved_order_and_counts_2_pow_k() {
    let (mut m2, pa) = kexeced_block();
    // Wrong order: one page of the order-2 block; the tail page; two pages.
    // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
    assert!(unsafe { m2.claim(pa, 1) }.is_err());
    // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
    assert!(unsafe { m2.claim(pa + 4096, 1) }.is_err());
    // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
    assert!(unsafe { m2.claim(pa, 2) }.is_err());
    assert_eq!(m2.claimed, 0, "a refused claim claims nothing");
    assert_eq!(m2.incoming.len(), 4);
    // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
    unsafe { m2.claim(pa, 4) }.unwrap();
    assert_eq!(m2.claimed, 4, "an order-2 claim counts 4 pages");
    assert!(m2.incoming.is_empty());
    // A consumed block cannot be claimed again.
    // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
    assert!(unsafe { m2.claim(pa, 4) }.is_err());
    assert_eq!(m2.claimed, 4);
}

#[test]
#[should_panic(expected = "reached before it was claimed")]
fn reading_an_unclaimed_incoming_page_is_caught() {
    let (m2, pa) = kexeced_block();
    // SAFETY: deliberately breaks the contract; the simulator must catch it.
    let _ = unsafe { PageMem::page(&m2, pa) };
}
