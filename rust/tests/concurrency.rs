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
use kernel::sync::atomic::{Atomic, Full, Relaxed};
use kernel::sync::{Arc, Completion};
use kernel::workqueue;

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

/// What the work items share with the test.
#[pin_data]
struct Shared {
    /// Signalled by the last work item to finish.
    #[pin]
    done: Completion,
    /// Work items still running.
    left: Atomic<i64>,
    /// Rounds that failed (an error from the API, or a subtree where none should be).
    failed: Atomic<i64>,
    /// Rounds that succeeded.
    passed: Atomic<i64>,
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
        let shared = Arc::pin_init(
            pin_init!(Shared {
                done <- Completion::new(),
                left: Atomic::new(WORKERS as i64),
                failed: Atomic::new(0),
                passed: Atomic::new(0),
            }),
            GFP_KERNEL,
        )?;
        let mut spawned = 0;
        for w in 0..WORKERS {
            let s = shared.clone();
            let work = move || {
                for r in 0..ROUNDS {
                    match round(w, r) {
                        Ok(()) => s.passed.add(1, Relaxed),
                        Err(e) => {
                            pr_err!("kho_rs_concurrency: worker {} round {}: {:?}\n", w, r, e);
                            s.failed.add(1, Relaxed)
                        }
                    }
                }
                if s.left.fetch_sub(1, Full) == 1 {
                    s.done.complete_all();
                }
            };
            if workqueue::system_unbound()
                .try_spawn(GFP_KERNEL, work)
                .is_err()
            {
                break;
            }
            spawned += 1;
        }
        // Work items that could not be spawned count as finished (and failed).
        let missing = (WORKERS - spawned) as i64;
        if missing != 0 && shared.left.fetch_sub(missing, Full) == missing {
            shared.done.complete_all();
        }
        if spawned != 0 {
            shared.done.wait_for_completion();
        }
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
