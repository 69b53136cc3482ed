// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `kho_rs_vmalloc`: vmalloc preservation ("vmalloc-v1") on real pages,
//! against the exported C implementation in the same boot.
//!
//! KHO can only restore what the *previous* kernel preserved, so nothing here calls
//! `kho_restore_pages()`: the restore path is exercised across kexec by the selftest. These
//! tests check preservation against KHO's own memory map (read through debugfs, see
//! [`OutMemoryMap`]), compare descriptors and chunk contents written by Rust and C for the
//! same area, read each with the other's rules, and feed malformed descriptors built on
//! real pages to the validator and to `restore()`.

use kernel::prelude::*;
use zerocopy::IntoBytes;

use super::{chain_pas, ensure, ensure_eq};
use crate::glue::c_vmalloc as cv;
use crate::glue::kho::{errno, OutMemoryMap};
use crate::glue::mem::{KernelMem, GEOMETRY};
use crate::glue::vmalloc::{self as gv, VmallocArea, HUGE_ORDER};
use crate::pure::mem::PageMem;
use crate::pure::vmalloc::{KhoVmalloc, KHO_VMALLOC_ALLOC, KHO_VMALLOC_HUGE_VMAP};

/// Entries per chunk (511 with 4K pages).
const PER_CHUNK: usize = GEOMETRY.vmalloc_chunk_entries;

/// Area sizes in pages around the chunk boundaries.
const SIZES: [usize; 5] = [
    1,
    PER_CHUNK,
    PER_CHUNK + 1,
    2 * PER_CHUNK,
    2 * PER_CHUNK + 1,
];

/// A read-only page accessor for inspecting chunks.
fn reader() -> KernelMem {
    KernelMem::new()
}

/// Physical address of every page of `area`, in order.
fn area_pages(area: &VmallocArea) -> Result<KVec<u64>> {
    let mut v = KVec::with_capacity(area.nr_pages(), GFP_KERNEL)?;
    for i in 0..area.nr_pages() {
        v.push(area.page_phys(i).ok_or(EFAULT)?, GFP_KERNEL)?;
    }
    Ok(v)
}

/// The chunk addresses of a chain (bounded, for descriptors of this boot).
fn chunk_list(desc: &KhoVmalloc) -> Result<KVVec<u64>> {
    let limit = desc.total_pages as usize + 2;
    // SAFETY: the chunks of a descriptor this test preserved, still live; nothing writes
    // them meanwhile.
    unsafe { chain_pas(&reader(), desc.first, limit) }
}

/// The entries as the Rust reader sees them (`validate` + `for_each_entry`).
fn rust_entries(desc: &KhoVmalloc) -> Result<(KVec<u64>, usize)> {
    let mut v = KVec::with_capacity(desc.total_pages as usize, GFP_KERNEL)?;
    let mut oom = false;
    // SAFETY: callers pass an outgoing descriptor of this boot, not unpreserved yet.
    let stats = unsafe { gv::read_entries(desc, |pa| oom |= v.push(pa, GFP_KERNEL).is_err()) }?;
    if oom {
        return Err(ENOMEM);
    }
    ensure(stats.entries == v.len(), "entry count matches stats")?;
    Ok((v, stats.chunks))
}

/// A Rust model of C's `kho_restore_vmalloc()` walk, not C itself (C's own restore runs in
/// the selftest's vmx case). Walks a chain as C does (without restoring): per
/// chunk, entries until the first 0 or the end of `phys[]`, `idx + 2^order <= total` for
/// each, follow `next` until 0, finally `idx == total`. Returns the page count on success.
fn c_rules_model_walk(desc: &KhoVmalloc) -> Result<u64> {
    let mem = reader();
    let total = u64::from(desc.total_pages);
    let contig = 1u64 << desc.order;
    let mut idx = 0u64;
    let mut chunk = desc.first;
    let mut hops = 0u64;
    while chunk != 0 {
        hops += 1;
        if hops > total + 2 {
            return Err(errno(kernel::bindings::ELOOP));
        }
        // SAFETY: a page this test allocated or claimed itself, still live.
        let page = unsafe { mem.page(chunk) }.ok_or(EFAULT)?;
        for &pa in page.get(1..=PER_CHUNK).ok_or(EFAULT)? {
            if pa == 0 {
                break;
            }
            if idx + contig > total {
                return Err(EINVAL);
            }
            idx += contig;
        }
        chunk = page.first().copied().ok_or(EFAULT)?;
    }
    if idx != total {
        return Err(EINVAL);
    }
    Ok(idx)
}

/// Preserves `area` with C and with Rust and checks that both wrote the same: the same
/// descriptor apart from the chunk address, the same number of chunks (with the empty
/// trailing one at multiples of the chunk size), identical chunk contents, chains that C's
/// reader rules and the Rust reader accept with the same entries. Unpreserves both and
/// returns the Rust descriptor.
fn same_as_c(area: &VmallocArea) -> Result<KhoVmalloc> {
    let mem = reader();
    let c = cv::c_preserve(area)?;
    let r = gv::preserve(area)?;
    let (cd, rd) = (*c.desc(), *r.desc());
    ensure_eq(rd.total_pages.into(), cd.total_pages.into(), "total_pages")?;
    ensure_eq(rd.flags.into(), cd.flags.into(), "flags")?;
    ensure_eq(rd.order.into(), cd.order.into(), "order")?;
    let cchunks = chunk_list(&cd)?;
    let rchunks = chunk_list(&rd)?;
    ensure_eq(rchunks.len() as u64, cchunks.len() as u64, "chunk count")?;
    for (&ca, &ra) in cchunks.iter().zip(rchunks.iter()) {
        // SAFETY: a chunk of C's outgoing descriptor, preserved until `c` is dropped.
        let cp = unsafe { mem.page(ca) }.ok_or(EFAULT)?;
        // SAFETY: a chunk of Rust's outgoing descriptor, preserved until `r` is dropped.
        let rp = unsafe { mem.page(ra) }.ok_or(EFAULT)?;
        // `next` differs by address but is 0 in the same place.
        ensure(
            (cp.first() == Some(&0)) == (rp.first() == Some(&0)),
            "last chunk in the same place",
        )?;
        ensure(cp.get(1..) == rp.get(1..), "chunk entries")?;
    }
    let entries = u64::from(rd.total_pages) >> rd.order;
    if entries % PER_CHUNK as u64 == 0 {
        // The eager trailing chunk is empty in both.
        let last = rchunks.last().copied().ok_or(EINVAL)?;
        // SAFETY: the last chunk of Rust's own outgoing descriptor, still preserved.
        let first_entry = unsafe { mem.page(last) }.and_then(|p| p.get(1)).copied();
        ensure(first_entry == Some(0), "empty trailing chunk")?;
    }
    ensure_eq(
        c_rules_model_walk(&rd)?,
        u64::from(rd.total_pages),
        "C reader, Rust chain",
    )?;
    ensure_eq(
        c_rules_model_walk(&cd)?,
        u64::from(cd.total_pages),
        "C reader, C chain",
    )?;
    let (re, _) = rust_entries(&rd)?;
    let (ce, _) = rust_entries(&cd)?;
    ensure(re[..] == ce[..], "Rust reader: the same entries")?;
    // KHO's map is a set: both unpreserves are fine in either order.
    drop(r);
    drop(c);
    Ok(rd)
}

/// Checks that every page in `pages` is (or is not) an order-0 key of KHO's memory map.
fn check_preserved(map: &OutMemoryMap, pages: &[u64], want: bool) -> Result {
    for &pa in pages {
        let got = map.contains(pa, 0)?;
        if got != want {
            pr_err!("page {:#x}: preserved {} expected {}\n", pa, got, want);
            return Err(EINVAL);
        }
    }
    Ok(())
}

/// Checks that `pages` (the area, in order) and the chunks of `desc` are in KHO's map, that
/// the chain lists `pages`, and that dropping `preserved`, the preservation `desc` belongs
/// to, removes them all. Fails instead of asserting: it runs outside `#[kunit_tests]`.
fn check_preserved_until_drop<P>(
    map: &OutMemoryMap,
    pages: &[u64],
    desc: &KhoVmalloc,
    preserved: P,
) -> Result {
    let chunks = chunk_list(desc)?;
    check_preserved(map, pages, true)?;
    check_preserved(map, &chunks, true)?;
    let (entries, _) = rust_entries(desc)?;
    ensure(
        entries[..] == pages[..],
        "chain entries are the area's pages",
    )?;
    drop(preserved);
    check_preserved(map, pages, false)?;
    check_preserved(map, &chunks, false)
}

#[kunit_tests(kho_rs_vmalloc)]
mod tests {
    use super::*;

    /// Rust preserve marks every data page and chunk in KHO's map; unpreserve (drop)
    /// removes them all; C can then preserve the same area with the same entries, and its
    /// unpreserve leaves nothing either.
    #[test]
    fn preserve_unpreserve_leaves_nothing() -> Result {
        let map = OutMemoryMap::get()?;
        for n in SIZES {
            let area = VmallocArea::new(n * GEOMETRY.page_size)?;
            let pages = area_pages(&area)?;
            check_preserved(&map, &pages, false)?;

            let p = gv::preserve(&area)?;
            let desc = *p.desc();
            assert_eq!(desc.total_pages as usize, n);
            assert_eq!(desc.flags, KHO_VMALLOC_ALLOC);
            assert_eq!(desc.order, 0);
            assert_eq!(chunk_list(&desc)?.len(), n / PER_CHUNK + 1);
            check_preserved_until_drop(&map, &pages, &desc, p)?;

            // C on the same area after Rust's unpreserve: same entries, then nothing left.
            let c = cv::c_preserve(&area)?;
            let cdesc = *c.desc();
            check_preserved_until_drop(&map, &pages, &cdesc, c)?;
        }
        Ok(())
    }

    /// An explicit unpreserve and a publish + `unpreserve_published` also leave nothing.
    #[test]
    fn publish_then_unpreserve() -> Result {
        let map = OutMemoryMap::get()?;
        let area = VmallocArea::new(3 * GEOMETRY.page_size)?;
        let pages = area_pages(&area)?;
        let desc = gv::preserve(&area)?.publish();
        let chunks = chunk_list(&desc)?;
        check_preserved(&map, &pages, true)?;
        check_preserved(&map, &chunks, true)?;
        // SAFETY: `desc` was just published in this kernel and is unpreserved once.
        unsafe { gv::unpreserve_published(&desc) };
        check_preserved(&map, &pages, false)?;
        check_preserved(&map, &chunks, false)?;

        let p = gv::preserve(&area)?;
        let chunks = chunk_list(p.desc())?;
        p.unpreserve();
        check_preserved(&map, &pages, false)?;
        check_preserved(&map, &chunks, false)?;
        Ok(())
    }

    /// C writes, Rust reads: the C descriptor and chain pass the Rust validator and list
    /// the area's pages in order, with flags 0x1, order 0 and the eager trailing chunk.
    #[test]
    fn c_written_rust_read() -> Result {
        for n in SIZES {
            let mut area = VmallocArea::new(n * GEOMETRY.page_size)?;
            if let Some(b) = area.as_mut_slice().first_mut() {
                *b = 0x5a;
            }
            let pages = area_pages(&area)?;
            let c = cv::c_preserve(&area)?;
            let d = *c.desc();
            assert_eq!(d.total_pages as usize, n);
            assert_eq!(d.flags, KHO_VMALLOC_ALLOC);
            assert_eq!(d.order, 0);
            assert!(d.first != 0);
            let (entries, nchunks) = rust_entries(&d)?;
            assert_eq!(nchunks, n / PER_CHUNK + 1);
            assert!(entries[..] == pages[..]);
            // The 16 wire bytes round-trip through the Rust codec.
            assert_eq!(KhoVmalloc::from_bytes(d.as_bytes()).ok(), Some(d));
            drop(c);
            assert_eq!(area.as_slice().first().copied(), Some(0x5a));
        }
        Ok(())
    }

    /// Rust writes exactly what C writes for the same area: same descriptor apart from the
    /// chunk address, same number of chunks (with the empty trailing one at multiples of
    /// 511), identical chunk contents; and C's reader rules accept the Rust chain. For plain
    /// areas around the chunk boundaries, and for `vmalloc_huge()` areas, which both
    /// preserve in 2 MiB blocks (order 9 with 4K pages) with `KHO_VMALLOC_HUGE_VMAP`.
    #[test]
    fn rust_written_equals_c_written() -> Result {
        for n in SIZES {
            let area = VmallocArea::new(n * GEOMETRY.page_size)?;
            let d = same_as_c(&area)?;
            assert_eq!(d.order, 0);
            assert_eq!(d.flags, KHO_VMALLOC_ALLOC);
        }
        for blocks in [1usize, 3] {
            let area = VmallocArea::new_huge(blocks * (GEOMETRY.page_size << HUGE_ORDER))?;
            let d = same_as_c(&area)?;
            assert_eq!(d.order, HUGE_ORDER);
            assert_eq!(d.flags, KHO_VMALLOC_ALLOC | KHO_VMALLOC_HUGE_VMAP);
        }
        Ok(())
    }

    /// Malformed descriptors built on real pages are rejected by `validate` and by
    /// `restore` (before any `kho_restore_pages()`), without panicking.
    #[test]
    fn malformed_rejected() -> Result {
        let area = VmallocArea::new(2 * PER_CHUNK * GEOMETRY.page_size)?;
        let pages = area_pages(&area)?;
        let mut mem = reader();
        let a = mem.alloc_zeroed().map_err(|_| ENOMEM)?;
        let b = match mem.alloc_zeroed() {
            Ok(b) => b,
            Err(_) => {
                // SAFETY: a page this test allocated or claimed itself, still live.
                unsafe { mem.free(a) };
                return Err(ENOMEM);
            }
        };
        let r = malformed_cases(&mut mem, &pages, a, b);
        // SAFETY: a page this test allocated or claimed itself, still live.
        unsafe { mem.free(a) };
        // SAFETY: a page this test allocated or claimed itself, still live.
        unsafe { mem.free(b) };
        r
    }
}

/// Fills chunk `pa` with `entries` and link `next` (the page is ours).
fn write_chunk(mem: &mut KernelMem, pa: u64, next: u64, entries: &[u64]) -> Result {
    // SAFETY: a page this test allocated or claimed itself, still live.
    let page = unsafe { mem.page_mut(pa) }.ok_or(EFAULT)?;
    page.fill(0);
    *page.first_mut().ok_or(EFAULT)? = next;
    for (w, &e) in page.iter_mut().skip(1).zip(entries) {
        *w = e;
    }
    Ok(())
}

/// Expects `desc` to be rejected by `restore()` with nothing claimed and no WARN.
///
/// In one boot no page carries KHO's preservation mark, so `restore()` must refuse at the
/// first chunk, before it reads anything: check, then claim, then read. The decoder rules
/// behind the first chunk are covered by the host tests and the kexec selftest. The
/// read-only validator is not fed these descriptors: it may only read pages that stay
/// allocated, and several of them point outside RAM.
fn expect_rejected(desc: &KhoVmalloc) -> Result {
    let owned = KernelMem::owned_pages();
    // SAFETY: `desc` names pages of this test's own memory (built and damaged by it).
    ensure(unsafe { gv::restore(desc) }.is_err(), "restore rejects")?;
    ensure(KernelMem::owned_pages() == owned, "nothing left claimed")
}

/// The malformed-descriptor cases, on two pages `a` and `b` owned by the caller.
fn malformed_cases(mem: &mut KernelMem, pages: &[u64], a: u64, b: u64) -> Result {
    let full = pages.get(..PER_CHUNK).ok_or(EINVAL)?;
    let rest = pages.get(PER_CHUNK..).ok_or(EINVAL)?;
    let total = pages.len() as u32;
    // A valid two-chunk chain: a (full) -> b (511 more) -> none. 1022 entries would need a
    // trailing empty chunk for C's writer, but readers accept a full last chunk.
    write_chunk(mem, a, b, full)?;
    write_chunk(mem, b, 0, rest)?;
    let good = KhoVmalloc {
        first: a,
        total_pages: total,
        flags: KHO_VMALLOC_ALLOC,
        order: 0,
    };
    // SAFETY: a descriptor this test built over pages it owns, all still live.
    let valid = unsafe { gv::validate(&good) };
    ensure(valid.is_ok(), "valid chain accepted")?;
    ensure(
        c_rules_model_walk(&good)? == u64::from(total),
        "C rules accept the valid chain",
    )?;

    expect_rejected(&KhoVmalloc { first: 0, ..good })?;
    expect_rejected(&KhoVmalloc {
        first: a + 8,
        ..good
    })?;
    expect_rejected(&KhoVmalloc { flags: 0x4, ..good })?;
    expect_rejected(&KhoVmalloc {
        flags: 0x8001,
        ..good
    })?;
    expect_rejected(&KhoVmalloc {
        total_pages: total + 1,
        ..good
    })?;
    expect_rejected(&KhoVmalloc {
        total_pages: total - 1,
        ..good
    })?;
    expect_rejected(&KhoVmalloc {
        total_pages: 0,
        ..good
    })?;
    expect_rejected(&KhoVmalloc { order: 1, ..good })?;
    expect_rejected(&KhoVmalloc { order: 60, ..good })?;
    // Not RAM: a chunk address far beyond memory.
    expect_rejected(&KhoVmalloc {
        first: 1u64 << 50,
        ..good
    })?;

    // Loops: b -> a, and a -> a, with total_pages large enough to allow many chunks.
    write_chunk(mem, b, a, rest)?;
    let looping = KhoVmalloc {
        total_pages: total * 8,
        ..good
    };
    expect_rejected(&looping)?;
    write_chunk(mem, a, a, full)?;
    expect_rejected(&looping)?;
    ensure(c_rules_model_walk(&looping).is_err(), "C rules reject loop")?;

    // A non-full chunk that is not the last, and an entry after the 0 terminator.
    write_chunk(mem, a, b, full.get(..10).ok_or(EINVAL)?)?;
    write_chunk(mem, b, 0, rest)?;
    expect_rejected(&KhoVmalloc {
        total_pages: 10 + rest.len() as u32,
        ..good
    })?;
    write_chunk(mem, a, 0, full.get(..3).ok_or(EINVAL)?)?;
    // SAFETY: a page this test allocated or claimed itself, still live.
    if let Some(w) = unsafe { mem.page_mut(a) }.and_then(|p| p.get_mut(6)) {
        *w = pages.get(5).copied().ok_or(EINVAL)?;
    }
    expect_rejected(&KhoVmalloc {
        total_pages: 3,
        ..good
    })?;
    // A misaligned block address and a block that is not RAM.
    let p0 = full.first().copied().ok_or(EINVAL)?;
    write_chunk(mem, a, 0, &[p0 + 8])?;
    expect_rejected(&KhoVmalloc {
        total_pages: 1,
        ..good
    })?;
    write_chunk(mem, a, 0, &[1u64 << 50])?;
    expect_rejected(&KhoVmalloc {
        total_pages: 1,
        ..good
    })?;
    Ok(())
}
