// SPDX-License-Identifier: GPL-2.0

//! Benchmark of the block component: block set write/read vs a plain memcpy.
//!
//! For entries of 8, 64 and 4080 bytes, writes `n` entries into a [`BlockSet`] on real
//! preserved pages (grown beforehand, as users do before the point of no return) and reads
//! them back with a fresh iterator, and compares with one `memcpy` of the same number of
//! bytes into a same-sized `KVVec`, the physical limit. 100,000 entries, except 4080-byte
//! entries: one per block, so at most `KHO_MAX_BLOCKS` (10,000) of them; they are [`Wide`]
//! entries, whose read folds the bytes into a checksum instead of returning them by value.
//! Each timing is the best of [`REPS`] runs. Integer arithmetic only; everything is freed
//! afterwards.

use core::hint::black_box;

use kernel::prelude::*;

use super::{time_ns, Fixed};
use crate::glue::kho::core_err;
use crate::glue::mem::{KernelMem, GEOMETRY};
use crate::pure::block::{BlockEntry, BlockSet, KHO_MAX_BLOCKS};

/// Number of entries of the benchmark.
const N: usize = 100_000;

/// Repetitions of each timed loop; the fastest one counts.
const REPS: usize = 3;

/// Entries of the benchmark, built on the heap: a 4080-byte entry is too large to keep
/// more than one of on the kernel stack at a time.
trait BenchEntry: BlockEntry {
    /// A recognizable, non-zero entry.
    fn boxed() -> Result<KBox<Self>>;
}

impl BenchEntry for u64 {
    fn boxed() -> Result<KBox<Self>> {
        Ok(KBox::new(0x0123_4567_89ab_cdef, GFP_KERNEL)?)
    }
}

impl<const S: usize> BenchEntry for [u8; S] {
    fn boxed() -> Result<KBox<Self>> {
        let mut a = KBox::<[u8; S]>::init(pin_init::init_zeroed(), GFP_KERNEL)?;
        for (i, b) in a.iter_mut().enumerate() {
            *b = (i % 251) as u8 + 1;
        }
        Ok(a)
    }
}

/// Bytes of a [`Wide`] entry: the largest entry of a 4K block.
const WIDE: usize = 4080;

/// Wire bytes of every [`Wide`] entry.
static WIDE_TEMPLATE: [u8; WIDE] = {
    let mut a = [0u8; WIDE];
    let mut i = 0;
    while i < WIDE {
        a[i] = (i % 251) as u8 + 1;
        i += 1;
    }
    a
};

/// A 4080-byte entry that is 8 bytes in memory.
///
/// `encode` copies [`WIDE_TEMPLATE`] into the block; `decode` reads all 4080 bytes and folds
/// them into a checksum. A `[u8; 4080]` entry cannot be used here: reading it returns 4080
/// bytes by value through several nested frames (`read_entry`, `Slot::read`, `decode`),
/// over 12 KiB of the 16 KiB kernel stack.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Wide {
    /// Sum of the entry's native-endian 64-bit words.
    sum: u64,
}

impl BlockEntry for Wide {
    const SIZE: usize = WIDE;

    fn encode(&self, out: &mut [u8]) {
        if let Some(out) = out.get_mut(..WIDE) {
            out.copy_from_slice(&WIDE_TEMPLATE);
        }
    }

    fn decode(bytes: &[u8]) -> Self {
        let sum = bytes.chunks_exact(8).fold(0u64, |acc, w| {
            let mut word = [0u8; 8];
            word.copy_from_slice(w);
            acc.wrapping_add(u64::from_ne_bytes(word))
        });
        Self { sum }
    }
}

impl BenchEntry for Wide {
    fn boxed() -> Result<KBox<Self>> {
        Ok(KBox::new(Self::decode(&WIDE_TEMPLATE), GFP_KERNEL)?)
    }
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

/// Best-of-[`REPS`] time of one memcpy of `bytes` bytes between two `KVVec`s.
fn memcpy_ns<E: BenchEntry>(n: usize) -> Result<u64> {
    let bytes = n * E::SIZE;
    let mut src = KVVec::<u8>::with_capacity(bytes, GFP_KERNEL)?;
    let mut wire = KVec::from_elem(0u8, E::SIZE, GFP_KERNEL)?;
    E::boxed()?.encode(&mut wire);
    for _ in 0..n {
        src.extend_from_slice(&wire, GFP_KERNEL)?;
    }
    let mut dst = KVVec::<u8>::with_capacity(bytes, GFP_KERNEL)?;
    dst.extend_with(bytes, 0, GFP_KERNEL)?;
    let mut best = u64::MAX;
    for _ in 0..REPS {
        let (ns, ()) = time_ns(|| dst.copy_from_slice(&src));
        black_box(&dst);
        best = best.min(ns);
    }
    Ok(best)
}

/// Timings of one entry size, in ns.
struct Times {
    /// Growing the set to `n` entries (allocate, zero, preserve, link blocks).
    grow: u64,
    /// Writing `n` entries, best of [`REPS`].
    write: u64,
    /// Reading `n` entries, best of [`REPS`].
    read: u64,
    /// Destroying the set (unpreserve and free every block).
    destroy: u64,
    /// Blocks of the set.
    blocks: usize,
}

/// Reads every entry of `set` with a fresh iterator and returns how many there were.
///
/// Kept out of line so that the entry returned by `read_entry` is the only one on its frame.
#[inline(never)]
fn read_all<E: BenchEntry>(mem: &KernelMem, set: &BlockSet<E>) -> usize {
    let mut it = set.iter();
    let mut got = 0usize;
    while let Some(e) = it.read_entry(mem) {
        black_box(&e);
        got += 1;
    }
    got
}

/// Writes and reads `n` entries of `E` on a set grown by the caller; best times in ns.
#[inline(never)]
fn write_read<E: BenchEntry>(
    mem: &mut KernelMem,
    set: &BlockSet<E>,
    n: usize,
) -> Result<(u64, u64)> {
    let template = E::boxed()?;
    let mut write = u64::MAX;
    let mut read = u64::MAX;
    for _ in 0..REPS {
        let (ns, r) = time_ns(|| {
            let mut it = set.iter();
            for _ in 0..n {
                it.write(mem, &template)?;
            }
            Ok(())
        });
        r.map_err(|e| core_err("bench block write", e))?;
        write = write.min(ns);

        let (ns, got) = time_ns(|| read_all(mem, set));
        if got != n {
            pr_err!("bench: block read {} entries, wrote {}\n", got, n);
            return Err(EINVAL);
        }
        read = read.min(ns);
    }
    Ok((write, read))
}

/// Grows a set for `n` entries of `E`, writes and reads them, and destroys it.
fn rust_times<E: BenchEntry>(n: usize) -> Result<Times> {
    let mut mem = KernelMem::new();
    let mut set = BlockSet::<E>::new(GEOMETRY);
    let (grow, r) = time_ns(|| set.grow(&mut mem, n));
    let res = r
        .map_err(|e| core_err("bench block grow", e))
        .and_then(|()| write_read(&mut mem, &set, n));
    let blocks = set.nblocks();
    let (destroy, ()) = time_ns(|| set.destroy(&mut mem));
    let (write, read) = res?;
    Ok(Times {
        grow,
        write,
        read,
        destroy,
        blocks,
    })
}

/// Benchmarks `n` entries of `E`.
fn bench_size<E: BenchEntry>(n: usize) -> Result {
    let t = rust_times::<E>(n)?;
    let m = memcpy_ns::<E>(n)?;
    report("write", n, E::SIZE, t.write, m);
    report("read", n, E::SIZE, t.read, m);
    pr_info!(
        "bench: block grow+destroy n={} size={} blocks={} grow={} ns/block destroy={} ns/block\n",
        n,
        E::SIZE,
        t.blocks,
        Fixed(t.grow, t.blocks as u64, 2),
        Fixed(t.destroy, t.blocks as u64, 2)
    );
    Ok(())
}

/// Runs the block benchmark.
pub(super) fn run() -> Result {
    bench_size::<[u8; 64]>(N)?;
    bench_size::<u64>(N)?;
    // One 4080-byte entry per block: the chain cap allows KHO_MAX_BLOCKS entries.
    bench_size::<Wide>(N.min(KHO_MAX_BLOCKS))?;
    Ok(())
}
