// SPDX-License-Identifier: GPL-2.0

//! Host tests of `pure::vmalloc`.

use std::collections::BTreeSet;
use std::vec::Vec;
use zerocopy::IntoBytes;

use crate::pure::error::{errno, Error};
use crate::pure::geometry::{Geometry, G16K, G4K, G64K};
use crate::pure::mem::PageMem;
use crate::pure::vmalloc::{
    for_each_entry, preserve, restore, unpreserve, validate, KhoVmalloc, KhoVmallocChunk,
    VmallocStats, KHO_VMALLOC_ALLOC, KHO_VMALLOC_HUGE_VMAP,
};
use crate::sim::{SimMem, SimPages};

/// Where the test "vmalloc area" pages live (far above the allocator's pages).
const DATA_BASE: u64 = 0x40_0000_0000;

/// Creates `blocks` data blocks of `2^order` pages, each page tagged with its area index in
/// word 0 and its address in word 1; returns the block addresses.
fn data_blocks(mem: &mut SimMem, blocks: usize, order: u16) -> Vec<u64> {
    let ps = mem.geometry().page_size as u64;
    let nr = 1u64 << order;
    let mut out = Vec::new();
    for b in 0..blocks as u64 {
        // Leave a gap of one block between blocks so they are not contiguous.
        let pa = DATA_BASE + 2 * b * nr * ps;
        for k in 0..nr {
            let p = pa + k * ps;
            mem.insert_at(p);
            let w = mem.page_mut(p).unwrap();
            w[0] = b * nr + k;
            w[1] = p;
        }
        out.push(pa);
    }
    out
}

/// Chunk addresses of a descriptor and the entries of each chunk (all N slots).
fn chunks(mem: &SimMem, desc: &KhoVmalloc) -> Vec<(u64, Vec<u64>)> {
    let n = mem.geometry().vmalloc_chunk_entries;
    let mut out = Vec::new();
    let mut c = desc.first;
    while c != 0 {
        let p = mem.page(c).unwrap();
        out.push((c, p[1..=n].to_vec()));
        c = p[0];
        assert!(out.len() < 100_000);
    }
    out
}

fn data_pages(mem: &SimMem) -> BTreeSet<u64> {
    mem.live_pages()
        .into_iter()
        .filter(|&p| p >= DATA_BASE)
        .collect()
}

#[test]
fn descriptor_layout() {
    assert_eq!(core::mem::size_of::<KhoVmalloc>(), 16);
    assert_eq!(core::mem::align_of::<KhoVmalloc>(), 8);
    let d = KhoVmalloc {
        first: 0x1122_3344_5566_7788,
        total_pages: 0xaabb_ccdd,
        flags: KHO_VMALLOC_ALLOC | KHO_VMALLOC_HUGE_VMAP,
        order: 0x0102,
    };
    let b = d.as_bytes();
    assert_eq!(&b[0..8], &0x1122_3344_5566_7788u64.to_ne_bytes());
    assert_eq!(&b[8..12], &0xaabb_ccddu32.to_ne_bytes());
    assert_eq!(&b[12..14], &3u16.to_ne_bytes());
    assert_eq!(&b[14..16], &0x0102u16.to_ne_bytes());
    assert_eq!(KhoVmalloc::from_bytes(&b).unwrap(), d);
    for len in [0, 8, 15, 17, 24] {
        let buf = [0u8; 24];
        let e = KhoVmalloc::from_bytes(&buf[..len]).unwrap_err();
        assert_eq!((e.errno, e.value), (errno::EINVAL, len as u64));
    }
    assert_eq!((KHO_VMALLOC_ALLOC, KHO_VMALLOC_HUGE_VMAP), (1, 2));
}

/// Preserves `blocks` blocks of `order`, checks the chunk layout, kexecs, restores and checks
/// the data; returns the number of chunks.
fn round_trip(geo: Geometry, blocks: usize, order: u16) -> usize {
    let n = geo.vmalloc_chunk_entries;
    let mut mem = SimMem::new(geo);
    let list = data_blocks(&mut mem, blocks, order);
    let total = (blocks as u32) << order;
    // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
    let desc = unsafe {
        preserve(
            &mut mem,
            list.iter().copied(),
            total,
            order,
            KHO_VMALLOC_ALLOC,
        )
    }
    .unwrap();
    assert_eq!(
        (desc.total_pages, desc.order, desc.flags),
        (total, order, 1)
    );

    // Layout: full chunks, then the rest, zero-terminated; eager empty trailing chunk.
    let ch = chunks(&mem, &desc);
    assert_eq!(ch.len(), blocks / n + 1);
    // What the metadata report counts is the chain that was written.
    assert_eq!(
        crate::pure::vmalloc::chunk_pages(&geo, &desc),
        ch.len() as u64
    );
    let flat: Vec<u64> = ch
        .iter()
        .flat_map(|c| c.1.iter().copied())
        .filter(|&p| p != 0)
        .collect();
    assert_eq!(flat, list);
    for (i, (_, entries)) in ch.iter().enumerate() {
        let used = if i + 1 < ch.len() { n } else { blocks % n };
        assert!(entries[..used].iter().all(|&p| p != 0));
        assert!(entries[used..].iter().all(|&p| p == 0));
    }
    // Exactly the chunks and the data pages are preserved; only chunks were allocated.
    let ps = geo.page_size as u64;
    let mut want: BTreeSet<u64> = ch.iter().map(|c| c.0).collect();
    for &b in &list {
        want.extend((0..1u64 << order).map(|k| b + k * ps));
    }
    assert_eq!(mem.preserved, want);
    assert_eq!(mem.live() - data_pages(&mem).len(), ch.len());

    // SAFETY: an outgoing descriptor of `mem`, not unpreserved yet.
    let stats = unsafe { validate(&mem, &desc) }.unwrap();
    assert_eq!(
        stats,
        VmallocStats {
            chunks: ch.len(),
            entries: blocks
        }
    );
    let mut seen = Vec::new();
    // SAFETY: as above.
    unsafe { for_each_entry(&mem, &desc, |pa| seen.push(pa)) }.unwrap();
    assert_eq!(seen, list);

    // The descriptor crosses kexec as 16 bytes.
    let wire = desc.as_bytes();
    let mut m2 = mem.kexec();
    let desc2 = KhoVmalloc::from_bytes(&wire).unwrap();
    let mut out = SimPages::default();
    // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
    unsafe { restore(&mut m2, &desc2, &mut out) }.unwrap();
    let pages = out.pas;
    assert_eq!(pages.len(), total as usize);
    for (i, &pa) in pages.iter().enumerate() {
        let w = m2.page(pa).unwrap();
        assert_eq!((w[0], w[1]), (i as u64, pa), "page {i} in area order");
    }
    assert!(m2.incoming.is_empty(), "everything restored");
    assert_eq!(
        m2.live_pages(),
        pages.iter().copied().collect(),
        "chunks freed"
    );
    for pa in pages {
        m2.free(pa);
    }

    // Outgoing side: unpreserve undoes everything but keeps the data pages.
    // SAFETY: returned by `preserve` on `mem`, unpreserved once.
    unsafe { unpreserve(&mut mem, &desc) };
    assert!(mem.preserved.is_empty());
    assert_eq!(mem.live_pages(), data_pages(&mem));
    ch.len()
}

#[test]
fn chunking_at_boundaries_4k_16k() {
    for geo in [G4K, G16K] {
        let n = geo.vmalloc_chunk_entries;
        assert_eq!(round_trip(geo, 1, 0), 1);
        assert_eq!(round_trip(geo, n - 1, 0), 1);
        assert_eq!(round_trip(geo, n, 0), 2, "eager empty trailing chunk");
        assert_eq!(round_trip(geo, n + 1, 0), 2);
        assert_eq!(round_trip(geo, 2 * n, 0), 3);
    }
    // Order 2: N blocks cover 4N pages.
    assert_eq!(round_trip(G4K, 511, 2), 2);
    assert_eq!(round_trip(G4K, 512, 2), 2);
    assert_eq!(round_trip(G4K, 3, 2), 1);
}

#[test]
fn small_areas_64k() {
    // 8191 entries of 64K pages would need half a GiB of simulated memory; the chunking
    // code is the same for every N, so 64K pages get small areas of both orders.
    assert_eq!(round_trip(G64K, 1, 0), 1);
    assert_eq!(round_trip(G64K, 37, 0), 1);
    assert_eq!(round_trip(G64K, 5, 2), 1);
    assert_eq!(round_trip(G16K, 9, 2), 1);
}

#[test]
fn preserve_rollback() {
    for geo in [G4K, G16K] {
        let n = geo.vmalloc_chunk_entries;
        // Fail the first, second and third chunk allocation.
        for fail in 0..3 {
            let mut mem = SimMem::new(geo);
            let list = data_blocks(&mut mem, 2 * n + 3, 0);
            mem.fail_at = Some(mem.allocs + fail);
            let err =
                // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
                unsafe { preserve(&mut mem, list.iter().copied(), list.len() as u32, 0, 1) }.unwrap_err();
            assert_eq!(err.errno, errno::ENOMEM);
            assert!(mem.preserved.is_empty());
            assert_eq!(mem.live_pages(), data_pages(&mem), "chunks freed");
        }
        // A data page that does not exist half way: everything before is undone.
        let mut mem = SimMem::new(geo);
        let mut list = data_blocks(&mut mem, n + 3, 0);
        list[n + 1] = 0x7f00_0000_0000;
        // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
        assert!(
            unsafe { preserve(&mut mem, list.iter().copied(), list.len() as u32, 0, 1) }.is_err()
        );
        assert!(mem.preserved.is_empty());
        assert_eq!(mem.live_pages(), data_pages(&mem));
    }
    let mut mem = SimMem::new(G4K);
    let list = data_blocks(&mut mem, 10, 2);
    let it = || list.iter().copied();
    let cases: [(u32, u16, u16, i32); 5] = [
        (40, 2, 0x4, errno::EOPNOTSUPP), // unknown flag
        (41, 2, 1, errno::EINVAL),       // more pages than blocks
        (36, 2, 1, errno::EINVAL),       // fewer pages than blocks
        (0, 2, 1, errno::EINVAL),        // empty
        (40 << 9, 11, 1, errno::EINVAL), // order above MAX_PAGE_ORDER
    ];
    for (total, order, flags, want) in cases {
        // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
        let e = unsafe { preserve(&mut mem, it(), total, order, flags) }.unwrap_err();
        assert_eq!(e.errno, want, "{e}");
        assert!(
            e.what.starts_with("vmalloc: ") || e.what.starts_with("sim: "),
            "{e}"
        );
        assert!(mem.preserved.is_empty());
        assert_eq!(mem.live_pages(), data_pages(&mem));
    }
    // Misaligned order-2 block.
    let bad = [list[0], list[1] + 4096];
    // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
    let e = unsafe { preserve(&mut mem, bad.iter().copied(), 8, 2, 1) }.unwrap_err();
    assert_eq!((e.errno, e.value), (errno::EINVAL, list[1] + 4096));
    assert!(mem.preserved.is_empty());
}

// ---------------------------------------------------------------------------------------
// Malformed incoming descriptors.

/// A hand-made preserved chunk with `next` and entries.
fn raw_chunk(mem: &mut SimMem, next: u64, entries: &[u64]) -> u64 {
    let pa = mem.alloc_zeroed().unwrap();
    // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
    unsafe { mem.preserve(pa, 1) }.unwrap();
    let w = mem.page_mut(pa).unwrap();
    w[0] = next;
    w[1..=entries.len()].copy_from_slice(entries);
    pa
}

/// Preserved data blocks.
fn preserved_blocks(mem: &mut SimMem, blocks: usize, order: u16) -> Vec<u64> {
    let list = data_blocks(mem, blocks, order);
    for &pa in &list {
        // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
        unsafe { mem.preserve(pa, 1 << order) }.unwrap();
    }
    list
}

/// The descriptor of an order-0 `VM_ALLOC` area of `total_pages` pages from chunk `first`.
fn alloc_desc(first: u64, total_pages: u32) -> KhoVmalloc {
    KhoVmalloc {
        first,
        total_pages,
        flags: KHO_VMALLOC_ALLOC,
        order: 0,
    }
}

/// Restores `desc` in `m2` expecting `errno_want`; checks that nothing restored is left.
fn expect_reject(m2: SimMem, desc: &KhoVmalloc, errno_want: i32) -> (SimMem, Error) {
    super::expect_restore_error(m2, "vmalloc: ", errno_want, |m| {
        // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
        unsafe { restore(m, desc, &mut SimPages::default()) }
    })
}

#[test]
fn rejects_bad_descriptors() {
    for geo in [G4K, G16K, G64K] {
        let ps = geo.page_size as u64;
        let mut mem = SimMem::new(geo);
        let list = preserved_blocks(&mut mem, 6, 0);
        let first = raw_chunk(&mut mem, 0, &list);
        let good = alloc_desc(first, 6);
        let mut m_ok = mem.kexec();
        let mut out = SimPages::default();
        // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
        let stats = unsafe { restore(&mut m_ok, &good, &mut out) };
        assert!(stats.is_ok() && out.pas.len() == 6, "{stats:?}");

        let bad = [
            (KhoVmalloc { first: 0, ..good }, errno::EINVAL),
            (
                KhoVmalloc {
                    first: first + 8,
                    ..good
                },
                errno::EINVAL,
            ),
            (
                KhoVmalloc {
                    first: first + ps / 2,
                    ..good
                },
                errno::EINVAL,
            ),
            (KhoVmalloc { flags: 0x5, ..good }, errno::EINVAL),
            (
                KhoVmalloc {
                    flags: 0x8000,
                    ..good
                },
                errno::EINVAL,
            ),
            (
                KhoVmalloc {
                    total_pages: 7,
                    ..good
                },
                errno::EINVAL,
            ),
            (
                KhoVmalloc {
                    total_pages: 5,
                    ..good
                },
                errno::EINVAL,
            ),
            (
                KhoVmalloc {
                    total_pages: 0,
                    ..good
                },
                errno::EINVAL,
            ),
            (
                KhoVmalloc {
                    order: 1,
                    total_pages: 12,
                    ..good
                },
                errno::EINVAL,
            ), // 2nd page missing
            (KhoVmalloc { order: 1, ..good }, errno::EINVAL),
            (KhoVmalloc { order: 40, ..good }, errno::EINVAL),
            (
                KhoVmalloc {
                    first: 0x7f00_0000_0000,
                    ..good
                },
                errno::EINVAL,
            ), // no such page
        ];
        for (desc, want) in bad {
            let (m2, _) = expect_reject(mem.kexec(), &desc, want);
            // Whatever was claimed was freed; the rest is still unclaimed and intact.
            assert_eq!(
                m2.live_pages(),
                m2.incoming,
                "claimed pages left for {desc:?}"
            );
            assert!(m2.incoming.is_subset(&mem.preserved));
        }
        let (_, e) = expect_reject(
            mem.kexec(),
            &KhoVmalloc { flags: 0x5, ..good },
            errno::EINVAL,
        );
        assert_eq!(e.value, 0x5);
    }
}

#[test]
fn rejects_bad_chains() {
    for geo in [G4K, G16K] {
        let n = geo.vmalloc_chunk_entries;
        // Self loop of a full chunk.
        let mut mem = SimMem::new(geo);
        let list = preserved_blocks(&mut mem, n, 0);
        let c = raw_chunk(&mut mem, 0, &list);
        mem.page_mut(c).unwrap()[0] = c;
        let desc = alloc_desc(c, 2 * n as u32);
        expect_reject(mem.kexec(), &desc, errno::ELOOP);

        // Two full chunks pointing at each other; a loop back to the first of three.
        let mut mem = SimMem::new(geo);
        let list = preserved_blocks(&mut mem, 2 * n, 0);
        let b = raw_chunk(&mut mem, 0, &list[n..]);
        let a = raw_chunk(&mut mem, b, &list[..n]);
        mem.page_mut(b).unwrap()[0] = a;
        let desc = alloc_desc(a, 5 * n as u32);
        expect_reject(mem.kexec(), &desc, errno::ELOOP);

        // Truncated chain: next points at a page that does not exist.
        let mut mem = SimMem::new(geo);
        let list = preserved_blocks(&mut mem, n + 2, 0);
        let a = raw_chunk(&mut mem, 0x7f00_0000_0000, &list[..n]);
        let desc = alloc_desc(a, n as u32 + 2);
        let (m2, e) = expect_reject(mem.kexec(), &desc, errno::EINVAL);
        assert_eq!(e.value, 0x7f00_0000_0000);
        assert_eq!(m2.live_pages(), m2.incoming, "claimed pages freed");

        // Missing trailing chunk after a full one: fewer entries than total_pages.
        mem.page_mut(a).unwrap()[0] = 0;
        let desc = KhoVmalloc {
            total_pages: n as u32 + 1,
            ..desc
        };
        expect_reject(mem.kexec(), &desc, errno::EINVAL);

        // Entry after the terminator; a partial chunk that is not the last.
        let mut mem = SimMem::new(geo);
        let list = preserved_blocks(&mut mem, 4, 0);
        let a = raw_chunk(&mut mem, 0, &[list[0], 0, list[1], list[2]]);
        let desc = alloc_desc(a, 3);
        let (_, e) = expect_reject(mem.kexec(), &desc, errno::EINVAL);
        assert_eq!(e.value, list[1]);
        let b = raw_chunk(&mut mem, 0, &[list[3]]);
        let a = raw_chunk(&mut mem, b, &list[..3]);
        let desc = alloc_desc(a, 4);
        expect_reject(mem.kexec(), &desc, errno::EINVAL);

        // Order-2 entry not aligned to 4 pages.
        let mut mem = SimMem::new(geo);
        let list = preserved_blocks(&mut mem, 2, 2);
        let ps = geo.page_size as u64;
        let a = raw_chunk(&mut mem, 0, &[list[0], list[1] + ps]);
        let desc = KhoVmalloc {
            first: a,
            total_pages: 8,
            flags: 3,
            order: 2,
        };
        let (_, e) = expect_reject(mem.kexec(), &desc, errno::EINVAL);
        assert_eq!(e.value, list[1] + ps);
    }
}

#[test]
fn restore_failure_frees_everything_restored() {
    for geo in [G4K, G16K, G64K] {
        let n = geo.vmalloc_chunk_entries;
        let count = if geo.page_shift == 16 { 40 } else { n + 5 };
        // The last-but-one entry points at a page that exists in the new kernel but was not
        // preserved: validation passes, the restore fails and must undo everything.
        let mut mem = SimMem::new(geo);
        let list = data_blocks(&mut mem, count, 0);
        // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
        let desc = unsafe { preserve(&mut mem, list.iter().copied(), count as u32, 0, 1) }.unwrap();
        // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
        unsafe { mem.unpreserve(list[count - 2], 1) };
        let mut m2 = mem.kexec();
        m2.insert_at(list[count - 2]);
        let (m2, e) = expect_reject(m2, &desc, errno::EINVAL);
        assert_eq!(e.value, list[count - 2]);
        let mut want = m2.incoming.clone();
        want.insert(list[count - 2]);
        assert_eq!(
            m2.live_pages(),
            want,
            "restored pages freed, the rest untouched"
        );

        // An entry that is also a chunk page: claimed twice.
        let chunk_pages: Vec<u64> = chunks(&mem, &desc).iter().map(|c| c.0).collect();
        let last = *chunk_pages.last().unwrap();
        // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
        unsafe { mem.preserve(list[count - 2], 1) }.unwrap();
        let first_chunk = desc.first;
        mem.page_mut(first_chunk).unwrap()[3] = last;
        let m2 = mem.kexec();
        let (m2, e) = expect_reject(m2, &desc, errno::EINVAL);
        assert_eq!(e.value, last, "{e}");
        assert_eq!(m2.live_pages(), m2.incoming);

        // The page list cannot take every page (with two chunks, it fills up with the
        // first): the chunk that does not fit claims none of its blocks, and everything
        // claimed before is freed.
        mem.page_mut(first_chunk).unwrap()[3] = list[2];
        let mut m2 = mem.kexec();
        let before = m2.incoming.clone();
        let mut out = SimPages {
            pas: Vec::new(),
            limit: Some(if count > n { n } else { count / 2 }),
        };
        // SAFETY: the simulated memory belongs to this test alone: the address names the state the test built there (damaged or not), nobody else's pages.
        let err = unsafe { restore(&mut m2, &desc, &mut out) }.unwrap_err();
        assert_eq!(err.errno, errno::ENOMEM, "{err}");
        assert_eq!(err.what, "vmalloc: no memory for the page list");
        let restored: BTreeSet<u64> = before.difference(&m2.incoming).copied().collect();
        assert!(!restored.is_empty());
        assert!(
            restored.is_disjoint(&m2.live_pages()),
            "restored pages freed"
        );
        assert_eq!(m2.live_pages(), m2.incoming);

        // SAFETY: returned by `preserve` on `mem`, unpreserved once.
        unsafe { unpreserve(&mut mem, &desc) };
        assert!(mem.preserved.is_empty());
    }
}

#[test]
fn chunk_view_is_the_c_layout() {
    // `struct kho_vmalloc_chunk`: u64 next, then KHO_VMALLOC_SIZE u64 entries.
    for (geo, entries) in [(G4K, 511), (G16K, 2047), (G64K, 8191)] {
        let mut page = std::vec![0u64; geo.page_size / 8];
        page[0] = 0x1000;
        page[1] = 0x2000;
        page[geo.page_size / 8 - 1] = 0x3000;
        let c = KhoVmallocChunk::of(&page).unwrap();
        assert_eq!(c.next, 0x1000);
        assert_eq!(c.phys.len(), entries);
        assert_eq!(c.phys[0], 0x2000);
        assert_eq!(c.phys[entries - 1], 0x3000);
    }
}

#[test]
fn made_of_blocks_needs_whole_aligned_contiguous_blocks() {
    use crate::pure::vmalloc::made_of_blocks;
    let geo = G4K;
    let ps = geo.page_size as u64;
    // Two order-2 blocks, listed page by page.
    let base = 0x20_0000u64;
    let run = |head: u64| (0..4).map(move |k| head + k * ps);
    let good: Vec<u64> = run(base).chain(run(base + 64 * ps)).collect();
    assert!(made_of_blocks(&geo, &good, 2));
    assert!(made_of_blocks(&geo, &good, 1));
    assert!(made_of_blocks(&geo, &good, 0));
    // Not a whole number of blocks of that order; a block split over two places.
    assert!(!made_of_blocks(&geo, &good, 3));
    assert!(!made_of_blocks(&geo, &good[..6], 2));
    let mut gap = good.clone();
    gap[2] += ps * 100;
    assert!(!made_of_blocks(&geo, &gap, 2));
    assert!(!made_of_blocks(&geo, &gap, 1));
    // Contiguous but not aligned to the order.
    let shifted: Vec<u64> = good.iter().map(|&pa| pa + ps).collect();
    assert!(!made_of_blocks(&geo, &shifted, 2));
    assert!(made_of_blocks(&geo, &shifted, 0));
    // Nothing; an order past MAX_PAGE_ORDER.
    assert!(!made_of_blocks(&geo, &[], 0));
    assert!(!made_of_blocks(&geo, &good, geo.max_page_order + 1));
}
