// SPDX-License-Identifier: GPL-2.0

//! Host tests of `pure::radix`.

use std::collections::{BTreeMap, BTreeSet};
use std::vec;
use std::vec::Vec;

use proptest::prelude::*;

use crate::fuzz_api::radix::Recorder;
use crate::pure::error::{errno, Error, Result};
use crate::pure::geometry::{Geometry, G16K, G4K, G64K};
use crate::pure::mem::PageMem;
use crate::pure::radix::{decode_key, encode_key, PageRange, RadixStats, RadixTree, RadixVisitor};
use crate::sim::SimMem;

const GEOS: [Geometry; 3] = [G4K, G16K, G64K];

/// Everything a walk of `t` reports (the fuzzers' recorder).
fn collect(t: &RadixTree, mem: &SimMem) -> Recorder {
    let mut c = Recorder::default();
    t.walk(mem, &mut c).unwrap();
    c
}

/// Runs `body` on an empty tree in a fresh memory of every geometry; then destroys the tree
/// and checks that no page is left.
fn each_tree(body: impl Fn(Geometry, &mut SimMem, &mut RadixTree)) {
    for g in GEOS {
        on_tree(g, |mem, t| body(g, mem, t));
    }
}

/// [`each_tree`] for geometry `g` only.
fn on_tree(g: Geometry, body: impl FnOnce(&mut SimMem, &mut RadixTree)) {
    let mut mem = SimMem::new(g);
    let mut t = RadixTree::new(&mut mem).unwrap();
    body(&mut mem, &mut t);
    t.destroy(&mut mem);
    assert_eq!(mem.live(), 0);
}

fn keys_of(t: &RadixTree, mem: &SimMem) -> Vec<u64> {
    collect(t, mem).keys
}

/// Every live page and its contents.
fn snapshot(mem: &SimMem) -> BTreeMap<u64, Vec<u64>> {
    mem.live_pages()
        .into_iter()
        .map(|pa| (pa, mem.page(pa).unwrap().to_vec()))
        .collect()
}

/// Address-independent shape of a tree: per page in walk order its level and, for a leaf,
/// its words, for a table, its non-empty slots.
fn shape(t: &RadixTree, mem: &SimMem) -> Vec<(u32, Vec<u64>)> {
    collect(t, mem)
        .pages
        .into_iter()
        .map(|(pa, level)| {
            let p = mem.page(pa).unwrap();
            let v = if level == 0 {
                p.to_vec()
            } else {
                (0..p.len() as u64)
                    .filter(|&i| p[i as usize] != 0)
                    .collect()
            };
            (level, v)
        })
        .collect()
}

/// The blocks `kho_preserve_pages()` makes of `[pfn, pfn + nr)`, one at a time.
fn blocks(pfn: u64, nr: u64, max_order: u32) -> Vec<(u64, u32)> {
    let (mut p, mut left) = (pfn, nr);
    let mut out = Vec::new();
    while left > 0 {
        let o = p
            .trailing_zeros()
            .min(63 - left.leading_zeros())
            .min(max_order);
        out.push((p, o));
        p += 1 << o;
        left -= 1 << o;
    }
    out
}

fn block_keys(g: &Geometry, pfn: u64, nr: u64, max_order: u32) -> Vec<u64> {
    blocks(pfn, nr, max_order)
        .into_iter()
        .map(|(p, o)| encode_key(g, p << g.page_shift, o).unwrap())
        .collect()
}

fn max_root_index(g: &Geometry) -> u64 {
    ((1u64 << g.key_width) - 1) >> g.level_shift(g.root_level())
}

// ---------------------------------------------------------------------------------------
// Key codec.

#[test]
fn codec_round_trip_every_order() {
    for g in GEOS {
        for order in 0..g.max_order {
            let shift = g.page_shift + order;
            let top = u64::MAX >> shift; // largest block index
            let addrs = [0, 1, 3, top / 2, top].map(|i| i << shift);
            for pa in addrs {
                let key = encode_key(&g, pa, order).unwrap();
                assert_eq!(63 - key.leading_zeros(), 64 - shift, "order bit");
                assert!(key >> g.key_width == 0);
                assert_eq!(decode_key(&g, key).unwrap(), (pa, order), "{pa:#x} {order}");
            }
        }
    }
    // Known values (`enum kho_radix_consts`, include/linux/kho/abi/kexec_handover.h): order-0 order bit is 52/50/48.
    assert_eq!(encode_key(&G4K, 0x1000, 0).unwrap(), (1 << 52) | 1);
    assert_eq!(encode_key(&G16K, 0x4000, 0).unwrap(), (1 << 50) | 1);
    assert_eq!(encode_key(&G64K, 0x2_0000, 1).unwrap(), (1 << 47) | 1);
    // The largest usable order: one block covering half of the 64-bit space.
    assert_eq!(encode_key(&G4K, 1 << 63, 51).unwrap(), 3);
    assert_eq!(decode_key(&G4K, 2).unwrap(), (0, 51));
}

#[test]
fn codec_rejects_bad_input() {
    for g in GEOS {
        let ps = g.page_size as u64;
        let e = encode_key(&g, ps + 8, 0).unwrap_err();
        assert_eq!(e.errno, errno::EINVAL);
        assert_eq!(e.value, ps + 8);
        // Page aligned but not aligned to the block.
        assert_eq!(encode_key(&g, ps, 1).unwrap_err().errno, errno::EINVAL);
        // Order max_order would shift by 64 (undefined in C): rejected, key 1 too.
        let e = encode_key(&g, 0, g.max_order).unwrap_err();
        assert_eq!((e.errno, e.value), (errno::ERANGE, u64::from(g.max_order)));
        assert_eq!(decode_key(&g, 1).unwrap_err().errno, errno::ERANGE);
        let e = encode_key(&g, 0, g.max_order + 1).unwrap_err();
        assert_eq!(
            (e.errno, e.value),
            (errno::EINVAL, u64::from(g.max_order + 1))
        );
        assert_eq!(
            encode_key(&g, 0, u32::MAX).unwrap_err().errno,
            errno::EINVAL
        );
        assert_eq!(decode_key(&g, 0).unwrap_err().errno, errno::EINVAL);
        for bad in [1u64 << g.key_width, u64::MAX, 1 << 63] {
            let e = decode_key(&g, bad).unwrap_err();
            assert_eq!((e.errno, e.value), (errno::ERANGE, bad));
            assert!(e.what.starts_with("radix: "));
        }
        // The widest valid key: order 0, highest page.
        let k = (1u64 << g.key_width) - 1;
        assert_eq!(decode_key(&g, k).unwrap(), (u64::MAX << g.page_shift, 0));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn codec_round_trip_random(gi in 0usize..3, x in any::<u64>(), o in 0u32..64) {
        let g = GEOS[gi];
        let order = o % g.max_order;
        let shift = g.page_shift + order;
        let pa = (x >> shift) << shift;
        let key = encode_key(&g, pa, order).unwrap();
        prop_assert_eq!(decode_key(&g, key).unwrap(), (pa, order));
        // Any key either fails to decode or re-encodes to itself.
        if let Ok((pa2, o2)) = decode_key(&g, x) {
            prop_assert_eq!(encode_key(&g, pa2, o2).unwrap(), x);
        } else {
            prop_assert!(x <= 1 || x >> g.key_width != 0);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Single-key operations.

#[test]
fn empty_tree_walk_and_destroy() {
    each_tree(|g, mem, t| {
        let c = collect(t, mem);
        assert_eq!(c.pages, vec![(t.root(), g.root_level())]);
        assert!(c.keys.is_empty());
    });
}

#[test]
fn add_del_contains_semantics() {
    each_tree(|g, mem, t| {
        let k = encode_key(&g, 0x4_0000_0000, 2).unwrap();
        assert!(!t.contains(mem, k).unwrap());
        // The path of a fresh key: one page per level below the root.
        t.add(mem, k).unwrap();
        assert_eq!(mem.live() as u32, g.depth);
        assert!(t.contains(mem, k).unwrap());
        // Adding again is a no-op.
        let before = snapshot(mem);
        t.add(mem, k).unwrap();
        assert_eq!(snapshot(mem), before);
        // A neighbour in the same leaf.
        let k2 = k + 1;
        assert!(!t.contains(mem, k2).unwrap());
        t.del(mem, k2).unwrap(); // absent, path exists: fine
        t.del(mem, k).unwrap();
        assert!(!t.contains(mem, k).unwrap());
        // Nodes are never freed.
        assert_eq!(mem.live() as u32, g.depth);
        assert!(keys_of(t, mem).is_empty());
        // Missing path.
        let far = encode_key(&g, 0, 0).unwrap();
        let e = t.del(mem, far).unwrap_err();
        assert_eq!((e.errno, e.value), (errno::ENOENT, far));
        // Invalid keys.
        let wide = 1u64 << g.key_width;
        assert_eq!(t.add(mem, wide).unwrap_err().errno, errno::ERANGE);
        assert_eq!(t.del(mem, wide).unwrap_err().errno, errno::ERANGE);
        assert_eq!(t.contains(mem, wide).unwrap_err().errno, errno::ERANGE);
        assert_eq!(t.add(mem, 0).unwrap_err().errno, errno::EINVAL);
        assert_eq!(t.add(mem, 1).unwrap_err().errno, errno::ERANGE);
        assert_eq!(mem.live() as u32, g.depth);
    });
}

/// A key strategy with clustering, so that leaves and tables get shared.
fn key_strategy(g: Geometry) -> impl Strategy<Value = u64> {
    let max = g.max_order;
    (0u64..6, any::<u64>(), 0u32..max, 0u64..300).prop_map(move |(region, x, o, near)| {
        let order = match region {
            0..=2 => 0,
            3 => o % 4,
            _ => o,
        };
        let shift = g.page_shift + order;
        let blocks = u64::MAX >> shift;
        let idx = match region {
            0 => near,
            1 => (blocks >> 1) + near,
            _ => x,
        } & blocks;
        encode_key(&g, idx << shift, order).unwrap()
    })
}

#[derive(Clone, Debug)]
enum Op {
    Add(u64),
    Del(u64),
    Contains(u64),
}

fn ops_strategy(g: Geometry) -> impl Strategy<Value = Vec<Op>> {
    let op = (0u8..4, key_strategy(g)).prop_map(|(k, key)| match k {
        0 | 1 => Op::Add(key),
        2 => Op::Del(key),
        _ => Op::Contains(key),
    });
    proptest::collection::vec(op, 0..120)
}

fn check_model(g: Geometry, ops: Vec<Op>) -> std::result::Result<(), TestCaseError> {
    let mut mem = SimMem::new(g);
    let start = mem.live();
    let mut t = RadixTree::new(&mut mem).unwrap();
    let mut model = BTreeSet::new();
    let mut recent = Vec::new();
    for op in ops {
        match op {
            Op::Add(k) => {
                t.add(&mut mem, k).unwrap();
                model.insert(k);
                recent.push(k);
            }
            Op::Del(k) => {
                // Also delete a key added before, if any, half of the time.
                let k = if k & 1 == 0 {
                    recent.pop().unwrap_or(k)
                } else {
                    k
                };
                match t.del(&mut mem, k) {
                    Ok(()) => {}
                    Err(e) => {
                        prop_assert_eq!(e.errno, errno::ENOENT);
                        prop_assert!(!model.contains(&k));
                    }
                }
                model.remove(&k);
            }
            Op::Contains(k) => prop_assert_eq!(t.contains(&mem, k).unwrap(), model.contains(&k)),
        }
    }
    let c = collect(&t, &mem);
    let want: Vec<u64> = model.iter().copied().collect();
    prop_assert_eq!(&c.keys, &want);
    // Pre-order: root first, every page once, every live page visited, levels consistent.
    prop_assert_eq!(c.pages[0], (t.root(), g.root_level()));
    let pages: BTreeSet<u64> = c.pages.iter().map(|n| n.0).collect();
    prop_assert_eq!(pages.len(), c.pages.len());
    prop_assert_eq!(pages, mem.live_pages());
    for w in c.pages.windows(2) {
        // A child is exactly one level down; otherwise we climbed back up.
        prop_assert!(w[1].1 + 1 == w[0].1 || (w[1].1 >= w[0].1 && w[1].1 < g.root_level()));
    }
    for k in &want {
        prop_assert!(t.contains(&mem, *k).unwrap());
    }
    t.destroy(&mut mem);
    prop_assert_eq!(mem.live(), start);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn model_4k(ops in ops_strategy(G4K)) {
        check_model(G4K, ops)?;
    }

    #[test]
    fn model_16k(ops in ops_strategy(G16K)) {
        check_model(G16K, ops)?;
    }

    #[test]
    fn model_64k(ops in ops_strategy(G64K)) {
        check_model(G64K, ops)?;
    }
}

#[test]
fn walk_order_is_descending_order_then_ascending_address() {
    each_tree(|g, mem, t| {
        let ps = g.page_size as u64;
        let blocks = [
            (8 * ps, 0),
            (0, 3),
            (16 * ps, 3),
            (2 * ps, 1),
            (0, 0),
            (ps, 0),
        ];
        for (pa, o) in blocks {
            t.add(mem, encode_key(&g, pa, o).unwrap()).unwrap();
        }
        let decoded: Vec<(u64, u32)> = keys_of(t, mem)
            .into_iter()
            .map(|k| decode_key(&g, k).unwrap())
            .collect();
        assert_eq!(
            decoded,
            vec![
                (0, 3),
                (16 * ps, 3),
                (2 * ps, 1),
                (0, 0),
                (ps, 0),
                (8 * ps, 0)
            ]
        );
    });
}

#[test]
fn visitor_error_aborts_walk() {
    struct Stop(usize);
    impl RadixVisitor for Stop {
        fn key(&mut self, key: u64) -> Result {
            self.0 += 1;
            if self.0 == 3 {
                return Err(Error::inval("test: stop", key));
            }
            Ok(())
        }
    }
    struct StopNode;
    impl RadixVisitor for StopNode {
        fn node(&mut self, pa: u64, level: u32) -> Result {
            if level == 0 {
                return Err(Error::new(errno::EEXIST, "test: leaf", pa));
            }
            Ok(())
        }
    }
    let g = G4K;
    on_tree(g, |mem, t| {
        for i in 0..10u64 {
            t.add(mem, encode_key(&g, i << 12, 0).unwrap()).unwrap();
        }
        let mut v = Stop(0);
        let e = t.walk(mem, &mut v).unwrap_err();
        assert_eq!(
            (e.what, e.value),
            ("test: stop", encode_key(&g, 2 << 12, 0).unwrap())
        );
        assert_eq!(v.0, 3);
        let e = t.walk(mem, &mut StopNode).unwrap_err();
        assert_eq!(e.errno, errno::EEXIST);
        // A visitor with only the default methods.
        struct Nop;
        impl RadixVisitor for Nop {}
        t.walk(mem, &mut Nop).unwrap();
    });
}

// ---------------------------------------------------------------------------------------
// Rollback.

#[test]
fn add_rolls_back_on_allocation_failure() {
    each_tree(|g, mem, t| {
        let base = encode_key(&g, 0x8000_0000, 0).unwrap();
        t.add(mem, base).unwrap();
        // A key of another order shares only the root (4K/16K) or more: count new pages.
        for key in [
            encode_key(&g, 0, 5).unwrap(),
            (1u64 << g.key_width) - 1,
            base + 1,
        ] {
            let probe_before = mem.live();
            let mut probe_mem_allocs = None;
            // Find how many pages the add needs by trying each failure point.
            for fail in 0..g.depth as usize {
                let before = snapshot(mem);
                let keys_before = keys_of(t, mem);
                mem.fail_at = Some(mem.allocs + fail);
                match t.add(mem, key) {
                    Err(e) => {
                        assert_eq!(e.errno, errno::ENOMEM);
                        assert_eq!(snapshot(mem), before, "tree changed, fail {fail}");
                        assert_eq!(keys_of(t, mem), keys_before);
                        assert!(!t.contains(mem, key).unwrap());
                    }
                    Ok(()) => {
                        probe_mem_allocs = Some(fail);
                        break;
                    }
                }
            }
            mem.fail_at = None;
            let needed = probe_mem_allocs.expect("add never succeeded");
            assert_eq!(mem.live() - probe_before, needed);
            assert!(t.contains(mem, key).unwrap());
        }
    });
}

/// The leaf and level-1 table shortcuts of add and del: keys that alternate between leaves
/// and level-1 tables, and growths that fail, still land in the right pages.
#[test]
fn shortcuts_follow_the_key() {
    each_tree(|g, mem, t| {
        let a = encode_key(&g, 0, 0).unwrap();
        // The next leaf under the same level-1 table, and a key under another level-1 table.
        let b = a + (1 << g.bitmap_log2);
        let c = a + (1 << g.level_shift(2));
        t.add(mem, a).unwrap();
        for key in [b, c] {
            let before = snapshot(mem);
            mem.fail_at = Some(mem.allocs);
            assert_eq!(t.add(mem, key).unwrap_err().errno, errno::ENOMEM);
            mem.fail_at = None;
            assert_eq!(snapshot(mem), before);
            assert_eq!(t.del(mem, key).unwrap_err().errno, errno::ENOENT);
            t.add(mem, a + 1).unwrap();
            t.add(mem, key).unwrap();
            t.del(mem, a + 1).unwrap();
        }
        for _ in 0..3 {
            for k in [a, b, c, a + 1, c + 1, b] {
                t.add(mem, k).unwrap();
            }
        }
        assert_eq!(keys_of(t, mem), vec![a, a + 1, b, c, c + 1]);
        for k in [c, a, b, a] {
            t.del(mem, k).unwrap();
        }
        assert_eq!(keys_of(t, mem), vec![a + 1, c + 1]);
        for k in [a + 1, c + 1, b] {
            assert_eq!(t.contains(mem, k).unwrap(), k != b);
        }
        // Another handle on the same tree has its own shortcuts, and both stay right.
        // SAFETY: `t`'s root in `mem`; the pages stay allocated while `t2` is used.
        let mut t2 = unsafe { RadixTree::from_root(t.root()) };
        t2.add(mem, b).unwrap();
        t.del(mem, b).unwrap();
        t2.add(mem, c).unwrap();
        assert_eq!(keys_of(t, mem), vec![a + 1, c, c + 1]);
    });
}

#[test]
fn add_range_rolls_back_on_allocation_failure() {
    each_tree(|g, mem, t| {
        t.add(mem, encode_key(&g, 0, 0).unwrap()).unwrap();
        let leaf = g.leaf_bits() as u64;
        // Spans three leaves at order 0 plus small-order blocks at both ends.
        let (pfn, nr) = (3 * leaf - 7, 2 * leaf + 100);
        let mut fail = 0usize;
        loop {
            let before = snapshot(mem);
            mem.fail_at = Some(mem.allocs + fail);
            match t.add_range(mem, PageRange::new(pfn << g.page_shift, nr, 3)) {
                Err(e) => {
                    assert_eq!(e.errno, errno::ENOMEM);
                    assert_eq!(snapshot(mem), before, "fail {fail}");
                }
                Ok(n) => {
                    assert_eq!(n, blocks(pfn, nr, 3).len() as u64);
                    break;
                }
            }
            fail += 1;
            assert!(fail < 64);
        }
        mem.fail_at = None;
        assert!(fail >= 3);
        let mut want = block_keys(&g, pfn, nr, 3);
        want.push(encode_key(&g, 0, 0).unwrap());
        want.sort();
        assert_eq!(keys_of(t, mem), want);
        // No surplus pool page stayed allocated.
        assert_eq!(collect(t, mem).pages.len(), mem.live());
    });
}

// ---------------------------------------------------------------------------------------
// Ranges.

/// Builds one tree with `add` per block and one with `add_range`; compares them.
fn check_range(g: Geometry, pfn: u64, nr: u64, max_order: u32) {
    let range = PageRange::new(pfn << g.page_shift, nr, max_order);
    let mut m1 = SimMem::new(g);
    let mut t1 = RadixTree::new(&mut m1).unwrap();
    let want = block_keys(&g, pfn, nr, max_order);
    for &k in &want {
        t1.add(&mut m1, k).unwrap();
    }
    let mut m2 = SimMem::new(g);
    let mut t2 = RadixTree::new(&mut m2).unwrap();
    assert_eq!(t2.add_range(&mut m2, range).unwrap(), want.len() as u64);
    let mut sorted = want.clone();
    sorted.sort();
    assert_eq!(keys_of(&t2, &m2), sorted);
    assert_eq!(shape(&t1, &m1), shape(&t2, &m2));
    assert_eq!(m1.live(), m2.live(), "no surplus page kept");
    // Adding again adds nothing.
    assert_eq!(t2.add_range(&mut m2, range).unwrap(), 0);
    assert_eq!(shape(&t1, &m1), shape(&t2, &m2));
    // del_range removes exactly those keys, like del per key.
    for &k in &want {
        t1.del(&mut m1, k).unwrap();
    }
    assert_eq!(t2.del_range(&mut m2, range).unwrap(), want.len() as u64);
    assert!(keys_of(&t2, &m2).is_empty());
    assert_eq!(shape(&t1, &m1), shape(&t2, &m2));
    assert_eq!(t2.del_range(&mut m2, range).unwrap(), 0);
    t1.destroy(&mut m1);
    t2.destroy(&mut m2);
    assert_eq!(m1.live() + m2.live(), 0);
}

#[test]
fn add_range_matches_per_block_adds() {
    for g in GEOS {
        let leaf = g.leaf_bits() as u64;
        check_range(g, 0, 10000, 0); // word-at-a-time, one leaf
        check_range(g, 5, 10000, 0); // misaligned start
        check_range(g, leaf - 100, 300, 0); // crosses a leaf boundary
        check_range(g, 7, 1000, 10);
        check_range(g, 1, 2, 5); // two order-0 blocks
        check_range(g, 12345, 3 * leaf + 17, 4);
        check_range(g, 0, 1, g.max_order);
        check_range(g, 3 << 20, 1 << 20, 20);
        // A missing level-2 subtree spanning more than one leaf at order 0.
        check_range(g, (1 << 30) - 3, 2 * leaf + 9, 0);
    }
}

#[test]
fn add_range_leaf_words() {
    on_tree(G4K, |mem, t| {
        assert_eq!(
            t.add_range(mem, PageRange::new(0, 10000, 0)).unwrap(),
            10000
        );
        let c = collect(t, mem);
        assert_eq!(c.pages.len(), 6);
        let (leaf, level) = c.pages[5];
        assert_eq!(level, 0);
        let w = mem.page(leaf).unwrap();
        // Keys 1<<52 | 0..10000: bits 0..10000 of the first order-0 leaf.
        assert!(w[..156].iter().all(|&x| x == u64::MAX));
        assert_eq!(w[156], (1 << (10000 - 156 * 64)) - 1);
        assert!(w[157..].iter().all(|&x| x == 0));
        // Partially present: only the new keys count.
        assert_eq!(
            t.add_range(mem, PageRange::new(0x1000 * 9990, 20, 0))
                .unwrap(),
            10
        );
        assert_eq!(
            t.del_range(mem, PageRange::new(0x1000 * 64, 64, 0))
                .unwrap(),
            64
        );
        assert_eq!(mem.page(leaf).unwrap()[1], 0);
        assert_eq!(keys_of(t, mem).len(), 10010 - 64);
    });
}

#[test]
fn range_rejects_bad_arguments() {
    each_tree(|g, mem, t| {
        let e = t.add_range(mem, PageRange::new(8, 1, 0)).unwrap_err();
        assert_eq!((e.errno, e.value), (errno::EINVAL, 8));
        let last = u64::MAX << g.page_shift;
        assert_eq!(
            t.add_range(mem, PageRange::new(last, 2, 0))
                .unwrap_err()
                .errno,
            errno::ERANGE
        );
        assert_eq!(
            t.add_range(mem, PageRange::new(last, u64::MAX, 0))
                .unwrap_err()
                .errno,
            errno::ERANGE
        );
        assert_eq!(
            t.del_range(mem, PageRange::new(last, 2, 0))
                .unwrap_err()
                .errno,
            errno::ERANGE
        );
        assert_eq!(t.add_range(mem, PageRange::new(0, 0, 0)).unwrap(), 0);
        assert_eq!(mem.live(), 1);
        // The very last page is fine.
        assert_eq!(t.add_range(mem, PageRange::new(last, 1, 0)).unwrap(), 1);
        assert_eq!(keys_of(t, mem), vec![(1u64 << g.key_width) - 1]);
    });
    // The whole physical space with no order cap: two blocks of the largest usable order
    // (`max_order` is clamped), in the all-zero-prefix leaf.
    each_tree(|g, mem, t| {
        let all = 1u64 << (64 - g.page_shift);
        assert_eq!(
            t.add_range(mem, PageRange::new(0, all, u32::MAX)).unwrap(),
            2
        );
        assert_eq!(keys_of(t, mem), vec![2, 3]);
        assert_eq!(
            t.del_range(mem, PageRange::new(0, all, u32::MAX)).unwrap(),
            2
        );
    });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn range_random(gi in 0usize..3, pfn in 0u64..(1 << 22), nr in 1u64..5000, mo in 0u32..12) {
        check_range(GEOS[gi], pfn, nr, mo);
    }

    #[test]
    fn range_on_populated_tree(
        gi in 0usize..3,
        pre in proptest::collection::vec((0u64..4096, 0u32..3), 0..20),
        pfn in 0u64..4096,
        nr in 1u64..3000,
        mo in 0u32..4,
    ) {
        let g = GEOS[gi];
        let mut mem = SimMem::new(g);
        let mut t = RadixTree::new(&mut mem).unwrap();
        let mut model = BTreeSet::new();
        for (p, o) in pre {
            let k = encode_key(&g, (p >> o << o) << g.page_shift, o).unwrap();
            t.add(&mut mem, k).unwrap();
            model.insert(k);
        }
        let keys = block_keys(&g, pfn, nr, mo);
        let fresh = keys.iter().filter(|k| !model.contains(k)).count() as u64;
        prop_assert_eq!(t.add_range(&mut mem, PageRange::new(pfn << g.page_shift, nr, mo)).unwrap(), fresh);
        model.extend(keys.iter().copied());
        prop_assert_eq!(keys_of(&t, &mem), model.iter().copied().collect::<Vec<_>>());
        prop_assert_eq!(collect(&t, &mem).pages.len(), mem.live());
        prop_assert_eq!(t.del_range(&mut mem, PageRange::new(pfn << g.page_shift, nr, mo)).unwrap(), keys.len() as u64);
        for k in &keys {
            model.remove(k);
        }
        prop_assert_eq!(keys_of(&t, &mem), model.iter().copied().collect::<Vec<_>>());
        t.destroy(&mut mem);
        prop_assert_eq!(mem.live(), 0);
    }
}

// ---------------------------------------------------------------------------------------
// Byte layout.

#[test]
fn byte_layout_of_a_known_key() {
    // 4K: key = 1<<52 | 0x12345; L5 (root) slot 2, L4..L2 slot 0, L1 slot 2, leaf bit 0x2345.
    let g = G4K;
    on_tree(g, |mem, t| {
        let key = encode_key(&g, 0x1234_5000, 0).unwrap();
        assert_eq!(key, (1 << 52) | 0x12345);
        t.add(mem, key).unwrap();
        let slots = [(5, 2usize), (4, 0), (3, 0), (2, 0), (1, 2)];
        let mut pa = t.root();
        for (level, slot) in slots {
            assert_eq!(g.table_index(key, level), slot);
            let bytes = mem.bytes(pa);
            let p = mem.page(pa).unwrap();
            assert_eq!(p.iter().filter(|&&e| e != 0).count(), 1, "level {level}");
            let child = p[slot];
            assert_ne!(child, 0);
            assert!(g.is_page_aligned(child));
            // Native-endian physical address at byte offset slot * 8.
            assert_eq!(bytes[slot * 8..slot * 8 + 8], child.to_ne_bytes());
            pa = child;
        }
        let leaf = mem.bytes(pa);
        let bit = 0x2345usize;
        assert_eq!(mem.page(pa).unwrap()[bit / 64], 1 << (bit % 64));
        assert_eq!(mem.page(pa).unwrap()[141], 1 << 5);
        if cfg!(target_endian = "little") {
            assert_eq!(leaf[bit / 8], 1 << (bit % 8));
            assert_eq!(leaf.iter().filter(|&&b| b != 0).count(), 1);
        }
    });

    // The other geometries: follow the path with the geometry's own index functions.
    for g in [G16K, G64K] {
        on_tree(g, |mem, t| {
            let key = encode_key(&g, 0x1234_5678u64 << g.page_shift, 0).unwrap();
            t.add(mem, key).unwrap();
            let mut pa = t.root();
            for level in (1..=g.root_level()).rev() {
                let p = mem.page(pa).unwrap();
                pa = p[g.table_index(key, level)];
                assert_ne!(pa, 0);
                assert_eq!(p.iter().filter(|&&e| e != 0).count(), 1);
            }
            let bit = g.leaf_bit(key);
            assert_eq!(mem.page(pa).unwrap()[bit / 64], 1 << (bit % 64));
            // Root slot of an order-0 key: the order bit is in the root's index bits.
            let root_slot = (key >> g.level_shift(g.root_level())) as usize;
            assert_ne!(mem.page(t.root()).unwrap()[root_slot], 0);
        });
    }
}

#[test]
fn max_root_index_values() {
    // Worked out by hand from `enum kho_radix_consts`: 3 / 1 / 15.
    assert_eq!(max_root_index(&G4K), 3);
    assert_eq!(max_root_index(&G16K), 1);
    assert_eq!(max_root_index(&G64K), 15);
}

// ---------------------------------------------------------------------------------------
// Kexec.

/// A tree with keys of several orders and a range, preserved; returns it and its keys.
fn build_preserved(g: Geometry) -> (SimMem, RadixTree, Vec<u64>) {
    let mut mem = SimMem::new(g);
    let mut t = RadixTree::new(&mut mem).unwrap();
    t.add_range(
        &mut mem,
        PageRange::new(0x10_0000_0000 & (u64::MAX << g.page_shift), 5000, 4),
    )
    .unwrap();
    for (pa, o) in [
        (0u64, 0u32),
        (0, 9),
        (1 << 40, 1),
        (u64::MAX << g.page_shift, 0),
    ] {
        t.add(&mut mem, encode_key(&g, pa, o).unwrap()).unwrap();
    }
    // Key 2 (largest usable order at 0) lives in the all-zero-prefix leaf.
    t.add(&mut mem, encode_key(&g, 0, g.max_order - 1).unwrap())
        .unwrap();
    let keys = keys_of(&t, &mem);
    let nodes = t.preserve_nodes(&mut mem).unwrap();
    // The count it returns (the metadata report's) is what it preserved.
    assert_eq!(nodes as usize, mem.preserved.len());
    (mem, t, keys)
}

#[test]
fn kexec_round_trip() {
    for g in GEOS {
        let (mut mem, t, keys) = build_preserved(g);
        let c = collect(&t, &mem);
        assert_eq!(mem.preserved.len(), c.pages.len());
        let root = t.root();

        let mut m2 = mem.kexec();
        // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
        let (t2, stats) = unsafe { RadixTree::restore(&mut m2, root) }.unwrap();
        assert_eq!(t2.root(), root);
        assert!(m2.incoming.is_empty());
        let leaves = c.pages.iter().filter(|n| n.1 == 0).count() as u64;
        assert_eq!(
            stats,
            RadixStats {
                nodes: c.pages.len() as u64 - leaves,
                leaves,
                keys: keys.len() as u64,
            }
        );
        assert_eq!(keys_of(&t2, &m2), keys);
        for &k in &keys {
            assert!(t2.contains(&m2, k).unwrap());
        }
        // The restored tree is a normal tree: it can be changed and destroyed.
        let mut t2 = t2;
        t2.add(&mut m2, encode_key(&g, 1 << 33, 0).unwrap())
            .unwrap();
        t2.destroy(&mut m2);
        assert_eq!(m2.live(), 0);

        // The old kernel side: unpreserve and destroy.
        t.unpreserve_nodes(&mut mem);
        assert!(mem.preserved.is_empty());
        t.destroy(&mut mem);
        assert_eq!(mem.live(), 0);
    }
}

#[test]
fn preserve_nodes_rolls_back() {
    each_tree(|g, mem, t| {
        for i in 0..5u64 {
            let k = encode_key(&g, i << (g.page_shift + 20), 0).unwrap();
            t.add(mem, k).unwrap();
        }
        let n = mem.live();
        // Link a page that does not exist: preserving it fails after some others succeeded.
        let root = mem.page_mut(t.root()).unwrap();
        let last = root.len() - 1;
        root[last] = 0x7f00_0000_0000;
        assert!(t.preserve_nodes(mem).is_err());
        assert!(mem.preserved.is_empty());
        mem.page_mut(t.root()).unwrap()[last] = 0;
        t.preserve_nodes(mem).unwrap();
        assert_eq!(mem.preserved.len(), n);
        t.unpreserve_nodes(mem);
    });
}

/// Path of table pages to the leaf of `key`: `(table pa, slot)` from the root down.
fn path(g: &Geometry, mem: &SimMem, root: u64, key: u64) -> Vec<(u64, usize)> {
    let mut out = Vec::new();
    let mut pa = root;
    for level in (1..=g.root_level()).rev() {
        let slot = g.table_index(key, level);
        out.push((pa, slot));
        pa = mem.page(pa).unwrap()[slot];
    }
    out
}

/// Corrupts a preserved tree with `corrupt`, kexecs, and checks that restore fails with
/// `want` and leaks nothing.
fn check_malformed(
    g: Geometry,
    want: (i32, &str),
    corrupt: impl FnOnce(&mut SimMem, &RadixTree, &[u64]) -> u64,
) {
    let (mut mem, t, keys) = build_preserved(g);
    let root = corrupt(&mut mem, &t, &keys);
    let mut m2 = mem.kexec();
    let incoming = m2.incoming.clone();
    // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
    let e = unsafe { RadixTree::restore(&mut m2, root) }.unwrap_err();
    assert_eq!((e.errno, e.what), want, "{e}");
    // Every page is either still incoming (unclaimed) or gone (claimed and freed).
    assert!(
        m2.live_pages().is_subset(&incoming),
        "leaked a claimed page"
    );
    assert_eq!(m2.live_pages(), m2.incoming);
    // What was not freed can still be claimed by someone else, once.
    for pa in m2.incoming.clone() {
        // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
        unsafe { m2.claim(pa, 1) }.unwrap();
        m2.free(pa);
    }
    assert_eq!(m2.live(), 0);
}

#[test]
fn restore_rejects_malformed_trees() {
    const ALIGN: (i32, &str) = (errno::EINVAL, "radix: table entry not page aligned");
    // A page outside memory cannot be claimed: the same error as an unpreserved page.
    const OUTSIDE: (i32, &str) = (
        errno::EINVAL,
        "radix: node page not preserved or reached twice",
    );
    const TWICE: (i32, &str) = (
        errno::EINVAL,
        "radix: node page not preserved or reached twice",
    );
    const ROOT_SLOT: (i32, &str) = (errno::ERANGE, "radix: root slot beyond the key width");
    for g in GEOS {
        // Misaligned entry in a table deep in the tree.
        check_malformed(g, ALIGN, |mem, t, keys| {
            let p = path(&g, mem, t.root(), keys[keys.len() / 2]);
            let (pa, slot) = p[p.len() - 2];
            mem.page_mut(pa).unwrap()[slot] += 8;
            t.root()
        });
        // Pointer to a page that was not preserved (gone after kexec).
        check_malformed(g, OUTSIDE, |mem, t, keys| {
            let p = path(&g, mem, t.root(), keys[0]);
            let (pa, slot) = p[p.len() - 1];
            let stray = mem.alloc_zeroed().unwrap();
            mem.page_mut(pa).unwrap()[slot + 1] = stray;
            t.root()
        });
        // Pointer outside memory.
        check_malformed(g, OUTSIDE, |mem, t, keys| {
            let table = path(&g, mem, t.root(), keys[0])[1].0;
            let p = mem.page_mut(table).unwrap();
            let slot = p.iter().rposition(|&e| e == 0).unwrap();
            p[slot] = 0x7000_0000_0000;
            t.root()
        });
        // A child pointing back to the root (a loop).
        check_malformed(g, TWICE, |mem, t, keys| {
            let p = path(&g, mem, t.root(), *keys.last().unwrap());
            let (pa, slot) = p[1];
            let root = t.root();
            mem.page_mut(pa).unwrap()[slot ^ 1] = root;
            root
        });
        // Two slots sharing one child.
        check_malformed(g, TWICE, |mem, t, keys| {
            let p = path(&g, mem, t.root(), keys[1]);
            let (pa, slot) = p[p.len() - 1];
            let page = mem.page_mut(pa).unwrap();
            let child = page[slot];
            let other = if slot + 1 < page.len() {
                slot + 1
            } else {
                slot - 1
            };
            page[other] = child;
            t.root()
        });
        // A root slot beyond the max index, pointing to a preserved zero page.
        check_malformed(g, ROOT_SLOT, |mem, t, _| {
            let extra = mem.alloc_zeroed().unwrap();
            // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
            unsafe { mem.preserve(extra, 1) }.unwrap();
            let slot = max_root_index(&g) as usize + 1;
            mem.page_mut(t.root()).unwrap()[slot] = extra;
            t.root()
        });
        // Keys 0 or 1 set in the all-zero-prefix leaf (which holds key 2).
        for bit in [1, 2] {
            check_malformed(
                g,
                (errno::EINVAL, "radix: key 0 or 1 set in a leaf"),
                |mem, t, _| {
                    let p = path(&g, mem, t.root(), 2);
                    let (pa, slot) = p[p.len() - 1];
                    let leaf = mem.page(pa).unwrap()[slot];
                    mem.page_mut(leaf).unwrap()[0] |= bit;
                    t.root()
                },
            );
        }
        // Bad roots.
        check_malformed(g, (errno::EINVAL, "radix: root address is 0"), |_, _, _| 0);
        check_malformed(
            g,
            (errno::EINVAL, "radix: root not page aligned"),
            |_, t, _| t.root() + 0x10,
        );
        check_malformed(g, OUTSIDE, |_, _, _| 0x7000_0000_0000);
        // Root of a tree that is a leaf of the preserved one (claimed once, then its
        // "table" entries are bitmap words: rejected, nothing leaked).
        check_malformed(g, ALIGN, |mem, t, _| {
            let p = path(&g, mem, t.root(), 2);
            let (pa, slot) = p[p.len() - 1];
            let leaf = mem.page(pa).unwrap()[slot];
            mem.page_mut(leaf).unwrap()[7] = 0x1234;
            leaf
        });
    }
}

#[test]
fn restore_rejects_existing_but_unpreserved_page() {
    for g in GEOS {
        let (mut mem, t, keys) = build_preserved(g);
        let p = path(&g, &mem, t.root(), keys[0]);
        let (pa, slot) = p[p.len() - 1];
        let stray = 0x40_0000_0000u64;
        mem.page_mut(pa).unwrap()[slot + 1] = stray;
        let mut m2 = mem.kexec();
        m2.insert_at(stray); // exists in the new kernel, but nobody preserved it
        let incoming = m2.incoming.clone();
        // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
        let e = unsafe { RadixTree::restore(&mut m2, t.root()) }.unwrap_err();
        assert_eq!(e.what, "radix: node page not preserved or reached twice");
        assert_eq!(e.value, stray);
        let mut expect = m2.incoming.clone();
        expect.insert(stray);
        assert_eq!(m2.live_pages(), expect);
        assert!(m2.incoming.is_subset(&incoming));
        // The root was claimed and freed again; a second restore attempt fails cleanly.
        // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
        assert!(unsafe { RadixTree::restore(&mut m2, t.root()) }.is_err());
    }
}

#[test]
fn restore_of_empty_tree() {
    for g in GEOS {
        let mut mem = SimMem::new(g);
        let t = RadixTree::new(&mut mem).unwrap();
        t.preserve_nodes(&mut mem).unwrap();
        let mut m2 = mem.kexec();
        // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
        let (t2, stats) = unsafe { RadixTree::restore(&mut m2, t.root()) }.unwrap();
        assert_eq!(
            stats,
            RadixStats {
                nodes: 1,
                leaves: 0,
                keys: 0
            }
        );
        assert_eq!(stats.pages(), 1);
        assert!(keys_of(&t2, &m2).is_empty());
        // A second adoption of the same root fails: the page is claimed already.
        // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
        let e = unsafe { RadixTree::restore(&mut m2, t.root()) }.unwrap_err();
        assert_eq!(e.value, t.root());
        t2.destroy(&mut m2);
        assert_eq!(m2.live(), 0);
    }
}

#[test]
fn from_root_adopts_own_tree() {
    let mut mem = SimMem::new(G16K);
    let mut t = RadixTree::new(&mut mem).unwrap();
    let k = encode_key(&G16K, 0x4000, 0).unwrap();
    t.add(&mut mem, k).unwrap();
    // SAFETY: `t`'s root, in `mem`; `t` is not used to modify the tree afterwards.
    let t2 = unsafe { RadixTree::from_root(t.root()) };
    assert_eq!(t2, t);
    assert_eq!(keys_of(&t2, &mem), vec![k]);
    t2.destroy(&mut mem);
    assert_eq!(mem.live(), 0);
}
