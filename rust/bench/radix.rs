// SPDX-License-Identifier: GPL-2.0

//! Benchmark of the radix component: the pure Rust tree on [`KernelMem`] against the
//! exported C tree, in the same boot.
//!
//! For 10^4, 10^5 and 10^6 order-0 keys, contiguous PFNs and random PFNs below 64 GiB (the
//! keys need not be real memory), it times add, walk and del of every key for both trees
//! (the faster of two rounds, one with each tree built first: see [`ROUNDS`]), then the
//! range API (`add_range` with max order 0) against per-key adds. One `bench:` line per
//! measurement, with ns/op and the Rust/C ratio (integer arithmetic only).

use kernel::prelude::*;

use super::{time_ns, Fixed};
use crate::glue::kho::core_err;
use crate::glue::mem::{KernelMem, GEOMETRY};
use crate::glue::radix::CRadixTree;
use crate::pure::error::Result as CoreResult;
use crate::pure::radix::{encode_key, PageRange, RadixTree, RadixVisitor};
use crate::pure::rng::XorShift;

/// Numbers of keys.
const SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];

/// First PFN of the contiguous key sets (4 GiB).
const CONTIG_BASE_PFN: u64 = (4u64 << 30) >> GEOMETRY.page_shift;

/// Order-0 pages of a 64 GiB physical address space (random keys are drawn below it).
const PFNS_64G: u64 = (64u64 << 30) >> GEOMETRY.page_shift;

/// Key sets of the benchmark.
#[derive(Clone, Copy)]
enum Pattern {
    /// Contiguous PFNs from [`CONTIG_BASE_PFN`].
    Contiguous,
    /// Random PFNs below 64 GiB (xorshift64 with a fixed seed; duplicates possible).
    Random,
}

impl Pattern {
    /// Name printed in the `bench:` lines.
    const fn name(self) -> &'static str {
        match self {
            Pattern::Contiguous => "contiguous",
            Pattern::Random => "random",
        }
    }
}

/// Converts a pure-core error, logging it.
fn ce(e: crate::pure::error::Error) -> Error {
    core_err("radix bench", e)
}

/// The `n` order-0 keys of `pattern`.
fn make_keys(pattern: Pattern, n: usize) -> Result<KVVec<u64>> {
    let mut keys = KVVec::with_capacity(n, GFP_KERNEL)?;
    let mut rng = XorShift::new(0x2545_f491_4f6c_dd1d);
    for i in 0..n as u64 {
        let pfn = match pattern {
            Pattern::Contiguous => CONTIG_BASE_PFN + i,
            Pattern::Random => rng.next() % PFNS_64G,
        };
        let key = encode_key(&GEOMETRY, pfn << GEOMETRY.page_shift, 0).map_err(ce)?;
        keys.push(key, GFP_KERNEL)?;
    }
    Ok(keys)
}

/// Prints one comparison line: per-op times of `a` and `b` (ns/op as x.xx) and the ratio
/// `a / b` of the totals as x.xx; with `speedup`, also `b / a`.
///
/// `what` is `(operation, key pattern)`, `a` and `b` are `(name, total ns)`.
fn report(what: (&str, &str), n: usize, a: (&str, u64), b: (&str, u64), ops: u64, speedup: bool) {
    let (a_name, a_ns) = a;
    let (b_name, b_ns) = b;
    let ops = ops.max(1);
    let per_op = |ns: u64| Fixed(ns, ops, 2);
    let ratio = Fixed(a_ns, b_ns, 2);
    pr_info!(
        "bench: radix {} {} n={} {}={} ns/op {}={} ns/op ratio={}{}\n",
        what.0,
        what.1,
        n,
        a_name,
        per_op(a_ns),
        b_name,
        per_op(b_ns),
        ratio,
        Speedup(speedup.then(|| b_ns / a_ns.max(1)))
    );
}

/// ` speedup=Nx` at the end of a [`report`] line, or nothing.
struct Speedup(Option<u64>);

impl kernel::fmt::Display for Speedup {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        match self.0 {
            Some(x) => write!(f, " speedup={x}x"),
            None => Ok(()),
        }
    }
}

/// Visitor counting keys.
struct CountKeys(u64);

impl RadixVisitor for CountKeys {
    fn key(&mut self, _key: u64) -> CoreResult {
        self.0 += 1;
        Ok(())
    }
}

/// Runs of each walk per round; the fastest one counts.
const WALK_REPS: usize = 5;

/// Rounds of add, walk and del per key set. The trees are built anew each round, and the
/// Rust and the C tree take turns to be built (and emptied) first; each side's fastest round
/// counts.
///
/// Why: the tree built second gets the better pages. Its nodes come from the page allocator
/// right after the first tree's, in a run of fresh pages, while the first tree's are
/// whatever was free before, scattered; and under TCG a random key's leaf costs a
/// software-TLB refill more often when the leaves are scattered. With one fixed order (Rust
/// first) the same code deleted random keys from the C-built tree at 0.3-0.5x the time it
/// took on its own tree in the same boot, and C's code likewise on the Rust-built tree: the
/// ratio measured the order, not the code.
const ROUNDS: usize = 2;

/// Total nanoseconds of one side's add, walk (best run) and del of a key set.
#[derive(Clone, Copy)]
struct Times {
    add: u64,
    walk: u64,
    del: u64,
}

impl Times {
    /// Nothing measured yet: above every real time.
    const NONE: Self = Self {
        add: u64::MAX,
        walk: u64::MAX,
        del: u64::MAX,
    };

    /// The faster of `self` and `other`, operation by operation.
    fn min(self, other: Self) -> Self {
        Self {
            add: self.add.min(other.add),
            walk: self.walk.min(other.walk),
            del: self.del.min(other.del),
        }
    }
}

/// Times add, walk and del of `keys` for the Rust and the C tree, over [`ROUNDS`] rounds.
fn add_walk_del(mem: &mut KernelMem, pattern: Pattern, keys: &[u64]) -> Result {
    let n = keys.len();
    let (mut rust, mut c) = (Times::NONE, Times::NONE);
    let mut walked = 0u64;
    for round in 0..ROUNDS {
        let (r, ct, count) = one_round(mem, keys, round % 2 == 1)?;
        rust = rust.min(r);
        c = c.min(ct);
        walked = count;
    }
    let row = |op: &str, r: u64, ct: u64, ops: u64| {
        report((op, pattern.name()), n, ("rust", r), ("c", ct), ops, false)
    };
    row("add", rust.add, c.add, n as u64);
    row("walk", rust.walk, c.walk, walked);
    row("del", rust.del, c.del, n as u64);
    Ok(())
}

/// One round of [`add_walk_del`]: new trees, `keys` added, walked and deleted, C's tree
/// first if `c_first`. Returns the Rust and C times and the number of keys walked.
fn one_round(mem: &mut KernelMem, keys: &[u64], c_first: bool) -> Result<(Times, Times, u64)> {
    let mut rt = RadixTree::new(mem).map_err(ce)?;
    let res = (|| -> Result<(Times, Times, u64)> {
        let mut ct = CRadixTree::new()?;
        let (mut rust, mut c) = (Times::NONE, Times::NONE);
        // Both sides, in the round's order: `rust_op` and `c_op` each time themselves.
        let both =
            |rust_op: &mut dyn FnMut() -> Result, c_op: &mut dyn FnMut() -> Result| -> Result {
                if c_first {
                    c_op()?;
                    rust_op()
                } else {
                    rust_op()?;
                    c_op()
                }
            };
        both(
            &mut || {
                let (ns, r) = time_ns(|| keys.iter().try_for_each(|&k| rt.add(mem, k)));
                rust.add = ns;
                r.map_err(ce)
            },
            &mut || {
                let (ns, r) = time_ns(|| keys.iter().try_for_each(|&k| ct.add_key(k)));
                c.add = ns;
                r
            },
        )?;

        // A walk changes nothing: best of WALK_REPS runs of each, alternating, so that
        // neither side is timed alone right after the other's adds (cold caches), which
        // dominated the short walks of 10^4 keys.
        let mut count = CountKeys(0);
        let mut c_count = 0u64;
        for _ in 0..WALK_REPS {
            count = CountKeys(0);
            let (ns, r) = time_ns(|| rt.walk(mem, &mut count));
            r.map_err(ce)?;
            rust.walk = rust.walk.min(ns);
            c_count = 0;
            // Keys only: Linux 7.2's C walk has no node callback.
            let (ns, r) = time_ns(|| {
                ct.walk_keys(|_| {
                    c_count += 1;
                    Ok(())
                })
            });
            r?;
            c.walk = c.walk.min(ns);
        }
        if count.0 != c_count {
            pr_err!(
                "bench: radix walk key counts differ: rust {} c {}\n",
                count.0,
                c_count
            );
            return Err(EINVAL);
        }

        both(
            &mut || {
                let (ns, r) = time_ns(|| keys.iter().try_for_each(|&k| rt.del(mem, k)));
                rust.del = ns;
                r.map_err(ce)
            },
            &mut || {
                let (ns, ()) = time_ns(|| keys.iter().for_each(|&k| ct.del_key(k)));
                c.del = ns;
                Ok(())
            },
        )?;
        // `ct` is dropped here: its pages are destroyed.
        Ok((rust, c, count.0))
    })();
    rt.destroy(mem);
    res
}

/// Times `add_range` (max order 0) of `n` contiguous pages against per-key adds (Rust and
/// C) of the same keys.
fn range_vs_keys(mem: &mut KernelMem, keys: &[u64]) -> Result {
    let n = keys.len();
    let pa = CONTIG_BASE_PFN << GEOMETRY.page_shift;
    let mut range_tree = RadixTree::new(mem).map_err(ce)?;
    let (t_range, r) = time_ns(|| range_tree.add_range(mem, PageRange::new(pa, n as u64, 0)));
    let r = r.map_err(ce).and_then(|added| {
        let mut key_tree = RadixTree::new(mem).map_err(ce)?;
        let (t_keys, r) = time_ns(|| keys.iter().try_for_each(|&k| key_tree.add(mem, k)));
        key_tree.destroy(mem);
        r.map_err(ce)?;
        let mut ct = CRadixTree::new()?;
        let (t_c, r) = time_ns(|| keys.iter().try_for_each(|&k| ct.add_key(k)));
        r?;
        if added != n as u64 {
            pr_err!("bench: radix add_range added {} of {} keys\n", added, n);
            return Err(EINVAL);
        }
        report(
            ("add_range-vs-perkey", "contiguous"),
            n,
            ("range", t_range),
            ("perkey", t_keys),
            n as u64,
            true,
        );
        report(
            ("add_range-vs-c", "contiguous"),
            n,
            ("rust_range", t_range),
            ("c_perkey", t_c),
            n as u64,
            true,
        );
        Ok(())
    });
    range_tree.destroy(mem);
    r
}

/// Runs the radix benchmark.
pub(super) fn run() -> Result {
    let mut mem = KernelMem::new();
    for pattern in [Pattern::Contiguous, Pattern::Random] {
        for n in SIZES {
            let keys = make_keys(pattern, n)?;
            add_walk_del(&mut mem, pattern, &keys)?;
        }
    }
    for n in SIZES {
        let keys = make_keys(Pattern::Contiguous, n)?;
        range_vs_keys(&mut mem, &keys)?;
    }
    Ok(())
}
