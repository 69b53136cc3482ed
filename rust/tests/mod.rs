// SPDX-License-Identifier: GPL-2.0

//! KUnit suites of kho_rs (built only with `CONFIG_KUNIT=y`; they run at insmod).
//!
//! One file per component. The suites exercise the pure core on real pages through
//! [`crate::glue::mem::KernelMem`] and compare against the exported C implementation.

mod block;
mod block_c;
mod claim;
mod compat;
mod geometry;
mod radix;
mod vmalloc;
