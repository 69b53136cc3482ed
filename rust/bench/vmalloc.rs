// SPDX-License-Identifier: GPL-2.0

//! Benchmark of the vmalloc component (not written yet).

use kernel::prelude::*;

/// Runs the vmalloc benchmark.
pub(super) fn run() -> Result {
    pr_info!("bench: vmalloc: not implemented yet\n");
    Ok(())
}
