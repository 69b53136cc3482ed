// SPDX-License-Identifier: GPL-2.0

//! The vmalloc component of the workload: an area filled from the seed and preserved as
//! vmalloc-v1, its teardown, and its verification in the next kernel.

use kernel::prelude::*;
use kernel::time::{Instant, Monotonic};

use super::{count_mismatch, Outgoing, Params, MIB, STAGE_VMALLOC};
use crate::glue::kho::elapsed_us;
use crate::glue::mem::GEOMETRY;
use crate::glue::vmalloc;
use crate::pure::record::{word, Record, KIND_VMALLOC, TAG_VMALLOC};
use crate::pure::subtree::SubtreeInfo;

impl Outgoing {
    /// Allocates and fills the `p.vmalloc_mib` MiB area (with `vmalloc_huge()` if
    /// `p.vmalloc_huge`), preserves it, and adds one record per MiB to `records`.
    pub(super) fn build_vmalloc(&mut self, p: &Params, records: &mut KVVec<Record>) -> Result {
        // (b) The vmalloc area.
        let bytes = (p.vmalloc_mib as usize) * MIB;
        if bytes > 0 {
            let mut area = if p.vmalloc_huge {
                vmalloc::VmallocArea::new_huge(bytes)?
            } else {
                vmalloc::VmallocArea::new(bytes)?
            };
            for (mib, chunk) in area.as_mut_slice().chunks_exact_mut(MIB).enumerate() {
                let mut sum = 0u64;
                let first = (mib * MIB / 8) as u64;
                for (i, c) in chunk.chunks_exact_mut(8).enumerate() {
                    let w = word(p.seed, TAG_VMALLOC, first + i as u64);
                    c.copy_from_slice(&w.to_ne_bytes());
                    sum = sum.wrapping_add(w);
                }
                records.push(
                    Record {
                        kind: KIND_VMALLOC,
                        order: 0,
                        pa: 0,
                        tag: mib as u64,
                        sum,
                    },
                    GFP_KERNEL,
                )?;
            }
            let desc = vmalloc::preserve(&area)?.publish();
            self.vdesc = Some(desc);
            self.area = Some(area);
            self.info.vmalloc = desc;
            self.info.vmalloc_bytes = bytes as u64;
            self.footprint.vmalloc_chunks = crate::pure::vmalloc::chunk_pages(&GEOMETRY, &desc);
        }
        Ok(())
    }

    /// Unpreserves the area (chunks and pages) and frees it.
    pub(super) fn teardown_vmalloc(&mut self) {
        if let Some(desc) = self.vdesc.take() {
            // SAFETY: published by `vmalloc::preserve` in this kernel, not unpreserved yet.
            unsafe { crate::pure::vmalloc::unpreserve(&mut self.mem, &desc) };
        }
        self.area = None;
    }
}

fn bytes_as_words(b: &[u8]) -> impl Iterator<Item = u64> + '_ {
    b.chunks_exact(8).map(|c| {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        u64::from_ne_bytes(w)
    })
}

/// Next kernel: restores and maps the area of `info` and compares every MiB with what the
/// seed generates and with its record's sum in `records` (`None` when the block set was
/// refused: every MiB of the area, without sums). Returns the mismatches and the
/// microseconds spent comparing.
pub(super) fn verify_area(
    info: &SubtreeInfo,
    records: Option<&[Record]>,
    stage: &mut &'static str,
) -> Result<(u64, u64)> {
    let mut mismatches = 0u64;
    let mut verify_us = 0u64;
    // vmalloc: validated, restored, mapped; every byte compared.
    *stage = STAGE_VMALLOC;
    // SAFETY: `info.vmalloc` comes from this module's own kho-rs subtree of the previous kernel.
    let area = unsafe { vmalloc::restore(&info.vmalloc) }?;
    let data = area.as_slice();
    let tv = Instant::<Monotonic>::now();
    mismatches += count_mismatch("vmalloc area bytes", data.len() as u64, info.vmalloc_bytes);
    // Each MiB against what the seed generates, and against its record's sum; without
    // the block set (refused) every MiB of the area, without sums.
    let check = |tag: u64, want: Option<u64>| -> u64 {
        let off = (tag as usize).saturating_mul(MIB);
        let Some(chunk) = data.get(off..off.saturating_add(MIB)) else {
            return 1;
        };
        let first = (off / 8) as u64;
        let mut bad = 0u64;
        let mut sum = 0u64;
        for (i, w) in bytes_as_words(chunk).enumerate() {
            if w != word(info.seed, TAG_VMALLOC, first + i as u64) {
                bad += 1;
            }
            sum = sum.wrapping_add(w);
        }
        if bad != 0 || want.is_some_and(|w| w != sum) {
            pr_err!("restore: vmalloc MiB {}: {} words differ\n", tag, bad);
        }
        if want.is_some_and(|w| w != sum) {
            bad.max(1)
        } else {
            bad
        }
    };
    if let Some(records) = records {
        for r in records.iter().filter(|r| r.kind == KIND_VMALLOC) {
            mismatches += check(r.tag, Some(r.sum));
        }
    } else {
        for tag in 0..(data.len() / MIB) as u64 {
            mismatches += check(tag, None);
        }
    }
    verify_us += elapsed_us(&tv);
    Ok((mismatches, verify_us))
}
