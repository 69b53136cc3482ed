// SPDX-License-Identifier: GPL-2.0

//! Simulated physical memory for host tests.
//!
//! Pages live at physical addresses `base + n * PAGE_SIZE` (`base` is non-zero so that 0
//! keeps meaning "no page"). The simulator counts allocations, can fail the N-th allocation
//! on purpose, and models a kexec: [`SimMem::kexec`] keeps only the raw bytes of the pages
//! that were preserved and drops every in-memory structure, so a restore has nothing but the
//! bytes to go on.

use std::collections::{BTreeMap, BTreeSet};
use std::vec;
use std::vec::Vec;

use crate::pure::error::{Error, Result};
use crate::pure::geometry::Geometry;
use crate::pure::mem::PageMem;

/// A simulated physical memory.
pub(crate) struct SimMem {
    geo: Geometry,
    base: u64,
    pages: BTreeMap<u64, Vec<u64>>,
    next: u64,
    /// Pages marked preserved (what a kexec keeps).
    pub(crate) preserved: BTreeSet<u64>,
    /// Pages preserved by the previous kernel and not restored yet.
    pub(crate) incoming: BTreeSet<u64>,
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
            incoming: BTreeSet::new(),
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
        new
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

    fn free(&mut self, pa: u64) {
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
            "sim: freeing unrestored page {pa:#x}"
        );
        self.frees += 1;
    }

    fn page(&self, pa: u64) -> Option<&[u64]> {
        self.pages.get(&pa).map(|v| v.as_slice())
    }

    fn page_mut(&mut self, pa: u64) -> Option<&mut [u64]> {
        self.pages.get_mut(&pa).map(|v| v.as_mut_slice())
    }

    fn bytes(&self, pa: u64) -> Option<&[u8]> {
        let w = self.pages.get(&pa)?;
        // SAFETY: `w` is a live `[u64]` of `w.len()` words; viewing its memory as
        // `w.len() * 8` bytes is valid (u8 has no alignment or validity requirements) and
        // the returned borrow is tied to `&self`, like `w`.
        Some(unsafe { core::slice::from_raw_parts(w.as_ptr().cast::<u8>(), w.len() * 8) })
    }

    fn bytes_mut(&mut self, pa: u64) -> Option<&mut [u8]> {
        let w = self.pages.get_mut(&pa)?;
        // SAFETY: as in `bytes`, and the borrow is unique because it comes from `&mut self`.
        Some(unsafe { core::slice::from_raw_parts_mut(w.as_mut_ptr().cast::<u8>(), w.len() * 8) })
    }

    fn preserve(&mut self, pa: u64, nr_pages: u64) -> Result {
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
        Ok(())
    }

    fn unpreserve(&mut self, pa: u64, nr_pages: u64) {
        for p in self.range(pa, nr_pages).collect::<Vec<_>>() {
            assert!(
                self.preserved.remove(&p),
                "sim: unpreserving unpreserved page {p:#x}"
            );
        }
    }

    fn restore(&mut self, pa: u64, nr_pages: u64) -> Result {
        if !self.geo.is_page_aligned(pa) || nr_pages == 0 {
            return Err(Error::inval("sim: bad restore range", pa));
        }
        let pages: Vec<u64> = self.range(pa, nr_pages).collect();
        if let Some(p) = pages.iter().find(|p| !self.incoming.contains(p)) {
            return Err(Error::inval(
                "sim: restoring a page that is not preserved",
                *p,
            ));
        }
        for p in pages {
            self.incoming.remove(&p);
        }
        Ok(())
    }
}
