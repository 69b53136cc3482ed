// SPDX-License-Identifier: GPL-2.0

//! Host tests of `pure::seal`: a state sealed in the first kernel matches its seal after a
//! simulated kexec, with nothing claimed; every single-byte damage of its metadata pages
//! and values is caught before anything is claimed; damaged pointers and loops end the
//! walk; a component that is not checked is not read.

use std::vec::Vec;

use crate::pure::block::BlockSet;
use crate::pure::error::{errno, Error, Result};
use crate::pure::geometry::{Geometry, G16K, G4K};
use crate::pure::mem::PageMem;
use crate::pure::radix::{encode_key, RadixTree, RadixVisitor};
use crate::pure::seal::{self, Parts, Seal, SealSource};
use crate::pure::subtree::SubtreeInfo;
use crate::pure::vmalloc::{self, KHO_VMALLOC_ALLOC};
use crate::sim::SimMem;

/// The raw CRC-32C update of the kernel's `crc32c()`, from the `crc32c` crate (which
/// works on finished CRCs: `append(c, d) == !raw(!c, d)`).
fn raw_crc32c(crc: u32, bytes: &[u8]) -> u32 {
    !crc32c::crc32c_append(!crc, bytes)
}

/// The first kernel's view: the state's own pages, any page of the simulated memory.
pub(super) struct Owned<'a>(pub(super) &'a SimMem);

impl SealSource for Owned<'_> {
    fn copy_page(&mut self, pa: u64, out: &mut [u64]) -> Result {
        let page = self.0.page(pa).ok_or(Error::inval("no page", pa))?;
        out.copy_from_slice(page);
        Ok(())
    }

    fn crc32c(&self, crc: u32, bytes: &[u8]) -> u32 {
        raw_crc32c(crc, bytes)
    }
}

/// The next kernel's view: a copy of a page only if the previous kernel preserved it as
/// an order-0 block that nobody claimed yet (KHO's mark), as the kernel shim checks it.
/// Counts the pages read.
pub(super) struct Peek<'a> {
    pub(super) mem: &'a SimMem,
    pub(super) reads: usize,
}

impl<'a> Peek<'a> {
    pub(super) fn new(mem: &'a SimMem) -> Self {
        Self { mem, reads: 0 }
    }
}

impl SealSource for Peek<'_> {
    fn copy_page(&mut self, pa: u64, out: &mut [u64]) -> Result {
        match self.mem.incoming_order(pa) {
            Some(0) => {}
            Some(_) => return Err(Error::inval("preserved with another order", pa)),
            None => return Err(Error::new(errno::ENOENT, "not preserved", pa)),
        }
        out.copy_from_slice(self.mem.page(pa).ok_or(Error::inval("no page", pa))?);
        self.reads += 1;
        Ok(())
    }

    fn crc32c(&self, crc: u32, bytes: &[u8]) -> u32 {
        raw_crc32c(crc, bytes)
    }
}

/// Scratch memory for `geo`.
pub(super) fn scratch(geo: &Geometry) -> Vec<u64> {
    std::vec![0; seal::scratch_words(geo)]
}

/// Seals `info` on `m` (first kernel).
pub(super) fn seal_of(m: &SimMem, info: &SubtreeInfo) -> Seal {
    let geo = *m.geometry();
    seal::seal(&mut Owned(m), &geo, info, &mut scratch(&geo)).unwrap()
}

/// Checks `info` against its seal on `m` (next kernel): the result, and that nothing was
/// claimed.
pub(super) fn check_on(m: &SimMem, info: &SubtreeInfo, parts: Parts) -> Result {
    let geo = *m.geometry();
    let (claimed, incoming) = (m.claimed, m.incoming.len());
    let res = seal::check(&mut Peek::new(m), &geo, info, parts, &mut scratch(&geo));
    assert_eq!((m.claimed, m.incoming.len()), (claimed, incoming));
    res
}

#[test]
fn crc_is_crc32c() {
    // The standard check value of CRC-32C (Castagnoli), from the CRC catalogue: computed
    // outside this crate.
    assert_eq!(!raw_crc32c(!0, b"123456789"), 0xe306_9283);
    // The seal's convention (initial !0, final complement) over an empty state.
    let m = SimMem::new(G4K);
    assert_eq!(
        seal::root_digest(&Owned(&m), &SubtreeInfo::default()),
        crc32c::crc32c(&[0u8; 24])
    );
}

struct Pages(Vec<u64>);

impl RadixVisitor for Pages {
    fn node(&mut self, pa: u64, _level: u32) -> Result {
        self.0.push(pa);
        Ok(())
    }
}

/// A small published state on `geo`: folios of orders 0-3 in a radix tree, a vmalloc area
/// of `vm_pages` order-0 pages, a block set of `entries` u64 entries. Returns the memory,
/// the state's values (sealed) and its metadata pages in walk order.
fn state(geo: Geometry, vm_pages: u32, entries: usize) -> (SimMem, SubtreeInfo, Vec<u64>) {
    let mut m = SimMem::new(geo);
    let ps = geo.page_size as u64;
    let mut tree = RadixTree::new(&mut m).unwrap();
    for i in 0..6u64 {
        let order = (i % 4) as u32;
        let pa = 0x40_0000_0000 + i * 0x100_0000;
        for k in 0..(1u64 << order) {
            m.insert_at(pa + k * ps);
        }
        // SAFETY: the simulated memory belongs to this test alone.
        unsafe { m.preserve(pa, 1 << order) }.unwrap();
        tree.add(&mut m, encode_key(&geo, pa, order).unwrap())
            .unwrap();
    }
    tree.preserve_nodes(&mut m).unwrap();
    let data: Vec<u64> = (0..u64::from(vm_pages))
        .map(|i| 0x80_0000_0000 + 3 * i * ps)
        .collect();
    for &pa in &data {
        m.insert_at(pa);
    }
    // SAFETY: the simulated memory belongs to this test alone.
    let desc =
        unsafe { vmalloc::preserve(&mut m, data.iter().copied(), vm_pages, 0, KHO_VMALLOC_ALLOC) }
            .unwrap();
    let mut set = BlockSet::<u64>::new(geo);
    set.grow(&mut m, entries).unwrap();
    {
        let mut it = set.iter();
        for e in 0..entries as u64 {
            it.write(&mut m, &(e ^ 0x5a5a)).unwrap();
        }
    }
    set.trim(&mut m);
    set.validate_outgoing(&m).unwrap();
    let mut pages = Pages(Vec::new());
    tree.walk(&m, &mut pages).unwrap();
    let mut meta = pages.0;
    for first in [desc.first, set.head_pa()] {
        let mut pa = first;
        while pa != 0 {
            meta.push(pa);
            pa = m.page(pa).unwrap()[0];
        }
    }
    let mut info = SubtreeInfo {
        generation: 2,
        seed: 0x5eed,
        radix_root: tree.root(),
        radix_keys: 6,
        vmalloc: desc,
        vmalloc_bytes: u64::from(vm_pages) * ps,
        block_head: set.head_pa(),
        block_entry_size: 8,
        block_count: entries as u64,
        preserved_pages: 1234,
        seal: Seal::default(),
    };
    info.seal = seal_of(&m, &info);
    (m, info, meta)
}

#[test]
fn a_sealed_state_matches_after_kexec_and_nothing_is_claimed() {
    for geo in [G4K, G16K] {
        let per_chunk = geo.vmalloc_chunk_entries as u32;
        let (m, info, meta) = state(geo, 2 * per_chunk + 3, 3000);
        assert!(meta.len() >= 10, "{} metadata pages", meta.len());
        let m2 = m.kexec();
        let geo2 = *m2.geometry();
        let mut peek = Peek::new(&m2);
        seal::check(&mut peek, &geo2, &info, Parts::ALL, &mut scratch(&geo2)).unwrap();
        // Every metadata page was read exactly once, none claimed.
        assert_eq!(peek.reads, meta.len());
        assert_eq!(m2.claimed, 0);
        // The digests are not trivially equal to each other or to zero.
        let s = info.seal;
        let all = [s.root, s.radix, s.vmalloc, s.block];
        assert!(all.iter().all(|&d| d != 0));
        assert!((0..4).all(|i| (i + 1..4).all(|j| all[i] != all[j])));
    }
}

#[test]
fn every_single_byte_damage_of_a_metadata_page_is_caught_before_any_claim() {
    let (m, info, meta) = state(G4K, 600, 700);
    let ps = m.geometry().page_size;
    let mut caught = [0usize; 2];
    // One kexec; each damage is undone before the next.
    let mut m2 = m.kexec();
    // A different flip per offset, so that high and low bits are both covered.
    let flip = |m2: &mut SimMem, pa: u64, off: usize| {
        let w = &mut m2.page_mut(pa).unwrap()[off / 8];
        let mut b = w.to_ne_bytes();
        b[off % 8] ^= 1 << (off % 8);
        *w = u64::from_ne_bytes(b);
    };
    for &pa in &meta {
        for off in 0..ps {
            flip(&mut m2, pa, off);
            match check_on(&m2, &info, Parts::ALL) {
                Err(e) if e.errno == errno::EBADMSG => caught[0] += 1,
                // A damaged pointer that names a page the previous kernel did not
                // preserve as an order-0 page ends the walk there.
                Err(e) if e.what.starts_with("seal: ") => caught[1] += 1,
                other => panic!("page {pa:#x} byte {off}: {other:?}"),
            }
            flip(&mut m2, pa, off);
        }
    }
    // Every damage was undone: the state matches again.
    check_on(&m2, &info, Parts::ALL).unwrap();
    assert_eq!(caught[0] + caught[1], meta.len() * ps);
    assert!(caught[0] > 0 && caught[1] > 0, "{caught:?}");
}

#[test]
fn every_value_of_the_blob_is_covered() {
    let (m, info, _) = state(G4K, 100, 50);
    let m2 = m.kexec();
    check_on(&m2, &info, Parts::ALL).unwrap();
    let edits: [(&str, fn(&mut SubtreeInfo)); 13] = [
        ("generation", |i| i.generation += 1),
        ("seed", |i| i.seed ^= 1 << 63),
        ("preserved-pages", |i| i.preserved_pages -= 1),
        ("radix root", |i| i.radix_root ^= 1),
        ("radix keys", |i| i.radix_keys += 1),
        ("vmalloc first", |i| i.vmalloc.first ^= 1 << 40),
        ("vmalloc total_pages", |i| i.vmalloc.total_pages += 1),
        ("vmalloc flags", |i| i.vmalloc.flags ^= 2),
        ("vmalloc order", |i| i.vmalloc.order = 1),
        ("vmalloc bytes", |i| i.vmalloc_bytes += 4096),
        ("block head", |i| i.block_head ^= 1 << 12),
        ("block entry size", |i| i.block_entry_size = 16),
        ("block count", |i| i.block_count -= 1),
    ];
    for (what, edit) in edits {
        let mut bad = info;
        edit(&mut bad);
        let e = check_on(&m2, &bad, Parts::ALL).expect_err(what);
        assert!(e.what.starts_with("seal: "), "{what}: {e}");
    }
    // The seal itself.
    for which in 0..4 {
        let mut bad = info;
        let d = [
            &mut bad.seal.root,
            &mut bad.seal.radix,
            &mut bad.seal.vmalloc,
            &mut bad.seal.block,
        ];
        *d.into_iter().nth(which).unwrap() ^= 0x100;
        let e = check_on(&m2, &bad, Parts::ALL).unwrap_err();
        assert_eq!(e.errno, errno::EBADMSG, "{e}");
    }
}

#[test]
fn a_component_that_is_not_checked_is_not_read() {
    let (m, info, _) = state(G4K, 100, 50);
    let mut m2 = m.kexec();
    // Forget the first vmalloc chunk: reading it would fail.
    m2.forget_incoming(info.vmalloc.first).unwrap();
    let e = check_on(&m2, &info, Parts::ALL).unwrap_err();
    assert_eq!(
        (e.errno, e.what, e.value),
        (
            errno::ENOENT,
            "seal: vmalloc chunk not preserved or claimed already",
            info.vmalloc.first
        )
    );
    let parts = Parts {
        vmalloc: false,
        ..Parts::ALL
    };
    check_on(&m2, &info, parts).unwrap();
}

/// Loops in the chains (the `corrupt` cases the first kernel seals on purpose) end the
/// walk at the honest bound, the same way on both sides, so the seal matches and the
/// restore's own validation gets to reject them.
#[test]
fn looped_chains_are_sealed_up_to_their_bound() {
    let (mut m, mut info, _) = state(G4K, 1200, 1500);
    // vmalloc: the first chunk's next points to itself.
    let first = info.vmalloc.first;
    m.page_mut(first).unwrap()[0] = first;
    // block: the last block's next points back to the head.
    let mut last = info.block_head;
    while m.page(last).unwrap()[0] != 0 {
        last = m.page(last).unwrap()[0];
    }
    m.page_mut(last).unwrap()[0] = info.block_head;
    info.seal = seal_of(&m, &info);
    let m2 = m.kexec();
    let mut peek = Peek::new(&m2);
    seal::check(&mut peek, &G4K, &info, Parts::ALL, &mut scratch(&G4K)).unwrap();
    // The block walk stopped after `count` pages, the chunk walk after the chunk bound.
    let radix_pages = {
        let mut p = Peek::new(&m2);
        let info0 = SubtreeInfo {
            vmalloc: Default::default(),
            block_head: 0,
            block_count: 0,
            ..info
        };
        seal::radix_digest(
            &mut p,
            &G4K,
            info0.radix_root,
            info0.radix_keys,
            &mut scratch(&G4K),
        )
        .unwrap();
        p.reads
    };
    let chunks = vmalloc::chunk_pages(&G4K, &info.vmalloc) as usize;
    assert_eq!(peek.reads, radix_pages + chunks + 1500);
}

/// A radix slot damaged to point at an ancestor (a loop) or at a sibling's page ends at
/// the page bound of the keys, and mismatches.
#[test]
fn radix_loops_end_at_the_page_bound() {
    let (m, info, meta) = state(G4K, 10, 10);
    let mut m2 = m.kexec();
    // The root's first used slot points back to the root.
    let root = info.radix_root;
    let slot = m2.page(root).unwrap().iter().position(|&e| e != 0).unwrap();
    m2.page_mut(root).unwrap()[slot] = root;
    let mut peek = Peek::new(&m2);
    let e = seal::check(&mut peek, &G4K, &info, Parts::ALL, &mut scratch(&G4K)).unwrap_err();
    assert_eq!(e.errno, errno::EBADMSG, "{e}");
    let bound = 1 + info.radix_keys as usize * (G4K.depth as usize - 1);
    assert!(peek.reads <= bound + meta.len(), "{} reads", peek.reads);
}
