// SPDX-License-Identifier: GPL-2.0

//! Target `image`: a whole simulated kexec of the module's workload, damaged by the fuzzer,
//! restored the way `rust/workload.rs` restores it.
//!
//! The first kernel (a [`SimMem`]) builds what `Outgoing::create` builds, scaled down:
//! folios of orders 0..=4 filled from the seed and tracked in a radix tree (node pages
//! preserved), a vmalloc area (vmalloc-v1), a block set of 32-byte records describing and
//! checksumming both (block-v1) and the subtree blob. After the simulated kexec the fuzzer's
//! damage list changes blob bytes, truncates the blob, rewrites words or bytes of any
//! preserved page (radix nodes, folio pages, vmalloc chunks and data, blocks), and makes
//! preserved blocks unpreserved, removed, or preserved as order-0 pages instead of one
//! block. Then the restore runs like `verify_blob`: subtree, block chain, radix tree, every
//! folio (claimed as one block of its order), the vmalloc area, comparing data with what
//! the seed generates.
//!
//! Each stage is checked against its reference model on the memory as it is at that stage
//! (see the `subtree`, `block`, `radix_restore` and `vmalloc` targets). At the end nothing
//! claimed may be left and no page that was not claimed may be touched. An input whose
//! damage changed nothing must restore completely, with the values published and no
//! mismatching byte.

use std::collections::BTreeSet;
use std::vec::Vec;

use crate::pure::block::{BlockEntry, BlockSet};
use crate::pure::geometry::Geometry;
use crate::pure::mem::PageMem;
use crate::pure::radix::{decode_key, encode_key, RadixTree, RadixVisitor};
use crate::pure::record::{
    word, Record, KIND_FILLER, KIND_FOLIO, KIND_VMALLOC, TAG_FILLER, TAG_VMALLOC,
};
use crate::pure::rng::XorShift;
use crate::pure::seal::Seal;
use crate::pure::subtree::{self, SubtreeInfo, COMPAT};
use crate::pure::vmalloc::{self as vm, KhoVmalloc, KHO_VMALLOC_ALLOC};
use crate::sim::SimMem;

use super::input::{check_released, snapshot, Reader};
use super::{block, radix, subtree as subtree_model, vmalloc};

/// Largest folio order (`MAX_FOLIO_ORDER` of the workload).
const MAX_FOLIO_ORDER: u32 = 4;
/// Most folios.
const MAX_FOLIOS: u8 = 16;
/// Most vmalloc bytes.
const MAX_VMALLOC_BYTES: usize = 2560 << 10;
/// Allocates `2^order` contiguous pages aligned to their size (skipped pages are never
/// preserved, so the kexec drops them).
fn alloc_block(mem: &mut SimMem, order: u32) -> u64 {
    let ps = mem.geometry().page_size as u64;
    loop {
        let pa = mem.alloc_zeroed().expect("sim allocation");
        if pa.is_multiple_of(ps << order) {
            for k in 1..1u64 << order {
                assert_eq!(mem.alloc_zeroed().expect("sim allocation"), pa + k * ps);
            }
            return pa;
        }
    }
}

/// Collects node pages during a walk.
struct Nodes(Vec<u64>);

impl RadixVisitor for Nodes {
    fn node(&mut self, pa: u64, _level: u32) -> crate::pure::error::Result {
        self.0.push(pa);
        Ok(())
    }
}

/// Pages of the published state, by kind (what damage can aim at).
#[derive(Default)]
struct Pages {
    kinds: [Vec<u64>; 5],
}

/// The first kernel's state after kexec.
struct Published {
    mem: SimMem,
    blob: Vec<u8>,
    info: SubtreeInfo,
    pages: Pages,
}

/// Builds, preserves and publishes the workload; returns the memory after kexec.
fn publish(
    geo: Geometry,
    seed: u64,
    folios: u8,
    vm_blocks: u16,
    vm_order: u16,
    filler: u16,
) -> Published {
    let mut mem = SimMem::new(geo);
    let ps = geo.page_size as u64;
    let words = geo.page_words as u64;
    let mut pages = Pages::default();
    let mut records = Vec::new();

    let mut tree = RadixTree::new(&mut mem).expect("radix new");
    let mut rng = XorShift::new(seed);
    for i in 0..u64::from(folios) {
        let order = rng.below(MAX_FOLIO_ORDER as usize + 1) as u32;
        let pa = alloc_block(&mut mem, order);
        let mut sum = 0u64;
        for k in 0..1u64 << order {
            let page = mem.page_mut(pa + k * ps).expect("folio page");
            for (j, w) in page.iter_mut().enumerate() {
                *w = word(seed, i, k * words + j as u64);
                sum = sum.wrapping_add(*w);
            }
            pages.kinds[1].push(pa + k * ps);
        }
        // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
        unsafe { mem.preserve(pa, 1 << order) }.expect("preserve folio");
        let key = encode_key(&geo, pa, order).expect("folio key");
        tree.add(&mut mem, key).expect("radix add");
        records.push(Record {
            kind: KIND_FOLIO,
            order,
            pa,
            tag: i,
            sum,
        });
    }
    tree.preserve_nodes(&mut mem).expect("preserve nodes");
    let mut nodes = Nodes(Vec::new());
    tree.walk(&mem, &mut nodes).expect("walk");
    pages.kinds[0] = nodes.0;

    let mut desc = KhoVmalloc::default();
    let total = u32::from(vm_blocks) << vm_order;
    if total > 0 {
        let mut blocks = Vec::new();
        for b in 0..u64::from(vm_blocks) {
            let pa = alloc_block(&mut mem, u32::from(vm_order));
            for k in 0..1u64 << vm_order {
                let idx = (b << vm_order) + k;
                let page = mem.page_mut(pa + k * ps).expect("vmalloc page");
                let mut sum = 0u64;
                for (j, w) in page.iter_mut().enumerate() {
                    *w = word(seed, TAG_VMALLOC, idx * words + j as u64);
                    sum = sum.wrapping_add(*w);
                }
                pages.kinds[3].push(pa + k * ps);
                records.push(Record {
                    kind: KIND_VMALLOC,
                    order: 0,
                    pa: 0,
                    tag: idx,
                    sum,
                });
            }
            blocks.push(pa);
        }
        // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
        desc = unsafe {
            vm::preserve(
                &mut mem,
                blocks.iter().copied(),
                total,
                vm_order,
                KHO_VMALLOC_ALLOC,
            )
        }
        .expect("vmalloc preserve");
        let mut c = desc.first;
        while c != 0 {
            pages.kinds[2].push(c);
            c = mem.page(c).expect("chunk")[0];
        }
    }

    for i in 0..u64::from(filler) {
        records.push(Record {
            kind: KIND_FILLER,
            order: 0,
            pa: 0,
            tag: i,
            sum: word(seed, TAG_FILLER, i),
        });
    }
    let mut set = BlockSet::<Record>::new(geo);
    set.grow(&mut mem, records.len()).expect("block grow");
    {
        let mut it = set.iter();
        for r in &records {
            it.write(&mut mem, r).expect("block write");
        }
    }
    set.trim(&mut mem);
    set.validate_outgoing(&mem).expect("block publish");
    let mut b = set.head_pa();
    while b != 0 {
        pages.kinds[4].push(b);
        b = mem.page(b).expect("block")[0];
    }

    let info = SubtreeInfo {
        generation: 1,
        seed,
        radix_root: tree.root(),
        radix_keys: u64::from(folios),
        vmalloc: desc,
        vmalloc_bytes: u64::from(total) * ps,
        block_head: set.head_pa(),
        block_entry_size: Record::SIZE as u64,
        block_count: records.len() as u64,
        // Only reported by the kernel's restore; the image target does not read it.
        preserved_pages: 0,
        // The image target fuzzes the validation behind the seal: its restore does not
        // check the seal (the `seal` tests and the kexec selftest do).
        seal: Seal::default(),
    };
    let mut blob = std::vec![0u8; 4096];
    let n = subtree::write(&mut blob, &info, &COMPAT).expect("subtree write");
    blob.truncate(n);
    Published {
        mem: mem.kexec(),
        blob,
        info,
        pages,
    }
}

/// Applies the fuzzer's damage list (the rest of `r`) to the published state.
///
/// Ops (`u8 % 9`): 0 set a blob byte; 1 truncate the blob; 2 overwrite 8 blob bytes with a
/// value; 3 set a word of a page to a value; 4 set a byte of a page; 5 the previous kernel
/// did not preserve the block holding a page (its pages stay, unclaimable); 6 remove that
/// block from memory; 7 set a word of a page to another page's address plus a small
/// offset; 8 the block holding a page was preserved as order-0 pages instead (a folio or
/// vmalloc block of a higher order cannot be claimed as one block any more).
/// A page is `u8 kind, u16 index` (radix node, folio page, vmalloc chunk, vmalloc page,
/// block); a value is a page reference, a small integer or raw.
fn damage(p: &mut Published, r: &mut Reader<'_>) {
    let pick = |p: &Published, r: &mut Reader<'_>| -> Option<u64> {
        let list = &p.pages.kinds[usize::from(r.u8() % 5)];
        let idx = usize::from(r.u16());
        (!list.is_empty()).then(|| list[idx % list.len()])
    };
    let value = |p: &Published, r: &mut Reader<'_>| -> u64 {
        match r.u8() % 3 {
            0 => pick(p, r).unwrap_or(0),
            1 => u64::from(r.u8()),
            _ => r.u64(),
        }
    };
    let words = p.mem.geometry().page_words;
    let ps = p.mem.geometry().page_size;
    while !r.is_empty() {
        match r.u8() % 9 {
            0 => {
                let (off, b) = (usize::from(r.u16()), r.u8());
                if !p.blob.is_empty() {
                    let n = p.blob.len();
                    p.blob[off % n] = b;
                }
            }
            1 => {
                let n = usize::from(r.u16()) % (p.blob.len() + 1);
                p.blob.truncate(n);
            }
            2 => {
                let off = usize::from(r.u16());
                let v = value(p, r).to_ne_bytes();
                if !p.blob.is_empty() {
                    let at = off % p.blob.len();
                    for (d, s) in p.blob[at..].iter_mut().zip(v) {
                        *d = s;
                    }
                }
            }
            op @ (3 | 7) => {
                let (pa, w) = (pick(p, r), usize::from(r.u16()) % words);
                let v = if op == 7 {
                    pick(p, r).unwrap_or(0) + u64::from(r.u8())
                } else {
                    value(p, r)
                };
                if let Some(page) = pa.and_then(|pa| p.mem.page_mut(pa)) {
                    page[w] = v;
                }
            }
            4 => {
                let (pa, off, b) = (pick(p, r), usize::from(r.u16()) % ps, r.u8());
                if let Some(page) = pa.and_then(|pa| p.mem.page_mut(pa)) {
                    let mut bytes = page[off / 8].to_ne_bytes();
                    bytes[off % 8] = b;
                    page[off / 8] = u64::from_ne_bytes(bytes);
                }
            }
            5 => {
                if let Some(pa) = pick(p, r) {
                    p.mem.forget_incoming(pa);
                }
            }
            6 => {
                if let Some(pa) = pick(p, r) {
                    let (head, order) = p.mem.forget_incoming(pa).unwrap_or((pa, 0));
                    for k in 0..1u64 << order {
                        let q = head + k * ps as u64;
                        if p.mem.page(q).is_some() {
                            p.mem.free(q);
                        }
                    }
                }
            }
            _ => {
                if let Some(pa) = pick(p, r) {
                    p.mem.split_incoming(pa);
                }
            }
        }
    }
    // The removals above are part of the damage, not frees by the restore.
    p.mem.frees = 0;
}

/// What a complete restore found.
#[derive(Debug)]
struct Report {
    info: SubtreeInfo,
    mismatches: u64,
}

/// The next kernel: `verify_blob` of `rust/workload.rs` on the simulated memory, with
/// every decoder checked against its reference. `Err` names the stage that rejected.
fn restore_all(mem: &mut SimMem, blob: &[u8]) -> Result<Report, &'static str> {
    let geo = *mem.geometry();
    let ps = geo.page_size as u64;
    let info = subtree_model::check(blob).ok_or("subtree")?;
    if info.block_entry_size != Record::SIZE as u64 {
        return Err("entry size");
    }
    let mut mismatches = 0u64;

    let (mut set, records) =
        block::restore_checked::<Record>(mem, info.block_head).ok_or("block")?;
    set.destroy(mem);
    if records.len() as u64 != info.block_count {
        mismatches += 1;
    }
    let mut folio_records = Vec::new();
    for r in &records {
        match r.kind {
            KIND_FOLIO => folio_records.push((r.pa, r.order, r.tag, r.sum)),
            KIND_VMALLOC => {}
            KIND_FILLER if r.sum == word(info.seed, TAG_FILLER, r.tag) => {}
            _ => mismatches += 1,
        }
    }
    folio_records.sort_unstable_by_key(|f| f.0);

    let (tree, keys) = radix::restore_checked(mem, info.radix_root).ok_or("radix")?;
    tree.destroy(mem);
    if keys.len() as u64 != info.radix_keys || keys.len() != folio_records.len() {
        mismatches += 1;
    }
    let words = geo.page_words as u64;
    for &key in &keys {
        let (fpa, order) = decode_key(&geo, key).map_err(|_| "key")?;
        let Ok(idx) = folio_records.binary_search_by_key(&fpa, |f| f.0) else {
            mismatches += 1;
            continue;
        };
        let (_, rorder, tag, rsum) = folio_records[idx];
        if order != rorder || order > MAX_FOLIO_ORDER {
            mismatches += 1;
            continue;
        }
        let nr = 1u64 << order;
        // A folio is one block of its order (`fpa` is aligned to it: it came from a key).
        let claimable = mem.incoming_order(fpa) == Some(order);
        // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
        match unsafe { mem.claim(fpa, nr) } {
            Ok(()) => assert!(claimable, "folio {fpa:#x} claimed, but not preserved so"),
            Err(_) => {
                assert!(!claimable, "folio {fpa:#x} preserved, but not claimed");
                return Err("folio");
            }
        }
        let mut sum = 0u64;
        let mut bad = 0u64;
        for k in 0..nr {
            // SAFETY: a page of the folio claimed just above; freed only below. Through the
            // trait, so the simulator checks that the claim made it ours.
            let page = unsafe { PageMem::page(mem, fpa + k * ps) }.expect("claimed folio page");
            for (j, &w) in page.iter().enumerate() {
                if w != word(info.seed, tag, k * words + j as u64) {
                    bad += 1;
                }
                sum = sum.wrapping_add(w);
            }
        }
        if bad != 0 || sum != rsum {
            mismatches += bad.max(1);
        }
        for k in 0..nr {
            mem.free(fpa + k * ps);
        }
    }

    if info.vmalloc_bytes != 0 {
        let pages = vmalloc::restore_checked(mem, &info.vmalloc, None).ok_or("vmalloc")?;
        if pages.len() as u64 * ps != info.vmalloc_bytes {
            mismatches += 1;
        }
        for r in records.iter().filter(|r| r.kind == KIND_VMALLOC) {
            let Some(&pa) = usize::try_from(r.tag).ok().and_then(|t| pages.get(t)) else {
                mismatches += 1;
                continue;
            };
            // SAFETY: `restore` handed this page over (claimed); freed only below.
            let page = unsafe { PageMem::page(mem, pa) }.expect("restored vmalloc page");
            let mut sum = 0u64;
            let mut bad = 0u64;
            for (j, &w) in page.iter().enumerate() {
                if w != word(info.seed, TAG_VMALLOC, r.tag * words + j as u64) {
                    bad += 1;
                }
                sum = sum.wrapping_add(w);
            }
            if bad != 0 || sum != r.sum {
                mismatches += bad.max(1);
            }
        }
        for pa in pages {
            mem.free(pa);
        }
    }
    Ok(Report { info, mismatches })
}

/// The `image` target; returns whether the whole restore succeeded.
///
/// Input: `u8 geometry, u64 seed, u8 folios, u16 vmalloc blocks, u8 vmalloc order,
/// u16 filler records`, then the damage list.
pub(crate) fn run(data: &[u8]) -> bool {
    let mut r = Reader::new(data);
    let geo = r.geometry();
    let seed = r.u64();
    let folios = r.u8() % (MAX_FOLIOS + 1);
    let vm_order = u16::from(r.u8() % 3);
    let max_blocks = (MAX_VMALLOC_BYTES / geo.page_size) >> vm_order;
    let vm_blocks = (usize::from(r.u16()) % (max_blocks + 1)) as u16;
    let filler = r.u16() % 512;
    let mut p = publish(geo, seed, folios, vm_blocks, vm_order, filler);

    let orig_blob = p.blob.clone();
    let orig_mem = snapshot(&p.mem);
    let orig_incoming = p.mem.incoming.clone();
    let orig_blocks = p.mem.incoming_blocks().clone();
    damage(&mut p, &mut r);

    let incoming = p.mem.incoming.clone();
    let stray: BTreeSet<u64> = p.mem.live_pages().difference(&incoming).copied().collect();
    let before = snapshot(&p.mem);
    let undamaged = p.blob == orig_blob
        && before == orig_mem
        && incoming == orig_incoming
        && *p.mem.incoming_blocks() == orig_blocks;

    let res = restore_all(&mut p.mem, &p.blob);
    check_released(&p.mem, &incoming, &stray, &before);
    if undamaged {
        let rep = res.expect("an undamaged image must restore");
        assert_eq!(rep.info, p.info);
        assert_eq!(
            rep.mismatches, 0,
            "undamaged image restored with mismatches"
        );
        assert!(
            p.mem.incoming.is_empty(),
            "undamaged image left pages unclaimed"
        );
        return true;
    }
    res.is_ok()
}
