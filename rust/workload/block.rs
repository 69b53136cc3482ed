// SPDX-License-Identifier: GPL-2.0

//! The block component of the workload: the block set (block-v1) of [`Record`]s that
//! describe and checksum the other data, its teardown, and in the next kernel the reading
//! and checking of every record.

use kernel::prelude::*;

use super::{count_mismatch, FolioRecord, Outgoing, Params, MIB};
use crate::glue::kho::core_err;
use crate::glue::mem::KernelMem;
use crate::pure::block::BlockSet;
use crate::pure::record::{word, Record, KIND_FILLER, KIND_FOLIO, KIND_VMALLOC, TAG_FILLER};
use crate::pure::subtree::SubtreeInfo;

impl Outgoing {
    /// Adds filler records up to `p.block_entries`, then writes all of `records` into the
    /// block set (grown, written with one copy per block, trimmed and checked publishable).
    pub(super) fn build_blocks(&mut self, p: &Params, records: &mut KVVec<Record>) -> Result {
        let mem = &mut self.mem;
        // (c) The block set: the records above, then filler up to `block_entries`.
        let mut i = 0u64;
        while records.len() < p.block_entries as usize {
            records.push(
                Record {
                    kind: KIND_FILLER,
                    order: 0,
                    pa: 0,
                    tag: i,
                    sum: word(p.seed, TAG_FILLER, i),
                },
                GFP_KERNEL,
            )?;
            i += 1;
        }
        self.blocks
            .grow(mem, records.len())
            .map_err(|e| core_err("block grow", e))?;
        let written = self.blocks.iter().write_slice(mem, records);
        if written != records.len() {
            pr_err!(
                "workload: block write: {} of {} records fit\n",
                written,
                records.len()
            );
            return Err(ENOSPC);
        }
        self.blocks.trim(mem);
        self.blocks
            .validate_outgoing(mem)
            .map_err(|e| core_err("block publish", e))?;
        Ok(())
    }

    /// Unpreserves and frees every block.
    pub(super) fn teardown_blocks(&mut self) {
        self.blocks.destroy(&mut self.mem);
    }
}

/// Next kernel: restores the block set at `info.block_head` (every block claimed and
/// checked), reads all its records with one copy per block, and frees the blocks.
pub(super) fn read_records(mem: &mut KernelMem, info: &SubtreeInfo) -> Result<KVVec<Record>> {
    // SAFETY: `block_head` comes from this module's own kho-rs subtree of the previous kernel.
    let mut blocks = unsafe { BlockSet::<Record>::restore(mem, info.block_head) }
        .map_err(|e| core_err("restore block", e))?;
    let res = read_all(mem, &blocks);
    blocks.destroy(mem);
    res
}

/// Every record of `blocks`: the restore bounded each block's count by its capacity, so
/// their sum bounds the buffer.
fn read_all(mem: &KernelMem, blocks: &BlockSet<Record>) -> Result<KVVec<Record>> {
    let n = blocks.written(mem);
    let mut records = KVVec::with_capacity(n, GFP_KERNEL).map_err(|_| super::nomem("records"))?;
    records
        .extend_with(n, Record::default(), GFP_KERNEL)
        .map_err(|_| super::nomem("records"))?;
    let got = blocks.iter().read_slice(mem, &mut records);
    records.truncate(got);
    Ok(records)
}

/// Checks every field of every record against `info` and the seed (`with_vmalloc`: the
/// vmalloc component is read too, so the number of its records is checked). Returns the
/// mismatches and the folio records, sorted by address.
pub(super) fn check_records(
    info: &SubtreeInfo,
    records: &[Record],
    with_vmalloc: bool,
) -> Result<(u64, KVec<FolioRecord>)> {
    let mut mismatches = count_mismatch("block entries", records.len() as u64, info.block_count);
    // Every field of every record is checked: the records come in the order `build` wrote
    // them (folios, vmalloc MiBs, filler), each kind's `tag` counts from 0, the fields a
    // kind does not use are 0, and the sums are compared with the data (folio, vmalloc)
    // or the seed (filler).
    let mut folio_records = KVec::new();
    let mut seen = [0u64; 4];
    for (i, r) in records.iter().enumerate() {
        let kind = r.kind as usize;
        let later_kinds = seen.get(kind + 1..).unwrap_or(&[]).iter().any(|&n| n != 0);
        let in_order = !later_kinds && seen.get(kind).is_some_and(|&n| r.tag == n);
        let ok = in_order
            && match r.kind {
                KIND_FOLIO => {
                    folio_records
                        .push((r.pa, r.order, r.tag, r.sum), GFP_KERNEL)
                        .map_err(|_| super::nomem("folio records"))?;
                    true
                }
                KIND_VMALLOC => r.order == 0 && r.pa == 0,
                KIND_FILLER => {
                    r.order == 0 && r.pa == 0 && r.sum == word(info.seed, TAG_FILLER, r.tag)
                }
                _ => false,
            };
        if let Some(n) = seen.get_mut(kind) {
            *n += 1;
        }
        if !ok {
            if mismatches < 8 {
                pr_err!(
                    "restore: block entry {} is wrong (kind {}, order {}, pa {:#x}, tag {})\n",
                    i,
                    r.kind,
                    r.order,
                    r.pa,
                    r.tag
                );
            }
            mismatches += 1;
        }
    }
    // (Only when the vmalloc component is read too.)
    if with_vmalloc {
        let want = info.vmalloc_bytes / MIB as u64;
        mismatches += count_mismatch("vmalloc MiB records", seen[KIND_VMALLOC as usize], want);
    }
    folio_records.sort_unstable_by_key(|f| f.0);
    Ok((mismatches, folio_records))
}
