// SPDX-License-Identifier: GPL-2.0

//! Host tests of the pure core, one file per component.

use std::vec::Vec;

use crate::pure::error::{Error, Result};
use crate::sim::SimMem;

mod block;
mod claim;
mod compat;
mod damage;
mod fdt;
mod fuzz;
mod geometry;
mod radix;
mod seal;
mod subtree;
mod vmalloc;

/// Runs `restore` on the kexec'd `m2` and expects it to fail with `errno_want` and a message
/// starting with `prefix` (the component, as in `"block: "`); checks that the failure left
/// no restored page allocated and allocated nothing else. Returns `m2` and the error.
fn expect_restore_error<T>(
    mut m2: SimMem,
    prefix: &str,
    errno_want: i32,
    restore: impl FnOnce(&mut SimMem) -> Result<T>,
) -> (SimMem, Error) {
    let incoming = m2.incoming.clone();
    let live = m2.live_pages();
    let Err(err) = restore(&mut m2) else {
        panic!("malformed input accepted (expected {prefix}errno {errno_want})");
    };
    assert_eq!(err.errno, errno_want, "{err}");
    assert!(err.what.starts_with(prefix), "{err}");
    // Every live page is still an unrestored incoming page (or was not ours at all).
    let restored_left: Vec<u64> = m2
        .live_pages()
        .into_iter()
        .filter(|p| incoming.contains(p) && !m2.incoming.contains(p))
        .collect();
    assert!(
        restored_left.is_empty(),
        "restored pages leaked: {restored_left:x?}"
    );
    assert!(m2.live_pages().is_subset(&live));
    (m2, err)
}
