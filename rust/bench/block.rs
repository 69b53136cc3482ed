// SPDX-License-Identifier: GPL-2.0

//! Benchmark of the block component: block set write/read vs a plain memcpy.
//!
//! For entries of 64, 8 and 4080 bytes, writes `n` entries into a [`BlockSet`] on real
//! preserved pages (grown beforehand, as users do before the point of no return) and reads
//! them back with a fresh iterator. Two ways of writing and reading are timed: the bulk
//! calls a user dumping and restoring a table makes ([`BlockIter::write_slice`] from the
//! source buffer, [`BlockIter::read_slice`] into the destination buffer: one copy per
//! block), and, for 64- and 8-byte entries, the per-entry iterator ([`BlockIter::write`]
//! and [`BlockIter::read_entry_into`]; 4080-byte entries are timed in bulk only). 100,000
//! entries, except 4080-byte entries: one per block, so at most `KHO_MAX_BLOCKS` (10,000)
//! of them.
//!
//! The baseline is the physical limit of moving the same bytes between the same two kinds
//! of memory: one memcpy per page between the user's buffer and as many separately
//! allocated direct-mapped pages ([`PageBuf`]), with no header, count or link. A single
//! memcpy between two contiguous `KVVec`s, the baseline of earlier versions, is no steady
//! reference under TCG: for the same 40 MB it took from 11 to 67 ms depending on the boot
//! and on the order of the measurements, at times three times as long as the block read it
//! was meant to bound.
//! Each repetition times the bulk write, its baseline, the bulk read and its baseline in
//! turn; each timing is the best of [`REPS`]. The bulk read and the baseline's copy are
//! checked byte for byte against the source. Integer arithmetic only; everything is freed
//! afterwards.

use core::hint::black_box;
use core::ops::Range;

use kernel::prelude::*;
use zerocopy::{Immutable, KnownLayout};

use super::{time_ns, Fixed};
use crate::glue::block_oracle::CBlockSet;
use crate::glue::kho::core_err;
use crate::glue::mem::{KernelMem, GEOMETRY};
use crate::pure::block::{BlockEntry, BlockIter, BlockSet, KHO_MAX_BLOCKS};

/// Number of entries of the benchmark.
const N: usize = 100_000;

/// The largest entry: one per block, the block's page after its 16-byte header.
const WHOLE_ENTRY: usize = GEOMETRY.page_size - 16;

/// Repetitions of each timed loop; the fastest one counts.
const REPS: usize = 5;

/// Entries of the benchmark: wire layouts, viewed in place in byte buffers.
trait BenchEntry: BlockEntry + FromBytes + IntoBytes + Immutable + KnownLayout {}

impl<T: FromBytes + IntoBytes + Immutable + KnownLayout> BenchEntry for T {}

/// A byte buffer holding `n` entries of `E` (`n * E::SIZE` bytes), filled with a
/// recognizable non-zero pattern, or zeroed.
fn buffer<E: BenchEntry>(n: usize, pattern: bool) -> Result<KVVec<u8>> {
    let bytes = n * E::SIZE;
    let mut v = KVVec::<u8>::with_capacity(bytes, GFP_KERNEL)?;
    v.extend_with(bytes, 0, GFP_KERNEL)?;
    if pattern {
        for (i, b) in v.iter_mut().enumerate() {
            *b = (i % 251) as u8 + 1;
        }
    }
    Ok(v)
}

/// The entries of `bytes`, in place.
fn entries<E: BenchEntry>(bytes: &[u8]) -> Result<&[E]> {
    <[E]>::ref_from_bytes(bytes).map_err(|_| EINVAL)
}

/// The entries of `bytes`, in place, writable.
fn entries_mut<E: BenchEntry>(bytes: &mut [u8]) -> Result<&mut [E]> {
    <[E]>::mut_from_bytes(bytes).map_err(|_| EINVAL)
}

/// Prints one comparison line: `op` of `n` entries of `size` bytes, Rust vs memcpy.
fn report(op: &str, n: usize, size: usize, rust_ns: u64, memcpy_ns: u64) {
    let rate = (n as u64).saturating_mul(1_000_000_000) / rust_ns.max(1);
    pr_info!(
        "bench: block {} n={} size={} rust={} ns/entry memcpy={} ns/entry ratio={} rust_rate={} entries/s\n",
        op,
        n,
        size,
        Fixed(rust_ns, n as u64, 2),
        Fixed(memcpy_ns, n as u64, 2),
        Fixed(rust_ns, memcpy_ns, 2),
        rate
    );
}

/// Prints one per-entry comparison line: `op` of `n` entries of `size` bytes, Rust's
/// iterator vs C's.
fn report_c(op: &str, n: usize, size: usize, rust_ns: u64, c_ns: u64) {
    pr_info!(
        "bench: block {} per entry n={} size={} rust={} ns/entry c={} ns/entry rust/c={}\n",
        op,
        n,
        size,
        Fixed(rust_ns, n as u64, 2),
        Fixed(c_ns, n as u64, 2),
        Fixed(rust_ns, c_ns, 2)
    );
}

/// The memcpy baseline's side of a copy: the same bytes in separately allocated
/// direct-mapped pages, as block pages are, without the block structure (no header, no
/// count, no link, every byte of every page used).
///
/// # Invariants
///
/// Every element of `pages` is an order-0 page allocated with [`KernelMem::alloc_pages`]
/// and owned by this value; together they hold at least `len` bytes.
struct PageBuf {
    pages: KVec<u64>,
    len: usize,
}

impl PageBuf {
    /// Allocates a buffer of `len` bytes.
    fn new(mem: &mut KernelMem, len: usize) -> Result<Self> {
        let mut buf = Self {
            pages: KVec::new(),
            len,
        };
        for _ in 0..len.div_ceil(GEOMETRY.page_size) {
            let pa = mem
                .alloc_pages(0)
                .map_err(|e| core_err("bench block memcpy buffer", e))?;
            if let Err(e) = buf.pages.push(pa, GFP_KERNEL) {
                // SAFETY: just allocated with order 0, not referenced.
                unsafe { mem.free_pages(pa, 0) };
                return Err(e.into());
            }
        }
        // INVARIANT: `len.div_ceil(page_size)` pages, each owned.
        Ok(buf)
    }

    /// Calls `f` with each page's bytes and the matching range of a `len`-byte buffer.
    fn for_each(&self, mem: &mut KernelMem, mut f: impl FnMut(&mut [u8], Range<usize>)) {
        for (i, &pa) in self.pages.iter().enumerate() {
            let start = i * GEOMETRY.page_size;
            let n = (self.len - start).min(GEOMETRY.page_size);
            // SAFETY: `pa` is a page owned by `self` (type invariant), not accessed otherwise
            // while the slice lives.
            if let Some(words) = unsafe { mem.block_words_mut(pa, 1) } {
                if let Some(bytes) = words.as_mut_bytes().get_mut(..n) {
                    f(bytes, start..start + n);
                }
            }
        }
    }
}

impl Drop for PageBuf {
    fn drop(&mut self) {
        let mut mem = KernelMem::new();
        for &pa in self.pages.iter() {
            // SAFETY: allocated with order 0 and owned by `self` (type invariant), freed once.
            unsafe { mem.free_pages(pa, 0) };
        }
    }
}

/// Best-of-[`REPS`] times (ns) of the bulk write of `src` and of the bulk read into `dst`,
/// and of their baselines: `src` copied into a [`PageBuf`] and a `PageBuf` into `dst`, one
/// memcpy per page. Every repetition times the four in turn, so that each operation and its
/// baseline run under the same conditions (cache and emulated TLB, which under TCG decide
/// much of a copy's cost); the read is checked byte for byte every time.
fn bulk<E: BenchEntry>(
    mem: &mut KernelMem,
    set: &BlockSet<E>,
    src: &[E],
    dst: &mut [E],
) -> Result<[u64; 4]> {
    let pages = PageBuf::new(mem, src.as_bytes().len())?;
    let mut best = [u64::MAX; 4];
    for _ in 0..REPS {
        let (copy_in, ()) = time_ns(|| {
            pages.for_each(mem, |p, r| p.copy_from_slice(&src.as_bytes()[r]));
        });
        let (write, done) = time_ns(|| set.iter().write_slice(mem, src));
        dst.as_mut_bytes().fill(0);
        let (read, got) = time_ns(|| set.iter().read_slice(mem, dst));
        if done != src.len() || got != src.len() || src.as_bytes() != dst.as_bytes() {
            pr_err!(
                "bench: block bulk: wrote {}, read {} of {} entries, or they differ\n",
                done,
                got,
                src.len()
            );
            return Err(EINVAL);
        }
        dst.as_mut_bytes().fill(0);
        let (copy_out, ()) = time_ns(|| {
            pages.for_each(mem, |p, r| dst.as_mut_bytes()[r].copy_from_slice(p));
        });
        if src.as_bytes() != dst.as_bytes() {
            pr_err!("bench: block memcpy baseline: the copy differs\n");
            return Err(EINVAL);
        }
        black_box(&dst);
        for (b, t) in best.iter_mut().zip([write, copy_in, read, copy_out]) {
            *b = (*b).min(t);
        }
    }
    Ok(best)
}

/// Reads the entries of `set` with a fresh iterator into `dst`, one
/// [`BlockIter::read_entry_into`] each (one copy per entry, as C's iterator and its
/// `memcpy()`), until `dst` is full or the set ends; returns how many there were.
#[inline(never)]
fn read_all<E: BenchEntry>(mem: &KernelMem, set: &BlockSet<E>, dst: &mut [E]) -> usize {
    let mut it: BlockIter<'_, E> = set.iter();
    let mut got = 0usize;
    for d in dst.iter_mut() {
        if !it.read_entry_into(mem, d) {
            break;
        }
        got += 1;
    }
    got
}

/// Checks that a per-entry read (`who`) got all of `src`, byte for byte, into `dst`.
fn check_read(who: &str, got: usize, src: &[u8], dst: &[u8], n: usize) -> Result {
    if got != n || src != dst {
        pr_err!(
            "bench: block per-entry read ({}): {} of {} entries, or they differ\n",
            who,
            got,
            n
        );
        return Err(EINVAL);
    }
    Ok(())
}

/// Best-of-[`REPS`] times (ns) of writing `src` entry by entry and reading it back into
/// `dst`: `[rust write, rust read, C write, C read]`. C's side is upstream's iterator
/// (`kho_block_set_it_reserve_entry()`/`kho_block_set_it_read_entry()`, a loop in C with one
/// `memcpy()` per entry) on a C set grown to the same size, timed in turn with Rust's in
/// each repetition. Every read is checked byte for byte against `src`.
#[inline(never)]
fn per_entry<E: BenchEntry>(
    mem: &mut KernelMem,
    set: &BlockSet<E>,
    src: &[E],
    dst: &mut [E],
) -> Result<[u64; 4]> {
    let mut c = CBlockSet::new(E::SIZE)?;
    c.grow(src.len() as u64).inspect_err(|e| {
        pr_err!("bench: block C grow failed: {:?}\n", e);
    })?;
    let mut best = [u64::MAX; 4];
    for _ in 0..REPS {
        let (w, r) = time_ns(|| {
            let mut it = set.iter();
            src.iter().try_for_each(|e| it.write(mem, e))
        });
        r.map_err(|e| core_err("bench block write", e))?;
        dst.as_mut_bytes().fill(0);
        let (rd, got) = time_ns(|| read_all(mem, set, dst));
        check_read("Rust", got, src.as_bytes(), dst.as_bytes(), src.len())?;
        let (cw, done) = time_ns(|| c.bench_write(src.as_bytes()));
        if done != src.len() {
            pr_err!("bench: block C write: {} of {} entries\n", done, src.len());
            return Err(EINVAL);
        }
        dst.as_mut_bytes().fill(0);
        let (cr, got) = time_ns(|| c.bench_read(dst.as_mut_bytes()));
        check_read("C", got, src.as_bytes(), dst.as_bytes(), src.len())?;
        black_box(&dst);
        for (b, t) in best.iter_mut().zip([w, rd, cw, cr]) {
            *b = (*b).min(t);
        }
    }
    Ok(best)
}

/// Benchmarks `n` entries of `E`; `each` adds the per-entry iterator.
fn bench_size<E: BenchEntry>(n: usize, each: bool) -> Result {
    let src_bytes = buffer::<E>(n, true)?;
    let mut dst_bytes = buffer::<E>(n, false)?;
    let src = entries::<E>(&src_bytes)?;
    let dst = entries_mut::<E>(&mut dst_bytes)?;

    let mut mem = KernelMem::new();
    let mut set = BlockSet::<E>::new(GEOMETRY);
    let (grow, r) = time_ns(|| set.grow(&mut mem, n));
    let res = r
        .map_err(|e| core_err("bench block grow", e))
        .and_then(|()| {
            let b = bulk(&mut mem, &set, src, dst)?;
            let e = if each {
                Some(per_entry(&mut mem, &set, src, dst)?)
            } else {
                None
            };
            Ok((b, e))
        });
    let blocks = set.nblocks();
    let (destroy, ()) = time_ns(|| set.destroy(&mut mem));
    let ([bw, copy_in, br, copy_out], each) = res?;
    report("bulk write", n, E::SIZE, bw, copy_in);
    report("bulk read", n, E::SIZE, br, copy_out);
    if let Some([w, r, cw, cr]) = each {
        report("write", n, E::SIZE, w, copy_in);
        report("read", n, E::SIZE, r, copy_out);
        report_c("write", n, E::SIZE, w, cw);
        report_c("read", n, E::SIZE, r, cr);
    }
    pr_info!(
        "bench: block grow+destroy n={} size={} blocks={} grow={} ns/block destroy={} ns/block\n",
        n,
        E::SIZE,
        blocks,
        Fixed(grow, blocks as u64, 2),
        Fixed(destroy, blocks as u64, 2)
    );
    Ok(())
}

/// One copy layout of [`copy_layouts`]: each page's bytes `off..off + len` go to
/// `base + i * stride` of the destination buffer.
struct Layout {
    off: usize,
    len: usize,
    stride: usize,
    base: usize,
    what: &'static str,
}

impl Layout {
    const fn new(off: usize, len: usize, stride: usize, base: usize, what: &'static str) -> Self {
        Self {
            off,
            len,
            stride,
            base,
            what,
        }
    }
}

/// Number of copy layouts [`copy_layouts`] times.
const LAYOUTS: usize = 6;

/// The 4080-byte read and its copies without the block code, to show what its row measures.
///
/// Times, best of [`REPS`] and in turn, the bulk read of a set of `n` 4080-byte entries and
/// one memcpy per page from `n` separately allocated pages into one buffer in several
/// layouts: the baseline's (whole pages to page-aligned places), the block read's (bytes
/// 16..4096 of each page, packed back to back), and copies from offset 16 placed so that the
/// kernel's memcpy goes forward or backward. Without `X86_FEATURE_FSRM` (QEMU's default CPU
/// model has none) `memcpy()` is `memcpy_orig` (`arch/x86/lib/memcpy_64.S`), which copies
/// backward when the destination's low address byte, compared as a signed byte, is above
/// the source's: for the block read's packed destination (entry `i` at `i * 4080` of a
/// page-aligned buffer) that is 6 copies of every 16. Prints each layout as ns per page and
/// as a ratio to the first, then the read against the same copies and the baseline.
fn copy_layouts(mem: &mut KernelMem, n: usize) -> Result {
    const PAGE: usize = GEOMETRY.page_size;
    const SHORT: usize = 4000;
    let layouts = [
        Layout::new(0, PAGE, PAGE, 0, "baseline"),
        Layout::new(16, WHOLE_ENTRY, WHOLE_ENTRY, 0, "block read"),
        Layout::new(
            16,
            WHOLE_ENTRY,
            PAGE,
            0,
            "page-aligned destination, forward",
        ),
        Layout::new(
            16,
            WHOLE_ENTRY,
            PAGE,
            256,
            "destination at +256, crosses a page, forward",
        ),
        Layout::new(16, SHORT, PAGE, 0, "4000 bytes at +0, forward"),
        Layout::new(16, SHORT, PAGE, 32, "4000 bytes at +32, backward"),
    ];
    let pages = PageBuf::new(mem, n * PAGE)?;
    pages.for_each(mem, |p, _| p.fill(0x5a));
    let bytes = n * PAGE + PAGE;
    let mut dst = KVVec::<u8>::with_capacity(bytes, GFP_KERNEL)?;
    dst.extend_with(bytes, 0, GFP_KERNEL)?;
    // The block read itself, timed in turn with the layouts: a set of `n` 4080-byte
    // entries of the same bytes.
    let mut set = BlockSet::<[u8; WHOLE_ENTRY]>::new(GEOMETRY);
    let res = set
        .grow(mem, n)
        .map_err(|e| core_err("bench block copy layouts grow", e))
        .and_then(|()| {
            let mut src = buffer::<[u8; WHOLE_ENTRY]>(n, false)?;
            src.fill(0x5a);
            let done = set
                .iter()
                .write_slice(mem, entries::<[u8; WHOLE_ENTRY]>(&src)?);
            if done != n {
                pr_err!(
                    "bench: block copy layouts: wrote {} of {} entries\n",
                    done,
                    n
                );
                return Err(EINVAL);
            }
            time_layouts(mem, &set, &pages, &layouts, &mut dst, n)
        });
    set.destroy(mem);
    let (best, read) = res?;
    for (b, l) in best.iter().zip(layouts.iter()) {
        pr_info!(
            "bench: block copy layout n={} off={} len={} stride={} base={} ns/page={} vs_baseline={} ({})\n",
            n,
            l.off,
            l.len,
            l.stride,
            l.base,
            Fixed(*b, n as u64, 2),
            Fixed(*b, best[0], 2),
            l.what
        );
    }
    pr_info!(
        "bench: block bulk read n={} size={} vs the same copies: rust={} ns/entry copies={} ns/entry ratio={} (vs whole pages {})\n",
        n,
        WHOLE_ENTRY,
        Fixed(read, n as u64, 2),
        Fixed(best[1], n as u64, 2),
        Fixed(read, best[1], 2),
        Fixed(read, best[0], 2)
    );
    Ok(())
}

/// Best-of-[`REPS`] times (ns) of each of `layouts` and of the bulk read of `set` into `dst`,
/// in turn in every repetition; every copy and read is checked.
fn time_layouts(
    mem: &mut KernelMem,
    set: &BlockSet<[u8; WHOLE_ENTRY]>,
    pages: &PageBuf,
    layouts: &[Layout; LAYOUTS],
    dst: &mut KVVec<u8>,
    n: usize,
) -> Result<([u64; LAYOUTS], u64)> {
    let mut best = [u64::MAX; LAYOUTS];
    let mut read = u64::MAX;
    for _ in 0..REPS {
        let out = entries_mut::<[u8; WHOLE_ENTRY]>(&mut dst[..n * WHOLE_ENTRY])?;
        out.as_mut_bytes().fill(0);
        let (t, got) = time_ns(|| set.iter().read_slice(mem, out));
        if got != n || out.as_bytes().iter().any(|&x| x != 0x5a) {
            pr_err!(
                "bench: block copy layouts: read {} of {} entries, or wrong bytes\n",
                got,
                n
            );
            return Err(EINVAL);
        }
        read = read.min(t);
        for (b, l) in best.iter_mut().zip(layouts.iter()) {
            let mut copied = 0usize;
            let (t, ()) = time_ns(|| {
                let mut at = l.base;
                pages.for_each(mem, |p, _| {
                    if let (Some(s), Some(d)) =
                        (p.get(l.off..l.off + l.len), dst.get_mut(at..at + l.len))
                    {
                        d.copy_from_slice(s);
                        copied += 1;
                    }
                    at += l.stride;
                });
            });
            if copied != n
                || dst
                    .get(l.base..l.base + l.len)
                    .is_none_or(|d| d.iter().any(|&x| x != 0x5a))
            {
                pr_err!(
                    "bench: block copy layout '{}': copied {} of {} pages, or wrong bytes\n",
                    l.what,
                    copied,
                    n
                );
                return Err(EINVAL);
            }
            black_box(&dst);
            *b = (*b).min(t);
        }
    }
    Ok((best, read))
}

/// Runs the block benchmark.
pub(super) fn run() -> Result {
    bench_size::<[u8; 64]>(N, true)?;
    bench_size::<u64>(N, true)?;
    // One 4080-byte entry per block: the chain cap allows KHO_MAX_BLOCKS entries.
    bench_size::<[u8; 4080]>(N.min(KHO_MAX_BLOCKS), false)?;
    copy_layouts(&mut KernelMem::new(), KHO_MAX_BLOCKS)?;
    Ok(())
}
