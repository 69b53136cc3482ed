// SPDX-License-Identifier: GPL-2.0

//! KUnit suites of kho_rs (built only with `CONFIG_KUNIT=y`; they run at insmod).
//!
//! One file per component. The suites exercise the pure core on real pages through
//! [`crate::glue::mem::KernelMem`] and compare against the exported C implementation.

use kernel::prelude::*;

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
