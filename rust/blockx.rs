// SPDX-License-Identifier: GPL-2.0

//! Block chains across kexec: Rust and C (upstream's `kernel/liveupdate/kho_block.c`), each
//! writing for the other.
//!
//! With `blockx=1` the first kernel writes, for each entry size of [`SIZES`], one chain with
//! the C writer (the oracle of [`crate::glue::block_oracle`]: `kho_block_set_grow()` and
//! `kho_block_set_it_reserve_entry()`) and one with the Rust writer ([`BlockSet`]), each of
//! [`entries`] entries made from the seed, and publishes their heads in the subtree
//! `kho-rs-blockx` (compatible `kho-rs-blockx-v1;block-v1`). After the kexec, Rust restores
//! every C-written chain ([`BlockSet::restore`], claiming each block from KHO) and C every
//! Rust-written one (`kho_block_set_restore()`, then `kho_block_set_it_read_entry()`), each
//! checks every entry byte for byte and releases the chain, and the module checks that no
//! block is left claimed (Rust: `KernelMem`'s page count; C: one `kho_restore_free()` per
//! block) or still preserved (KHO's mark is gone from every block).

use kernel::prelude::*;

use crate::glue::block_oracle::{self as oracle, CBlockSet};
use crate::glue::kho::core_err;
use crate::glue::mem::{KernelMem, GEOMETRY};
use crate::glue::subtree::{checked_root, numbered_name, IncomingBlob, OutgoingBlob};
use crate::pure::block::pat::{is_pat, pat_fill, Pat};
use crate::pure::block::{BlockSet, BLOCK_HEADER_SIZE};
use crate::pure::compat::{self, kho_compat};
use crate::pure::error::Error as CoreError;
use crate::pure::fdt::FdtWriter;

/// Name of the subtree.
const NAME: &CStr = c"kho-rs-blockx";
/// Its compatible string: its own base plus the one structure it carries.
const COMPAT: &str = kho_compat!("kho-rs-blockx-v1"; compat::BLOCK_COMPAT);
/// Entry sizes exchanged: the smallest word, two common ones, and one entry per block.
const SIZES: [usize; 4] = [8, 32, 64, 4080];
/// KHO's magic in the upper half of a preserved page's `page->private` (`KHO_PAGE_MAGIC`).
const KHO_PAGE_MAGIC: u64 = 0x4b48_4f50;

/// Entries per block for entries of `size` bytes, `(PAGE_SIZE - 16) / size` (0 for size 0).
const fn cap_of(size: usize) -> usize {
    match (GEOMETRY.page_size - BLOCK_HEADER_SIZE).checked_div(size) {
        Some(cap) => cap,
        None => 0,
    }
}

/// Entries of each chain: three blocks, the last one not full (full for 4080-byte entries,
/// one per block).
const fn entries(size: usize) -> usize {
    2 * cap_of(size) + cap_of(size) / 2 + 1
}

/// Seed of entry `k` of the chain of entry size `size` written by Rust (`by_rust`) or C.
fn entry_seed(seed: u64, size: usize, by_rust: bool, k: usize) -> u64 {
    let tag = ((size as u64) << 40) | (u64::from(by_rust) << 32) | (k as u64 + 1);
    (seed ^ 0x626c_6f63_6b78_0000).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ tag
}

/// The Rust-written sets, one per entry size of [`SIZES`].
struct RustSets {
    s8: BlockSet<Pat<8>>,
    s32: BlockSet<Pat<32>>,
    s64: BlockSet<Pat<64>>,
    s4080: BlockSet<Pat<4080>>,
}

impl RustSets {
    /// The heads of the chains, in the order of [`SIZES`].
    fn heads(&self) -> [u64; 4] {
        [
            self.s8.head_pa(),
            self.s32.head_pa(),
            self.s64.head_pa(),
            self.s4080.head_pa(),
        ]
    }

    /// Unpreserves and frees every block.
    fn destroy(&mut self, mem: &mut KernelMem) {
        self.s8.destroy(mem);
        self.s32.destroy(mem);
        self.s64.destroy(mem);
        self.s4080.destroy(mem);
    }
}

/// Rust writes the chain of entry size `N` into `set`, exactly [`entries`] entries.
fn rust_write<const N: usize>(
    mem: &mut KernelMem,
    set: &mut BlockSet<Pat<N>>,
    seed: u64,
) -> Result {
    let n = entries(N);
    set.grow(mem, n).map_err(|e| core_err("blockx grow", e))?;
    let mut it = set.iter();
    for k in 0..n {
        it.write(mem, &Pat::of(entry_seed(seed, N, true, k)))
            .map_err(|e| core_err("blockx write", e))?;
    }
    set.validate_outgoing(mem)
        .map_err(|e| core_err("blockx validate", e))
}

/// C writes the chain of entry size `size`, exactly [`entries`] entries.
fn c_write(size: usize, seed: u64) -> Result<CBlockSet> {
    let n = entries(size);
    let mut c = CBlockSet::new(size)?;
    c.grow(n as u64)?;
    // As a C user does: the iterator starts at the first block once there is one.
    c.it_init();
    let mut buf = KVec::from_elem(0u8, size, GFP_KERNEL)?;
    for k in 0..n {
        // The bytes of `Pat::<size>::of(..)`.
        pat_fill(entry_seed(seed, size, false, k), &mut buf);
        if c.reserve_entry(Some(&buf)).is_none() {
            pr_err!(
                "blockx: C reserve_entry failed at entry {} of size {}\n",
                k,
                size
            );
            return Err(ENOSPC);
        }
    }
    Ok(c)
}

/// The chains of the first kernel and their subtree; `Drop` undoes everything.
pub(crate) struct BlockxOut {
    /// The published subtree (dropped first, see `Drop`).
    blob: Option<OutgoingBlob>,
    mem: KernelMem,
    rust: RustSets,
    /// The C-written sets, in the order of [`SIZES`]; dropping one unpreserves and frees it.
    c: KVec<CBlockSet>,
}

// SAFETY: `BlockxOut` has no method taking `&self`: its block sets (not `Sync`, see
// `BlockSet`) are reached only through `create` and `Drop`.
unsafe impl Sync for BlockxOut {}

impl BlockxOut {
    /// Writes and preserves the chains and publishes `kho-rs-blockx`.
    pub(crate) fn create(seed: u64) -> Result<Self> {
        oracle::available()?;
        let mut s = Self {
            blob: None,
            mem: KernelMem::new(),
            rust: RustSets {
                s8: BlockSet::new(GEOMETRY),
                s32: BlockSet::new(GEOMETRY),
                s64: BlockSet::new(GEOMETRY),
                s4080: BlockSet::new(GEOMETRY),
            },
            c: KVec::new(),
        };
        rust_write(&mut s.mem, &mut s.rust.s8, seed)?;
        rust_write(&mut s.mem, &mut s.rust.s32, seed)?;
        rust_write(&mut s.mem, &mut s.rust.s64, seed)?;
        rust_write(&mut s.mem, &mut s.rust.s4080, seed)?;
        for size in SIZES {
            let c = c_write(size, seed)?;
            s.c.push(c, GFP_KERNEL)?;
        }
        s.publish(seed)?;
        pr_info!(
            "blockx: preserved {} C-written and {} Rust-written chains (entry sizes 8, 32, 64, 4080)\n",
            s.c.len(),
            SIZES.len()
        );
        Ok(s)
    }

    fn publish(&mut self, seed: u64) -> Result {
        let rust = self.rust.heads();
        let c = &self.c;
        self.blob = Some(OutgoingBlob::publish(NAME, |buf| {
            let mut w = FdtWriter::new(buf)?;
            w.begin_node("")?;
            w.property_str("compatible", COMPAT)?;
            w.property_u64_ne("seed", seed)?;
            for (i, &size) in SIZES.iter().enumerate() {
                let c_head = c.get(i).map_or(0, |s| s.head_pa());
                let name = numbered_name('e', size as u64)?;
                w.begin_node(
                    name.to_str()
                        .map_err(|_| CoreError::inval("FDT node name", 0))?,
                )?;
                w.property_u64_ne("entry-size", size as u64)?;
                w.property_u64_ne("entries", entries(size) as u64)?;
                w.property_u64_ne("c-head", c_head)?;
                w.property_u64_ne("rust-head", rust[i])?;
                w.end_node()?;
            }
            w.end_node()?;
            w.finish()
        })?);
        Ok(())
    }
}

impl Drop for BlockxOut {
    fn drop(&mut self) {
        // The subtree goes first, so the next kernel never sees a half-torn state.
        self.blob = None;
        self.rust.destroy(&mut self.mem);
        // Each C set unpreserves and frees its blocks (`kho_block_set_destroy()`).
        self.c.clear();
    }
}

/// What one reader found on one chain.
struct Seen {
    /// Blocks of the chain, in order (as the reader reported them).
    blocks: KVVec<u64>,
    entries: usize,
    /// Entries whose bytes differ from what the writer wrote.
    bad: usize,
}

impl Seen {
    /// Nothing read yet.
    fn new() -> Self {
        Self {
            blocks: KVVec::new(),
            entries: 0,
            bad: 0,
        }
    }

    /// Records the next entry of a chain of `n`, read from the block at `block`; `intact`
    /// if its bytes are the writer's.
    fn record(&mut self, block: u64, n: usize, intact: bool) -> Result {
        if self.blocks.last() != Some(&block) {
            self.blocks.push(block, GFP_KERNEL)?;
        }
        if self.entries >= n || !intact {
            self.bad += 1;
        }
        self.entries += 1;
        Ok(())
    }
}

/// Next kernel: restores and checks every chain of `kho-rs-blockx`; `Ok(false)` if absent.
pub(crate) fn restore_and_verify() -> Result<bool> {
    let Some(blob) = IncomingBlob::retrieve_consumed(NAME)? else {
        return Ok(false);
    };
    oracle::available()?;
    check_all(blob.bytes()).map(|()| true)
}

fn check_all(blob: &[u8]) -> Result {
    let (root, seed) = checked_root(blob, COMPAT, "blockx")?;
    let mut failed = 0usize;
    let mut chains = 0usize;
    for node in root.subnodes() {
        let prop = |name: &str| node.prop_u64_ne(name).map_err(|e| core_err("blockx", e));
        let size = prop("entry-size")? as usize;
        let n = prop("entries")? as usize;
        let (c_head, rust_head) = (prop("c-head")?, prop("rust-head")?);
        if !SIZES.contains(&size) || n != entries(size) {
            pr_err!("blockx: unexpected entry size {} or count {}\n", size, n);
            return Err(EINVAL);
        }
        chains += 1;
        if let Err(e) = rust_reads_c(size, n, c_head, seed) {
            pr_err!("blockx: C->Rust {}: FAIL ({:?})\n", size, e);
            failed += 1;
        }
        if let Err(e) = c_reads_rust(size, n, rust_head, seed) {
            pr_err!("blockx: Rust->C {}: FAIL ({:?})\n", size, e);
            failed += 1;
        }
    }
    if chains != SIZES.len() || failed != 0 {
        pr_err!("blockx: FAIL: {} of {} chains\n", failed, 2 * chains);
        return Err(EIO);
    }
    pr_info!(
        "blockx: PASS: {} C-written chains restored by Rust and {} Rust-written chains restored by C, every entry verified, no block left claimed or preserved\n",
        chains,
        chains
    );
    Ok(())
}

/// The checks of one reader's chain: one direction (`C->Rust` or `Rust->C`) and entry size,
/// both named in every log line.
#[derive(Clone, Copy)]
struct Check {
    /// Writer and reader.
    dir: &'static str,
    /// Entry size in bytes.
    size: usize,
}

impl Check {
    /// The checks of `dir` for `size`-byte entries.
    const fn new(dir: &'static str, size: usize) -> Self {
        Self { dir, size }
    }

    /// Fails with `-EINVAL` and one log line if `got != want`.
    fn expect(self, what: &str, got: u64, want: u64) -> Result {
        if got == want {
            return Ok(());
        }
        pr_err!(
            "blockx: {} {}: {}: got {} want {}\n",
            self.dir,
            self.size,
            what,
            got,
            want
        );
        Err(EINVAL)
    }

    /// A read of `n` entries saw all of them, intact, in [`BLOCKS`] blocks.
    fn seen(self, seen: &Seen, n: usize) -> Result {
        self.expect("entries read", seen.entries as u64, n as u64)?;
        self.expect("entries that differ", seen.bad as u64, 0)?;
        self.expect("blocks", seen.blocks.len() as u64, BLOCKS)
    }

    /// KHO's preservation mark is gone from every block of `blocks` (each block was
    /// claimed, then freed: a block left unclaimed would still carry it).
    fn none_marked(self, blocks: &[u64]) -> Result {
        let marked = blocks
            .iter()
            .filter(|&&pa| KernelMem::page_private(pa) >> 32 == KHO_PAGE_MAGIC)
            .count();
        self.expect("blocks still marked preserved", marked as u64, 0)
    }

    /// Logs that the reader passed: `done` is what it did, `blocks` what became of the blocks.
    fn passed(self, seen: &Seen, done: &str, blocks: &str) {
        pr_info!(
            "blockx: {} {}: {}: {} blocks, {} entries verified byte for byte, {}\n",
            self.dir,
            self.size,
            done,
            seen.blocks.len(),
            seen.entries,
            blocks
        );
    }
}

/// The three blocks a chain of [`entries`] entries has.
const BLOCKS: u64 = 3;

/// Rust restores the C-written chain of `size`-byte entries at `head` and checks it.
fn rust_reads_c(size: usize, n: usize, head: u64, seed: u64) -> Result {
    let ck = Check::new("C->Rust", size);
    let owned = KernelMem::owned_pages();
    let claimed = KernelMem::claimed_pages();
    let mut mem = KernelMem::new();
    let seen = match size {
        8 => rust_read::<8>(&mut mem, head, n, seed),
        32 => rust_read::<32>(&mut mem, head, n, seed),
        64 => rust_read::<64>(&mut mem, head, n, seed),
        _ => rust_read::<4080>(&mut mem, head, n, seed),
    }?;
    ck.seen(&seen, n)?;
    let claimed = KernelMem::claimed_pages() - claimed;
    ck.expect("pages claimed", claimed as u64, BLOCKS)?;
    let kept = KernelMem::owned_pages() - owned;
    ck.expect("pages left claimed", kept as u64, 0)?;
    ck.none_marked(&seen.blocks)?;
    ck.passed(
        &seen,
        "Rust restored the C-written chain",
        "every block claimed once and freed",
    );
    Ok(())
}

/// Body of [`rust_reads_c`] for `N`-byte entries: restore, read every entry, destroy.
fn rust_read<const N: usize>(mem: &mut KernelMem, head: u64, n: usize, seed: u64) -> Result<Seen> {
    let mut set =
        // SAFETY: `head` comes from this module's own blockx subtree of the previous kernel.
        unsafe { BlockSet::<Pat<N>>::restore(mem, head) }.map_err(|e| core_err("blockx restore", e))?;
    let mut seen = Seen::new();
    let res = (|| -> Result {
        let mut it = set.iter();
        while let Some(e) = it.read_entry(mem) {
            let (block, _) = it.position();
            let s = entry_seed(seed, N, false, seen.entries);
            seen.record(block, n, e == Pat::of(s))?;
        }
        Ok(())
    })();
    set.destroy(mem);
    res.map(|()| seen)
}

/// C restores the Rust-written chain of `size`-byte entries at `head` and checks it.
fn c_reads_rust(size: usize, n: usize, head: u64, seed: u64) -> Result {
    let ck = Check::new("Rust->C", size);
    let live = oracle::live();
    let freed = oracle::restored_freed();
    let mut seen = Seen::new();
    // SAFETY: `head` comes from this module's own blockx subtree of the previous kernel.
    let res = match unsafe { CBlockSet::restore_kho(size, head) } {
        Ok(mut c) => (|| -> Result {
            ck.expect("C nblocks", c.nblocks() as u64, BLOCKS)?;
            let mut buf = KVec::from_elem(0u8, size, GFP_KERNEL)?;
            while let Some(pa) = c.read_entry(Some(&mut buf)) {
                let block = pa & !(GEOMETRY.page_size as u64 - 1);
                let s = entry_seed(seed, size, true, seen.entries);
                // Intact: the bytes of `Pat::<size>::of(s)`.
                seen.record(block, n, is_pat(s, &buf))?;
            }
            Ok(())
        })(),
        Err(e) => {
            pr_err!(
                "blockx: Rust->C {}: kho_block_set_restore failed: {}\n",
                size,
                e
            );
            Err(EINVAL)
        }
    };
    // The set is dropped: C released (restored and freed) every block.
    res?;
    ck.seen(&seen, n)?;
    let released = oracle::restored_freed() - freed;
    ck.expect("blocks restored and freed by C", released as u64, BLOCKS)?;
    let now = oracle::live();
    ck.expect("live C sets", now.0 as u64, live.0 as u64)?;
    ck.expect("live C pages", now.1 as u64, live.1 as u64)?;
    ck.none_marked(&seen.blocks)?;
    ck.passed(
        &seen,
        "C kho_block_set_restore restored the Rust-written chain",
        "every block restored once and freed",
    );
    Ok(())
}
