// SPDX-License-Identifier: GPL-2.0

//! Host tests of `pure::block`.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::vec;
use std::vec::Vec;

use proptest::prelude::*;

use crate::pure::block::model::{Model, TestEntry, Words};
use crate::pure::block::pat::{is_pat, pat_fill, Pat};
use crate::pure::block::{BlockEntry, BlockIter, BlockSet, KHO_MAX_BLOCKS};
use crate::pure::error::{errno, Result};
use crate::pure::geometry::{Geometry, G16K, G4K, G64K};
use crate::pure::mem::PageMem;
use crate::sim::SimMem;

const GEOS: [Geometry; 3] = [G4K, G16K, G64K];

/// Walks the chain of `set` in `mem`: (pa, next, count) of every block.
fn chain<E: BlockEntry>(mem: &SimMem, set: &BlockSet<E>) -> Vec<(u64, u64, u64)> {
    let mut out = Vec::new();
    let mut pa = set.head_pa();
    while pa != 0 {
        let p = mem.page(pa).expect("block page");
        out.push((pa, p[0], p[1]));
        pa = p[0];
        assert!(out.len() <= set.nblocks(), "chain longer than nblocks");
    }
    out
}

/// Destroys `set` and checks that nothing of it is left: no page allocated or preserved.
fn destroy_all<E: BlockEntry>(mem: &mut SimMem, set: &mut BlockSet<E>) {
    set.destroy(mem);
    assert_eq!(mem.live(), 0, "pages left after destroy");
    assert!(mem.preserved.is_empty(), "pages still preserved");
}

/// Runs `body` on a new set of `E` in a fresh memory of every geometry; then destroys the set
/// ([`destroy_all`]).
fn each_set<E: BlockEntry>(body: impl Fn(&mut SimMem, &mut BlockSet<E>)) {
    for geo in GEOS {
        let mut mem = SimMem::new(geo);
        let mut set = BlockSet::<E>::new(geo);
        body(&mut mem, &mut set);
        destroy_all(&mut mem, &mut set);
    }
}

/// Reads every entry of a set with a fresh iterator.
fn read_all<E: BlockEntry>(mem: &SimMem, set: &BlockSet<E>) -> Vec<E> {
    let mut it = set.iter();
    let mut out = Vec::new();
    while let Some(e) = it.read_entry(mem) {
        out.push(e);
    }
    out
}

// ---------------------------------------------------------------------------------------
// Model-based property test.

/// The model's words on the host.
impl Words for Vec<u64> {
    fn push_zeros(&mut self, n: usize) -> Result {
        self.resize(self.len() + n, 0);
        Ok(())
    }

    fn truncate(&mut self, len: usize) {
        Vec::truncate(self, len);
    }
}

#[derive(Clone, Debug)]
enum Op {
    Grow(u32),
    Shrink(u32),
    Clear,
    Write(u64),
    WriteMany(u16, u64),
    Read,
    ReadMany(u16),
    /// `write_slice` of `n` entries from seed `s` on.
    WriteSlice(u16, u64),
    /// `read_slice` into a buffer of `n` entries.
    ReadSlice(u16),
    Prev,
    PrevMany(u16),
}

impl Op {
    fn is_iter_op(&self) -> bool {
        !matches!(self, Op::Grow(_) | Op::Shrink(_) | Op::Clear)
    }
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => any::<u32>().prop_map(Op::Grow),
        2 => any::<u32>().prop_map(Op::Shrink),
        1 => Just(Op::Clear),
        4 => any::<u64>().prop_map(Op::Write),
        2 => (0u16..700, any::<u64>()).prop_map(|(n, s)| Op::WriteMany(n, s)),
        3 => Just(Op::Read),
        1 => (0u16..700).prop_map(Op::ReadMany),
        2 => (0u16..1200, any::<u64>()).prop_map(|(n, s)| Op::WriteSlice(n, s)),
        2 => (0u16..1200).prop_map(Op::ReadSlice),
        2 => Just(Op::Prev),
        1 => (0u16..20).prop_map(Op::PrevMany),
    ]
}

/// Compares the pages of `set` with the model, byte for byte (the shared
/// [`Model::check`]), and the simulated memory with the chain: its blocks are distinct,
/// exactly they are preserved, and no other page is live.
fn check_against_model<E: TestEntry>(mem: &SimMem, set: &BlockSet<E>, model: &Model<Vec<u64>>) {
    if let Err(m) = model.check(mem, set) {
        panic!("set differs from the model: {m}");
    }
    let blocks = chain(mem, set);
    let pages: BTreeSet<u64> = blocks.iter().map(|b| b.0).collect();
    assert_eq!(pages.len(), blocks.len(), "blocks are distinct");
    assert_eq!(mem.preserved, pages, "exactly the blocks are preserved");
    assert_eq!(mem.live(), blocks.len(), "no page leaked");
}

/// One operation of a run on one iterator, on the set and on the model.
fn iter_op<E: TestEntry + Debug>(
    mem: &mut SimMem,
    it: &mut BlockIter<'_, E>,
    model: &mut Model<Vec<u64>>,
    op: &Op,
) {
    match op {
        Op::Write(s) => {
            let ok = it.write(mem, &E::from_seed(*s)).is_ok();
            assert_eq!(ok, model.write(*s).is_some());
        }
        Op::WriteMany(n, s) => {
            for k in 0..*n as u64 {
                let seed = s.wrapping_add(k);
                let ok = it.write(mem, &E::from_seed(seed));
                assert_eq!(ok.is_ok(), model.write(seed).is_some());
                if let Err(err) = ok {
                    assert_eq!(err.errno, errno::ENOSPC);
                    break;
                }
            }
        }
        Op::WriteSlice(n, s) => {
            let seeds = (0..*n as u64).map(|k| s.wrapping_add(k));
            let src: Vec<E> = seeds.clone().map(E::from_seed).collect();
            // The model takes entries one by one until it is full.
            let want = seeds
                .take_while(|&seed| model.write(seed).is_some())
                .count();
            assert_eq!(it.write_slice(mem, &src), want);
        }
        Op::ReadSlice(n) => {
            let mut out: Vec<E> = (0..*n).map(|_| E::from_seed(0)).collect();
            let got = it.read_slice(mem, &mut out);
            let want: Vec<E> = core::iter::from_fn(|| model.read())
                .take(*n as usize)
                .map(E::from_seed)
                .collect();
            assert_eq!(got, want.len());
            assert_eq!(&out[..got], &want[..]);
        }
        Op::Read => assert_eq!(it.read_entry(mem), model.read().map(E::from_seed)),
        // Many reads go through `read_entry_into`, one through `read_entry`: both
        // against the model.
        Op::ReadMany(n) => {
            for _ in 0..*n {
                let mut out = E::from_seed(u64::MAX);
                let got = it.read_entry_into(mem, &mut out);
                match model.read().map(E::from_seed) {
                    Some(want) => {
                        assert!(got);
                        assert_eq!(out, want);
                    }
                    None => {
                        assert!(!got);
                        assert_eq!(out, E::from_seed(u64::MAX));
                    }
                }
            }
        }
        Op::Prev => {
            let slot = it.prev(mem);
            let want = model.prev();
            assert_eq!(slot.is_some(), want.is_some());
            if let (Some(slot), Some((b, idx))) = (slot, want) {
                assert_eq!(slot.index(), idx);
                assert_eq!(slot.read(mem).unwrap(), E::from_seed(model.seed(b, idx)));
            }
        }
        Op::PrevMany(n) => {
            for _ in 0..*n {
                assert_eq!(it.prev(mem).map(|s| s.index()), model.prev().map(|p| p.1));
            }
        }
        Op::Grow(_) | Op::Shrink(_) | Op::Clear => unreachable!("not an iterator operation"),
    }
}

fn run_model<E: TestEntry + Debug>(geo: Geometry, ops: &[Op]) {
    let mut mem = SimMem::new(geo);
    let mut set = BlockSet::<E>::new(geo);
    let cap = set.count_per_block();
    assert_eq!(cap, (geo.page_size - 16) / E::SIZE);
    let mut model = Model::<Vec<u64>>::new(cap);
    let mut i = 0;
    while i < ops.len() {
        if !ops[i].is_iter_op() {
            match ops[i] {
                Op::Grow(x) => {
                    let count = x as usize % (4 * cap + 1);
                    set.grow(&mut mem, count).unwrap();
                    model.grow(count).unwrap();
                }
                Op::Shrink(x) => {
                    let count = x as usize % (4 * cap + 1);
                    set.shrink(&mut mem, count);
                    model.shrink(count);
                }
                Op::Clear => {
                    set.clear(&mut mem);
                    model.clear();
                }
                _ => unreachable!(),
            }
            check_against_model(&mem, &set, &model);
            i += 1;
            continue;
        }
        // A run of iterator operations on a fresh iterator.
        let mut it = set.iter();
        model.rewind();
        while i < ops.len() && ops[i].is_iter_op() {
            iter_op(&mut mem, &mut it, &mut model, &ops[i]);
            if let Err(m) = model.check_position(&mem, &set, it.position()) {
                panic!("iterator differs from the model: {m}");
            }
            i += 1;
        }
        check_against_model(&mem, &set, &model);
    }

    // Publish: trim, validate, kexec, restore, read everything back.
    set.trim(&mut mem);
    model.trim();
    check_against_model(&mem, &set, &model);
    set.validate_outgoing(&mem).unwrap();
    let mut m2 = mem.kexec();
    // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
    let mut incoming = unsafe { BlockSet::<E>::restore(&mut m2, set.head_pa()) }.unwrap();
    assert!(incoming.is_incoming());
    let restored: Vec<E> = model.restored().map(E::from_seed).collect();
    assert_eq!(read_all(&m2, &incoming), restored);
    assert!(m2.incoming.is_empty());
    destroy_all(&mut m2, &mut incoming);
    assert!(incoming.is_empty());

    destroy_all(&mut mem, &mut set);
}

fn geo_strategy() -> impl Strategy<Value = Geometry> {
    prop_oneof![Just(G4K), Just(G16K), Just(G64K)]
}

/// One property test per entry type, each with its own random geometries and operations.
macro_rules! model_tests {
    ($($name:ident: $entry:ty,)*) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(48))]
            $(
                #[test]
                fn $name(
                    geo in geo_strategy(),
                    ops in proptest::collection::vec(op_strategy(), 0..40),
                ) {
                    run_model::<$entry>(geo, &ops);
                }
            )*
        }
    };
}

model_tests! {
    model_u64: u64,
    model_24: [u8; 24],
    model_64: [u8; 64],
    model_100: [u8; 100],
    model_4080: [u8; 4080],
}

// ---------------------------------------------------------------------------------------
// Layout, iterator edges, grow failures.

#[test]
fn capacity_per_geometry() {
    for (geo, c8, c100, c4080) in [
        (G4K, 510, 40, 1),
        (G16K, 2046, 163, 4),
        (G64K, 8190, 655, 16),
    ] {
        assert_eq!(BlockSet::<u64>::new(geo).count_per_block(), c8);
        assert_eq!(BlockSet::<[u8; 100]>::new(geo).count_per_block(), c100);
        assert_eq!(BlockSet::<[u8; 4080]>::new(geo).count_per_block(), c4080);
        // 64-byte entries: 63 / 255 / 1023 (`(PAGE_SIZE - 16) / 64` of `kho_block_set_init()`).
        let c64 = BlockSet::<[u8; 64]>::new(geo).count_per_block();
        assert_eq!(c64, [63, 255, 1023][(geo.page_shift as usize - 12) / 2]);
    }
}

#[test]
fn pat_entries_check_every_byte() {
    for seed in [1u64, 2, 252, u64::MAX] {
        let mut bytes = vec![0u8; 4080];
        Pat::<4080>::of(seed).encode(&mut bytes);
        assert_eq!(&bytes[..8], &seed.to_ne_bytes(), "the seed comes first");
        assert!(bytes[8..].iter().all(|&b| b != 0));
        let mut filled = vec![0u8; 4080];
        pat_fill(seed, &mut filled);
        assert_eq!(filled, bytes);
        assert!(is_pat(seed, &bytes));
        assert_eq!(Pat::<4080>::decode(&bytes), Pat::of(seed));
        assert!(!is_pat(seed.wrapping_add(1), &bytes));
        for i in [0, 7, 8, 100, 4079] {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x40;
            assert!(!is_pat(seed, &damaged), "byte {i}");
            assert_ne!(Pat::<4080>::decode(&damaged), Pat::of(seed), "byte {i}");
        }
        // A short read is never the entry.
        assert_ne!(Pat::<4080>::decode(&bytes[..4079]), Pat::of(seed));
    }
    // Seed 0 is the all-zero entry.
    assert_eq!(Pat::<64>::decode(&[0u8; 64]), Pat::of(0));
    assert_eq!(<[u8; 64]>::from_seed(0), [0u8; 64]);
}

#[test]
fn exact_byte_layout() {
    each_set::<[u8; 24]>(|mem, set| {
        let cap = set.count_per_block();
        set.grow(mem, cap + 2).unwrap();
        assert_eq!(set.nblocks(), 2);
        let mut it = set.iter();
        for k in 0..cap as u64 + 2 {
            let e = <[u8; 24]>::from_seed(k + 1);
            it.write(mem, &e).unwrap();
        }
        let (b0, b1) = {
            let c = chain(mem, set);
            (c[0].0, c[1].0)
        };
        let first = mem.bytes(b0);
        assert_eq!(&first[0..8], &b1.to_ne_bytes(), "next at +0");
        assert_eq!(&first[8..16], &(cap as u64).to_ne_bytes(), "count at +8");
        for k in 0..cap {
            let want = <[u8; 24]>::from_seed(k as u64 + 1);
            assert_eq!(&first[16 + 24 * k..16 + 24 * (k + 1)], &want, "entry {k}");
        }
        assert!(
            first[16 + 24 * cap..].iter().all(|&b| b == 0),
            "tail padding is zero"
        );
        let second = mem.bytes(b1);
        assert_eq!(&second[0..8], &0u64.to_ne_bytes());
        assert_eq!(&second[8..16], &2u64.to_ne_bytes());
        assert_eq!(&second[16..40], &<[u8; 24]>::from_seed(cap as u64 + 1));
        assert_eq!(&second[40..64], &<[u8; 24]>::from_seed(cap as u64 + 2));
        assert!(second[64..].iter().all(|&b| b == 0));
    });
}

#[test]
fn u64_entries_are_native_words() {
    let mut mem = SimMem::new(G4K);
    let mut set = BlockSet::<u64>::new(G4K);
    set.grow(&mut mem, 3).unwrap();
    let mut it = set.iter();
    for v in [0x1122_3344_5566_7788u64, 0, u64::MAX] {
        it.write(&mut mem, &v).unwrap();
    }
    let p = mem.page(set.head_pa()).unwrap();
    assert_eq!(&p[..5], &[0, 3, 0x1122_3344_5566_7788, 0, u64::MAX]);
    destroy_all(&mut mem, &mut set);
}

#[test]
fn prev_crosses_block_boundary_without_lowering_count() {
    let mut mem = SimMem::new(G4K);
    let mut set = BlockSet::<[u8; 4080]>::new(G4K);
    set.grow(&mut mem, 3).unwrap();
    let blocks: Vec<u64> = chain(&mem, &set).iter().map(|b| b.0).collect();
    let mut it = set.iter();
    assert!(it.prev(&mem).is_none(), "nothing before the start");
    for (k, &block) in blocks.iter().enumerate() {
        let s = it.reserve_entry(&mut mem).unwrap();
        assert_eq!((s.block_pa(), s.index()), (block, 0));
        s.write(&mut mem, &[k as u8 + 1; 4080]).unwrap();
    }
    assert!(it.reserve_entry(&mut mem).is_none());
    // Steps back: block 2 slot 0, then block 1 slot 0 (= cap - 1), then block 0 slot 0.
    let s = it.prev(&mem).unwrap();
    assert_eq!((s.block_pa(), s.index()), (blocks[2], 0));
    let s = it.prev(&mem).unwrap();
    assert_eq!((s.block_pa(), s.index()), (blocks[1], 0));
    assert_eq!(s.read(&mem).unwrap(), [2u8; 4080]);
    let s = it.prev(&mem).unwrap();
    assert_eq!((s.block_pa(), s.index()), (blocks[0], 0));
    assert!(it.prev(&mem).is_none());
    // Counts unchanged.
    assert!(chain(&mem, &set).iter().all(|b| b.2 == 1));
    destroy_all(&mut mem, &mut set);
}

#[test]
fn empty_set_iterators() {
    let mut mem = SimMem::new(G4K);
    let set = BlockSet::<u64>::new(G4K);
    let mut it = set.iter();
    assert!(it.reserve_entry(&mut mem).is_none());
    assert_eq!(it.write(&mut mem, &1).unwrap_err().errno, errno::ENOSPC);
    assert!(it.read_entry(&mem).is_none());
    assert!(it.prev(&mem).is_none());
    assert_eq!(set.head_pa(), 0);
    set.validate_outgoing(&mem).unwrap();
}

#[test]
fn grow_rollback_removes_only_new_blocks() {
    for geo in GEOS {
        for fail_after in 0..4 {
            let mut mem = SimMem::new(geo);
            let mut set = BlockSet::<[u8; 100]>::new(geo);
            let cap = set.count_per_block();
            set.grow(&mut mem, 2 * cap).unwrap();
            let mut it = set.iter();
            it.write(&mut mem, &[7; 100]).unwrap();
            let before = chain(&mem, &set);
            let live = mem.live_pages();
            let preserved = mem.preserved.clone();
            mem.fail_at = Some(mem.allocs + fail_after);
            let err = set.grow(&mut mem, 6 * cap).unwrap_err();
            assert_eq!(err.errno, errno::ENOMEM);
            assert_eq!(chain(&mem, &set), before, "old tail's next is 0 again");
            assert_eq!(set.nblocks(), 2);
            assert_eq!(mem.live_pages(), live);
            assert_eq!(mem.preserved, preserved);
            // The set still works: grow again, write, publish.
            mem.fail_at = None;
            set.grow(&mut mem, 3 * cap).unwrap();
            assert_eq!(set.nblocks(), 3);
            destroy_all(&mut mem, &mut set);
        }
        // From an empty set: the head is reset.
        let mut mem = SimMem::new(geo);
        let mut set = BlockSet::<u64>::new(geo);
        mem.fail_at = Some(1);
        assert!(set.grow(&mut mem, 3 * set.count_per_block()).is_err());
        assert_eq!((set.head_pa(), set.nblocks()), (0, 0));
        assert_eq!(mem.live(), 0);
        assert!(mem.preserved.is_empty());
    }
}

#[test]
fn grow_cap_and_incoming() {
    let mut mem = SimMem::new(G4K);
    let mut set = BlockSet::<[u8; 4080]>::new(G4K);
    let err = set.grow(&mut mem, KHO_MAX_BLOCKS + 1).unwrap_err();
    assert_eq!(err.errno, errno::ENOSPC);
    assert_eq!(mem.live(), 0);
    // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
    let mut incoming = unsafe { BlockSet::<u64>::restore(&mut mem, 0) }.unwrap();
    assert!(incoming.is_empty() && incoming.is_incoming());
    assert_eq!(incoming.grow(&mut mem, 1).unwrap_err().errno, errno::EINVAL);
}

#[test]
fn max_blocks_grow_and_restore() {
    // Exactly KHO_MAX_BLOCKS blocks are fine both ways.
    let mut mem = SimMem::new(G4K);
    let mut set = BlockSet::<[u8; 4080]>::new(G4K);
    set.grow(&mut mem, KHO_MAX_BLOCKS).unwrap();
    assert_eq!(set.nblocks(), KHO_MAX_BLOCKS);
    let mut it = set.iter();
    for k in 0..KHO_MAX_BLOCKS {
        it.write(&mut mem, &[k as u8; 4080]).unwrap();
    }
    set.validate_outgoing(&mem).unwrap();
    let mut m2 = mem.kexec();
    // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
    let mut inc = unsafe { BlockSet::<[u8; 4080]>::restore(&mut m2, set.head_pa()) }.unwrap();
    assert_eq!(inc.nblocks(), KHO_MAX_BLOCKS);
    destroy_all(&mut m2, &mut inc);
    destroy_all(&mut mem, &mut set);
}

#[test]
fn validate_outgoing_and_trim() {
    each_set::<[u8; 64]>(|mem, set| {
        let cap = set.count_per_block();
        set.grow(mem, 3 * cap).unwrap();
        let mut it = set.iter();
        for k in 0..cap + 5 {
            it.write(mem, &<[u8; 64]>::from_seed(k as u64 + 1)).unwrap();
        }
        let err = set.validate_outgoing(mem).unwrap_err();
        assert_eq!(err.errno, errno::EINVAL);
        assert_eq!(err.value, chain(mem, set)[2].0, "the unused tail is named");
        set.trim(mem);
        assert_eq!(set.nblocks(), 2);
        set.validate_outgoing(mem).unwrap();
        assert_eq!(set.written(mem), cap + 5);
        assert_eq!(mem.live(), 2);
        // A grown but never written set trims to nothing.
        set.clear(mem);
        set.trim(mem);
        assert!(set.is_empty());
        assert_eq!(set.head_pa(), 0);
        assert_eq!(mem.live(), 0);
        assert!(mem.preserved.is_empty());
    });
}

#[test]
fn kexec_round_trip() {
    each_set::<[u8; 100]>(|mem, set| {
        let cap = set.count_per_block();
        let n = 2 * cap + 3;
        set.grow(mem, n).unwrap();
        let mut it = set.iter();
        let want: Vec<[u8; 100]> = (1..=n as u64).map(<[u8; 100]>::from_seed).collect();
        for e in &want {
            it.write(mem, e).unwrap();
        }
        set.validate_outgoing(mem).unwrap();
        let head = set.head_pa();
        let mut m2 = mem.kexec();
        assert_eq!(m2.incoming.len(), 3);
        // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
        let mut inc = unsafe { BlockSet::<[u8; 100]>::restore(&mut m2, head) }.unwrap();
        assert_eq!((inc.nblocks(), inc.head_pa()), (3, head));
        assert!(m2.incoming.is_empty(), "every block restored");
        assert_eq!(read_all(&m2, &inc), want);
        // Incoming shrink frees restored blocks (LIFO removal of the last entries).
        inc.shrink(&mut m2, 2 * cap);
        assert_eq!(inc.nblocks(), 2);
        assert_eq!(m2.live(), 2);
        assert_eq!(read_all(&m2, &inc), want[..2 * cap].to_vec());
        destroy_all(&mut m2, &mut inc);
        assert!(inc.is_incoming());
    });
}

// ---------------------------------------------------------------------------------------
// Malformed incoming chains.

/// Builds a preserved block with the given header; returns its address.
fn raw_block(mem: &mut SimMem, count: u64) -> u64 {
    let pa = mem.alloc_zeroed().unwrap();
    // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
    unsafe { mem.preserve(pa, 1) }.unwrap();
    mem.page_mut(pa).unwrap()[1] = count;
    pa
}

fn link(mem: &mut SimMem, from: u64, to: u64) {
    mem.page_mut(from).unwrap()[0] = to;
}

/// Builds a chain of `n` blocks with count 1; returns their addresses.
fn raw_chain(mem: &mut SimMem, n: usize) -> Vec<u64> {
    let pas: Vec<u64> = (0..n).map(|_| raw_block(mem, 1)).collect();
    for w in pas.windows(2) {
        link(mem, w[0], w[1]);
    }
    pas
}

/// Restores `head` in the kexec'd `m2` and checks that the failure left nothing restored.
fn expect_reject<E: BlockEntry>(m2: SimMem, head: u64, errno_want: i32) -> SimMem {
    super::expect_restore_error(m2, "block: ", errno_want, |m| {
        // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
        unsafe { BlockSet::<E>::restore(m, head) }
    })
    .0
}

#[test]
fn rejects_loops() {
    for geo in GEOS {
        // Loop to head, loop to middle, self loop, two-block loop.
        for (n, back_to) in [(3usize, 0usize), (5, 2), (1, 0), (2, 0), (4, 3)] {
            let mut mem = SimMem::new(geo);
            let pas = raw_chain(&mut mem, n);
            link(&mut mem, pas[n - 1], pas[back_to]);
            let m2 = expect_reject::<u64>(mem.kexec(), pas[0], errno::ELOOP);
            assert!(
                m2.incoming.is_empty(),
                "every block of the loop was claimed, then freed"
            );
        }
    }
}

#[test]
fn rejects_long_loop_as_loop() {
    // A loop through 7000 blocks (more than half the cap) is still reported as a loop.
    let mut mem = SimMem::new(G4K);
    let pas = raw_chain(&mut mem, 7000);
    link(&mut mem, pas[6999], pas[10]);
    expect_reject::<[u8; 4080]>(mem.kexec(), pas[0], errno::ELOOP);
}

#[test]
fn rejects_too_long_chain() {
    let mut mem = SimMem::new(G4K);
    let pas = raw_chain(&mut mem, KHO_MAX_BLOCKS + 1);
    let m2 = expect_reject::<[u8; 4080]>(mem.kexec(), pas[0], errno::EINVAL);
    // KHO_MAX_BLOCKS blocks were claimed (and freed); the one past the cap never was.
    assert_eq!(m2.incoming.len(), 1);
}

#[test]
fn rejects_bad_counts_and_links() {
    for geo in GEOS {
        let cap = BlockSet::<[u8; 100]>::new(geo).count_per_block() as u64;
        // count 0 at the head, in the middle, at the tail; count > cap (reader's cap).
        for (pos, count) in [(0usize, 0u64), (2, 0), (3, 0), (1, cap + 1), (3, u64::MAX)] {
            let mut mem = SimMem::new(geo);
            let pas = raw_chain(&mut mem, 4);
            mem.page_mut(pas[pos]).unwrap()[1] = count;
            let m2 = expect_reject::<[u8; 100]>(mem.kexec(), pas[0], errno::EINVAL);
            // Blocks up to the bad one were claimed (then freed); the rest were not.
            assert_eq!(m2.incoming.len(), 4 - (pos + 1));
        }
        // A block written for 8-byte entries is too full for a 100-byte reader.
        let mut mem = SimMem::new(geo);
        let pas = raw_chain(&mut mem, 2);
        mem.page_mut(pas[1]).unwrap()[1] = cap + 1;
        expect_reject::<[u8; 100]>(mem.kexec(), pas[0], errno::EINVAL);
        let mut m2 = mem.kexec();
        // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
        let mut ok = unsafe { BlockSet::<u64>::restore(&mut m2, pas[0]) }.unwrap();
        assert_eq!(ok.written(&m2), 1 + cap as usize + 1);
        destroy_all(&mut m2, &mut ok);

        // Misaligned head and misaligned next.
        let mut mem = SimMem::new(geo);
        let pas = raw_chain(&mut mem, 3);
        expect_reject::<u64>(mem.kexec(), pas[0] + 8, errno::EINVAL);
        link(&mut mem, pas[1], pas[2] + 16);
        let err_m2 = expect_reject::<u64>(mem.kexec(), pas[0], errno::EINVAL);
        assert_eq!(err_m2.incoming.len(), 1, "the third block is never reached");

        // Truncated chain: next points at a page that does not exist.
        let mut mem = SimMem::new(geo);
        let pas = raw_chain(&mut mem, 3);
        link(
            &mut mem,
            pas[2],
            0x7000_0000_0000 & !(geo.page_size as u64 - 1),
        );
        expect_reject::<u64>(mem.kexec(), pas[0], errno::EINVAL);
        expect_reject::<u64>(mem.kexec(), 0x10, errno::EINVAL);

        // next points at a page that exists in the new kernel but was not preserved: the
        // blocks restored before it are freed again.
        let mut mem = SimMem::new(geo);
        let pas = raw_chain(&mut mem, 4);
        let stray = mem.alloc_zeroed().unwrap();
        mem.page_mut(stray).unwrap()[1] = 1;
        link(&mut mem, pas[3], stray);
        let mut m2 = mem.kexec();
        m2.insert_at(stray);
        m2.page_mut(stray).unwrap()[1] = 1;
        let m2 = expect_reject::<u64>(m2, pas[0], errno::EINVAL);
        assert!(m2.incoming.is_empty(), "the preserved prefix was restored");
        assert_eq!(m2.live_pages(), [stray].into_iter().collect(), "and freed");
    }
}
