// SPDX-License-Identifier: GPL-2.0

//! Benchmark of the radix component (not written yet).

use kernel::prelude::*;

/// Runs the radix benchmark.
pub(super) fn run() -> Result {
    pr_info!("bench: radix: not implemented yet\n");
    Ok(())
}
