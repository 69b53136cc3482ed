// SPDX-License-Identifier: GPL-2.0

//! Simulated physical memory for host tests.
//!
//! Pages live at physical addresses `base + n * PAGE_SIZE` (`base` is non-zero so that 0
//! keeps meaning "no page"). The simulator counts allocations, can fail the N-th allocation
//! on purpose, and models a kexec: [`SimMem::kexec`] keeps only the raw bytes of the pages
//! that were preserved and drops every in-memory structure, so a restore has nothing but the
//! bytes to go on.
//!
//! Like KHO, the simulator remembers the blocks a preserve call was split into (see
//! [`page_blocks`]) and the next kernel claims them by the same split: a claim whose blocks
//! differ from the preserved ones, or that names a block claimed already, fails and claims
//! nothing. Through the [`PageMem`] trait a page that came from the previous kernel cannot
//! be read before it is claimed: the simulator panics, so a host test catches any decoder
//! that reads before it claims. The inherent accessors ([`SimMem::page`] and friends) let
//! tests look at any page.

use std::collections::{BTreeMap, BTreeSet};
use std::vec;
use std::vec::Vec;

use crate::pure::error::{Error, Result};
use crate::pure::geometry::Geometry;
use crate::pure::mem::{page_blocks, BlockList, PageMem};

/// The page list of a restored vmalloc area on the host ([`PageMem::Pages`]): physical
/// addresses in area order. With `limit` set it takes at most that many pages: growing past
/// it fails like an allocation of the kernel's page array.
#[derive(Debug, Default)]
pub(crate) struct SimPages {
    /// The pages, in area order.
    pub(crate) pas: Vec<u64>,
    /// Most pages the list can take (`None`: no limit).
    pub(crate) limit: Option<usize>,
}

/// A simulated physical memory.
pub(crate) struct SimMem {
    geo: Geometry,
    base: u64,
    pages: BTreeMap<u64, Vec<u64>>,
    next: u64,
    /// Pages marked preserved (what a kexec keeps).
    pub(crate) preserved: BTreeSet<u64>,
    /// Preserved blocks: head address to order, as `kho_preserve_pages()` splits ranges.
    preserved_blocks: BTreeMap<u64, u32>,
    /// Pages preserved by the previous kernel and not claimed yet.
    pub(crate) incoming: BTreeSet<u64>,
    /// Incoming blocks not claimed yet: head address to order (KHO's per-page mark).
    incoming_blocks: BTreeMap<u64, u32>,
    /// Pages claimed from the previous kernel so far, order-k claims counted as 2^k.
    pub(crate) claimed: usize,
    /// Allocations so far.
    pub(crate) allocs: usize,
    /// Frees so far.
    pub(crate) frees: usize,
    /// Fail the allocation whose number (counted from 0) equals this.
    pub(crate) fail_at: Option<usize>,
}

impl SimMem {
    /// New empty memory with geometry `geo`.
    pub(crate) fn new(geo: Geometry) -> Self {
        let base = 0x1_0000_0000u64;
        Self {
            geo,
            base,
            pages: BTreeMap::new(),
            next: base,
            preserved: BTreeSet::new(),
            preserved_blocks: BTreeMap::new(),
            incoming: BTreeSet::new(),
            incoming_blocks: BTreeMap::new(),
            claimed: 0,
            allocs: 0,
            frees: 0,
            fail_at: None,
        }
    }

    /// Number of pages currently allocated.
    pub(crate) fn live(&self) -> usize {
        self.pages.len()
    }

    /// Physical addresses of every live page.
    pub(crate) fn live_pages(&self) -> BTreeSet<u64> {
        self.pages.keys().copied().collect()
    }

    /// Inserts a page at an arbitrary (page-aligned) address, e.g. to model a data page.
    pub(crate) fn insert_at(&mut self, pa: u64) {
        self.pages
            .entry(pa)
            .or_insert_with(|| vec![0; self.geo.page_words]);
    }

    /// Models kexec: only preserved pages survive, with their bytes; nothing else does.
    /// In the new memory they are "incoming": readable, and claimable once by `restore`.
    pub(crate) fn kexec(&self) -> SimMem {
        let mut new = SimMem::new(self.geo);
        new.next = self.next;
        for pa in &self.preserved {
            if let Some(p) = self.pages.get(pa) {
                new.pages.insert(*pa, p.clone());
                new.incoming.insert(*pa);
            }
        }
        new.incoming_blocks = self.preserved_blocks.clone();
        new
    }

    /// The blocks `[pa, pa + nr_pages)` splits into, as `(head address, order)`.
    fn blocks(&self, pa: u64, nr_pages: u64) -> Vec<(u64, u32)> {
        let shift = self.geo.page_shift;
        page_blocks(pa >> shift, nr_pages)
            .map(|(pfn, order)| (pfn << shift, order))
            .collect()
    }

    /// Read access to any page (tests only: no ownership check).
    pub(crate) fn page(&self, pa: u64) -> Option<&[u64]> {
        self.pages.get(&pa).map(|v| v.as_slice())
    }

    /// Write access to any page (tests only: no ownership check).
    pub(crate) fn page_mut(&mut self, pa: u64) -> Option<&mut [u64]> {
        self.pages.get_mut(&pa).map(|v| v.as_mut_slice())
    }

    /// Order of the unclaimed block of the previous kernel whose head is `head`, if any:
    /// `claim(head, 1 << order)` succeeds exactly for this order (what a reference model of a
    /// restore needs, without the claim logic of the pure core).
    pub(crate) fn incoming_order(&self, head: u64) -> Option<u32> {
        self.incoming_blocks.get(&head).copied()
    }

    /// Every unclaimed incoming block, head address to order.
    pub(crate) fn incoming_blocks(&self) -> &BTreeMap<u64, u32> {
        &self.incoming_blocks
    }

    /// The unclaimed incoming block holding `pa`, as `(head, order)`.
    pub(crate) fn incoming_block_of(&self, pa: u64) -> Option<(u64, u32)> {
        let (&head, &order) = self.incoming_blocks.range(..=pa).next_back()?;
        let size = (self.geo.page_size as u64) << order;
        (pa - head < size).then_some((head, order))
    }

    /// Damage for tests: the previous kernel did not preserve the incoming block holding
    /// `pa`. Its pages stay in memory but cannot be claimed. Returns the block.
    pub(crate) fn forget_incoming(&mut self, pa: u64) -> Option<(u64, u32)> {
        let (head, order) = self.incoming_block_of(pa)?;
        self.incoming_blocks.remove(&head);
        for p in self.range(head, 1 << order).collect::<Vec<_>>() {
            self.incoming.remove(&p);
        }
        Some((head, order))
    }

    /// Damage for tests: the previous kernel preserved the incoming block holding `pa` as
    /// order-0 pages instead, so a claim of the whole block fails. Returns the block.
    pub(crate) fn split_incoming(&mut self, pa: u64) -> Option<(u64, u32)> {
        let (head, order) = self.incoming_block_of(pa)?;
        for p in self.range(head, 1 << order).collect::<Vec<_>>() {
            self.incoming_blocks.insert(p, 0);
        }
        Some((head, order))
    }

    /// Whether the pure core may touch `pa` through [`PageMem`]: panics on an incoming page
    /// that was not claimed, which is a "read before claim" bug in the code under test.
    fn owned(&self, pa: u64) {
        assert!(
            !self.incoming.contains(&pa),
            "sim: page {pa:#x} of the previous kernel reached before it was claimed"
        );
    }

    /// Frees a page (tests only; the same checks as [`PageMem::free`]).
    pub(crate) fn free(&mut self, pa: u64) {
        assert!(
            self.pages.remove(&pa).is_some(),
            "sim: double free of {pa:#x}"
        );
        assert!(
            !self.preserved.contains(&pa),
            "sim: freeing preserved page {pa:#x}"
        );
        assert!(
            !self.incoming.contains(&pa),
            "sim: freeing unclaimed page {pa:#x}"
        );
        self.frees += 1;
    }

    fn range(&self, pa: u64, nr_pages: u64) -> impl Iterator<Item = u64> {
        let ps = self.geo.page_size as u64;
        (0..nr_pages).map(move |i| pa + i * ps)
    }

    /// Byte view of a page (little-endian host), for layout tests.
    pub(crate) fn bytes(&self, pa: u64) -> Vec<u8> {
        self.pages[&pa]
            .iter()
            .flat_map(|w| w.to_ne_bytes())
            .collect()
    }
}

impl PageMem for SimMem {
    type Pages = SimPages;

    fn geometry(&self) -> &Geometry {
        &self.geo
    }

    fn alloc_zeroed(&mut self) -> Result<u64> {
        let n = self.allocs;
        self.allocs += 1;
        if self.fail_at == Some(n) {
            return Err(Error::nomem("sim: injected allocation failure"));
        }
        let pa = self.next;
        self.next += self.geo.page_size as u64;
        self.pages.insert(pa, vec![0; self.geo.page_words]);
        Ok(pa)
    }

    unsafe fn free(&mut self, pa: u64) {
        SimMem::free(self, pa);
    }

    unsafe fn page(&self, pa: u64) -> Option<&[u64]> {
        self.owned(pa);
        SimMem::page(self, pa)
    }

    unsafe fn page_mut(&mut self, pa: u64) -> Option<&mut [u64]> {
        self.owned(pa);
        SimMem::page_mut(self, pa)
    }

    unsafe fn bytes(&self, pa: u64) -> Option<&[u8]> {
        self.owned(pa);
        let w = self.pages.get(&pa)?;
        // SAFETY: `w` is a live `[u64]` of `w.len()` words; viewing its memory as
        // `w.len() * 8` bytes is valid (u8 has no alignment or validity requirements) and
        // the returned borrow is tied to `&self`, like `w`.
        Some(unsafe { core::slice::from_raw_parts(w.as_ptr().cast::<u8>(), w.len() * 8) })
    }

    unsafe fn bytes_mut(&mut self, pa: u64) -> Option<&mut [u8]> {
        self.owned(pa);
        let w = self.pages.get_mut(&pa)?;
        // SAFETY: as in `bytes`, and the borrow is unique because it comes from `&mut self`.
        Some(unsafe { core::slice::from_raw_parts_mut(w.as_mut_ptr().cast::<u8>(), w.len() * 8) })
    }

    unsafe fn preserve(&mut self, pa: u64, nr_pages: u64) -> Result {
        if !self.geo.is_page_aligned(pa) || nr_pages == 0 {
            return Err(Error::inval("sim: bad preserve range", pa));
        }
        let pages: Vec<u64> = self.range(pa, nr_pages).collect();
        if pages.iter().any(|p| !self.pages.contains_key(p)) {
            return Err(Error::inval(
                "sim: preserving memory that does not exist",
                pa,
            ));
        }
        self.preserved.extend(pages);
        let blocks = self.blocks(pa, nr_pages);
        self.preserved_blocks.extend(blocks);
        Ok(())
    }

    unsafe fn unpreserve(&mut self, pa: u64, nr_pages: u64) {
        for p in self.range(pa, nr_pages).collect::<Vec<_>>() {
            assert!(
                self.preserved.remove(&p),
                "sim: unpreserving unpreserved page {p:#x}"
            );
        }
        for (head, _) in self.blocks(pa, nr_pages) {
            self.preserved_blocks.remove(&head);
        }
    }

    unsafe fn claim(&mut self, pa: u64, nr_pages: u64) -> Result {
        if !self.geo.is_page_aligned(pa) || nr_pages == 0 {
            return Err(Error::inval("sim: bad claim range", pa));
        }
        let blocks = self.blocks(pa, nr_pages);
        for &(head, order) in &blocks {
            match self.incoming_blocks.get(&head) {
                Some(&o) if o == order => {}
                Some(_) => return Err(Error::inval("sim: preserved with another order", head)),
                None => return Err(Error::inval("sim: not preserved or claimed already", head)),
            }
        }
        for (head, order) in blocks {
            self.incoming_blocks.remove(&head);
            for p in self.range(head, 1 << order).collect::<Vec<_>>() {
                self.incoming.remove(&p);
            }
            self.claimed += 1 << order;
        }
        Ok(())
    }

    unsafe fn claim_blocks_into(&mut self, list: BlockList, out: &mut SimPages) -> (usize, Result) {
        let BlockList {
            page: list_pa,
            first,
            n,
            nr_pages,
        } = list;
        let room = out
            .limit
            .map_or(u64::MAX, |l| l.saturating_sub(out.pas.len()) as u64);
        if (n as u64).saturating_mul(nr_pages) > room {
            return (0, Err(Error::nomem("sim: page list full")));
        }
        for i in 0..n {
            // SAFETY: the caller owns `list_pa`.
            let word =
                unsafe { PageMem::page(self, list_pa) }.and_then(|p| p.get(first + i).copied());
            let Some(pa) = word else {
                return (i, Err(Error::inval("block list outside its page", list_pa)));
            };
            if let Err(e) = self.claim(pa, nr_pages) {
                return (i, Err(Error::new(e.errno, e.what, pa)));
            }
            out.pas.extend(self.range(pa, nr_pages));
        }
        (n, Ok(()))
    }
}
