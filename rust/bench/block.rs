// SPDX-License-Identifier: GPL-2.0

//! Benchmark of the block component: block set write/read vs a plain memcpy.
//!
//! For entries of 64, 8 and 4080 bytes, writes `n` entries into a [`BlockSet`] on real
//! preserved pages (grown beforehand, as users do before the point of no return) and reads
//! them back with a fresh iterator, and compares with one `memcpy` of the same number of
//! bytes between two `KVVec`s, the physical limit. Two ways of writing and reading are
//! timed: the bulk calls a user dumping and restoring a table makes
//! ([`BlockIter::write_slice`] from the source buffer, [`BlockIter::read_slice`] into the
//! destination buffer: one copy per block), and, for 64- and 8-byte entries, the per-entry
//! iterator ([`BlockIter::write`] and [`BlockIter::read_entry`]; a 4080-byte entry is too
//! large to return by value a few frames deep on the kernel stack). 100,000 entries, except
//! 4080-byte entries: one per block, so at most `KHO_MAX_BLOCKS` (10,000) of them. Each
//! timing is the best of [`REPS`] runs; the bulk read is checked byte for byte against the
//! source. Integer arithmetic only; everything is freed afterwards.

use core::hint::black_box;

use kernel::prelude::*;
use zerocopy::{Immutable, KnownLayout};

use super::{time_ns, Fixed};
use crate::glue::kho::core_err;
use crate::glue::mem::{KernelMem, GEOMETRY};
use crate::pure::block::{BlockEntry, BlockIter, BlockSet, KHO_MAX_BLOCKS};

/// Number of entries of the benchmark.
const N: usize = 100_000;

/// Repetitions of each timed loop; the fastest one counts.
const REPS: usize = 3;

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

/// Best-of-[`REPS`] time of one memcpy of `src` into `dst`.
fn memcpy_ns(src: &[u8], dst: &mut [u8]) -> u64 {
    let mut best = u64::MAX;
    for _ in 0..REPS {
        let (ns, ()) = time_ns(|| dst.copy_from_slice(src));
        black_box(&dst);
        best = best.min(ns);
    }
    best
}

/// Best-of-[`REPS`] times (ns) of the bulk write of `src` and the bulk read into `dst`.
fn bulk<E: BenchEntry>(
    mem: &mut KernelMem,
    set: &BlockSet<E>,
    src: &[E],
    dst: &mut [E],
) -> Result<(u64, u64)> {
    let (mut write, mut read) = (u64::MAX, u64::MAX);
    for _ in 0..REPS {
        let (ns, done) = time_ns(|| set.iter().write_slice(mem, src));
        write = write.min(ns);
        let (ns, got) = time_ns(|| set.iter().read_slice(mem, dst));
        read = read.min(ns);
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
    }
    Ok((write, read))
}

/// Reads every entry of `set` with a fresh iterator and returns how many there were.
///
/// Kept out of line so that the entry returned by `read_entry` is the only one on its frame.
#[inline(never)]
fn read_all<E: BenchEntry>(mem: &KernelMem, set: &BlockSet<E>) -> usize {
    let mut it: BlockIter<'_, E> = set.iter();
    let mut got = 0usize;
    while let Some(e) = it.read_entry(mem) {
        black_box(&e);
        got += 1;
    }
    got
}

/// Best-of-[`REPS`] times (ns) of writing `src` entry by entry and reading it back.
#[inline(never)]
fn per_entry<E: BenchEntry>(
    mem: &mut KernelMem,
    set: &BlockSet<E>,
    src: &[E],
) -> Result<(u64, u64)> {
    let (mut write, mut read) = (u64::MAX, u64::MAX);
    for _ in 0..REPS {
        let (ns, r) = time_ns(|| {
            let mut it = set.iter();
            src.iter().try_for_each(|e| it.write(mem, e))
        });
        r.map_err(|e| core_err("bench block write", e))?;
        write = write.min(ns);
        let (ns, got) = time_ns(|| read_all(mem, set));
        if got != src.len() {
            pr_err!("bench: block read {} entries, wrote {}\n", got, src.len());
            return Err(EINVAL);
        }
        read = read.min(ns);
    }
    Ok((write, read))
}

/// Benchmarks `n` entries of `E`; `each` adds the per-entry iterator.
fn bench_size<E: BenchEntry>(n: usize, each: bool) -> Result {
    let src_bytes = buffer::<E>(n, true)?;
    let mut dst_bytes = buffer::<E>(n, false)?;
    let m = memcpy_ns(&src_bytes, &mut dst_bytes);
    dst_bytes.fill(0);
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
                Some(per_entry(&mut mem, &set, src)?)
            } else {
                None
            };
            Ok((b, e))
        });
    let blocks = set.nblocks();
    let (destroy, ()) = time_ns(|| set.destroy(&mut mem));
    let ((bw, br), each) = res?;
    report("bulk write", n, E::SIZE, bw, m);
    report("bulk read", n, E::SIZE, br, m);
    if let Some((w, r)) = each {
        report("write", n, E::SIZE, w, m);
        report("read", n, E::SIZE, r, m);
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

/// Runs the block benchmark.
pub(super) fn run() -> Result {
    bench_size::<[u8; 64]>(N, true)?;
    bench_size::<u64>(N, true)?;
    // One 4080-byte entry per block: the chain cap allows KHO_MAX_BLOCKS entries.
    bench_size::<[u8; 4080]>(N.min(KHO_MAX_BLOCKS), false)?;
    Ok(())
}
