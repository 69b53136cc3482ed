// SPDX-License-Identifier: GPL-2.0

//! Benchmark of the block component (not written yet).

use kernel::prelude::*;

/// Runs the block benchmark.
pub(super) fn run() -> Result {
    pr_info!("bench: block: not implemented yet\n");
    Ok(())
}
