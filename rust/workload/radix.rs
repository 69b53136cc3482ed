// SPDX-License-Identifier: GPL-2.0

//! The radix component of the workload: folios of mixed orders tracked in the Rust radix
//! tree (radix-v1), their teardown, and their verification in the next kernel.

use kernel::prelude::*;
use kernel::time::{Instant, Monotonic};

use super::{FolioRecord, Outgoing, Params, MAX_FOLIO_ORDER, STAGE_RADIX};
use crate::glue::kho::{core_err, elapsed_us};
use crate::glue::mem::{KernelMem, GEOMETRY};
use crate::kho::state::Keys;
use crate::pure::mem::PageMem;
use crate::pure::radix::{decode_key, encode_key, RadixTree, RadixVisitor};
use crate::pure::record::{fill, verify, Record, KIND_FOLIO};
use crate::pure::rng::XorShift;
use crate::pure::subtree::SubtreeInfo;

impl Outgoing {
    /// Allocates, fills and preserves `p.folios` folios, tracks them in a new radix tree
    /// whose node pages are then preserved, and adds one record per folio to `records`.
    pub(super) fn build_folios(&mut self, p: &Params, records: &mut KVVec<Record>) -> Result {
        let mem = &mut self.mem;
        // (a) Folios of mixed orders, tracked in the Rust radix tree.
        self.tree = Some(RadixTree::new(mem).map_err(|e| core_err("radix", e))?);
        let mut rng = XorShift::new(p.seed);
        self.folios.reserve(p.folios as usize, GFP_KERNEL)?;
        for i in 0..u64::from(p.folios) {
            let order = rng.below(MAX_FOLIO_ORDER as usize + 1) as u32;
            let pa = mem.alloc_pages(order).map_err(|e| core_err("folio", e))?;
            // SAFETY: the block was just allocated by this function and is not shared.
            let sum = match unsafe { mem.block_words_mut(pa, 1 << order) } {
                Some(words) => fill(words, p.seed, i, 0),
                None => 0,
            };
            // Tracked in `folios` only once preserved, so `Drop` unpreserves exactly those.
            // SAFETY: allocated above and kept in `folios` until `teardown_radix` unpreserves it.
            if let Err(e) = unsafe { mem.preserve(pa, 1 << order) } {
                // SAFETY: allocated above with `order`, not preserved, not referenced.
                unsafe { mem.free_pages(pa, order) };
                return Err(core_err("folio preserve", e));
            }
            self.footprint.data_bytes += (GEOMETRY.page_size as u64) << order;
            if self.folios.push((pa, order), GFP_KERNEL).is_err() {
                // SAFETY: preserved just above.
                unsafe { mem.unpreserve(pa, 1 << order) };
                // SAFETY: allocated above with `order`, unpreserved again, not referenced.
                unsafe { mem.free_pages(pa, order) };
                return Err(super::nomem("folio list"));
            }
            let key = encode_key(&GEOMETRY, pa, order).map_err(|e| core_err("radix", e))?;
            if let Some(tree) = self.tree.as_mut() {
                tree.add(mem, key).map_err(|e| core_err("radix add", e))?;
            }
            records.push(
                Record {
                    kind: KIND_FOLIO,
                    order,
                    pa,
                    tag: i,
                    sum,
                },
                GFP_KERNEL,
            )?;
        }
        if let Some(tree) = self.tree.as_ref() {
            self.footprint.radix_nodes = tree
                .preserve_nodes(mem)
                .map_err(|e| core_err("radix preserve", e))?;
            self.nodes_preserved = true;
        }
        Ok(())
    }

    /// Unpreserves and frees the tree's node pages and every folio.
    pub(super) fn teardown_radix(&mut self) {
        let mem = &mut self.mem;
        if let Some(tree) = self.tree.take() {
            if self.nodes_preserved {
                tree.unpreserve_nodes(mem);
            }
            tree.destroy(mem);
        }
        for &(pa, order) in self.folios.iter() {
            // SAFETY: preserved by `build_folios`, which tracks in `folios` exactly what it preserved.
            unsafe { mem.unpreserve(pa, 1 << order) };
            // SAFETY: allocated by `build_folios` with `order`, unpreserved just above.
            unsafe { mem.free_pages(pa, order) };
        }
        self.folios.clear();
    }
}

/// Collects the node (table) and leaf pages of a radix tree during a walk.
pub(super) struct NodePages<'a> {
    pub(super) nodes: &'a mut KVec<u64>,
    pub(super) leaves: &'a mut KVec<u64>,
    /// An allocation failure (the walk itself only sees the pure core's error type).
    pub(super) err: Option<Error>,
}

impl RadixVisitor for NodePages<'_> {
    fn node(&mut self, pa: u64, level: u32) -> crate::pure::error::Result {
        let list = if level == 0 {
            &mut *self.leaves
        } else {
            &mut *self.nodes
        };
        list.push(pa, GFP_KERNEL).map_err(|e| {
            self.err = Some(e.into());
            crate::pure::error::Error::nomem("workload: node list")
        })
    }
}

/// Visitor recording the first leaf page and the first key of a walk.
#[derive(Default)]
pub(super) struct FirstLeafKey {
    /// Physical address of the leaf holding `key`.
    pub(super) leaf: u64,
    /// The first key of the walk, if any.
    pub(super) key: Option<u64>,
}

impl RadixVisitor for FirstLeafKey {
    fn node(&mut self, pa: u64, level: u32) -> crate::pure::error::Result {
        if level == 0 && self.key.is_none() {
            self.leaf = pa;
        }
        Ok(())
    }

    fn key(&mut self, key: u64) -> crate::pure::error::Result {
        if self.key.is_none() {
            self.key = Some(key);
        }
        Ok(())
    }
}

/// Next kernel: restores the radix tree of `info` (every node page claimed), then claims
/// every folio its keys name and compares it with what the seed generates and with its
/// record in `folio_records` (sorted by address; `None` when the block set was refused,
/// and the folios are then claimed and freed unverified). Returns the mismatches and the
/// microseconds spent comparing.
pub(super) fn verify_folios(
    mem: &mut KernelMem,
    info: &SubtreeInfo,
    folio_records: Option<&[FolioRecord]>,
    stage: &mut &'static str,
) -> Result<(u64, u64)> {
    let with_records = folio_records.is_some();
    let folio_records = folio_records.unwrap_or(&[]);
    let mut mismatches = 0u64;
    let mut verify_us = 0u64;
    // Radix tree: validated and every node page restored; then every folio (named by the
    // tree's keys).
    *stage = STAGE_RADIX;
    let (tree, _stats) =
        // SAFETY: `radix_root` comes from this module's own kho-rs subtree of the previous kernel.
        unsafe { RadixTree::restore(mem, info.radix_root) }.map_err(|e| core_err("restore radix", e))?;
    let mut keys = Keys(KVec::new());
    let walked = tree.walk(mem, &mut keys);
    tree.destroy(mem);
    walked.map_err(|e| core_err("restore radix walk", e))?;
    if keys.0.len() as u64 != info.radix_keys
        || (with_records && keys.0.len() != folio_records.len())
    {
        pr_err!(
            "restore: {} radix keys, {} folio records, subtree says {}\n",
            keys.0.len(),
            folio_records.len(),
            info.radix_keys
        );
        mismatches += 1;
    }
    for &key in keys.0.iter() {
        let (fpa, order) = decode_key(&GEOMETRY, key).map_err(|e| core_err("restore key", e))?;
        // The tree says what was preserved: check and claim the folio before anything else.
        if order > MAX_FOLIO_ORDER {
            pr_err!(
                "restore folio: key {:#x} has order {} above {}\n",
                key,
                order,
                MAX_FOLIO_ORDER
            );
            return Err(EINVAL);
        }
        // SAFETY: a key of this module's own radix tree, restored from its kho-rs subtree; the claim checks KHO's mark first.
        if let Err(e) = unsafe { mem.claim(fpa, 1 << order) } {
            return Err(core_err("restore folio", e));
        }
        let Ok(idx) = folio_records.binary_search_by_key(&fpa, |f| f.0) else {
            // Without the block set (refused) the folio is restored but cannot be checked.
            if with_records {
                pr_err!("restore: folio {:#x} has no block record\n", fpa);
                mismatches += 1;
            }
            for i in 0..(1u64 << order) {
                // SAFETY: claimed just above, not referenced; each page freed once.
                unsafe { mem.free(fpa + i * GEOMETRY.page_size as u64) };
            }
            continue;
        };
        let (_, rorder, tag, rsum) = folio_records[idx];
        if order != rorder {
            pr_err!(
                "restore: folio {:#x} order {} vs record {}\n",
                fpa,
                order,
                rorder
            );
            mismatches += 1;
        }
        let tv = Instant::<Monotonic>::now();
        // SAFETY: the `2^order` pages at `fpa` were claimed as one block just above.
        let (bad, sum) = match unsafe { mem.block_words_mut(fpa, 1 << order) } {
            Some(words) => verify(words, info.seed, tag, 0),
            None => (1, 0),
        };
        verify_us += elapsed_us(&tv);
        if bad != 0 || sum != rsum {
            pr_err!("restore: folio {:#x}: {} words differ\n", fpa, bad);
            mismatches += bad.max(1);
        }
        for i in 0..(1u64 << order) {
            // SAFETY: claimed above (order-0 pages after `kho_restore_pages()`), no longer
            // referenced; each page freed once.
            unsafe { mem.free(fpa + i * GEOMETRY.page_size as u64) };
        }
    }
    Ok((mismatches, verify_us))
}
