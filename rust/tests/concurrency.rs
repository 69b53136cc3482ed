// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `kho_rs_concurrency`: the library's safe API used from several threads at
//! once.
//!
//! [`WORKERS`] work items on the unbound workqueue each build, publish and tear down their
//! own state ([`crate::kho::Outgoing`]: folios in a radix tree, a vmalloc area, entries in
//! a block set, a subtree of its own name) [`ROUNDS`] times, all at the same time. Every
//! call must succeed, every subtree must be registered while published and gone after,
//! and the module's page count must be back where it was: nothing leaked or left
//! preserved. The test kernel runs it under lockdep (`PROVE_LOCKING`) with
//! `panic_on_warn=1`, so a locking bug in the paths it crosses (KHO's own lock, the
//! page allocator, vmalloc, debugfs) fails the run.

use kernel::prelude::*;
use kernel::sync::atomic::{Atomic, Relaxed};

use super::run_workers;
use crate::glue::mem::KernelMem;
use crate::glue::subtree::outgoing_subtree_exists;
use crate::kho::{Folio, Outgoing, VmallocArea};

/// Work items running at once.
const WORKERS: usize = 4;

/// States each work item builds, publishes and tears down.
const ROUNDS: u64 = 4;

/// The subtree of each work item.
const NAMES: [&CStr; WORKERS] = [
    c"kho-rs-conc-0",
    c"kho-rs-conc-1",
    c"kho-rs-conc-2",
    c"kho-rs-conc-3",
];

/// Rounds that failed (an error from the API, or a subtree where none should be) and
/// rounds that succeeded, counted by the work items.
struct Counts {
    failed: Atomic<i64>,
    passed: Atomic<i64>,
}

/// Work item `w`: [`ROUNDS`] rounds.
fn rounds(counts: &Counts, w: usize) {
    for r in 0..ROUNDS {
        match round(w, r) {
            Ok(()) => counts.passed.add(1, Relaxed),
            Err(e) => {
                pr_err!("kho_rs_concurrency: worker {} round {}: {:?}\n", w, r, e);
                counts.failed.add(1, Relaxed)
            }
        }
    }
}

/// One round of work item `w`: build, publish, check, tear down.
fn round(w: usize, r: u64) -> Result {
    let mut out = Outgoing::<[u64; 4]>::new(NAMES[w])?;
    for order in 0..3u32 {
        let mut folio = Folio::new(order)?;
        folio.as_mut_slice()[0] = (w as u8) ^ (r as u8);
        out.add_folio(folio)?;
    }
    out.set_vmalloc(VmallocArea::new(64 << 10)?)?;
    for i in 0..200u64 {
        out.push([w as u64, r, i, !i])?;
    }
    let published = out.publish(r + 1)?;
    if !outgoing_subtree_exists(NAMES[w]) {
        pr_err!("kho_rs_concurrency: worker {}: subtree not registered\n", w);
        return Err(EINVAL);
    }
    drop(published);
    if outgoing_subtree_exists(NAMES[w]) {
        pr_err!(
            "kho_rs_concurrency: worker {}: subtree left registered\n",
            w
        );
        return Err(EINVAL);
    }
    Ok(())
}

#[kunit_tests(kho_rs_concurrency)]
mod tests {
    use super::*;

    /// Four threads preserve, publish and unpreserve their own states at the same time.
    #[test]
    fn parallel_states() -> Result {
        let owned = KernelMem::owned_pages();
        let counts = Counts {
            failed: Atomic::new(0),
            passed: Atomic::new(0),
        };
        let (spawned, workers) = run_workers(WORKERS, counts, rounds)?;
        let shared = &workers.data;
        assert_eq!(spawned, WORKERS);
        assert_eq!(shared.failed.load(Relaxed), 0);
        assert_eq!(
            shared.passed.load(Relaxed),
            (WORKERS as u64 * ROUNDS) as i64
        );
        assert_eq!(KernelMem::owned_pages(), owned);
        Ok(())
    }
}
