// SPDX-License-Identifier: GPL-2.0

//! Turning fuzzer bytes into inputs: a byte reader and a simulated post-kexec memory.
//!
//! The memory image format is shared by the `radix_restore`, `vmalloc` and `block` targets
//! (the seed generator writes it with [`ImageWriter`]):
//!
//! ```text
//! u8   geometry (% 3: 4K, 16K, 64K)
//! u8   structure pages n = 1 + b % MAX_STRUCT_PAGES
//! u16  data pages d (% (MAX_DATA_BYTES / PAGE_SIZE + 1))
//! u8   data order k (% (MAX_DATA_ORDER + 1))
//! n x u8  state of structure page j, image page d + j (% 4: 0, 1 preserved; 2 present, not preserved;
//!                                    3 absent)
//! ...  target parameters (read by the target with the same reader)
//! ...  write records until the input ends (see `Image::apply_writes`)
//! ```
//!
//! Page `i` of the image is at `base + i * PAGE_SIZE`, where `base` is the simulator's first
//! page: the `d` data pages first, then the `n` structure pages. A preserved structure page
//! is an order-0 block of the previous kernel; the data pages are all preserved, as blocks
//! of order `k` wherever `2^k` pages fit naturally aligned and as order-0 blocks elsewhere,
//! so that a claim succeeds only with the order the previous kernel preserved (e.g. the
//! blocks of a vmalloc area of order `k`). A value in a record or a parameter is a reference to page `i` (so the fuzzer builds
//! valid pointers easily), a page reference plus an offset, a small integer, or raw.

use std::collections::{BTreeMap, BTreeSet};
use std::vec::Vec;

use crate::pure::geometry::{Geometry, G16K, G4K, G64K};
use crate::pure::mem::PageMem;
use crate::sim::SimMem;

/// Most structure pages in an image.
pub(crate) const MAX_STRUCT_PAGES: usize = 48;
/// Upper bound of an image's data pages, in bytes: 640 pages of 4 KiB are enough for a
/// vmalloc chain of two chunks, and a small image keeps the fuzzer fast.
pub(crate) const MAX_DATA_BYTES: usize = 2560 << 10;
/// Largest order of the blocks the data pages are preserved as.
pub(crate) const MAX_DATA_ORDER: u8 = 7;

/// Sequential little-endian reader that yields zeros once the input is used up.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// Up to `n` bytes (fewer at the end of the input).
    pub(crate) fn bytes(&mut self, n: usize) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        let end = start.saturating_add(n).min(self.data.len());
        self.pos = end;
        &self.data[start..end]
    }

    /// Everything not read yet.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        self.bytes(usize::MAX)
    }

    fn le<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for (o, b) in out.iter_mut().zip(self.bytes(N)) {
            *o = *b;
        }
        out
    }

    pub(crate) fn u8(&mut self) -> u8 {
        self.le::<1>()[0]
    }

    pub(crate) fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.le())
    }

    pub(crate) fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.le())
    }

    pub(crate) fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.le())
    }

    /// A geometry from one byte.
    pub(crate) fn geometry(&mut self) -> Geometry {
        [G4K, G16K, G64K][usize::from(self.u8() % 3)]
    }

    /// A value: page reference, reference plus offset, small integer or raw `u64`.
    pub(crate) fn value(&mut self, base: u64, page_size: u64) -> u64 {
        match self.u8() % 4 {
            0 => page_pa(base, page_size, self.u16()),
            1 => page_pa(base, page_size, self.u16()).wrapping_add(u64::from(self.u16())),
            2 => u64::from(self.u8()),
            _ => self.u64(),
        }
    }
}

/// Address of page `idx` of an image.
pub(crate) fn page_pa(base: u64, page_size: u64, idx: u16) -> u64 {
    base.wrapping_add(u64::from(idx).wrapping_mul(page_size))
}

/// What the fuzzer chose for a structure page.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum PageState {
    /// Preserved by the previous kernel: readable and claimable once.
    Preserved,
    /// Present in the new kernel but never preserved (claiming it must fail).
    Stray,
    /// Not a page of memory at all.
    Absent,
}

impl PageState {
    fn from_byte(b: u8) -> Self {
        match b % 4 {
            0 | 1 => Self::Preserved,
            2 => Self::Stray,
            _ => Self::Absent,
        }
    }

    fn to_byte(self) -> u8 {
        match self {
            Self::Preserved => 0,
            Self::Stray => 2,
            Self::Absent => 3,
        }
    }
}

/// Contents of every page of a memory (address -> words), to prove a decoder wrote nothing.
pub(crate) type Snapshot = BTreeMap<u64, Vec<u64>>;

/// Copies every page of `mem`.
pub(crate) fn snapshot(mem: &SimMem) -> Snapshot {
    mem.live_pages()
        .into_iter()
        .map(|pa| (pa, mem.page(pa).map(<[u64]>::to_vec).unwrap_or_default()))
        .collect()
}

/// A simulated memory just after kexec, shaped by the fuzzer.
pub(crate) struct Image {
    /// The memory the decoders run on.
    pub(crate) mem: SimMem,
    /// Its geometry.
    pub(crate) geo: Geometry,
    /// Address of page 0.
    pub(crate) base: u64,
    /// Structure pages plus data pages.
    pub(crate) pages: usize,
    /// Pages present but never preserved.
    pub(crate) stray: BTreeSet<u64>,
    /// Pages preserved (incoming) when the decoder started.
    pub(crate) incoming: BTreeSet<u64>,
    /// Contents when the decoder started.
    pub(crate) before: Snapshot,
}

impl Image {
    /// Reads the image header from `r` and builds the memory (no writes yet).
    pub(crate) fn build(r: &mut Reader<'_>) -> Self {
        let geo = r.geometry();
        let n = 1 + usize::from(r.u8()) % MAX_STRUCT_PAGES;
        let d = usize::from(r.u16()) % (MAX_DATA_BYTES / geo.page_size + 1);
        let order = u32::from(r.u8() % (MAX_DATA_ORDER + 1));
        let states: Vec<PageState> = (0..n).map(|_| PageState::from_byte(r.u8())).collect();
        let total = n + d;
        let mut old = SimMem::new(geo);
        let mut addrs = Vec::with_capacity(total);
        for _ in 0..total {
            addrs.push(old.alloc_zeroed().expect("sim allocation"));
        }
        let base = addrs[0];
        let ps = geo.page_size as u64;
        for (i, &pa) in addrs.iter().enumerate() {
            assert_eq!(pa, base + i as u64 * ps, "sim pages are not contiguous");
        }
        // Data pages: `2^order`-page blocks where they fit aligned, single pages elsewhere
        // (`base` is aligned far beyond any order).
        let block = 1usize << order;
        let mut i = 0;
        while i < d {
            let nr = if i % block == 0 && i + block <= d {
                block
            } else {
                1
            };
            // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
            unsafe { old.preserve(base + i as u64 * ps, nr as u64) }.expect("sim preserve");
            i += nr;
        }
        let struct_pa = |j: usize| base + (d + j) as u64 * ps;
        for (j, s) in states.iter().enumerate() {
            if *s == PageState::Preserved {
                // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
                unsafe { old.preserve(struct_pa(j), 1) }.expect("sim preserve");
            }
        }
        let mut mem = old.kexec();
        let mut stray = BTreeSet::new();
        for (j, s) in states.iter().enumerate() {
            if *s == PageState::Stray {
                let pa = struct_pa(j);
                mem.insert_at(pa);
                stray.insert(pa);
            }
        }
        Self {
            mem,
            geo,
            base,
            pages: total,
            stray,
            incoming: BTreeSet::new(),
            before: Snapshot::new(),
        }
    }

    /// Page size as `u64`.
    pub(crate) fn ps(&self) -> u64 {
        self.geo.page_size as u64
    }

    /// Reads a value (see [`Reader::value`]) relative to this image.
    pub(crate) fn value(&self, r: &mut Reader<'_>) -> u64 {
        r.value(self.base, self.ps())
    }

    /// Applies the write records of the rest of `r`, then records the starting state.
    ///
    /// Records: `u8 op, u16 page, u16 word` then, by `op % 4`:
    /// 0 one value; 1 a run `u16 count, u16 first page, u8 stride` of page references;
    /// 2 `u16 count` then one value repeated; 3 `u8 bit`: set that bit of the word.
    /// Writes to absent pages are dropped.
    pub(crate) fn apply_writes(&mut self, r: &mut Reader<'_>) {
        let words = self.geo.page_words;
        let ps = self.ps();
        while !r.is_empty() {
            let op = r.u8();
            let page = usize::from(r.u16()) % self.pages;
            let word = usize::from(r.u16()) % words;
            let pa = self.base + page as u64 * ps;
            let mut vals: Vec<(usize, u64)> = Vec::new();
            match op % 4 {
                0 => vals.push((word, self.value(r))),
                1 => {
                    let count = usize::from(r.u16()) % (words + 1);
                    let first = r.u16();
                    let stride = r.u8();
                    for k in 0..count.min(words - word) {
                        let idx = u64::from(first) + k as u64 * u64::from(stride);
                        vals.push((word + k, self.base.wrapping_add(idx.wrapping_mul(ps))));
                    }
                }
                2 => {
                    let count = usize::from(r.u16()) % (words + 1);
                    let v = self.value(r);
                    for k in 0..count.min(words - word) {
                        vals.push((word + k, v));
                    }
                }
                _ => {
                    let bit = r.u8() % 64;
                    let old = self
                        .mem
                        .page(pa)
                        .and_then(|p| p.get(word))
                        .copied()
                        .unwrap_or(0);
                    vals.push((word, old | (1u64 << bit)));
                }
            }
            if let Some(p) = self.mem.page_mut(pa) {
                for (w, v) in vals {
                    p[w] = v;
                }
            }
        }
        self.incoming = self.mem.incoming.clone();
        self.before = snapshot(&self.mem);
    }

    /// Pages claimed (restored) since [`Image::apply_writes`].
    pub(crate) fn claimed(&self) -> BTreeSet<u64> {
        self.incoming
            .difference(&self.mem.incoming)
            .copied()
            .collect()
    }

    /// The invariant every target checks last: nothing claimed or allocated is still held, no
    /// page that was not claimed was freed, and no page still present was written to.
    ///
    /// The caller must have released what a successful decoder handed it.
    pub(crate) fn check_released(&self) {
        check_released(&self.mem, &self.incoming, &self.stray, &self.before);
    }
}

/// See [`Image::check_released`]; `incoming`, `stray` and `before` describe the memory when
/// the decoders started.
pub(crate) fn check_released(
    mem: &SimMem,
    incoming: &BTreeSet<u64>,
    stray: &BTreeSet<u64>,
    before: &Snapshot,
) {
    for pa in mem.live_pages() {
        assert!(
            mem.incoming.contains(&pa) || stray.contains(&pa),
            "page {pa:#x} is still claimed (leak)"
        );
        assert_eq!(
            before.get(&pa).map(Vec::as_slice),
            mem.page(pa),
            "page {pa:#x} was modified by a decoder"
        );
    }
    for pa in stray {
        assert!(
            mem.page(*pa).is_some(),
            "page {pa:#x} was never preserved, but was freed"
        );
    }
    assert!(mem.incoming.is_subset(incoming));
    let claimed = incoming.len() - mem.incoming.len();
    assert_eq!(
        mem.claimed, claimed,
        "claims counted differently from pages taken"
    );
    // Every claimed page and every page allocated since was freed exactly once.
    assert_eq!(mem.frees, claimed + mem.allocs);
}

/// A copy of `mem` in which every page is owned (none is incoming): the view of the kernel
/// that wrote the pages, for the read-only checks meant for its own outgoing structures
/// (`vmalloc::validate`), which must not run on unclaimed incoming pages.
pub(crate) fn owned_copy(mem: &SimMem) -> SimMem {
    let mut out = SimMem::new(*mem.geometry());
    for pa in mem.live_pages() {
        out.insert_at(pa);
        if let (Some(dst), Some(src)) = (out.page_mut(pa), mem.page(pa)) {
            dst.copy_from_slice(src);
        }
    }
    out
}

/// Writes inputs in the image format, for the seed generator.
pub(crate) struct ImageWriter {
    pub(crate) out: Vec<u8>,
}

impl ImageWriter {
    /// Header: geometry index (0..3), structure page states, data page count, order of the
    /// data pages' preserved blocks.
    pub(crate) fn new(
        geo_index: u8,
        states: &[PageState],
        data_pages: u16,
        data_order: u8,
    ) -> Self {
        assert!(!states.is_empty() && states.len() <= MAX_STRUCT_PAGES);
        assert!(data_order <= MAX_DATA_ORDER);
        let mut out = std::vec![geo_index, (states.len() - 1) as u8];
        out.extend_from_slice(&data_pages.to_le_bytes());
        out.push(data_order);
        out.extend(states.iter().map(|s| s.to_byte()));
        Self { out }
    }

    pub(crate) fn u8(&mut self, v: u8) -> &mut Self {
        self.out.push(v);
        self
    }

    pub(crate) fn u16(&mut self, v: u16) -> &mut Self {
        self.out.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub(crate) fn u32(&mut self, v: u32) -> &mut Self {
        self.out.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.out.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Value: reference to page `idx`.
    pub(crate) fn page_ref(&mut self, idx: u16) -> &mut Self {
        self.u8(0).u16(idx)
    }

    /// Value: a small integer.
    pub(crate) fn small(&mut self, v: u8) -> &mut Self {
        self.u8(2).u8(v)
    }

    /// Value: raw.
    pub(crate) fn raw(&mut self, v: u64) -> &mut Self {
        self.u8(3).u64(v)
    }

    /// Record: word `word` of page `page` = reference to page `to`.
    pub(crate) fn link(&mut self, page: u16, word: u16, to: u16) -> &mut Self {
        self.u8(0).u16(page).u16(word).page_ref(to)
    }

    /// Record: word `word` of page `page` = `v`.
    pub(crate) fn word(&mut self, page: u16, word: u16, v: u64) -> &mut Self {
        self.u8(0).u16(page).u16(word).raw(v)
    }

    /// Record: `count` words from `word` = references to pages `first`, `first + stride`...
    pub(crate) fn run(
        &mut self,
        page: u16,
        word: u16,
        count: u16,
        first: u16,
        stride: u8,
    ) -> &mut Self {
        self.u8(1)
            .u16(page)
            .u16(word)
            .u16(count)
            .u16(first)
            .u8(stride)
    }

    /// Record: set bit `bit` of word `word` of page `page`.
    pub(crate) fn bit(&mut self, page: u16, word: u16, bit: u8) -> &mut Self {
        self.u8(3).u16(page).u16(word).u8(bit)
    }
}
