// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `kho_rs_block_c`: the real C `kho_block.c` as the block-v1 oracle.
//!
//! [`CBlockSet`] is upstream's `kernel/liveupdate/kho_block.c` from the source tree of the
//! kernel the module was built against, compiled into the module (see
//! `Documentation/block-oracle.rst`). On real pages preserved in this boot the suite checks:
//!
//! * C writes (grow, `reserve_entry`), Rust restores and reads (`read_entry`, `prev`);
//! * Rust writes, C restores (`kho_block_set_restore()`) and reads with its iterators;
//! * both writers, driven by the same random grow/write/shrink/clear sequence, leave
//!   byte-identical blocks;
//! * damaged chains: a chain C rejects is rejected by Rust, and the other way round,
//!   except for the deliberate differences below; and which blocks each reader releases;
//! * `KHO_MAX_BLOCKS`: 10000 blocks accepted by both, 10001 rejected by both;
//!
//! for entry sizes 8, 32, 64 and 4080. Every expected value (entries, chain addresses, which
//! blocks each reader releases) comes from the test's own data: entry `k` of a case is the
//! pattern of a seed the test chose, and block addresses are read off the raw chain the test
//! built. After every case nothing is left preserved (checked in KHO's own memory map),
//! allocated (`KernelMem` page count, the oracle's page and handle counts) or claimed.
//!
//! Same-boot restore: KHO restores only pages the *previous* kernel preserved, and marks
//! them only in the next kernel, so [`KernelMem::claim`] cannot serve here. The Rust reader
//! restores through [`LoanMem`], whose `claim` accepts exactly the pages preserved now (KHO's
//! outgoing memory map) and not lent yet, and whose `free` gives them back to their writer;
//! the C reader runs under a [`Ledger`], which records C's `kho_restore_free()` calls instead
//! of running them. Across kexec, the selftest's `blockx` case (`crate::blockx`) exchanges
//! chains with the real claim and the real `kho_restore_free()`.
//!
//! # Deliberate differences between the C and the Rust reader
//!
//! The Rust reader checks each block before it reads it: it must be page aligned and a page
//! the previous kernel preserved that nobody claimed yet, and is claimed before a byte of it
//! is read; the C reader trusts the previous kernel more. Chains that only Rust rejects:
//!
//! * a block address that is not page aligned (head or `next`): C reads the header at the
//!   misaligned address and accepts if the words there look valid;
//! * a block that was not preserved: C does not check at restore time (in the next kernel
//!   its `kho_restore_free()` later WARNs on such a block); Rust cannot claim it (`-ENOENT`);
//! * a block address that is not RAM: C would fault in `phys_to_virt()`, so such chains are
//!   only given to Rust.
//!
//! Errno values differ where both reject: a loop is `-EINVAL` in C and `-ELOOP` in Rust;
//! more than `KHO_MAX_BLOCKS` blocks is `-ENOSPC` in C and `-EINVAL` in Rust; where C and Rust
//! both find a bad count in a chain that also loops, both say `-EINVAL` (C finds the loop
//! first, Rust the count).
//!
//! Released blocks differ on rejection. C releases (restores and frees) every block of the
//! chain, also those after the faulty one, except for a loop, where it releases nothing.
//! Rust frees exactly the blocks it claimed before it found the fault (the faulty block too
//! if it could claim it: a bad count), and leaves the blocks it never reached preserved and
//! unclaimed. Both readers release a chain they accepted block by block from the head.
//!
//! Writers: C's `read_entry` on an *outgoing* set steps into a grown block whose count is
//! still 0 and then never stops at its end (it compares the index with the count 0), reading
//! past the page; Rust's returns `None` there. A restored set never has such a block (both
//! readers reject count 0). The suite never lets C read such a set, and the oracle's wrapper
//! refuses the slot past the end of a block. Shrinking an incoming set, C writes 0 into
//! `next` of each intermediate tail, Rust only into the final tail's.

use kernel::prelude::*;

use super::{chain_pas, ensure, ensure_eq, kr};
use crate::glue::block_oracle::{self as oracle, CBlockSet, Ledger};
use crate::glue::kho::{core_err, OutMemoryMap};
use crate::glue::mem::{KernelMem, GEOMETRY};
use crate::pure::block::model::TestEntry;
use crate::pure::block::pat::Pat;
use crate::pure::block::{BlockEntry, BlockSet, BLOCK_HEADER_SIZE, KHO_MAX_BLOCKS};
use crate::pure::error::{errno, Error as CoreError, Result as CoreResult};
use crate::pure::geometry::Geometry;
use crate::pure::mem::{BlockList, PageMem};
use crate::pure::rng::XorShift;

/// Entries per block for entries of `size` bytes, as the C header computes it
/// (`(PAGE_SIZE - 16) / size`, 0 for size 0).
const fn cap_of(size: usize) -> usize {
    match (GEOMETRY.page_size - BLOCK_HEADER_SIZE).checked_div(size) {
        Some(cap) => cap,
        None => 0,
    }
}

/// The page-aligned address of the page holding `pa`.
const fn page_of(pa: u64) -> u64 {
    pa & !(GEOMETRY.page_size as u64 - 1)
}

/// The seed of entry `k` of case `case` (never 0).
const fn seed(case: u64, k: usize) -> u64 {
    (case << 32) | (k as u64 + 1)
}

/// [`PageMem`] for reading chains preserved in this boot: `claim` lends a page instead of
/// taking it from the previous kernel.
///
/// `claim(pa, 1)` succeeds exactly for an order-0 page that KHO's outgoing memory map holds
/// now and that is not lent already, with the errno of the real claim otherwise (`EINVAL`
/// for a misaligned address or more than one page, `ENOENT` for a page not preserved or
/// lent already; a page that is not RAM is also `ENOENT` here, `EFAULT` in the real claim).
/// `free` of a lent page gives it back to its writer, who still owns it, and logs it. Every
/// other call goes to [`KernelMem`].
///
/// # Ownership
///
/// [`KernelMem::claim`] cannot be used in the boot that preserved a page: KHO marks preserved
/// pages (`page->private`) only in the next kernel. A lent page belongs to a writer set of the
/// same case (a [`CBlockSet`] or a [`BlockSet`] the case holds). The case runs writer and
/// reader one after the other and the writer neither touches nor frees a block while it is
/// lent, so between `claim` and `free` the reader may use the page as PageMem's contract
/// says a claimed page may be used.
struct LoanMem {
    mem: KernelMem,
    map: OutMemoryMap,
    /// One bit per page frame: lent and not returned.
    lent: KVVec<u64>,
    /// Number of pages lent and not returned.
    nlent: usize,
    /// Pages given back by `free`, in order (`returned_lost` counts those not stored).
    returned: KVVec<u64>,
    /// Returns that could not be stored (allocation failure).
    returned_lost: usize,
}

impl LoanMem {
    /// A lending accessor.
    fn new() -> Result<Self> {
        Ok(Self {
            mem: KernelMem::new(),
            map: OutMemoryMap::get()?,
            lent: KVVec::new(),
            nlent: 0,
            returned: KVVec::new(),
            returned_lost: 0,
        })
    }

    /// Word index and bit of the page frame of `pa`.
    fn bit(pa: u64) -> (usize, u64) {
        let pfn = (pa >> GEOMETRY.page_shift) as usize;
        (pfn / 64, 1u64 << (pfn % 64))
    }

    /// Whether the page at `pa` is lent.
    fn is_lent(&self, pa: u64) -> bool {
        let (w, b) = Self::bit(pa);
        self.lent.get(w).is_some_and(|x| x & b != 0)
    }

    /// Takes the log of pages given back (and whether it is complete).
    fn take_returned(&mut self) -> (KVVec<u64>, bool) {
        let complete = self.returned_lost == 0;
        self.returned_lost = 0;
        (core::mem::take(&mut self.returned), complete)
    }
}

impl PageMem for LoanMem {
    /// No vmalloc area is restored through a loan: no page list can exist.
    type Pages = core::convert::Infallible;

    fn geometry(&self) -> &Geometry {
        self.mem.geometry()
    }

    fn alloc_zeroed(&mut self) -> CoreResult<u64> {
        self.mem.alloc_zeroed()
    }

    unsafe fn free(&mut self, pa: u64) {
        if !self.is_lent(pa) {
            // SAFETY: not lent, so the caller's page came from `alloc_zeroed` (this
            // function's contract), which is `KernelMem`'s.
            unsafe { self.mem.free(pa) };
            return;
        }
        // A lent page goes back to its writer, which frees it in its own time.
        let (w, b) = Self::bit(pa);
        if let Some(x) = self.lent.get_mut(w) {
            *x &= !b;
        }
        self.nlent -= 1;
        if self.returned.push(pa, GFP_KERNEL).is_err() {
            self.returned_lost += 1;
        }
    }

    unsafe fn page(&self, pa: u64) -> Option<&[u64]> {
        // SAFETY: the caller owns `pa` (allocated here, or lent; see the type's ownership
        // rules), which is what `KernelMem::page` requires.
        unsafe { self.mem.page(pa) }
    }

    unsafe fn page_mut(&mut self, pa: u64) -> Option<&mut [u64]> {
        // SAFETY: as in `page`, and the caller has exclusive access (its contract).
        unsafe { self.mem.page_mut(pa) }
    }

    unsafe fn bytes(&self, pa: u64) -> Option<&[u8]> {
        // SAFETY: as in `page`.
        unsafe { self.mem.bytes(pa) }
    }

    unsafe fn bytes_mut(&mut self, pa: u64) -> Option<&mut [u8]> {
        // SAFETY: as in `page_mut`.
        unsafe { self.mem.bytes_mut(pa) }
    }

    unsafe fn preserve(&mut self, pa: u64, nr_pages: u64) -> CoreResult {
        // SAFETY: forwarded with this function's own contract.
        unsafe { self.mem.preserve(pa, nr_pages) }
    }

    unsafe fn unpreserve(&mut self, pa: u64, nr_pages: u64) {
        // SAFETY: forwarded with this function's own contract.
        unsafe { self.mem.unpreserve(pa, nr_pages) }
    }

    unsafe fn claim(&mut self, pa: u64, nr_pages: u64) -> CoreResult {
        if nr_pages != 1 {
            return Err(CoreError::inval("loan: only single pages", nr_pages));
        }
        if pa == 0 || !GEOMETRY.is_page_aligned(pa) {
            return Err(CoreError::inval("loan: misaligned address", pa));
        }
        if !self.map.contains(pa, 0).unwrap_or(false) {
            return Err(CoreError::new(
                errno::ENOENT,
                "loan: page not preserved",
                pa,
            ));
        }
        if self.is_lent(pa) {
            return Err(CoreError::new(errno::ENOENT, "loan: page lent already", pa));
        }
        let (w, b) = Self::bit(pa);
        if self.lent.len() <= w && self.lent.resize(w + 1, 0, GFP_KERNEL).is_err() {
            return Err(CoreError::nomem("loan: bitmap"));
        }
        if let Some(x) = self.lent.get_mut(w) {
            *x |= b;
        }
        self.nlent += 1;
        Ok(())
    }

    unsafe fn claim_blocks_into(
        &mut self,
        _: BlockList,
        out: &mut Self::Pages,
    ) -> (usize, CoreResult) {
        match *out {}
    }
}

/// State of one test case: the memory accessor and every page the case put on a chain.
struct Case {
    lm: LoanMem,
    /// Page-aligned addresses of every block and test page used; none may stay preserved.
    touched: KVec<u64>,
}

impl Case {
    /// The blocks of the chain at `head` (at most `limit`, see [`chain_pas`]), recorded as
    /// pages of the case.
    ///
    /// # Safety
    ///
    /// Every block of the chain must be a block of a set the case created and holds until
    /// its end.
    unsafe fn chain(&mut self, head: u64, limit: usize) -> Result<KVVec<u64>> {
        // SAFETY: blocks of a set of the case (this function's contract).
        let pas = unsafe { chain_pas(&self.lm, head, limit) }?;
        for &pa in pas.iter() {
            self.touched.push(page_of(pa), GFP_KERNEL)?;
        }
        Ok(pas)
    }

    /// A zeroed test-owned page, preserved or not, for building damaged chains.
    fn test_page(&mut self, preserved: bool) -> Result<TestPage> {
        let pa = kr("test page", self.lm.alloc_zeroed())?;
        if preserved {
            // SAFETY: a page of this test's own loan, allocated by it; unpreserved when the loan is dropped.
            if let Err(e) = unsafe { self.lm.preserve(pa, 1) } {
                // SAFETY: allocated just above, not preserved, not referenced.
                unsafe { self.lm.free(pa) };
                return Err(core_err("test page preserve", e));
            }
        }
        if let Err(e) = self.touched.push(pa, GFP_KERNEL) {
            self.drop_page(TestPage { pa, preserved });
            return Err(e.into());
        }
        Ok(TestPage { pa, preserved })
    }

    /// Releases a page from [`Case::test_page`].
    fn drop_page(&mut self, p: TestPage) {
        if p.preserved {
            // SAFETY: preserved by `alloc` of this loan, exactly this page.
            unsafe { self.lm.unpreserve(p.pa, 1) };
        }
        // SAFETY: `TestPage`s come only from `test_page`, which allocated the page; it is
        // unpreserved above and the case no longer links it anywhere.
        unsafe { self.lm.free(p.pa) };
    }

    /// Writes word `w` of the page at `pa`; returns the old value.
    ///
    /// # Safety
    ///
    /// `pa` must be a page of the case that is still allocated: a block of a set the case
    /// holds, or a test page not dropped yet; nothing else accesses it while this runs.
    unsafe fn set_word(&mut self, pa: u64, w: usize, v: u64) -> Result<u64> {
        // SAFETY: a page of the case, still allocated, not accessed otherwise (contract).
        let word = unsafe { self.lm.page_mut(pa) }
            .and_then(|p| p.get_mut(w))
            .ok_or(EFAULT)?;
        Ok(core::mem::replace(word, v))
    }

    /// Writes the header `(next, count)` at byte `off` of the test page `pa`.
    ///
    /// # Safety
    ///
    /// As for [`Case::set_word`].
    unsafe fn set_header(&mut self, pa: u64, off: usize, next: u64, count: u64) -> Result {
        // SAFETY: `pa` as required by `set_word` (this function's contract).
        unsafe {
            self.set_word(pa, off / 8, next)?;
            self.set_word(pa, off / 8 + 1, count)?;
        }
        Ok(())
    }
}

/// A page the case allocated for damaged chains.
struct TestPage {
    pa: u64,
    preserved: bool,
}

/// Runs one case and then checks that it left nothing preserved, allocated or lent.
fn run_case(name: &str, body: impl FnOnce(&mut Case) -> Result) -> Result {
    oracle::available()?;
    let owned = KernelMem::owned_pages();
    let live = oracle::live();
    let mut case = Case {
        lm: LoanMem::new()?,
        touched: KVec::new(),
    };
    let res = body(&mut case);
    if let Err(e) = res {
        pr_err!("kho_rs_block_c: {}: failed ({:?})\n", name, e);
    }
    let mut clean = ensure_eq(case.lm.nlent as u64, 0, "pages left lent");
    for &pa in case.touched.iter() {
        if clean.is_ok() && case.lm.map.contains(pa, 0)? {
            pr_err!("kho_rs_block_c: {}: {:#x} left preserved\n", name, pa);
            clean = Err(EINVAL);
        }
    }
    let now = oracle::live();
    clean = clean
        .and(ensure_eq(
            KernelMem::owned_pages() as u64,
            owned as u64,
            "KernelMem pages after the case",
        ))
        .and(ensure_eq(now.0 as u64, live.0 as u64, "live C sets"))
        .and(ensure_eq(now.1 as u64, live.1 as u64, "live C pages"));
    res.and(clean)
}

/// Physical address of entry `k` of a chain of entries `E` whose blocks are `pas`.
fn slot_pa<E: TestEntry>(pas: &[u64], k: usize) -> u64 {
    let cap = cap_of(E::SIZE);
    pas.get(k / cap)
        .map_or(0, |b| b + (BLOCK_HEADER_SIZE + (k % cap) * E::SIZE) as u64)
}

/// Entry counts to exchange for entries per block `cap`: one entry, one full block, one
/// more, and around three blocks.
fn counts(cap: usize) -> [usize; 5] {
    [1, cap, cap + 1, 3 * cap - 1, 3 * cap]
}

// ---------------------------------------------------------------------------------------
// Writers and readers.

/// C writes entries `seed(case, 0..n)` into a new C set grown to exactly `n` entries.
fn c_write<E: TestEntry>(case: u64, n: usize) -> Result<CBlockSet> {
    let mut c = CBlockSet::new(E::SIZE)?;
    c.grow(n as u64)?;
    // As a C user does: the iterator starts at the first block once there is one.
    c.it_init();
    let mut buf = KVec::from_elem(0u8, E::SIZE, GFP_KERNEL)?;
    for k in 0..n {
        E::from_seed(seed(case, k)).encode(&mut buf);
        ensure(c.reserve_entry(Some(&buf)).is_some(), "C reserve_entry")?;
    }
    Ok(c)
}

/// Rust writes entries `seed(case, 0..n)` into `set` grown to exactly `n` entries.
fn rust_write<E: TestEntry>(
    mem: &mut impl PageMem,
    set: &mut BlockSet<E>,
    case: u64,
    n: usize,
) -> Result {
    kr("block grow", set.grow(mem, n))?;
    let mut it = set.iter();
    for k in 0..n {
        kr("block write", it.write(mem, &E::from_seed(seed(case, k))))?;
    }
    Ok(())
}

/// Rust restores the chain at `head` (blocks `pas`) and reads back `seed(case, 0..n)`
/// forwards with `read_entry` and the last `back` of them backwards with `prev` (and checks
/// the start if `back == n`), then destroys its incoming set, which must return exactly the
/// blocks of the chain.
///
/// Rust's `prev` walks from the head to find the previous block (the set keeps no list), so
/// stepping back over all blocks of a long chain is quadratic; the 10000-block case steps
/// back a few entries only.
fn rust_reads<E: TestEntry>(
    lm: &mut LoanMem,
    head: u64,
    pas: &[u64],
    (case, n, back): (u64, usize, usize),
) -> Result {
    // SAFETY: `head` heads a chain this test wrote in its own loaned pages.
    let mut set = kr("block restore", unsafe { BlockSet::<E>::restore(lm, head) })?;
    let res = rust_reads_on(lm, &set, pas, (case, n, back));
    set.destroy(lm);
    let (returned, complete) = lm.take_returned();
    res?;
    ensure(complete, "returned log complete")?;
    ensure(
        returned.as_slice() == pas,
        "Rust destroy returns every block once, in order",
    )?;
    ensure_eq(set.nblocks() as u64, 0, "destroyed")
}

/// Body of [`rust_reads`].
fn rust_reads_on<E: TestEntry>(
    lm: &LoanMem,
    set: &BlockSet<E>,
    pas: &[u64],
    (case, n, back): (u64, usize, usize),
) -> Result {
    ensure(set.is_incoming(), "incoming")?;
    ensure_eq(set.head_pa(), pas.first().copied().unwrap_or(0), "head_pa")?;
    ensure_eq(set.nblocks() as u64, pas.len() as u64, "nblocks")?;
    ensure_eq(lm.nlent as u64, pas.len() as u64, "every block restored")?;
    let mut it = set.iter();
    for k in 0..n {
        ensure(
            it.read_entry(lm) == Some(E::from_seed(seed(case, k))),
            "Rust read_entry",
        )?;
    }
    ensure(it.read_entry(lm).is_none(), "Rust read_entry ends")?;
    for k in (n.saturating_sub(back)..n).rev() {
        let slot = it.prev(lm).ok_or(EINVAL)?;
        let pa = slot.block_pa() + (BLOCK_HEADER_SIZE + slot.index() * E::SIZE) as u64;
        ensure_eq(pa, slot_pa::<E>(pas, k), "Rust prev slot")?;
        ensure(
            kr("slot read", slot.read(lm))? == E::from_seed(seed(case, k)),
            "Rust prev",
        )?;
    }
    ensure(back < n || it.prev(lm).is_none(), "Rust prev at the start")
}

/// C restores the chain at `head` (blocks `pas`) and reads back `seed(case, 0..n)` with its
/// iterators, as [`rust_reads`]; its incoming set must release exactly the blocks of the
/// chain, in order.
fn c_reads<E: TestEntry>(head: u64, pas: &[u64], (case, n, back): (u64, usize, usize)) -> Result {
    let ledger = Ledger::open(pas.len() + 8)?;
    // SAFETY: `head` heads a chain this test wrote in its own loaned pages.
    let res = match unsafe { ledger.restore(E::SIZE, head) } {
        Ok(mut c) => c_reads_on::<E>(&mut c, head, pas, (case, n, back)),
        Err(e) => {
            pr_err!("kho_rs_block_c: C restore failed: {}\n", e);
            Err(EINVAL)
        }
    };
    let recs = ledger.close()?;
    res?;
    ensure(
        recs.as_slice() == pas,
        "C destroy releases every block once, in order",
    )
}

/// Body of [`c_reads`].
fn c_reads_on<E: TestEntry>(
    c: &mut oracle::Incoming<'_>,
    head: u64,
    pas: &[u64],
    (case, n, back): (u64, usize, usize),
) -> Result {
    ensure(c.is_incoming(), "C incoming")?;
    ensure_eq(c.head_pa(), head, "C head_pa")?;
    ensure_eq(c.nblocks() as u64, pas.len() as u64, "C nblocks")?;
    ensure_eq(
        c.count_per_block(),
        cap_of(E::SIZE) as u64,
        "C count_per_block",
    )?;
    let mut buf = KVec::from_elem(0u8, E::SIZE, GFP_KERNEL)?;
    for k in 0..n {
        let pa = c.read_entry(Some(&mut buf)).ok_or(EINVAL)?;
        ensure_eq(pa, slot_pa::<E>(pas, k), "C read_entry slot")?;
        ensure(
            E::decode(&buf) == E::from_seed(seed(case, k)),
            "C read_entry",
        )?;
    }
    ensure(c.read_entry(None).is_none(), "C read_entry ends")?;
    for k in (n.saturating_sub(back)..n).rev() {
        let pa = c.prev(Some(&mut buf)).ok_or(EINVAL)?;
        ensure_eq(pa, slot_pa::<E>(pas, k), "C prev slot")?;
        ensure(E::decode(&buf) == E::from_seed(seed(case, k)), "C prev")?;
    }
    ensure(back < n || c.prev(None).is_none(), "C prev at the start")?;
    // Grow is refused on an incoming set (before C's WARN).
    ensure(c.grow(1).is_err(), "C grow on incoming refused")
}

/// A case the suite runs for each entry size it exchanges: 8, 32, 64 and 4080 bytes.
trait EachSize {
    /// The case for entries of `N` bytes, its entries numbered from `case` on.
    fn run<const N: usize>(cs: &mut Case, case: u64) -> Result;

    /// Runs the case for every size, numbering the sizes `base`, `base + 0x100`, ...
    fn each_size(cs: &mut Case, base: u64) -> Result {
        Self::run::<8>(cs, base)?;
        Self::run::<32>(cs, base + 0x100)?;
        Self::run::<64>(cs, base + 0x200)?;
        Self::run::<4080>(cs, base + 0x300)
    }
}

/// C writes the [`counts`] of entries, Rust reads them.
struct CToRust;

impl EachSize for CToRust {
    fn run<const N: usize>(cs: &mut Case, case: u64) -> Result {
        for (i, n) in counts(cap_of(N)).into_iter().enumerate() {
            let case = case + i as u64;
            let c = c_write::<Pat<N>>(case, n)?;
            let head = c.head_pa();
            // SAFETY: the chain of a set this case created and holds to its end.
            let pas = unsafe { cs.chain(head, n) }?;
            ensure_eq(pas.len() as u64, n.div_ceil(cap_of(N)) as u64, "C blocks")?;
            ensure_eq(c.nblocks() as u64, pas.len() as u64, "C nblocks")?;
            rust_reads::<Pat<N>>(&mut cs.lm, head, &pas, (case, n, n))?;
            drop(c);
        }
        Ok(())
    }
}

/// Rust writes the [`counts`] of entries, C reads them.
struct RustToC;

impl EachSize for RustToC {
    fn run<const N: usize>(cs: &mut Case, case: u64) -> Result {
        for (i, n) in counts(cap_of(N)).into_iter().enumerate() {
            let case = case + i as u64;
            let mut set = BlockSet::<Pat<N>>::new(GEOMETRY);
            let res = (|| -> Result {
                rust_write::<Pat<N>>(&mut cs.lm, &mut set, case, n)?;
                // SAFETY: the chain of a set this case created and holds to its end.
                let pas = unsafe { cs.chain(set.head_pa(), n) }?;
                let blocks = n.div_ceil(cap_of(N)) as u64;
                ensure_eq(pas.len() as u64, blocks, "Rust blocks")?;
                c_reads::<Pat<N>>(set.head_pa(), &pas, (case, n, n))
            })();
            set.destroy(&mut cs.lm);
            res?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Both writers on the same operations.

/// Compares the raw chains of the C and the Rust writer: same number of blocks, the last
/// one ending the chain, and every byte after `next` identical; and the first `seeds.len()`
/// entries are the test's.
fn same_chains<const N: usize>(
    mem: &LoanMem,
    c: &CBlockSet,
    r: &BlockSet<Pat<N>>,
    seeds: &[u64],
    max_blocks: usize,
) -> Result {
    ensure_eq(c.nblocks() as u64, r.nblocks() as u64, "nblocks")?;
    // SAFETY: the chain of `c`, which the caller holds; nothing writes it meanwhile.
    let cp = unsafe { chain_pas(mem, c.head_pa(), max_blocks) }?;
    // SAFETY: the chain of `r`, likewise.
    let rp = unsafe { chain_pas(mem, r.head_pa(), max_blocks) }?;
    ensure_eq(cp.len() as u64, rp.len() as u64, "blocks on the chains")?;
    ensure_eq(cp.len() as u64, r.nblocks() as u64, "blocks on the chain")?;
    for (&ca, &ra) in cp.iter().zip(rp.iter()) {
        // SAFETY: blocks of `c` and of `r` (read off their chains above).
        let (cb, rb) = unsafe { (mem.bytes(ca), mem.bytes(ra)) };
        let (cb, rb) = (cb.ok_or(EFAULT)?, rb.ok_or(EFAULT)?);
        ensure(cb.get(8..) == rb.get(8..), "block bytes after next")?;
    }
    let mut want = KVec::from_elem(0u8, N, GFP_KERNEL)?;
    for (k, &s) in seeds.iter().enumerate() {
        let pa = slot_pa::<Pat<N>>(&cp, k);
        let page = page_of(pa);
        let off = (pa - page) as usize;
        // SAFETY: `page` is a block of `c` (`slot_pa` of its chain).
        let got = unsafe { mem.bytes(page) }
            .and_then(|b| b.get(off..off + N))
            .ok_or(EFAULT)?;
        Pat::<N>::of(s).encode(&mut want);
        ensure(got == &want[..], "entry bytes")?;
    }
    Ok(())
}

/// `ops` random operations (grow, write, shrink, clear) on a C and a Rust set of `N`-byte
/// entries, comparing their blocks after each.
fn writers_agree_on<const N: usize>(
    mem: &mut LoanMem,
    c: &mut CBlockSet,
    r: &mut BlockSet<Pat<N>>,
    rng_seed: u64,
    ops: usize,
    max_blocks: usize,
) -> Result {
    let cap = cap_of(N);
    let mut rng = XorShift::new(rng_seed);
    // Seeds of the entries before the writer position.
    let mut seeds: KVec<u64> = KVec::new();
    let mut next = 1u64;
    let mut buf = KVec::from_elem(0u8, N, GFP_KERNEL)?;
    for _ in 0..ops {
        let len = seeds.len();
        match rng.below(10) {
            0..=2 => {
                let target = (len + rng.below(2 * cap + 1)).min(max_blocks * cap) as u64;
                c.grow(target)?;
                kr("block grow", r.grow(mem, target as usize))?;
            }
            3..=6 => {
                let k = 1 + rng.below(cap + cap / 2 + 1);
                // Both iterators to the writer position, then k writes.
                c.it_init();
                let mut it = r.iter();
                for _ in 0..len {
                    ensure(c.read_entry(None).is_some(), "C seek")?;
                    ensure(it.read_entry(mem).is_some(), "Rust seek")?;
                }
                for _ in 0..k {
                    let s = (rng_seed << 32) | next;
                    Pat::<N>::of(s).encode(&mut buf);
                    let cs = c.reserve_entry(Some(&buf));
                    let rs = it.write(mem, &Pat::of(s));
                    match (cs, rs) {
                        (Some(_), Ok(())) => {
                            seeds.push(s, GFP_KERNEL)?;
                            next += 1;
                        }
                        (None, Err(e)) if e.errno == errno::ENOSPC => break,
                        _ => return ensure(false, "C and Rust reserve agree"),
                    }
                }
            }
            7..=8 => {
                let count = rng.below(r.capacity() + 1);
                c.shrink(count as u64);
                r.shrink(mem, count);
                seeds.truncate(count);
            }
            _ => {
                c.clear();
                r.clear(mem);
                seeds.clear();
            }
        }
        same_chains::<N>(mem, c, r, &seeds, max_blocks)?;
    }
    Ok(())
}

/// [`writers_agree_on`] with fresh sets, destroyed afterwards.
fn writers_agree<const N: usize>(
    cs: &mut Case,
    rng_seed: u64,
    ops: usize,
    max_blocks: usize,
) -> Result {
    let mut c = CBlockSet::new(N)?;
    let mut r = BlockSet::<Pat<N>>::new(GEOMETRY);
    ensure_eq(
        c.count_per_block(),
        r.count_per_block() as u64,
        "count_per_block",
    )?;
    let res = writers_agree_on::<N>(&mut cs.lm, &mut c, &mut r, rng_seed, ops, max_blocks);
    // Record the final blocks, then release both sets.
    // SAFETY: the chain of `c`, which this case created and still holds.
    let cp = unsafe { cs.chain(c.head_pa(), max_blocks) };
    // SAFETY: the chain of `r`, likewise.
    let rp = unsafe { cs.chain(r.head_pa(), max_blocks) };
    r.destroy(&mut cs.lm);
    drop(c);
    res?;
    cp?;
    rp?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Damaged chains.

/// A reader's verdict on a chain: `Ok(blocks)` or `Err(positive errno)`.
type Verdict = core::result::Result<usize, i32>;

/// Rust's verdict for entries of `size` bytes (8, 32, 64 or 4080) and the blocks it gave
/// back, in order: an accepted set is destroyed at once; a rejected chain gives back every
/// block the reader claimed before it found the fault. Either way nothing may stay lent.
fn rust_verdict(lm: &mut LoanMem, size: usize, head: u64) -> Result<(Verdict, KVVec<u64>)> {
    let v = match size {
        8 => restore_verdict::<8>(lm, head),
        32 => restore_verdict::<32>(lm, head),
        64 => restore_verdict::<64>(lm, head),
        4080 => restore_verdict::<4080>(lm, head),
        _ => {
            pr_err!("kho_rs_block_c: no Rust reader for entry size {}\n", size);
            return Err(EINVAL);
        }
    };
    let (returned, complete) = lm.take_returned();
    ensure(complete, "returned log complete")?;
    ensure_eq(lm.nlent as u64, 0, "Rust leaves nothing claimed")?;
    Ok((v, returned))
}

/// Body of [`rust_verdict`] for entries of `N` bytes.
fn restore_verdict<const N: usize>(lm: &mut LoanMem, head: u64) -> Verdict {
    // SAFETY: `head` heads a chain this test wrote in its own loaned pages.
    match unsafe { BlockSet::<Pat<N>>::restore(lm, head) } {
        Ok(mut set) => {
            let n = set.nblocks();
            set.destroy(lm);
            Ok(n)
        }
        Err(e) => Err(e.errno),
    }
}

/// C's verdict for entries of `entry_size` bytes and the blocks it released (an accepted
/// set is destroyed at once, releasing its blocks).
fn c_verdict(entry_size: usize, head: u64, max: usize) -> Result<(Verdict, KVVec<u64>)> {
    let ledger = Ledger::open(max + 8)?;
    // SAFETY: `head` heads a chain this test wrote in its own loaned pages, whose links (damaged or not) stay inside the loan.
    let v = match unsafe { ledger.restore(entry_size, head) } {
        Ok(c) => Ok(c.nblocks()),
        Err(e) => Err(-e),
    };
    Ok((v, ledger.close()?))
}

/// What both readers must make of a chain, as the test expects it from its own chain: their
/// verdicts, the blocks C releases and the blocks Rust gives back, in order.
#[derive(Clone, Copy)]
struct Expect<'a> {
    c: Verdict,
    rust: Verdict,
    /// Blocks C releases (restores and frees).
    c_released: &'a [u64],
    /// Blocks Rust claims and gives back.
    rust_gave_back: &'a [u64],
}

impl<'a> Expect<'a> {
    /// Both accept the chain `blocks` and release every block of it.
    const fn accepted(blocks: &'a [u64]) -> Self {
        Self {
            c: Ok(blocks.len()),
            rust: Ok(blocks.len()),
            c_released: blocks,
            rust_gave_back: blocks,
        }
    }

    /// Both reject with `-EINVAL`: C releases every block of the chain `blocks`, Rust gives
    /// back those it `claimed` before it found the fault.
    const fn invalid(blocks: &'a [u64], claimed: &'a [u64]) -> Self {
        Self {
            c: Err(errno::EINVAL),
            rust: Err(errno::EINVAL),
            c_released: blocks,
            rust_gave_back: claimed,
        }
    }

    /// A loop: C's Floyd check rejects (`-EINVAL`) before taking any block; Rust claims each
    /// block once, fails (`-ELOOP`) on the first it reaches again and gives back those it
    /// `claimed`.
    const fn looped(claimed: &'a [u64]) -> Self {
        Self {
            c: Err(errno::EINVAL),
            rust: Err(errno::ELOOP),
            c_released: &[],
            rust_gave_back: claimed,
        }
    }
}

/// Both readers on the chain at `head` with entries of `size` bytes: checks each verdict, the
/// blocks C released and the blocks Rust claimed and gave back against `want`.
fn both(lm: &mut LoanMem, what: &str, size: usize, head: u64, want: Expect<'_>) -> Result {
    let (c, recs) = c_verdict(size, head, KHO_MAX_BLOCKS + 1)?;
    let (r, back) = rust_verdict(lm, size, head)?;
    let rel_ok = recs.as_slice() == want.c_released;
    let back_ok = back.as_slice() == want.rust_gave_back;
    if c != want.c || r != want.rust || !rel_ok || !back_ok {
        pr_err!(
            "kho_rs_block_c: {} (entry size {}): C {:?} want {:?}, Rust {:?} want {:?}, C released {} blocks as expected: {}, Rust gave back {} blocks as expected: {}\n",
            what, size, c, want.c, r, want.rust, recs.len(), rel_ok, back.len(), back_ok
        );
        return Err(EINVAL);
    }
    Ok(())
}

/// Only the Rust reader, for chains C cannot be given (it would fault).
fn rust_only(
    lm: &mut LoanMem,
    what: &str,
    size: usize,
    head: u64,
    want: Verdict,
    rust_gave_back: &[u64],
) -> Result {
    let (r, back) = rust_verdict(lm, size, head)?;
    if r != want || back.as_slice() != rust_gave_back {
        pr_err!(
            "kho_rs_block_c: {}: Rust {:?} want {:?}, gave back {} blocks, want {}\n",
            what,
            r,
            want,
            back.len(),
            rust_gave_back.len()
        );
        return Err(EINVAL);
    }
    Ok(())
}

/// Applies `(page, word, value)` writes, runs `f`, then puts the old words back (in reverse).
///
/// # Safety
///
/// Every page of `writes` must meet [`Case::set_word`]'s contract for the whole call; `f`
/// must not free them (readers only borrow them through [`LoanMem`]).
unsafe fn with_words(
    cs: &mut Case,
    writes: &[(u64, usize, u64)],
    f: impl FnOnce(&mut Case) -> Result,
) -> Result {
    let mut old: KVec<(u64, usize, u64)> = KVec::new();
    let mut res = Ok(());
    for &(pa, w, v) in writes {
        // SAFETY: a page of the case, still allocated (this function's contract).
        match unsafe { cs.set_word(pa, w, v) } {
            Ok(o) => old.push((pa, w, o), GFP_KERNEL)?,
            Err(e) => {
                res = Err(e);
                break;
            }
        }
    }
    if res.is_ok() {
        res = f(cs);
    }
    for &(pa, w, o) in old.iter().rev() {
        // SAFETY: as above; `f` did not free the page.
        unsafe { cs.set_word(pa, w, o) }?;
    }
    res
}

/// The damaged-chain table on a three-block chain of full 8-byte blocks written by Rust.
fn damaged_on(cs: &mut Case, set: &mut BlockSet<Pat<8>>) -> Result {
    let cap = cap_of(8) as u64;
    rust_write::<Pat<8>>(&mut cs.lm, set, 0xd0, 3 * cap as usize)?;
    // SAFETY: the chain of a set this case created and holds to its end.
    let pas = unsafe { cs.chain(set.head_pa(), 3) }?;
    let &[b0, b1, b2] = pas.as_slice() else {
        return ensure(false, "three blocks");
    };
    // What Rust gives back: every block of an accepted chain; of a rejected one, the blocks
    // it claimed before it found the fault (the faulty block included if it could claim it).
    let upto = |i: usize| &pas[..i];
    let accepted = Expect::accepted(&pas);
    // The count of the first block is too large for the reader: only that block is claimed.
    let too_full = Expect::invalid(&pas, upto(1));
    // No entry size on the wire: the reader's decides. 510 > 63 (64-byte entries) and > 1.
    for (what, size, head, want) in [
        ("intact chain", 8, b0, accepted),
        ("empty chain (head 0)", 8, 0, Expect::accepted(&[])),
        ("8-byte chain, 64-byte reader", 64, b0, too_full),
        ("8-byte chain, 4080-byte reader", 4080, b0, too_full),
    ] {
        both(&mut cs.lm, what, size, head, want)?;
    }
    // Counts that fit 64-byte entries (and so 32- and 8-byte ones), not 4080-byte ones.
    let c64 = cap_of(64) as u64;
    // SAFETY: blocks of sets and test pages of this case, held across the call;
    // the readers in the closure only borrow them.
    unsafe {
        with_words(cs, &[(b0, 1, c64), (b1, 1, c64), (b2, 1, 1)], |cs| {
            for (size, want) in [
                (64, accepted),
                (8, accepted),
                (32, accepted),
                (4080, too_full),
            ] {
                both(&mut cs.lm, "64-byte counts", size, b0, want)?;
            }
            Ok(())
        })
    }?;
    // Counts 0 and over capacity, at each position.
    for (i, &b) in pas.iter().enumerate() {
        for (count, what) in [
            (0u64, "count 0"),
            (cap + 1, "count cap + 1"),
            (u64::MAX, "count u64::MAX"),
        ] {
            // SAFETY: blocks of sets and test pages of this case, held across the call;
            // the readers in the closure only borrow them.
            unsafe {
                with_words(cs, &[(b, 1, count)], |cs| {
                    pr_info!("kho_rs_block_c: damaged: {} at block {}\n", what, i);
                    both(&mut cs.lm, what, 8, b0, Expect::invalid(&pas, upto(i + 1)))
                })
            }?;
        }
    }
    // Loops: (the link that loops, where to, what, blocks Rust claims first).
    for (at, to, what, claimed) in [
        (b2, b0, "loop tail -> head", 3),
        (b2, b1, "loop tail -> middle", 3),
        (b2, b2, "self loop at the tail", 3),
        (b0, b0, "self loop at the head", 1),
        (b1, b0, "loop middle -> head", 2),
    ] {
        // SAFETY: blocks of sets and test pages of this case, held across the call;
        // the readers in the closure only borrow them.
        unsafe {
            with_words(cs, &[(at, 0, to)], |cs| {
                both(&mut cs.lm, what, 8, b0, Expect::looped(upto(claimed)))
            })
        }?;
    }
    // A loop and a bad count: C checks the loop first; Rust meets the count first.
    let want = Expect {
        rust: Err(errno::EINVAL),
        ..Expect::looped(upto(2))
    };
    // SAFETY: blocks of sets and test pages of this case, held across the call;
    // the readers in the closure only borrow them.
    unsafe {
        with_words(cs, &[(b2, 0, b0), (b1, 1, 0)], |cs| {
            both(&mut cs.lm, "loop and count 0", 8, b0, want)
        })
    }?;
    incoming_shrink_on(cs, &pas, 0xd0)?;
    // A chain starting in the middle is a shorter valid chain.
    let tail = [b1, b2];
    let want = Expect::accepted(&tail);
    both(&mut cs.lm, "head at the second block", 8, b1, want)
}

/// Shrinking an incoming set to one block (the LIFO undo of a reader), on the three full
/// 8-byte blocks `pas`: C releases the tail blocks last first and the head on destroy; Rust
/// gives back the same blocks. Both end the chain at the new tail by writing 0 into its
/// `next` (in the previous kernel's page; C also at each intermediate tail), which the test
/// puts back after each. Both then
/// read exactly the first block's entries.
fn incoming_shrink_on(cs: &mut Case, pas: &[u64], case: u64) -> Result {
    let &[b0, b1, b2] = pas else {
        return ensure(false, "three blocks");
    };
    let c_res = c_incoming_shrink(b0, case);
    // C shrinks one block at a time, ending the chain at b1 and then at b0.
    // SAFETY: a block of the chain this case holds.
    let c_next1 = unsafe { cs.set_word(b1, 0, b2) }?;
    // SAFETY: a block of the chain this case holds.
    let c_next0 = unsafe { cs.set_word(b0, 0, b1) }?;
    let recs = c_res?;
    ensure_eq(c_next0, 0, "C shrink ends the chain at the new tail")?;
    ensure_eq(c_next1, 0, "C shrink ends the chain at each new tail")?;
    ensure(
        recs.as_slice() == [b2, b1, b0],
        "C releases tail first, then the head",
    )?;
    rust_incoming_shrink(cs, b0, b1, b2, case)
}

/// C part of [`incoming_shrink_on`]: returns the blocks C released.
fn c_incoming_shrink(b0: u64, case: u64) -> Result<KVVec<u64>> {
    let cap = cap_of(8);
    let ledger = Ledger::open(8)?;
    // SAFETY: `b0` heads a chain this test wrote in its own loaned pages, whose links (damaged or not) stay inside the loan.
    let res = match unsafe { ledger.restore(8, b0) } {
        Ok(mut c) => (|| -> Result {
            c.shrink(cap as u64);
            ensure_eq(c.nblocks() as u64, 1, "C incoming shrink")?;
            c.it_init();
            let mut buf = [0u8; 8];
            for k in 0..cap {
                ensure(
                    c.read_entry(Some(&mut buf)).is_some(),
                    "C read after shrink",
                )?;
                ensure(Pat::<8>::decode(&buf) == Pat::of(seed(case, k)), "C entry")?;
            }
            ensure(
                c.read_entry(None).is_none(),
                "C read ends at the first block",
            )
        })(),
        Err(e) => {
            pr_err!("kho_rs_block_c: C restore: {}\n", e);
            Err(EINVAL)
        }
    };
    let recs = ledger.close()?;
    res.map(|()| recs)
}

/// Rust part of [`incoming_shrink_on`].
fn rust_incoming_shrink(cs: &mut Case, b0: u64, b1: u64, b2: u64, case: u64) -> Result {
    let cap = cap_of(8);
    let lm = &mut cs.lm;
    // SAFETY: `b0` heads a chain this test wrote in its own loaned pages.
    let mut set = kr("block restore", unsafe {
        BlockSet::<Pat<8>>::restore(lm, b0)
    })?;
    set.shrink(lm, cap);
    let (shrunk, c1) = lm.take_returned();
    let mut it = set.iter();
    let mut res = Ok(());
    for k in 0..cap {
        if res.is_ok() {
            res = ensure(
                it.read_entry(lm) == Some(Pat::of(seed(case, k))),
                "Rust entry",
            );
        }
    }
    let end = it.read_entry(lm).is_none();
    set.destroy(lm);
    let (last, c2) = lm.take_returned();
    // SAFETY: a block of the chain this case holds.
    let r_next = unsafe { cs.set_word(b0, 0, b1) }?;
    // SAFETY: a block of the chain this case holds.
    unsafe { cs.set_word(b1, 0, b2) }?;
    res?;
    ensure_eq(r_next, 0, "Rust shrink ends the chain at the new tail")?;
    ensure(end, "Rust read ends at the first block")?;
    ensure(c1 && c2, "returned log complete")?;
    // (in whatever order it releases them)
    ensure(
        shrunk.len() == 2 && shrunk.contains(&b1) && shrunk.contains(&b2),
        "Rust shrink gives back the tail",
    )?;
    ensure(last.as_slice() == [b0], "Rust destroy gives back the head")
}

/// A C writer that grew more than it wrote publishes a block with count 0: both reject.
fn c_unused_tail(cs: &mut Case) -> Result {
    let cap = cap_of(32);
    let mut c = c_write::<Pat<32>>(0xd1, cap + 5)?;
    c.grow((3 * cap) as u64)?;
    // SAFETY: the chain of a set this case created and holds to its end.
    let pas = unsafe { cs.chain(c.head_pa(), 3) }?;
    ensure_eq(pas.len() as u64, 3, "grown blocks")?;
    let head = c.head_pa();
    // Rust claims the unused tail too before it finds its count 0.
    let want = Expect::invalid(&pas, &pas);
    both(&mut cs.lm, "C chain with an unused tail", 32, head, want)?;
    c.shrink((cap + 5) as u64);
    // SAFETY: the chain of `c`, which this case holds; it shrank in place.
    let pas2 = unsafe { chain_pas(&cs.lm, head, 3) }?;
    ensure_eq(pas2.len() as u64, 2, "shrunk blocks")?;
    let want = Expect::accepted(&pas2);
    both(&mut cs.lm, "C chain after shrink", 32, head, want)?;
    rust_reads::<Pat<32>>(&mut cs.lm, head, &pas2, (0xd1, cap + 5, cap + 5))
}

/// The chains only Rust rejects (see the module documentation), on a two-block chain of
/// 64-byte entries written by C and test pages `pre` (preserved) and `bare` (not).
fn differences_on(cs: &mut Case, pre: u64, bare: u64) -> Result {
    let n = cap_of(64) + 7;
    let c = c_write::<Pat<64>>(0xd2, n)?;
    // SAFETY: the chain of a set this case created and holds to its end.
    let pas = unsafe { cs.chain(c.head_pa(), 2) }?;
    let &[b0, b1] = pas.as_slice() else {
        return ensure(false, "two blocks");
    };
    const OFF: usize = 0x100;
    let mis = pre + OFF as u64;
    // SAFETY: a test page of this case, not dropped yet.
    unsafe { cs.set_header(pre, OFF, 0, 1) }?;
    // SAFETY: a test page of this case, not dropped yet.
    unsafe { cs.set_header(pre, 0, 0, 1) }?;
    // SAFETY: a test page of this case, not dropped yet.
    unsafe { cs.set_header(bare, 0, 0, 1) }?;
    let plus = |x: u64| -> Result<KVVec<u64>> {
        let mut v = KVVec::new();
        v.push(b0, GFP_KERNEL)?;
        v.push(b1, GFP_KERNEL)?;
        v.push(x, GFP_KERNEL)?;
        Ok(v)
    };
    let inval: Verdict = Err(errno::EINVAL);
    // The claim's errno for a page that is not preserved (and, with `LoanMem`, not RAM).
    let noent: Verdict = Err(errno::ENOENT);
    // A third block after b0, b1: (case, its address, C's verdict, Rust's verdict, whether
    // Rust takes it too). The preserved test page is fine for both (the sanity case); a
    // misaligned next (inside a preserved page, valid header there) and a block that is
    // not preserved are accepted by C only, and Rust gives back b0, b1.
    let nexts = [
        ("preserved third block", pre, Ok(3), Ok(3), true),
        ("misaligned next", mis, Ok(3), inval, false),
        ("unpreserved next", bare, Ok(3), noent, false),
    ];
    for (what, x, want_c, want_rust, rust_takes_it) in nexts {
        let with_x = plus(x)?;
        let back = if rust_takes_it { &with_x[..] } else { &pas[..] };
        let want = Expect {
            c: want_c,
            rust: want_rust,
            c_released: &with_x,
            rust_gave_back: back,
        };
        // SAFETY: blocks of sets and test pages of this case, held across the call;
        // the readers in the closure only borrow them.
        unsafe { with_words(cs, &[(b1, 0, x)], |cs| both(&mut cs.lm, what, 64, b0, want)) }?;
    }
    // The same addresses as the head: C takes the one block, Rust refuses it.
    for (what, x, want_rust) in [
        ("misaligned head", mis, inval),
        ("unpreserved head", bare, noent),
    ] {
        let only = [x];
        let want = Expect {
            c: Ok(1),
            rust: want_rust,
            c_released: &only,
            rust_gave_back: &[],
        };
        both(&mut cs.lm, what, 64, x, want)?;
    }
    // Not RAM: Rust only (C would fault).
    let far = 1u64 << 50;
    // SAFETY: blocks of sets and test pages of this case, held across the call;
    // the readers in the closure only borrow them.
    unsafe {
        with_words(cs, &[(b1, 0, far)], |cs| {
            rust_only(&mut cs.lm, "next not RAM", 64, b0, noent, &pas)
        })
    }?;
    rust_only(&mut cs.lm, "head not RAM", 64, far, noent, &[])?;
    // Unchanged chain: both accept and read it.
    both(&mut cs.lm, "chain put back", 64, b0, Expect::accepted(&pas))?;
    rust_reads::<Pat<64>>(&mut cs.lm, b0, &pas, (0xd2, n, n))?;
    c_reads::<Pat<64>>(b0, &pas, (0xd2, n, n))?;
    drop(c);
    Ok(())
}

/// `KHO_MAX_BLOCKS` blocks of 4080-byte entries: accepted and read by both; one more
/// (a preserved test page hung off the tail) is rejected by both.
fn max_blocks_on(cs: &mut Case, set: &mut BlockSet<Pat<4080>>, extra: u64) -> Result {
    rust_write::<Pat<4080>>(&mut cs.lm, set, 0xe0, KHO_MAX_BLOCKS)?;
    // SAFETY: the chain of a set this case created and holds to its end.
    let pas = unsafe { cs.chain(set.head_pa(), KHO_MAX_BLOCKS) }?;
    ensure_eq(pas.len() as u64, KHO_MAX_BLOCKS as u64, "blocks")?;
    let head = set.head_pa();
    // Forwards through all blocks, back over the last three (see `rust_reads`).
    let reads = (0xe0, KHO_MAX_BLOCKS, 3);
    c_reads::<Pat<4080>>(head, &pas, reads)?;
    rust_reads::<Pat<4080>>(&mut cs.lm, head, &pas, reads)?;
    let tail = pas.last().copied().ok_or(EINVAL)?;
    // SAFETY: a test page of this case, not dropped yet.
    unsafe { cs.set_header(extra, 0, 0, 1) }?;
    let mut longer = KVVec::with_capacity(KHO_MAX_BLOCKS + 1, GFP_KERNEL)?;
    longer.extend_from_slice(&pas, GFP_KERNEL)?;
    longer.push(extra, GFP_KERNEL)?;
    let want = Expect {
        c: Err(errno::ENOSPC),
        rust: Err(errno::EINVAL),
        c_released: &longer,
        rust_gave_back: &pas,
    };
    // SAFETY: blocks of sets and test pages of this case, held across the call;
    // the readers in the closure only borrow them.
    unsafe {
        with_words(cs, &[(tail, 0, extra)], |cs| {
            both(&mut cs.lm, "KHO_MAX_BLOCKS + 1 blocks", 4080, head, want)
        })
    }
}

/// Every entry size the C oracle and the test agree on, and the sizes C would WARN about.
fn sizes_on() -> Result {
    for size in 1..=4080usize {
        let c = CBlockSet::new(size)?;
        ensure_eq(
            c.count_per_block(),
            cap_of(size) as u64,
            "C count_per_block",
        )?;
        ensure_eq(c.entry_size() as u64, size as u64, "entry size")?;
        ensure(
            !c.is_incoming() && c.head_pa() == 0 && c.nblocks() == 0,
            "fresh C set",
        )?;
    }
    for size in [0usize, 4081, 4096, usize::MAX] {
        ensure(CBlockSet::new(size).is_err(), "bad entry size refused")?;
    }
    for (rust, size) in [
        (BlockSet::<Pat<8>>::new(GEOMETRY).count_per_block(), 8),
        (BlockSet::<Pat<32>>::new(GEOMETRY).count_per_block(), 32),
        (BlockSet::<Pat<64>>::new(GEOMETRY).count_per_block(), 64),
        (BlockSet::<Pat<4080>>::new(GEOMETRY).count_per_block(), 4080),
    ] {
        ensure_eq(rust as u64, cap_of(size) as u64, "Rust count_per_block")?;
    }
    Ok(())
}

/// Empty sets: iterators of both return nothing; grow(0), shrink, clear and destroy of an
/// empty C set do nothing; restoring head 0 gives an empty incoming set in both.
fn empty_on(cs: &mut Case) -> Result {
    let mut c = CBlockSet::new(32)?;
    ensure(c.reserve_entry(None).is_none(), "C reserve on empty")?;
    ensure(c.read_entry(None).is_none(), "C read on empty")?;
    ensure(c.prev(None).is_none(), "C prev on empty")?;
    c.grow(0)?;
    c.shrink(0);
    c.clear();
    c.destroy();
    ensure(c.head_pa() == 0 && c.nblocks() == 0, "C set still empty")?;
    // One block, written then shrunk away: the head goes back to 0.
    c.grow(1)?;
    ensure(
        c.reserve_entry(None).is_none(),
        "C iterator not moved by grow",
    )?;
    c.it_init();
    ensure(c.reserve_entry(Some(&[0x5a; 32])).is_some(), "C reserve")?;
    ensure(c.head_pa() != 0 && c.nblocks() == 1, "C one block")?;
    // Record the block for the end-of-case checks.
    // SAFETY: the chain of `c`, which this case created and holds.
    unsafe { cs.chain(c.head_pa(), 1) }?;
    c.shrink(0);
    ensure(c.head_pa() == 0 && c.nblocks() == 0, "C shrink(0) empties")?;
    drop(c);
    let ledger = Ledger::open(1)?;
    // SAFETY: an empty chain (address 0) reaches no page.
    let res = match unsafe { ledger.restore(32, 0) } {
        Ok(mut inc) => (|| -> Result {
            ensure(
                inc.is_incoming() && inc.head_pa() == 0 && inc.nblocks() == 0,
                "C empty incoming",
            )?;
            ensure(
                inc.read_entry(None).is_none() && inc.prev(None).is_none(),
                "C empty reads",
            )?;
            ensure(inc.grow(1).is_err(), "C grow on incoming refused")
        })(),
        Err(e) => {
            pr_err!("kho_rs_block_c: C restore(0): {}\n", e);
            Err(EINVAL)
        }
    };
    let recs = ledger.close()?;
    res?;
    ensure(recs.is_empty(), "nothing released")?;
    // SAFETY: an empty chain (address 0) reaches no page.
    let mut r = kr("restore 0", unsafe {
        BlockSet::<Pat<32>>::restore(&mut cs.lm, 0)
    })?;
    ensure(r.is_incoming() && r.is_empty(), "Rust empty incoming")?;
    ensure(r.iter().read_entry(&cs.lm).is_none(), "Rust empty read")?;
    ensure(
        r.grow(&mut cs.lm, 1).is_err(),
        "Rust grow on incoming refused",
    )?;
    r.destroy(&mut cs.lm);
    Ok(())
}

#[kunit_tests(kho_rs_block_c)]
mod tests {
    use super::*;

    /// The oracle is upstream's file (fails naming it if it was missing at build time);
    /// entries per block for every entry size; bad sizes refused without a WARN.
    #[test]
    fn oracle_is_upstream_kho_block() -> Result {
        oracle::available()?;
        pr_info!(
            "kho_rs_block_c: oracle compiled from {}\n",
            oracle::source().to_str().unwrap_or("?")
        );
        run_case("sizes", |_| sizes_on())
    }

    /// C writes 1, cap, cap + 1, 3 cap - 1 and 3 cap entries; Rust restores and reads them.
    #[test]
    fn c_writes_rust_reads() -> Result {
        run_case("c_writes_rust_reads", |cs| CToRust::each_size(cs, 0x100))
    }

    /// Rust writes the same counts; C restores them and reads with its iterators.
    #[test]
    fn rust_writes_c_reads() -> Result {
        run_case("rust_writes_c_reads", |cs| RustToC::each_size(cs, 0x500))
    }

    /// The same random grow/write/shrink/clear sequence gives byte-identical blocks.
    #[test]
    fn writers_agree_byte_for_byte() -> Result {
        run_case("writers_agree", |cs| {
            writers_agree::<8>(cs, 0x81, 60, 4)?;
            writers_agree::<32>(cs, 0x82, 60, 4)?;
            writers_agree::<64>(cs, 0x83, 80, 6)?;
            writers_agree::<4080>(cs, 0x84, 120, 12)
        })
    }

    /// Damaged chains: counts 0 and over capacity, loops, reader entry sizes, an unused
    /// tail from the C writer; both readers agree, and C releases what the test expects.
    #[test]
    fn damaged_chains_same_verdict() -> Result {
        run_case("damaged", |cs| {
            let mut set = BlockSet::<Pat<8>>::new(GEOMETRY);
            let res = damaged_on(cs, &mut set);
            set.destroy(&mut cs.lm);
            res?;
            c_unused_tail(cs)
        })
    }

    /// The deliberate differences: misaligned, unpreserved and non-RAM blocks.
    #[test]
    fn only_rust_rejects() -> Result {
        run_case("differences", |cs| {
            let pre = cs.test_page(true)?;
            let bare = match cs.test_page(false) {
                Ok(p) => p,
                Err(e) => {
                    cs.drop_page(pre);
                    return Err(e);
                }
            };
            let res = differences_on(cs, pre.pa, bare.pa);
            cs.drop_page(pre);
            cs.drop_page(bare);
            res
        })
    }

    /// `KHO_MAX_BLOCKS` blocks accepted and read by both, one more rejected by both.
    #[test]
    fn max_blocks_same_verdict() -> Result {
        run_case("max_blocks", |cs| {
            let extra = cs.test_page(true)?;
            let mut set = BlockSet::<Pat<4080>>::new(GEOMETRY);
            let res = max_blocks_on(cs, &mut set, extra.pa);
            set.destroy(&mut cs.lm);
            cs.drop_page(extra);
            res
        })
    }

    /// Empty sets and head 0 in both implementations.
    #[test]
    fn empty_sets() -> Result {
        run_case("empty", empty_on)
    }
}
