// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `kho_rs_block`: linked serialization blocks (`block-v1`) on real preserved
//! pages.
//!
//! Every test drives [`BlockSet`] through [`KernelMem`], so blocks are real order-0 pages
//! preserved with `kho_preserve_pages()`. In the same boot preserved pages cannot be
//! restored (that needs a kexec, see the kexec selftest), so instead of `restore` the suite
//! checks the raw chain with [`c_rules_model`], a test-local copy of the rules of C's
//! `kho_block_set_restore()` (`kernel/liveupdate/kho_block.c`): whatever
//! Rust publishes must pass it. The model tests check a set after every random operation
//! against the block-set model the host's property test uses too
//! ([`crate::pure::block::model`]).
//!
//! Helpers report failures by returning an error (after one `pr_err!` line naming the
//! check), never by panicking; only the test functions use KUnit's `assert!`.

use kernel::prelude::*;
use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout};

use super::{chain_pas, ensure, ensure_eq, kr};
use crate::glue::mem::{KernelMem, GEOMETRY};
use crate::pure::block::model::{Mismatch, Model, TestEntry, Words};
use crate::pure::block::pat::{pat_byte, Pat};
use crate::pure::block::{BlockEntry, BlockIter, BlockSet, BLOCK_HEADER_SIZE, KHO_MAX_BLOCKS};
use crate::pure::error::{errno, Error as CoreError, Result as CoreResult};
use crate::pure::mem::PageMem;
use crate::pure::rng::XorShift;

/// Entries per 4K block for entries of `size` bytes, as the C headers compute it.
const fn cap_4k(size: usize) -> usize {
    (4096 - 16) / size
}

/// Reads the `(next, count)` header of the block at `pa`.
fn header(mem: &KernelMem, pa: u64) -> Result<(u64, u64)> {
    // SAFETY: a page this test allocated or claimed itself, still live.
    match unsafe { mem.page(pa) } {
        Some(&[next, count, ..]) => Ok((next, count)),
        _ => {
            pr_err!("kho_rs_block: block {:#x} not readable\n", pa);
            Err(EFAULT)
        }
    }
}

/// Why the C reader rejects a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reject {
    /// Floyd's check found a loop in the `next` links.
    Cycle,
    /// More than `KHO_MAX_BLOCKS` blocks.
    TooLong,
    /// A block address that is not page aligned (block number).
    Misaligned(usize),
    /// A block address that is not a RAM page (block number).
    NotRam(usize),
    /// A block with `count == 0` (block number).
    CountZero(usize),
    /// A block with `count > (PAGE_SIZE - 16) / entry_size` (block number).
    CountTooBig(usize),
}

/// What the C reader accepted: number of blocks and of entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Accepted {
    blocks: usize,
    /// Sum of the block counts.
    entries: usize,
}

/// The `next` word of a block for the reader, rejecting addresses C would not follow.
fn reader_next(mem: &KernelMem, pa: u64, n: usize) -> core::result::Result<u64, Reject> {
    if !GEOMETRY.is_page_aligned(pa) {
        return Err(Reject::Misaligned(n));
    }
    // SAFETY: a page this test allocated or claimed itself, still live.
    match unsafe { mem.page(pa) } {
        Some(&[next, ..]) => Ok(next),
        _ => Err(Reject::NotRam(n)),
    }
}

/// A Rust model of the checks of C's `kho_block_set_restore()` over the raw chain (a model,
/// not C: the C reader itself runs in `kho_rs_block_c` and the selftest's blockx case).
///
/// `head == 0` is an empty set. First Floyd's cycle check over `next`, bounded by
/// `KHO_MAX_BLOCKS`; then every block: page aligned (and RAM: C would `phys_to_virt`
/// blindly, the test must not), `count` in `1..=(PAGE_SIZE - 16) / entry_size` of the
/// *reader's* `entry_size`, at most `KHO_MAX_BLOCKS` blocks.
fn c_rules_model(
    mem: &KernelMem,
    head: u64,
    entry_size: usize,
) -> core::result::Result<Accepted, Reject> {
    let cap = ((GEOMETRY.page_size - BLOCK_HEADER_SIZE) / entry_size) as u64;
    if head == 0 {
        return Ok(Accepted {
            blocks: 0,
            entries: 0,
        });
    }
    // Floyd: the hare moves two links per step, the tortoise one.
    let mut slow = head;
    let mut fast = head;
    let mut steps = 0usize;
    loop {
        let f1 = reader_next(mem, fast, 2 * steps)?;
        if f1 == 0 {
            break;
        }
        let f2 = reader_next(mem, f1, 2 * steps + 1)?;
        if f2 == 0 {
            break;
        }
        fast = f2;
        slow = reader_next(mem, slow, steps)?;
        if slow == fast {
            return Err(Reject::Cycle);
        }
        steps += 1;
        if steps > KHO_MAX_BLOCKS {
            return Err(Reject::TooLong);
        }
    }
    // Per-block checks.
    let mut blocks = 0usize;
    let mut entries = 0usize;
    let mut pa = head;
    while pa != 0 {
        if blocks >= KHO_MAX_BLOCKS {
            return Err(Reject::TooLong);
        }
        let next = reader_next(mem, pa, blocks)?;
        // SAFETY: a page this test allocated or claimed itself, still live.
        let count = match unsafe { mem.page(pa) } {
            Some(&[_, count, ..]) => count,
            _ => return Err(Reject::NotRam(blocks)),
        };
        if count == 0 {
            return Err(Reject::CountZero(blocks));
        }
        if count > cap {
            return Err(Reject::CountTooBig(blocks));
        }
        blocks += 1;
        entries += count as usize;
        pa = next;
    }
    Ok(Accepted { blocks, entries })
}

/// The words of the shared block-set model ([`Model`]), allocated with `GFP_KERNEL`.
impl Words for KVec<u64> {
    fn push_zeros(&mut self, n: usize) -> CoreResult {
        self.extend_with(n, 0, GFP_KERNEL)
            .map_err(|_| CoreError::nomem("block model: words"))
    }

    fn truncate(&mut self, len: usize) {
        KVec::truncate(self, len);
    }
}

/// Fails with `-EINVAL` and one log line naming the difference if the set and the model
/// differ.
fn agrees(res: core::result::Result<(), Mismatch>) -> Result {
    res.map_err(|m| {
        pr_err!("kho_rs_block: set differs from the model: {}\n", m);
        EINVAL
    })
}

/// The model test besides the set: the model, the writer position and the random operations.
///
/// `len` is the writer's position: the number of entries logically in the set. Each
/// operation starts a fresh iterator and moves it (and the model's) past those entries.
struct ModelRun {
    model: Model<KVec<u64>>,
    /// Entries written and not popped.
    len: usize,
    /// Seed of the next entry written (seeds 1, 2, ...).
    next_seed: u64,
    /// Chooses the operations.
    rng: XorShift,
    /// Blocks the set is grown to at most.
    max_blocks: usize,
}

impl ModelRun {
    /// A fresh iterator of `set` and the model's, both moved past the `len` entries before
    /// the writer position, checking each on the way.
    fn seek<'s, E: TestEntry>(
        &mut self,
        mem: &KernelMem,
        set: &'s BlockSet<E>,
    ) -> Result<BlockIter<'s, E>> {
        let mut it = set.iter();
        self.model.rewind();
        for _ in 0..self.len {
            let want = self.model.read().map(E::from_seed);
            ensure(want.is_some() && it.read_entry(mem) == want, "seek: entry")?;
        }
        Ok(it)
    }

    /// One random operation on `set` and on the model.
    fn step<E: TestEntry>(&mut self, mem: &mut KernelMem, set: &mut BlockSet<E>) -> Result {
        let cap = self.model.cap();
        match self.rng.below(100) {
            // grow
            0..=24 => {
                let target = (self.len + self.rng.below(2 * cap + 1)).min(self.max_blocks * cap);
                kr("block grow", set.grow(mem, target))?;
                kr("block model grow", self.model.grow(target))?;
            }
            // write
            25..=54 => {
                let k = 1 + self.rng.below(cap + cap / 2 + 1);
                let mut it = self.seek(mem, set)?;
                for _ in 0..k {
                    let e = E::from_seed(self.next_seed);
                    if self.model.write(self.next_seed).is_none() {
                        ensure(
                            matches!(it.write(mem, &e), Err(err) if err.errno == errno::ENOSPC),
                            "write past capacity must be -ENOSPC",
                        )?;
                        ensure(it.reserve_entry(mem).is_none(), "reserve at the end")?;
                        break;
                    }
                    kr("block write", it.write(mem, &e))?;
                    self.next_seed += 1;
                    self.len += 1;
                }
                agrees(self.model.check_position(mem, set, it.position()))?;
            }
            // pop with prev (LIFO undo; counts stay)
            55..=74 => {
                let k = 1 + self.rng.below(cap + 1);
                // SAFETY: the chain of `set`, which this test holds; nothing writes it meanwhile.
                let pas = unsafe { chain_pas(mem, set.head_pa(), self.model.nblocks()) }?;
                let mut it = self.seek(mem, set)?;
                for _ in 0..k {
                    let Some((b, i)) = self.model.prev() else {
                        ensure(it.prev(mem).is_none(), "prev at the start")?;
                        break;
                    };
                    let slot = it.prev(mem).ok_or(EINVAL)?;
                    ensure_eq(slot.index() as u64, i as u64, "prev index")?;
                    let want_pa = pas.get(b).copied().unwrap_or(0);
                    ensure_eq(slot.block_pa(), want_pa, "prev block")?;
                    let e = kr("block slot read", slot.read(mem))?;
                    ensure(e == E::from_seed(self.model.seed(b, i)), "prev entry")?;
                    self.len = self.len.checked_sub(1).ok_or(EINVAL)?;
                }
                agrees(self.model.check_position(mem, set, it.position()))?;
            }
            // shrink to the writer position
            75..=89 => {
                set.shrink(mem, self.len);
                self.model.shrink(self.len);
            }
            // trim
            90..=94 => {
                set.trim(mem);
                self.model.trim();
                ensure(
                    set.validate_outgoing(mem).is_ok(),
                    "trimmed set publishable",
                )?;
                let want = Ok(Accepted {
                    blocks: self.model.nblocks(),
                    entries: self.model.restored().count(),
                });
                ensure(
                    c_rules_model(mem, set.head_pa(), E::SIZE) == want,
                    "C reader accepts the trimmed set with the model's entries",
                )?;
            }
            // clear
            _ => {
                set.clear(mem);
                self.model.clear();
                self.len = 0;
            }
        }
        Ok(())
    }
}

/// Runs `ops` random operations on a set of `E` against the model, then destroys the set.
fn run_model<E: TestEntry>(seed: u64, ops: usize, max_blocks: usize) -> Result {
    let mut mem = KernelMem::new();
    let mut set = BlockSet::<E>::new(GEOMETRY);
    ensure_eq(
        set.count_per_block() as u64,
        cap_4k(E::SIZE) as u64,
        "count_per_block",
    )?;
    let mut run = ModelRun {
        model: Model::new(set.count_per_block()),
        len: 0,
        next_seed: 1,
        rng: XorShift::new(seed),
        max_blocks,
    };
    let mut res = Ok(());
    for _ in 0..ops {
        res = run
            .step(&mut mem, &mut set)
            .and_then(|()| agrees(run.model.check(&mem, &set)));
        if res.is_err() {
            break;
        }
    }
    // Destroy in every case; it must release exactly the blocks on the chain.
    // SAFETY: the chain of `set`, which this test holds; nothing writes it meanwhile.
    let walked = unsafe { chain_pas(&mem, set.head_pa(), KHO_MAX_BLOCKS) }.map(|p| p.len());
    let nblocks = set.nblocks();
    set.destroy(&mut mem);
    res?;
    ensure_eq(
        walked? as u64,
        nblocks as u64,
        "blocks walked before destroy",
    )?;
    ensure_eq(set.nblocks() as u64, 0, "nblocks after destroy")?;
    ensure_eq(set.head_pa(), 0, "head after destroy")?;
    pr_info!(
        "kho_rs_block: model size {}: {} ops, {} entries written\n",
        E::SIZE,
        ops,
        run.next_seed - 1
    );
    Ok(())
}

/// Writes `n` entries (seeds 1..=n) into a set grown to exactly `n` entries.
fn fill<E: TestEntry>(mem: &mut KernelMem, set: &mut BlockSet<E>, n: usize) -> Result {
    kr("block grow", set.grow(mem, n))?;
    let mut it = set.iter();
    for s in 1..=n as u64 {
        kr("block write", it.write(mem, &E::from_seed(s)))?;
    }
    Ok(())
}

/// Runs `body` on a new set of `E`, then destroys the set whatever `body` returned; the set
/// must be empty afterwards.
fn on_new_set<E: BlockEntry>(
    body: impl FnOnce(&mut KernelMem, &mut BlockSet<E>) -> Result,
) -> Result {
    let mut mem = KernelMem::new();
    let mut set = BlockSet::<E>::new(GEOMETRY);
    let res = body(&mut mem, &mut set);
    set.destroy(&mut mem);
    ensure_eq(set.nblocks() as u64, 0, "destroyed")?;
    res
}

/// Rust chains of `n` entries of `E` pass the C reader; a grown but unused tail is rejected
/// until trim.
fn reader_accepts<E: TestEntry>(n: usize) -> Result {
    on_new_set::<E>(|mem, set| reader_accepts_on(mem, set, n))
}

/// Body of [`reader_accepts`].
fn reader_accepts_on<E: TestEntry>(mem: &mut KernelMem, set: &mut BlockSet<E>, n: usize) -> Result {
    let cap = set.count_per_block();
    // A grown set nobody wrote to: every block has count 0.
    kr("block grow", set.grow(mem, n))?;
    ensure(
        c_rules_model(mem, set.head_pa(), E::SIZE) == Err(Reject::CountZero(0)),
        "unwritten set rejected",
    )?;
    ensure(set.validate_outgoing(mem).is_err(), "validate: unwritten")?;
    let mut it = set.iter();
    for s in 1..=n as u64 {
        kr("block write", it.write(mem, &E::from_seed(s)))?;
    }
    let blocks = n.div_ceil(cap);
    let want = Ok(Accepted { blocks, entries: n });
    match c_rules_model(mem, set.head_pa(), E::SIZE) {
        got if got == want => {}
        got => {
            pr_err!("kho_rs_block: reader: {:?}, want {:?}\n", got, want);
            return Err(EINVAL);
        }
    }
    kr("validate", set.validate_outgoing(mem))?;
    // Grow ahead (as LUO does before the point of no return) and stop writing.
    kr("block grow", set.grow(mem, n + 2 * cap))?;
    ensure(set.nblocks() > blocks, "grow added blocks")?;
    ensure(
        c_rules_model(mem, set.head_pa(), E::SIZE) == Err(Reject::CountZero(blocks)),
        "unused tail rejected by the C reader",
    )?;
    ensure(set.validate_outgoing(mem).is_err(), "validate: unused tail")?;
    set.trim(mem);
    ensure_eq(
        set.nblocks() as u64,
        blocks as u64,
        "trim keeps the used blocks",
    )?;
    ensure(
        c_rules_model(mem, set.head_pa(), E::SIZE) == want,
        "trimmed accepted",
    )?;
    kr("validate", set.validate_outgoing(mem))?;
    // Entries read back in order after trim.
    let mut it = set.iter();
    for s in 1..=n as u64 {
        ensure(
            it.read_entry(mem) == Some(E::from_seed(s)),
            "read after trim",
        )?;
    }
    ensure(it.read_entry(mem).is_none(), "read ends after trim")?;
    // clear makes every block count 0: not publishable; trim then empties the set.
    set.clear(mem);
    ensure(set.validate_outgoing(mem).is_err(), "validate: cleared")?;
    set.trim(mem);
    ensure_eq(set.nblocks() as u64, 0, "trim of a cleared set")?;
    ensure(
        c_rules_model(mem, set.head_pa(), E::SIZE)
            == Ok(Accepted {
                blocks: 0,
                entries: 0,
            }),
        "empty set is head 0",
    )?;
    Ok(())
}

/// A typed entry like a C struct: `struct { u64 id; u64 pa; u32 len; u32 csum; u8 tag[16]; }`.
///
/// Its layout is its wire form (zerocopy), as it would be for a C user's struct.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug, FromBytes, IntoBytes, Immutable, KnownLayout)]
struct FileRec {
    id: u64,
    pa: u64,
    len: u32,
    csum: u32,
    tag: [u8; 16],
}

const _: () = assert!(core::mem::size_of::<FileRec>() == 40);

/// `N` bytes of `bytes` at `off`, zeros where `bytes` is too short (the test's own reading
/// of a record's fields, independent of zerocopy).
fn take<const N: usize>(bytes: &[u8], off: usize) -> [u8; N] {
    let mut raw = [0u8; N];
    if let Some(src) = bytes.get(off..off + N) {
        raw.copy_from_slice(src);
    }
    raw
}

impl FileRec {
    /// The record number `i`.
    fn nth(i: u64) -> Self {
        let mut tag = [0u8; 16];
        for (j, t) in tag.iter_mut().enumerate() {
            *t = pat_byte(i + 1, j);
        }
        Self {
            id: i,
            pa: (i + 1) << 12,
            len: (i as u32).wrapping_mul(3) + 1,
            csum: !(i as u32),
            tag,
        }
    }
}

impl TestEntry for FileRec {
    fn from_seed(seed: u64) -> Self {
        match seed {
            0 => Self::decode(&[0u8; 40]),
            s => Self::nth(s - 1),
        }
    }
}

#[kunit_tests(kho_rs_block)]
mod tests {
    use super::*;

    /// Operations per model run.
    const OPS: usize = 160;

    #[test]
    fn model_size_8() -> Result {
        run_model::<u64>(0x8a5c_d789_635d_2dff, OPS, 3)
    }

    #[test]
    fn model_size_24() -> Result {
        run_model::<[u8; 24]>(0x1234_5678_9abc_def1, OPS, 4)
    }

    #[test]
    fn model_size_64() -> Result {
        run_model::<[u8; 64]>(0x0f0e_0d0c_0b0a_0908, OPS, 6)
    }

    #[test]
    fn model_size_100() -> Result {
        run_model::<[u8; 100]>(0xdead_beef_cafe_f00d, OPS, 6)
    }

    #[test]
    fn model_size_4080() -> Result {
        run_model::<Pat<4080>>(0x2545_f491_4f6c_dd1d, 2 * OPS, 12)
    }

    #[test]
    fn capacity_per_entry_size() {
        assert_eq!(BlockSet::<u64>::new(GEOMETRY).count_per_block(), 510);
        assert_eq!(BlockSet::<[u8; 24]>::new(GEOMETRY).count_per_block(), 170);
        assert_eq!(BlockSet::<[u8; 64]>::new(GEOMETRY).count_per_block(), 63);
        assert_eq!(BlockSet::<[u8; 100]>::new(GEOMETRY).count_per_block(), 40);
        assert_eq!(BlockSet::<Pat<4080>>::new(GEOMETRY).count_per_block(), 1);
        assert_eq!(BlockSet::<FileRec>::new(GEOMETRY).count_per_block(), 102);
    }

    #[test]
    fn c_rules_model_accepts_rust_chains() -> Result {
        reader_accepts::<u64>(2 * 510 + 7)?;
        reader_accepts::<u64>(3 * 510)?;
        reader_accepts::<[u8; 24]>(170 + 1)?;
        reader_accepts::<[u8; 64]>(5 * 63 + 62)?;
        reader_accepts::<[u8; 100]>(40)?;
        reader_accepts::<Pat<4080>>(9)?;
        reader_accepts::<FileRec>(250)
    }

    #[test]
    fn c_rules_model_rejects_bad_chains() -> Result {
        on_new_set(rejects_on)
    }

    #[test]
    fn max_blocks_cap() -> Result {
        let mut mem = KernelMem::new();
        let mut set = BlockSet::<Pat<4080>>::new(GEOMETRY);
        // Beyond the cap: -ENOSPC before anything is allocated.
        assert!(matches!(
            set.grow(&mut mem, KHO_MAX_BLOCKS + 1),
            Err(e) if e.errno == errno::ENOSPC
        ));
        assert_eq!(set.nblocks(), 0);
        assert_eq!(set.head_pa(), 0);
        let res = max_blocks_on(&mut mem, &mut set);
        // SAFETY: the chain of `set`, which this test holds; nothing writes it meanwhile.
        let walked = unsafe { chain_pas(&mem, set.head_pa(), KHO_MAX_BLOCKS) }.map(|p| p.len());
        let nblocks = set.nblocks();
        set.destroy(&mut mem);
        res?;
        assert_eq!(walked?, nblocks);
        assert_eq!(set.nblocks(), 0);
        assert_eq!(set.head_pa(), 0);
        Ok(())
    }

    #[test]
    fn grow_failure_keeps_set() -> Result {
        on_new_set(grow_failure_on)
    }

    #[test]
    fn typed_entries_round_trip() -> Result {
        on_new_set(typed_on)
    }

    #[test]
    fn bulk_write_and_read() -> Result {
        on_new_set(bulk_on)
    }

    #[test]
    fn empty_set_and_incoming_flag() {
        let mut mem = KernelMem::new();
        let mut set = BlockSet::<u64>::new(GEOMETRY);
        assert!(set.is_empty());
        assert!(!set.is_incoming());
        assert_eq!(set.head_pa(), 0);
        assert!(set.iter().reserve_entry(&mut mem).is_none());
        assert!(set.iter().read_entry(&mem).is_none());
        assert!(set.iter().prev(&mem).is_none());
        assert!(set.validate_outgoing(&mem).is_ok());
        // grow(0) allocates nothing; shrink/trim/clear/destroy of an empty set are no-ops.
        assert!(set.grow(&mut mem, 0).is_ok());
        assert_eq!(set.nblocks(), 0);
        set.shrink(&mut mem, 0);
        set.trim(&mut mem);
        set.clear(&mut mem);
        set.destroy(&mut mem);
        assert_eq!(set.nblocks(), 0);
        // head 0 restores to an empty incoming set without touching memory.
        assert!(matches!(
            // SAFETY: an empty chain (address 0) reaches no page.
            unsafe { BlockSet::<u64>::restore(&mut mem, 0) },
            Ok(s) if s.is_incoming() && s.is_empty()
        ));
    }
}

/// Body of `c_rules_model_rejects_bad_chains` on a set the caller destroys.
fn rejects_on(mem: &mut KernelMem, set: &mut BlockSet<u64>) -> Result {
    fill(mem, set, 3 * 510)?;
    // SAFETY: the chain of `set`, which this test holds; nothing writes it meanwhile.
    let pas = unsafe { chain_pas(mem, set.head_pa(), 3) }?;
    let &[b0, b1, b2] = pas.as_slice() else {
        return ensure(false, "three blocks");
    };
    let good = Ok(Accepted {
        blocks: 3,
        entries: 3 * 510,
    });
    ensure(c_rules_model(mem, b0, 8) == good, "good chain")?;
    // The reader's entry size decides: 510 entries of 8 bytes are too many for 64 bytes.
    ensure(
        c_rules_model(mem, b0, 64) == Err(Reject::CountTooBig(0)),
        "reader with a larger entry size",
    )?;
    ensure(
        c_rules_model(mem, b0, 4080) == Err(Reject::CountTooBig(0)),
        "4080 reader",
    )?;

    // Each corruption is undone right after the check: (block, word, value, the C reader's
    // verdict, what). Bad counts (word 1) also make the set unpublishable.
    for (pa, w, v, want, what) in [
        (b1, 1, 511, Reject::CountTooBig(1), "count above cap"),
        (b2, 1, 0, Reject::CountZero(2), "count 0"),
        (b2, 0, b0, Reject::Cycle, "loop to the head"),
        (b2, 0, b1, Reject::Cycle, "loop to the middle"),
        (b2, 0, b2, Reject::Cycle, "self loop"),
        (b0, 0, b1 + 8, Reject::Misaligned(1), "misaligned next"),
    ] {
        // SAFETY: a page this test allocated or claimed itself, still live.
        let word = unsafe { mem.page_mut(pa) }
            .and_then(|p| p.get_mut(w))
            .ok_or(EFAULT)?;
        let old = core::mem::replace(word, v);
        let got = c_rules_model(mem, b0, 8);
        // Only the counts: a damaged link would lead `validate_outgoing` off the set's pages.
        let published = (w == 1).then(|| set.validate_outgoing(mem));
        // SAFETY: as above.
        *unsafe { mem.page_mut(pa) }
            .and_then(|p| p.get_mut(w))
            .ok_or(EFAULT)? = old;
        ensure(got == Err(want), what)?;
        ensure(
            published.is_none_or(|r| r.is_err()),
            "validate refuses a bad count",
        )?;
    }

    ensure(c_rules_model(mem, b0, 8) == good, "chain put back")?;
    kr("validate", set.validate_outgoing(mem))?;
    Ok(())
}

/// Body of `max_blocks_cap` on a set the caller destroys: exactly `KHO_MAX_BLOCKS` blocks
/// are accepted, one more block is refused by `grow` and rejected by the C reader.
fn max_blocks_on(mem: &mut KernelMem, set: &mut BlockSet<Pat<4080>>) -> Result {
    fill(mem, set, KHO_MAX_BLOCKS)?;
    ensure_eq(
        set.nblocks() as u64,
        KHO_MAX_BLOCKS as u64,
        "blocks at the cap",
    )?;
    ensure(
        matches!(set.grow(mem, KHO_MAX_BLOCKS + 1), Err(e) if e.errno == errno::ENOSPC),
        "grow past the cap must be -ENOSPC",
    )?;
    ensure_eq(set.nblocks() as u64, KHO_MAX_BLOCKS as u64, "unchanged")?;
    let full = Ok(Accepted {
        blocks: KHO_MAX_BLOCKS,
        entries: KHO_MAX_BLOCKS,
    });
    ensure(
        c_rules_model(mem, set.head_pa(), 4080) == full,
        "cap accepted",
    )?;
    kr("validate", set.validate_outgoing(mem))?;
    // Hang one extra (unpreserved, test-owned) block off the tail: 10001 blocks.
    // SAFETY: the chain of `set`, which this test holds; nothing writes it meanwhile.
    let tail = *unsafe { chain_pas(mem, set.head_pa(), KHO_MAX_BLOCKS) }?
        .last()
        .ok_or(EINVAL)?;
    let extra = kr("alloc", mem.alloc_zeroed())?;
    let res = (|| -> Result {
        // SAFETY: a page this test allocated or claimed itself, still live.
        *unsafe { mem.page_mut(extra) }
            .and_then(|p| p.get_mut(1))
            .ok_or(EFAULT)? = 1;
        // SAFETY: a page this test allocated or claimed itself, still live.
        *unsafe { mem.page_mut(tail) }
            .and_then(|p| p.first_mut())
            .ok_or(EFAULT)? = extra;
        let r = c_rules_model(mem, set.head_pa(), 4080);
        // SAFETY: a page this test allocated or claimed itself, still live.
        *unsafe { mem.page_mut(tail) }
            .and_then(|p| p.first_mut())
            .ok_or(EFAULT)? = 0;
        ensure(r == Err(Reject::TooLong), "10001 blocks rejected")
    })();
    // SAFETY: a page this test allocated or claimed itself, still live.
    unsafe { mem.free(extra) };
    res?;
    ensure(c_rules_model(mem, set.head_pa(), 4080) == full, "put back")?;
    // Read everything back.
    let mut it = set.iter();
    for s in 1..=KHO_MAX_BLOCKS as u64 {
        ensure(it.read_entry(mem) == Some(Pat::from_seed(s)), "read at cap")?;
    }
    ensure(it.read_entry(mem).is_none(), "end at cap")
}

/// Body of `grow_failure_keeps_set`: a refused grow leaves the set and its chain as they were.
fn grow_failure_on(mem: &mut KernelMem, set: &mut BlockSet<[u8; 64]>) -> Result {
    fill(mem, set, 5 * 63)?;
    // SAFETY: the chain of `set`, which this test holds; nothing writes it meanwhile.
    let before = unsafe { chain_pas(mem, set.head_pa(), 5) }?;
    match set.grow(mem, KHO_MAX_BLOCKS * 63 + 1) {
        Err(e) if e.errno == errno::ENOSPC => {}
        Err(e) => {
            pr_err!("kho_rs_block: grow: {}\n", e);
            return Err(EINVAL);
        }
        Ok(()) => return ensure(false, "grow past the cap must fail"),
    }
    // SAFETY: the chain of `set`, which this test holds; nothing writes it meanwhile.
    let after = unsafe { chain_pas(mem, set.head_pa(), 5) }?;
    ensure(before.as_slice() == after.as_slice(), "chain unchanged")?;
    ensure_eq(set.nblocks() as u64, 5, "nblocks unchanged")?;
    ensure(
        c_rules_model(mem, set.head_pa(), 64)
            == Ok(Accepted {
                blocks: 5,
                entries: 5 * 63,
            }),
        "still accepted",
    )?;
    // An incoming set refuses to grow with -EINVAL.
    // SAFETY: an empty chain (address 0) reaches no page.
    let mut incoming = kr("restore 0", unsafe {
        BlockSet::<[u8; 64]>::restore(mem, 0)
    })?;
    ensure(
        matches!(incoming.grow(mem, 1), Err(e) if e.errno == errno::EINVAL),
        "grow on an incoming set must be -EINVAL",
    )?;
    ensure_eq(incoming.nblocks() as u64, 0, "incoming unchanged")
}

/// Body of `bulk_write_and_read` on a set the caller destroys: `write_slice` and
/// `read_slice` across block boundaries, checked against the raw block headers, the C
/// reader's rules and the per-entry reader.
fn bulk_on(mem: &mut KernelMem, set: &mut BlockSet<[u8; 64]>) -> Result {
    const CAP: usize = cap_4k(64);
    const N: usize = 3 * CAP + 5;
    kr("block grow", set.grow(mem, N))?;
    ensure_eq(set.capacity() as u64, (4 * CAP) as u64, "four blocks")?;
    // More entries than the set holds.
    let mut src = KVec::with_capacity(set.capacity() + 7, GFP_KERNEL)?;
    for s in 1..=(set.capacity() + 7) as u64 {
        src.push(<[u8; 64]>::from_seed(s), GFP_KERNEL)?;
    }
    // Two calls, the first ending inside a block; the second is cut at the capacity.
    let mut it = set.iter();
    ensure_eq(
        it.write_slice(mem, &src[..CAP + 10]) as u64,
        (CAP + 10) as u64,
        "first",
    )?;
    ensure_eq(
        it.write_slice(mem, &src[CAP + 10..]) as u64,
        (set.capacity() - CAP - 10) as u64,
        "second, cut at capacity",
    )?;
    ensure_eq(it.write_slice(mem, &src[..1]) as u64, 0, "full set")?;
    let cap = set.capacity();
    // SAFETY: the chain of `set`, which this test holds; nothing writes it meanwhile.
    let pas = unsafe { chain_pas(mem, set.head_pa(), set.nblocks()) }?;
    for (b, pa) in pas.iter().enumerate() {
        let (_, count) = header(mem, *pa)?;
        ensure_eq(count, CAP.min(cap - b * CAP) as u64, "block count")?;
    }
    ensure(
        c_rules_model(mem, set.head_pa(), 64)
            == Ok(Accepted {
                blocks: pas.len(),
                entries: cap,
            }),
        "C reader accepts the chain",
    )?;
    // Bulk reads in uneven pieces give the entries in order, then nothing.
    let mut out = KVec::with_capacity(cap, GFP_KERNEL)?;
    for _ in 0..cap {
        out.push([0u8; 64], GFP_KERNEL)?;
    }
    let mut it = set.iter();
    let first = it.read_slice(mem, &mut out[..7]);
    let rest = it.read_slice(mem, &mut out[7..]);
    ensure_eq((first + rest) as u64, cap as u64, "entries read")?;
    ensure(
        out.as_slice() == &src[..cap],
        "bulk read equals what was written",
    )?;
    ensure_eq(it.read_slice(mem, &mut out[..1]) as u64, 0, "end")?;
    // The per-entry reader agrees.
    let mut it = set.iter();
    for (k, want) in src[..cap].iter().enumerate() {
        ensure(it.read_entry(mem).as_ref() == Some(want), "per-entry read")?;
        if k == cap - 1 {
            ensure(it.read_entry(mem).is_none(), "per-entry end")?;
        }
    }
    Ok(())
}

/// Body of `typed_entries_round_trip` on a set the caller destroys.
fn typed_on(mem: &mut KernelMem, set: &mut BlockSet<FileRec>) -> Result {
    const N: u64 = 250;
    kr("block grow", set.grow(mem, N as usize))?;
    let mut it = set.iter();
    for i in 0..N {
        kr("block write", it.write(mem, &FileRec::nth(i)))?;
    }
    let mut it = set.iter();
    for i in 0..N {
        ensure(it.read_entry(mem) == Some(FileRec::nth(i)), "typed read")?;
    }
    ensure(it.read_entry(mem).is_none(), "typed end")?;
    // The raw layout is what C sees through the struct at 16 + i * 40.
    // SAFETY: the chain of `set`, which this test holds; nothing writes it meanwhile.
    let pas = unsafe { chain_pas(mem, set.head_pa(), 3) }?;
    ensure_eq(pas.len() as u64, 3, "typed blocks")?;
    for i in 0..N {
        let (b, k) = ((i / 102) as usize, (i % 102) as usize);
        let pa = pas.get(b).copied().ok_or(EINVAL)?;
        // SAFETY: a page this test allocated or claimed itself, still live.
        let bytes = unsafe { mem.bytes(pa) }.ok_or(EFAULT)?;
        let off = BLOCK_HEADER_SIZE + k * 40;
        let want = FileRec::nth(i);
        ensure_eq(u64::from_ne_bytes(take(bytes, off)), want.id, "id")?;
        ensure_eq(u64::from_ne_bytes(take(bytes, off + 8)), want.pa, "pa")?;
        ensure_eq(
            u64::from(u32::from_ne_bytes(take(bytes, off + 16))),
            u64::from(want.len),
            "len",
        )?;
        ensure_eq(
            u64::from(u32::from_ne_bytes(take(bytes, off + 20))),
            u64::from(want.csum),
            "csum",
        )?;
        ensure(take::<16>(bytes, off + 24) == want.tag, "tag")?;
    }
    // Undo the last 3 with prev, as LUO does on a failed serialization step.
    let mut it = set.iter();
    for _ in 0..N {
        it.read_entry(mem);
    }
    for i in (N - 3..N).rev() {
        let slot = it.prev(mem).ok_or(EINVAL)?;
        ensure(
            kr("slot read", slot.read(mem))? == FileRec::nth(i),
            "prev typed",
        )?;
    }
    ensure(
        c_rules_model(mem, set.head_pa(), 40)
            == Ok(Accepted {
                blocks: 3,
                entries: N as usize,
            }),
        "typed chain accepted",
    )
}
