// SPDX-License-Identifier: GPL-2.0

//! Damage the first kernel does on purpose to its own published state, for the selftest's
//! corrupted-input cases (`corrupt=N`) and the random-damage stress test (`damage_seed`),
//! and its undoing on unload.

use kernel::prelude::*;

use super::radix::{FirstLeafKey, NodePages};
use super::Outgoing;
use crate::glue::kho::core_err;
use crate::glue::mem::GEOMETRY;
use crate::pure::damage::{self, Hit, Layout, Structure, NR_STRUCTURES};
use crate::pure::mem::PageMem;

/// Ways the first kernel can damage its own published state, for the selftest's
/// corrupted-input cases. The damage is undone again if the module is unloaded.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Damage {
    /// 1: the blob says `vmalloc-v2` (root composite and node) instead of `vmalloc-v1`.
    CompatVersion,
    /// 2: the subtree is registered with half the blob's size.
    TruncatedBlob,
    /// 3: the last block's `next` points back to the first block.
    BlockLoop,
    /// 4: the first vmalloc chunk's `next` points to itself.
    VmallocLoop,
    /// 5: the radix root points to a page that was never preserved.
    UnpreservedRoot,
    /// 6: the first block's `count` is one more than a block can hold.
    CountOverCapacity,
    /// 7: one stray bit in a radix leaf: a key next to a real one, whose folio was never
    /// preserved.
    RadixStrayBit,
    /// 8: the first vmalloc entry points at another preserved page of the module (the
    /// second chunk), so that page would be claimed twice.
    VmallocEntryAlias,
    /// 9: the blob says generation u64::MAX, which cannot be carried on (+1 overflows).
    GenerationMax,
}

impl Damage {
    /// The damage numbered `n` (module parameter `corrupt`), `None` for 0.
    pub(crate) fn from_param(n: u32) -> Result<Option<Self>> {
        Ok(Some(match n {
            0 => return Ok(None),
            1 => Self::CompatVersion,
            2 => Self::TruncatedBlob,
            3 => Self::BlockLoop,
            4 => Self::VmallocLoop,
            5 => Self::UnpreservedRoot,
            6 => Self::CountOverCapacity,
            7 => Self::RadixStrayBit,
            8 => Self::VmallocEntryAlias,
            9 => Self::GenerationMax,
            _ => {
                pr_err!("workload: corrupt={} is not a known damage (1..9)\n", n);
                return Err(EINVAL);
            }
        }))
    }
}

impl Outgoing {
    /// Overwrites word `idx` of the owned page `pa`, remembering the old value.
    ///
    /// # Safety
    ///
    /// `pa` must be a page of this workload's own state (a block, chunk or node page it
    /// allocated), which `Drop` restores before freeing.
    unsafe fn patch(&mut self, pa: u64, idx: usize, value: u64) -> Result {
        // SAFETY: a page of this workload (this function's contract).
        let page = unsafe { self.mem.page_mut(pa) }.ok_or(EINVAL)?;
        let old = *page.get(idx).ok_or(EINVAL)?;
        if let Some(w) = page.get_mut(idx) {
            *w = value;
        }
        self.patched = Some((pa, idx, old));
        Ok(())
    }

    /// Damages the state about to be published (see [`Damage`]).
    pub(super) fn damage(&mut self, d: Damage) -> Result {
        let head = self.blocks.head_pa();
        match d {
            Damage::CompatVersion | Damage::TruncatedBlob => Ok(()),
            Damage::GenerationMax => {
                self.info.generation = u64::MAX;
                Ok(())
            }
            Damage::BlockLoop => {
                let mut last = head;
                // SAFETY: the blocks of `self.blocks`, owned by this workload.
                while let Some(&next) = unsafe { self.mem.page(last) }.and_then(|p| p.first()) {
                    if next == 0 {
                        break;
                    }
                    last = next;
                }
                // SAFETY: the tail block of this workload's set.
                unsafe { self.patch(last, 0, head) }
            }
            Damage::VmallocLoop => {
                let first = self.info.vmalloc.first;
                // SAFETY: the first chunk of this workload's own vmalloc descriptor.
                unsafe { self.patch(first, 0, first) }
            }
            Damage::UnpreservedRoot => {
                let pa = self.mem.alloc_zeroed().map_err(|e| core_err("decoy", e))?;
                self.decoy = pa;
                self.info.radix_root = pa;
                pr_info!(
                    "workload: damage: radix root -> unpreserved page {:#x}\n",
                    pa
                );
                Ok(())
            }
            Damage::CountOverCapacity => {
                let cap = self.blocks.count_per_block() as u64;
                // SAFETY: the head block of this workload's set.
                unsafe { self.patch(head, 1, cap + 1) }
            }
            Damage::RadixStrayBit => {
                let mut first = FirstLeafKey::default();
                if let Some(tree) = self.tree.as_ref() {
                    tree.walk(&self.mem, &mut first)
                        .map_err(|e| core_err("damage", e))?;
                }
                let (leaf, key) = (first.leaf, first.key.ok_or(EINVAL)?);
                // The neighbouring key: same order, the block next to a real folio (not
                // preserved: folios are allocated one by one, never adjacent blocks
                // preserved together as this key).
                let bit = GEOMETRY.leaf_bit(key ^ 1);
                // SAFETY: `leaf` is a leaf page of this workload's own tree.
                let old = unsafe { self.mem.page(leaf) }
                    .and_then(|p| p.get(bit / 64).copied())
                    .ok_or(EINVAL)?;
                // SAFETY: as above.
                unsafe { self.patch(leaf, bit / 64, old | (1u64 << (bit % 64))) }
            }
            Damage::VmallocEntryAlias => {
                let first = self.info.vmalloc.first;
                // SAFETY: the first chunk of this workload's own descriptor.
                let second = unsafe { self.mem.page(first) }
                    .and_then(|p| p.first().copied())
                    .filter(|&n| n != 0)
                    .ok_or(EINVAL)?;
                // SAFETY: as above.
                unsafe { self.patch(first, 1, second) }
            }
        }
    }

    /// Lists the pages of every published structure (before anything is damaged, so no
    /// damaged link is followed), for [`Outgoing::random_damage`].
    fn damage_targets(&self) -> Result<([KVec<u64>; NR_STRUCTURES], Layout)> {
        let mut pages: [KVec<u64>; NR_STRUCTURES] = core::array::from_fn(|_| KVec::new());
        let mut layout = Layout {
            page_size: GEOMETRY.page_size,
            ..Layout::default()
        };
        if let Some(blob) = self.blob.as_ref() {
            pages[Structure::Blob.index()].push(blob.pa(), GFP_KERNEL)?;
            layout.blob_len = blob.size().min(GEOMETRY.page_size);
        }
        if let Some(tree) = self.tree.as_ref() {
            let [_, nodes, leaves, _, _] = &mut pages;
            let mut v = NodePages {
                nodes,
                leaves,
                err: None,
            };
            let walked = tree.walk(&self.mem, &mut v);
            if let Some(e) = v.err {
                return Err(e);
            }
            walked.map_err(|e| core_err("damage: radix walk", e))?;
        }
        // The chunk chain of this kernel's own descriptor, at most as long as its pages need.
        let mut chunk = self.info.vmalloc.first;
        let bound = (self.info.vmalloc.total_pages as usize)
            .div_ceil(GEOMETRY.vmalloc_chunk_entries)
            .saturating_add(1);
        while chunk != 0 && pages[Structure::VmallocChunk.index()].len() < bound {
            pages[Structure::VmallocChunk.index()].push(chunk, GFP_KERNEL)?;
            // SAFETY: a chunk of this workload's own (published, not yet damaged) chain.
            chunk = unsafe { self.mem.page(chunk) }
                .and_then(|p| p.first().copied())
                .unwrap_or(0);
        }
        let mut block = self.blocks.head_pa();
        for _ in 0..self.blocks.nblocks() {
            if block == 0 {
                break;
            }
            pages[Structure::Block.index()].push(block, GFP_KERNEL)?;
            // SAFETY: a block of this workload's own set (not yet damaged).
            block = unsafe { self.mem.page(block) }
                .and_then(|p| p.first().copied())
                .unwrap_or(0);
        }
        for s in Structure::ALL {
            layout.pages[s.index()] = pages[s.index()].len();
        }
        Ok((pages, layout))
    }

    /// Damages `n` random bytes of the published state, chosen from `seed` by
    /// [`damage::plan`]: the blob, the radix node and leaf pages, the vmalloc chunks and
    /// the blocks. Each damage is printed; unloading the module undoes it.
    pub(super) fn random_damage(&mut self, seed: u64, n: u32) -> Result {
        let (pages, layout) = self.damage_targets()?;
        let mut hits = [Hit::NONE; damage::MAX_HITS];
        let got = damage::plan(seed, n as usize, &layout, &mut hits);
        self.damaged.reserve(got, GFP_KERNEL)?;
        for h in hits.iter().take(got) {
            let pa = *pages[h.structure.index()].get(h.page).ok_or(EINVAL)?;
            // SAFETY: `pa` is a page of this workload's own published state (the blob page
            // of `self.blob`, a node of `self.tree`, a chunk of `self.vdesc`, a block of
            // `self.blocks`), all allocated and owned until `Drop`, which undoes this first.
            let byte = unsafe { self.mem.bytes_mut(pa) }
                .and_then(|b| b.get_mut(h.offset))
                .ok_or(EINVAL)?;
            let old = *byte;
            *byte = old ^ h.xor;
            pr_info!(
                "workload: damage seed {}: {} page {:#x} offset {}: {:#04x} -> {:#04x}\n",
                seed,
                h.structure.name(),
                pa,
                h.offset,
                old,
                old ^ h.xor
            );
            self.damaged.push((pa, h.offset, old), GFP_KERNEL)?;
        }
        pr_warn!(
            "workload: published state damaged on purpose: {} bytes (damage seed {})\n",
            got,
            seed
        );
        Ok(())
    }

    /// Undoes every damage (the last first) and frees the decoy page: run before any chain
    /// is walked for teardown.
    pub(super) fn undo_damage(&mut self) {
        while let Some((pa, off, old)) = self.damaged.pop() {
            // SAFETY: `random_damage` only records pages of this workload, still allocated.
            if let Some(b) = unsafe { self.mem.bytes_mut(pa) }.and_then(|b| b.get_mut(off)) {
                *b = old;
            }
        }
        if let Some((pa, idx, old)) = self.patched.take() {
            // SAFETY: `patch` only records pages of this workload, still allocated here.
            if let Some(w) = unsafe { self.mem.page_mut(pa) }.and_then(|p| p.get_mut(idx)) {
                *w = old;
            }
        }
        if self.decoy != 0 {
            // SAFETY: allocated by `damage`, never preserved or shared.
            unsafe { self.mem.free(self.decoy) };
            self.decoy = 0;
        }
    }
}
