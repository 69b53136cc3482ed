// SPDX-License-Identifier: GPL-2.0

//! KUnit suites of kho_rs (built only with `CONFIG_KUNIT=y`; they run at insmod).
//!
//! One file per component. The suites exercise the pure core on real pages through
//! [`crate::glue::mem::KernelMem`] and compare against the exported C implementation.

use kernel::prelude::*;
use kernel::sync::atomic::{Atomic, Full};
use kernel::sync::{Arc, Completion};
use kernel::workqueue;

use crate::glue::kho::core_err;
use crate::pure::error::Result as CoreResult;
use crate::pure::mem::PageMem;

mod block;
mod block_c;
mod claim;
mod compat;
mod concurrency;
pub(crate) mod faults;
mod geometry;
mod radix;
mod seal;
mod vmalloc;

// The test helpers every suite shares. Helpers return errors instead of asserting, so a
// negative test can see a mismatch and the helpers work outside `#[kunit_tests]` too.

/// Fails with `-EINVAL` and one log line naming `what` and the values `a`, `b` unless
/// `cond` holds.
pub(crate) fn check(cond: bool, what: &str, a: u64, b: u64) -> Result {
    if cond {
        Ok(())
    } else {
        pr_err!("test check failed: {}: {:#x} vs {:#x}\n", what, a, b);
        Err(EINVAL)
    }
}

/// Fails with `-EINVAL` and one log line naming `what` unless `cond` holds.
pub(crate) fn ensure(cond: bool, what: &str) -> Result {
    if cond {
        Ok(())
    } else {
        pr_err!("test check failed: {}\n", what);
        Err(EINVAL)
    }
}

/// Fails with `-EINVAL` and one log line naming both values unless `got == want`.
pub(crate) fn ensure_eq(got: u64, want: u64, what: &str) -> Result {
    check(got == want, what, got, want)
}

/// Converts a pure-core result, logging the cause on error.
pub(crate) fn kr<T>(ctx: &str, r: CoreResult<T>) -> Result<T> {
    r.map_err(|e| core_err(ctx, e))
}

/// Addresses of the blocks of the raw chain at `head`, linked through their first word, at
/// most `limit` of them (more fails), read by the test itself.
///
/// # Safety
///
/// Every block of the chain must be a page of a structure the caller holds, and not be
/// freed or written while this runs.
pub(crate) unsafe fn chain_pas(mem: &impl PageMem, head: u64, limit: usize) -> Result<KVVec<u64>> {
    let mut out = KVVec::new();
    let mut pa = head;
    while pa != 0 {
        ensure(out.len() < limit, "chain longer than expected")?;
        out.push(pa, GFP_KERNEL)?;
        // SAFETY: a block of the chain (this function's contract).
        pa = unsafe { mem.page(pa) }
            .and_then(|p| p.first())
            .copied()
            .ok_or(EFAULT)?;
    }
    Ok(out)
}

/// Work items of [`run_workers`] and what they share.
#[pin_data]
pub(crate) struct Workers<T> {
    /// Signalled by the last work item to finish.
    #[pin]
    done: Completion,
    /// Work items still running (or never spawned).
    left: Atomic<i64>,
    /// What the work items share; the test reads it afterwards.
    pub(crate) data: T,
}

/// Runs `work(&data, i)` for `i` in `0..n` on the unbound workqueue, all at the same time,
/// and waits until every one has finished. Returns how many could be spawned (the others
/// did not run) and the shared data.
pub(crate) fn run_workers<T: Send + Sync + 'static>(
    n: usize,
    data: T,
    work: fn(&T, usize),
) -> Result<(usize, Arc<Workers<T>>)> {
    let w = Arc::pin_init(
        pin_init!(Workers {
            done <- Completion::new(),
            left: Atomic::new(n as i64),
            data,
        }),
        GFP_KERNEL,
    )?;
    let mut spawned = 0;
    for i in 0..n {
        let c = w.clone();
        let job = move || {
            work(&c.data, i);
            if c.left.fetch_sub(1, Full) == 1 {
                c.done.complete_all();
            }
        };
        if workqueue::system_unbound()
            .try_spawn(GFP_KERNEL, job)
            .is_err()
        {
            break;
        }
        spawned += 1;
    }
    // Work items that could not be spawned count as finished.
    let missing = (n - spawned) as i64;
    if missing != 0 && w.left.fetch_sub(missing, Full) == missing {
        w.done.complete_all();
    }
    w.done.wait_for_completion();
    Ok((spawned, w))
}
