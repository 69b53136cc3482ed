// SPDX-License-Identifier: GPL-2.0

//! KUnit suites of the radix tracker on real pages.
//!
//! - `kho_rs_radix`: the pure Rust tree through [`KernelMem`]: key codec at real page
//!   addresses, add/del/contains, walk order and node visits, destroy frees every page,
//!   `add_range` equals per-key adds.
//! - `kho_rs_radix_diff`: differential tests against the exported C tree of the running
//!   kernel: a Rust-built tree walked by C, a C-built tree walked by Rust, and both trees
//!   compared page by page (per-level node counts, leaf bytes, non-zero table slots).
//!
//! Linux 7.2's C walk has no node callback ([`CRadixTree::WALK_VISITS_NODES`]). There the
//! differential tests compare keys (which C hands over as `(phys, order)`, so they also
//! check C's decoder against the pure core's encoder) and pages, but not C's node visits;
//! they say so in the log, and `c_walk_events_match_rust`, which checks exactly the C node
//! visits, is compiled out and reported as skipped by KUnit.

use kernel::prelude::*;

use super::check;
use crate::glue::kho::core_err;
use crate::glue::mem::{KernelMem, VmapPages, GEOMETRY};
use crate::glue::radix::CRadixTree;
use crate::pure::error::{Error as CoreError, Result as CoreResult};
use crate::pure::geometry::Geometry;
use crate::pure::mem::{BlockList, PageMem};
use crate::pure::radix::{encode_key, PageRange, RadixTree, RadixVisitor};
use crate::pure::rng::XorShift;

/// Order-0 pages of a 64 GiB physical address space (random keys are drawn below it).
const PFNS_64G: u64 = (64u64 << 30) >> GEOMETRY.page_shift;

/// A fresh accessor of real pages.
fn kernel_mem() -> KernelMem {
    KernelMem::new()
}

/// Converts a pure-core error, logging it.
fn ce(e: CoreError) -> Error {
    core_err("radix test", e)
}

/// Encodes `(pa, order)` with this kernel's geometry.
fn key(pa: u64, order: u32) -> Result<u64> {
    encode_key(&GEOMETRY, pa, order).map_err(ce)
}

/// `PageMem` wrapper counting page allocations and frees.
struct CountingMem<'a> {
    inner: &'a mut KernelMem,
    /// Pages allocated.
    allocs: u64,
    /// Pages freed.
    frees: u64,
}

impl PageMem for CountingMem<'_> {
    type Pages = VmapPages;

    fn geometry(&self) -> &Geometry {
        self.inner.geometry()
    }

    fn alloc_zeroed(&mut self) -> CoreResult<u64> {
        let pa = self.inner.alloc_zeroed()?;
        self.allocs += 1;
        Ok(pa)
    }

    unsafe fn free(&mut self, pa: u64) {
        self.frees += 1;
        // SAFETY: forwarded with this function's own contract.
        unsafe { self.inner.free(pa) }
    }

    unsafe fn page(&self, pa: u64) -> Option<&[u64]> {
        // SAFETY: forwarded with this function's own contract.
        unsafe { self.inner.page(pa) }
    }

    unsafe fn page_mut(&mut self, pa: u64) -> Option<&mut [u64]> {
        // SAFETY: forwarded with this function's own contract.
        unsafe { self.inner.page_mut(pa) }
    }

    unsafe fn bytes(&self, pa: u64) -> Option<&[u8]> {
        // SAFETY: forwarded with this function's own contract.
        unsafe { self.inner.bytes(pa) }
    }

    unsafe fn bytes_mut(&mut self, pa: u64) -> Option<&mut [u8]> {
        // SAFETY: forwarded with this function's own contract.
        unsafe { self.inner.bytes_mut(pa) }
    }

    unsafe fn preserve(&mut self, pa: u64, nr_pages: u64) -> CoreResult {
        // SAFETY: forwarded with this function's own contract.
        unsafe { self.inner.preserve(pa, nr_pages) }
    }

    unsafe fn unpreserve(&mut self, pa: u64, nr_pages: u64) {
        // SAFETY: forwarded with this function's own contract.
        unsafe { self.inner.unpreserve(pa, nr_pages) }
    }

    unsafe fn claim(&mut self, pa: u64, nr_pages: u64) -> CoreResult {
        // SAFETY: forwarded with this function's own contract.
        unsafe { self.inner.claim(pa, nr_pages) }
    }

    unsafe fn claim_blocks_into(
        &mut self,
        list: BlockList,
        out: &mut VmapPages,
    ) -> (usize, CoreResult) {
        // SAFETY: forwarded with this function's own contract.
        unsafe { self.inner.claim_blocks_into(list, out) }
    }
}

/// Visitor collecting keys and `(page, level)` pairs of a Rust walk.
struct Collect {
    /// Keys in walk order.
    keys: KVec<u64>,
    /// Node pages in walk order with their level.
    nodes: KVec<(u64, u32)>,
}

impl Collect {
    /// Walks the tree at `root` in `mem` with the Rust walker.
    ///
    /// # Safety
    ///
    /// `root` must be the root of a tree (built by Rust or C in this boot) whose pages stay
    /// allocated and unmodified during the walk.
    unsafe fn walk<M: PageMem + ?Sized>(mem: &M, root: u64) -> Result<Self> {
        let mut c = Collect {
            keys: KVec::new(),
            nodes: KVec::new(),
        };
        // SAFETY: the tree is only read, and stays allocated (this function's contract).
        unsafe { RadixTree::from_root(root) }
            .walk(mem, &mut c)
            .map_err(ce)?;
        Ok(c)
    }
}

impl RadixVisitor for Collect {
    fn node(&mut self, pa: u64, level: u32) -> CoreResult {
        self.nodes
            .push((pa, level), GFP_KERNEL)
            .map_err(|_| CoreError::nomem("radix test: node list"))
    }

    fn key(&mut self, key: u64) -> CoreResult {
        self.keys
            .push(key, GFP_KERNEL)
            .map_err(|_| CoreError::nomem("radix test: key list"))
    }
}

/// Keys and node pages of a C walk. Without node visits (Linux 7.2) only the keys: the node
/// list is `None`.
fn c_walk(t: &CRadixTree) -> Result<(KVec<u64>, Option<KVec<u64>>)> {
    let mut keys = KVec::new();
    if !CRadixTree::WALK_VISITS_NODES {
        t.walk_keys(|k| keys.push(k, GFP_KERNEL).map_err(Error::from))?;
        return Ok((keys, None));
    }
    let mut nodes = KVec::new();
    t.walk(
        |k| keys.push(k, GFP_KERNEL).map_err(Error::from),
        |pa| nodes.push(pa, GFP_KERNEL).map_err(Error::from),
    )?;
    Ok((keys, Some(nodes)))
}

/// Checks that the node pages a C walk visited are the pages the Rust walker visited, in the
/// same order; without node visits (Linux 7.2) says in the log what is not compared.
fn same_nodes(what: &str, c: Option<&KVec<u64>>, rust: &[(u64, u32)]) -> Result {
    let Some(c) = c else {
        pr_info!(
            "radix test: {}: not compared, this kernel's C walk has no node callback \
             (keys and pages are compared)\n",
            what
        );
        return Ok(());
    };
    check(
        c.len() == rust.len(),
        what,
        c.len() as u64,
        rust.len() as u64,
    )?;
    for (&c, &(r, _)) in c.iter().zip(rust.iter()) {
        check(c == r, what, c, r)?;
    }
    Ok(())
}

/// Checks that two key sequences are equal.
fn same_keys(what: &str, a: &[u64], b: &[u64]) -> Result {
    check(a.len() == b.len(), what, a.len() as u64, b.len() as u64)?;
    for (x, y) in a.iter().zip(b.iter()) {
        check(x == y, what, *x, *y)?;
    }
    Ok(())
}

/// Compares two trees in `mem` page by page.
///
/// Both are walked with the Rust walker; the walks must have the same shape (same level
/// at every position, hence the same number of pages per level), every pair of leaves
/// must be byte-identical and every pair of tables must have non-zero entries at the
/// same slots. Returns the number of pages of one tree.
fn compare_trees<M: PageMem + ?Sized>(mem: &M, a_root: u64, b_root: u64) -> Result<u64> {
    // SAFETY: a tree built in this test (Rust or C), alive and unmodified while walked.
    let a = unsafe { Collect::walk(mem, a_root) }?;
    // SAFETY: a tree built in this test (Rust or C), alive and unmodified while walked.
    let b = unsafe { Collect::walk(mem, b_root) }?;
    check(
        a.nodes.len() == b.nodes.len(),
        "number of pages",
        a.nodes.len() as u64,
        b.nodes.len() as u64,
    )?;
    let mut per_level = [[0u64; 2]; 8];
    for (&(pa, la), &(pb, lb)) in a.nodes.iter().zip(b.nodes.iter()) {
        check(la == lb, "level at the same walk position", pa, pb)?;
        if let Some(c) = per_level.get_mut(la as usize) {
            c[0] += 1;
        }
        if let Some(c) = per_level.get_mut(lb as usize) {
            c[1] += 1;
        }
        if la == 0 {
            // SAFETY: a page this test allocated or claimed itself, still live.
            let (Some(ba), Some(bb)) = (unsafe { mem.bytes(pa) }, unsafe { mem.bytes(pb) }) else {
                return check(false, "leaf page not readable", pa, pb).map(|()| 0);
            };
            check(ba.len() == bb.len(), "leaf size", pa, pb)?;
            for (i, (x, y)) in ba.iter().zip(bb.iter()).enumerate() {
                if x != y {
                    pr_err!(
                        "radix test: leaf byte {} differs: {:#x} at {:#x} vs {:#x} at {:#x}\n",
                        i,
                        x,
                        pa,
                        y,
                        pb
                    );
                    return Err(EINVAL);
                }
            }
        } else {
            // SAFETY: a page this test allocated or claimed itself, still live.
            let (Some(ta), Some(tb)) = (unsafe { mem.page(pa) }, unsafe { mem.page(pb) }) else {
                return check(false, "table page not readable", pa, pb).map(|()| 0);
            };
            for (i, (x, y)) in ta.iter().zip(tb.iter()).enumerate() {
                check((*x != 0) == (*y != 0), "non-zero table slot", i as u64, pa)?;
            }
        }
    }
    for (l, c) in per_level.iter().enumerate() {
        check(c[0] == c[1], "pages on a level", l as u64, c[0])?;
    }
    Ok(a.nodes.len() as u64)
}

/// Splits `[pfn, pfn + n)` like `kho_preserve_pages()` and returns one key per block.
fn split_keys(pfn: u64, n: u64, max_order: u32) -> Result<KVec<u64>> {
    let mut keys = KVec::new();
    let (mut pfn, mut left) = (pfn, n);
    while left != 0 {
        let order = pfn
            .trailing_zeros()
            .min(63 - left.leading_zeros())
            .min(max_order);
        keys.push(key(pfn << GEOMETRY.page_shift, order)?, GFP_KERNEL)?;
        pfn += 1 << order;
        left -= 1 << order;
    }
    Ok(keys)
}

/// The keys of `adds` minus `dels`, sorted and without duplicates.
fn expected_keys(adds: &[u64], dels: &[u64]) -> Result<KVec<u64>> {
    let mut dels_sorted = KVec::with_capacity(dels.len(), GFP_KERNEL)?;
    dels_sorted.extend_from_slice(dels, GFP_KERNEL)?;
    dels_sorted.sort_unstable();
    let mut v = KVec::with_capacity(adds.len(), GFP_KERNEL)?;
    for &k in adds {
        if dels_sorted.binary_search(&k).is_err() {
            v.push(k, GFP_KERNEL)?;
        }
    }
    v.sort_unstable();
    let mut prev = None;
    v.retain(|k| {
        let keep = prev != Some(*k);
        prev = Some(*k);
        keep
    });
    Ok(v)
}

#[kunit_tests(kho_rs_radix)]
mod tests {
    use super::*;

    #[test]
    fn codec_round_trip_real_pages() -> Result {
        let mut mem = kernel_mem();
        let page = mem.alloc_zeroed().map_err(ce)?;
        let mut res = Ok(());
        for order in 0..GEOMETRY.max_order {
            let shift = GEOMETRY.page_shift + order;
            let pa = page & !((1u64 << shift) - 1);
            let k = match encode_key(&GEOMETRY, pa, order) {
                Ok(k) => k,
                Err(e) => {
                    res = Err(ce(e));
                    break;
                }
            };
            // The C formula (`kho_encode_radix_key()`).
            assert_eq!(k, (1u64 << (64 - shift)) | (pa >> shift));
            let decoded = crate::pure::radix::decode_key(&GEOMETRY, k);
            assert!(decoded == Ok((pa, order)));
            // Higher orders give smaller keys.
            assert!(k.leading_zeros() == GEOMETRY.page_shift + order - 1);
        }
        // Order max_order would shift by 64 in C; misaligned addresses are rejected.
        assert!(encode_key(&GEOMETRY, 0, GEOMETRY.max_order).is_err());
        assert!(encode_key(&GEOMETRY, page | 0x800, 0).is_err());
        // SAFETY: a page this test allocated or claimed itself, still live.
        unsafe { mem.free(page) };
        res
    }

    #[test]
    fn add_del_contains_walk() -> Result {
        let mut km = kernel_mem();
        let mut mem = CountingMem {
            inner: &mut km,
            allocs: 0,
            frees: 0,
        };
        let mut tree = RadixTree::new(&mut mem).map_err(ce)?;
        let mut rng = XorShift::new(0x9e37_79b9_7f4a_7c15);
        let mut adds = KVec::with_capacity(600, GFP_KERNEL)?;
        for i in 0..600u64 {
            let order = (rng.next() % 12) as u32;
            let pfn = (rng.next() % PFNS_64G) & !((1u64 << order) - 1);
            // A few keys high up in the address space use other root slots.
            let pfn = if i % 50 == 0 { pfn | (1u64 << 45) } else { pfn };
            adds.push(key(pfn << GEOMETRY.page_shift, order)?, GFP_KERNEL)?;
        }
        for &k in adds.iter() {
            tree.add(&mut mem, k).map_err(ce)?;
            // Adding twice is a no-op.
            tree.add(&mut mem, k).map_err(ce)?;
        }
        for &k in adds.iter() {
            assert!(tree.contains(&mem, k) == Ok(true));
        }
        let mut dels = KVec::new();
        for &k in adds.iter().step_by(3) {
            tree.del(&mut mem, k).map_err(ce)?;
            dels.push(k, GFP_KERNEL)?;
        }
        let expect = expected_keys(&adds, &dels)?;
        for &k in dels.iter() {
            assert!(tree.contains(&mem, k) == Ok(expect.binary_search(&k).is_ok()));
        }
        // A key never added (odd pfn, order 0, above the random range).
        let absent = key((PFNS_64G + 1) << GEOMETRY.page_shift, 0)?;
        assert!(tree.contains(&mem, absent) == Ok(false));

        // SAFETY: a tree built in this test (Rust or C), alive and unmodified while walked.
        let walk = unsafe { Collect::walk(&mem, tree.root()) }?;
        // Ascending, hence no duplicates, and exactly the expected set.
        assert!(walk.keys.windows(2).all(|w| w[0] < w[1]));
        same_keys("walk keys vs expected", &walk.keys, &expect)?;
        // Every page visited once, and all allocated pages are in the tree.
        let mut pages = KVec::with_capacity(walk.nodes.len(), GFP_KERNEL)?;
        for &(pa, _) in walk.nodes.iter() {
            pages.push(pa, GFP_KERNEL)?;
        }
        pages.sort_unstable();
        assert!(pages.windows(2).all(|w| w[0] != w[1]));
        assert_eq!(pages.len() as u64, mem.allocs - mem.frees);
        assert_eq!(walk.nodes.first().map(|n| n.1), Some(GEOMETRY.depth - 1));
        assert_eq!(walk.nodes.first().map(|n| n.0), Some(tree.root()));

        let allocs = mem.allocs;
        tree.destroy(&mut mem);
        assert_eq!(mem.frees, allocs);
        Ok(())
    }

    #[test]
    fn add_range_equals_per_key_add() -> Result {
        let mut mem = kernel_mem();
        // (start pfn, pages, max order): leaf-crossing, unaligned, mixed orders.
        let cases: [(u64, u64, u32); 4] = [
            (0x7ff0, 70_000, 0),
            (0x12_3457, 5_000, 10),
            (0x1_0000_0001, 1 << 20, 18),
            (3, 1, 5),
        ];
        for &(pfn, n, max_order) in cases.iter() {
            let keys = split_keys(pfn, n, max_order)?;
            let mut a = RadixTree::new(&mut mem).map_err(ce)?;
            let mut b = RadixTree::new(&mut mem).map_err(ce)?;
            let mut res = a
                .add_range(
                    &mut mem,
                    PageRange::new(pfn << GEOMETRY.page_shift, n, max_order),
                )
                .map_err(ce)
                .and_then(|added| check(added == keys.len() as u64, "added", added, 0));
            for &k in keys.iter() {
                if res.is_ok() {
                    res = b.add(&mut mem, k).map_err(ce);
                }
            }
            if res.is_ok() {
                res = compare_trees(&mem, a.root(), b.root()).map(|_| ());
            }
            if res.is_ok() {
                // SAFETY: a tree built in this test (Rust or C), alive and unmodified while walked.
                let walk = unsafe { Collect::walk(&mem, a.root()) }?;
                let mut sorted = keys;
                sorted.sort_unstable();
                res = same_keys("add_range keys", &walk.keys, &sorted);
            }
            a.destroy(&mut mem);
            b.destroy(&mut mem);
            res?;
        }
        Ok(())
    }
}

/// One differential case: keys added (in this order), then keys deleted.
struct Case {
    /// Keys added, in order.
    adds: KVec<u64>,
    /// Keys deleted afterwards (all previously added).
    dels: KVec<u64>,
}

/// [`diff_case`] of `adds` alone, without deletions or a flipped bit.
fn diff_adds(adds: KVec<u64>) -> Result {
    diff_case(
        &Case {
            adds,
            dels: KVec::new(),
        },
        false,
    )
}

/// Builds the same key set in Rust and in C, then cross-walks and compares the trees.
///
/// With `flip_bit`, one bit of the first Rust leaf is flipped before the page comparison,
/// which must then fail (the negative check of the comparison itself).
fn diff_case(case: &Case, flip_bit: bool) -> Result {
    let mut mem = kernel_mem();
    let mut rt = RadixTree::new(&mut mem).map_err(ce)?;
    let res = diff_with(&mut mem, &mut rt, case, flip_bit);
    rt.destroy(&mut mem);
    res
}

/// Body of [`diff_case`] once the Rust tree exists (the caller destroys it).
fn diff_with(mem: &mut KernelMem, rt: &mut RadixTree, case: &Case, flip_bit: bool) -> Result {
    let mut ct = CRadixTree::new()?;
    for &k in case.adds.iter() {
        rt.add(mem, k).map_err(ce)?;
        ct.add_key(k)?;
    }
    for &k in case.dels.iter() {
        rt.del(mem, k).map_err(ce)?;
        ct.del_key(k);
    }
    let expect = expected_keys(&case.adds, &case.dels)?;
    // SAFETY: a tree built in this test (Rust or C), alive and unmodified while walked.
    let rust = unsafe { Collect::walk(mem, rt.root()) }?;
    same_keys("rust walk vs expected", &rust.keys, &expect)?;

    // (a) The Rust tree walked by C: same keys and the same node pages in the same order.
    {
        // SAFETY: `rt` is a well-formed tree built above; its pages stay allocated and
        // unchanged until this handle is dropped at the end of the block.
        let adopted = unsafe { CRadixTree::adopt(rt.root()) }?;
        check(
            adopted.root() == rt.root(),
            "adopted root",
            adopted.root(),
            rt.root(),
        )?;
        let (keys, nodes) = c_walk(&adopted)?;
        same_keys("C walk of the Rust tree", &keys, &rust.keys)?;
        same_nodes(
            "C node visits of the Rust tree",
            nodes.as_ref(),
            &rust.nodes,
        )?;
    }

    // (b) The C tree walked by Rust: same keys as C's own walk and as the Rust tree.
    let (c_keys, c_nodes) = c_walk(&ct)?;
    // SAFETY: a tree built in this test (Rust or C), alive and unmodified while walked.
    let c_by_rust = unsafe { Collect::walk(mem, ct.root()) }?;
    same_keys(
        "Rust walk of the C tree vs C walk",
        &c_by_rust.keys,
        &c_keys,
    )?;
    same_keys(
        "Rust walk of the C tree vs Rust tree",
        &c_by_rust.keys,
        &rust.keys,
    )?;
    same_nodes(
        "node visits of the C tree",
        c_nodes.as_ref(),
        &c_by_rust.nodes,
    )?;

    // (c) Page by page: leaves byte-identical, tables non-zero at the same slots.
    if flip_bit {
        let leaf = rust
            .nodes
            .iter()
            .find(|n| n.1 == 0)
            .map(|n| n.0)
            .ok_or(EINVAL)?;
        // SAFETY: a page this test allocated or built itself, still live.
        let byte = unsafe { mem.bytes_mut(leaf) }
            .and_then(|b| b.get_mut(777))
            .ok_or(EINVAL)?;
        *byte ^= 0x10;
        let r = compare_trees(mem, rt.root(), ct.root());
        // SAFETY: a page this test allocated or built itself, still live.
        let byte = unsafe { mem.bytes_mut(leaf) }
            .and_then(|b| b.get_mut(777))
            .ok_or(EINVAL)?;
        *byte ^= 0x10;
        pr_info!(
            "radix test: comparison after a flipped leaf bit: {}\n",
            if r.is_err() {
                "mismatch (expected)"
            } else {
                "MATCH"
            }
        );
        check(r.is_err(), "a flipped leaf bit went unnoticed", leaf, 777)?;
    }
    let pages = compare_trees(mem, rt.root(), ct.root())?;
    check(
        pages == rust.nodes.len() as u64,
        "pages compared",
        pages,
        rust.nodes.len() as u64,
    )?;
    Ok(())
}

/// `n` random order-0 keys below 64 GiB.
fn random_case(seed: u64, n: usize) -> Result<Case> {
    let mut rng = XorShift::new(seed);
    let mut adds = KVec::with_capacity(n, GFP_KERNEL)?;
    for _ in 0..n {
        adds.push(
            key((rng.next() % PFNS_64G) << GEOMETRY.page_shift, 0)?,
            GFP_KERNEL,
        )?;
    }
    Ok(Case {
        adds,
        dels: KVec::new(),
    })
}

#[kunit_tests(kho_rs_radix_diff)]
mod diff_tests {
    use super::*;

    #[test]
    fn diff_random_keys() -> Result {
        diff_case(&random_case(0x2545_f491_4f6c_dd1d, 3000)?, false)
    }

    #[test]
    fn diff_contiguous_ranges() -> Result {
        let mut adds = KVec::new();
        // Crosses leaf boundaries (a leaf holds 2^bitmap_log2 order-0 keys).
        for pfn in 0x7_8000u64..0x7_8000 + 70_000 {
            adds.push(key(pfn << GEOMETRY.page_shift, 0)?, GFP_KERNEL)?;
        }
        for k in split_keys(0x40_0001, 100_000, 9)? {
            adds.push(k, GFP_KERNEL)?;
        }
        diff_adds(adds)
    }

    #[test]
    fn diff_mixed_orders_full_width() -> Result {
        let mut rng = XorShift::new(0xdead_beef_cafe_f00d);
        let mut adds = KVec::new();
        for i in 0..800u64 {
            let order = (rng.next() % u64::from(GEOMETRY.max_order)) as u32;
            // Addresses across the whole 64-bit space for some keys, below 64 GiB otherwise.
            let pfn = if i % 8 == 0 {
                rng.next() >> GEOMETRY.page_shift
            } else {
                rng.next() % PFNS_64G
            };
            let pfn = pfn & !((1u64 << order) - 1);
            adds.push(key(pfn << GEOMETRY.page_shift, order)?, GFP_KERNEL)?;
        }
        // The largest encodable order and the highest order-0 page.
        adds.push(key(0, GEOMETRY.max_order - 1)?, GFP_KERNEL)?;
        adds.push(key(u64::MAX << GEOMETRY.page_shift, 0)?, GFP_KERNEL)?;
        diff_adds(adds)
    }

    #[test]
    fn diff_with_deletions() -> Result {
        let mut case = random_case(0x1234_5678_9abc_def1, 2000)?;
        for k in split_keys(0x10_0000, 40_000, 0)? {
            case.adds.push(k, GFP_KERNEL)?;
        }
        let mut dels = KVec::new();
        for (i, &k) in case.adds.iter().enumerate() {
            // Every third key, and a whole leaf's worth of the range.
            if i % 3 == 0 || (2000 + 1000..2000 + 1000 + 32768).contains(&i) {
                dels.push(k, GFP_KERNEL)?;
            }
        }
        // Delete some keys twice: clearing a clear bit is fine in both.
        for &k in case.adds.iter().step_by(7).take(100) {
            dels.push(k, GFP_KERNEL)?;
        }
        case.dels = dels;
        diff_case(&case, false)
    }

    #[test]
    fn diff_detects_one_flipped_bit() -> Result {
        diff_case(&random_case(0x0bad_5eed_0bad_5eed, 500)?, true)
    }

    /// The C walk's node and key callbacks interleave exactly like the Rust walker's
    /// (pre-order, a leaf's node visit before its keys), on a Rust-built and a C-built tree.
    ///
    /// Needs the node callback of Linux 7.3's walk: compiled out on 7.2, where KUnit
    /// reports it as skipped.
    #[cfg(kho_rs_radix_key_api)]
    #[test]
    fn c_walk_events_match_rust() -> Result {
        use core::cell::Cell;

        /// One callback of a walk.
        #[derive(Clone, Copy, PartialEq)]
        enum Ev {
            Node(u64),
            Key(u64),
        }

        /// Collects the events of a Rust walk.
        struct Events(KVec<Ev>);

        impl RadixVisitor for Events {
            fn node(&mut self, pa: u64, _level: u32) -> CoreResult {
                self.0
                    .push(Ev::Node(pa), GFP_KERNEL)
                    .map_err(|_| CoreError::nomem("radix test: events"))
            }

            fn key(&mut self, key: u64) -> CoreResult {
                self.0
                    .push(Ev::Key(key), GFP_KERNEL)
                    .map_err(|_| CoreError::nomem("radix test: events"))
            }
        }

        /// The events of a C walk: each callback records its sequence number, then the two
        /// lists are merged by it.
        fn c_events(t: &CRadixTree) -> Result<KVec<Ev>> {
            let seq = Cell::new(0u64);
            let next = || {
                let n = seq.get();
                seq.set(n + 1);
                n
            };
            let (mut keys, mut nodes) = (KVec::new(), KVec::new());
            t.walk(
                |k| {
                    keys.push((next(), Ev::Key(k)), GFP_KERNEL)
                        .map_err(Error::from)
                },
                |pa| {
                    nodes
                        .push((next(), Ev::Node(pa)), GFP_KERNEL)
                        .map_err(Error::from)
                },
            )?;
            let mut ev = KVec::with_capacity(keys.len() + nodes.len(), GFP_KERNEL)?;
            let (mut k, mut n) = (keys.iter().peekable(), nodes.iter().peekable());
            loop {
                let e = match (k.peek(), n.peek()) {
                    (Some(a), Some(b)) if a.0 < b.0 => k.next(),
                    (_, Some(_)) => n.next(),
                    (Some(_), None) => k.next(),
                    (None, None) => break,
                };
                if let Some(&(_, e)) = e {
                    ev.push(e, GFP_KERNEL)?;
                }
            }
            Ok(ev)
        }

        /// Checks that a C walk and a Rust walk of the tree at `root` give the same events.
        ///
        /// # Safety
        ///
        /// `root` must be the root of a tree built in this test (by Rust or C) whose pages
        /// stay allocated and unmodified during the walk.
        unsafe fn compare(what: &str, c: &[Ev], mem: &KernelMem, root: u64) -> Result {
            let mut r = Events(KVec::new());
            // SAFETY: the tree is only read and stays allocated (this function's contract).
            unsafe { RadixTree::from_root(root) }
                .walk(mem, &mut r)
                .map_err(ce)?;
            check(c.len() == r.0.len(), what, c.len() as u64, r.0.len() as u64)?;
            for (i, (a, b)) in c.iter().zip(r.0.iter()).enumerate() {
                if a != b {
                    let v = |e: &Ev| match *e {
                        Ev::Node(x) | Ev::Key(x) => x,
                    };
                    pr_err!("radix test: {}: event {} differs\n", what, i);
                    return check(false, what, v(a), v(b));
                }
            }
            Ok(())
        }

        let case = random_case(0x5151_7272_9393_a4a4, 1500)?;
        let mut mem = kernel_mem();
        let mut rt = RadixTree::new(&mut mem).map_err(ce)?;
        let res = (|| -> Result {
            let mut ct = CRadixTree::new()?;
            for &k in case.adds.iter() {
                rt.add(&mut mem, k).map_err(ce)?;
                ct.add_key(k)?;
            }
            {
                // SAFETY: `rt` is a well-formed tree built above; its pages stay allocated
                // and unchanged until this handle is dropped at the end of the block.
                let adopted = unsafe { CRadixTree::adopt(rt.root()) }?;
                let c = c_events(&adopted)?;
                // SAFETY: the Rust tree of this test, alive and unmodified while walked.
                unsafe { compare("events of the Rust tree", &c, &mem, rt.root()) }?;
                // Pages, then keys, are interleaved: not all nodes come first.
                check(
                    c.iter().rposition(|e| matches!(e, Ev::Node(_)))
                        > c.iter().position(|e| matches!(e, Ev::Key(_))),
                    "node visits interleaved with keys",
                    c.len() as u64,
                    0,
                )?;
            }
            let c = c_events(&ct)?;
            // SAFETY: the C tree of this test, alive and unmodified while walked.
            unsafe { compare("events of the C tree", &c, &mem, ct.root()) }
        })();
        rt.destroy(&mut mem);
        res
    }
}
