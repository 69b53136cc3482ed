// SPDX-License-Identifier: GPL-2.0

//! Kernel glue: the only part of kho_rs that talks to C.
//!
//! [`ffi`] declares the C shim; [`kho`] wraps the KHO state queries and error conversion;
//! [`mem::KernelMem`] implements the pure core's `PageMem` on real pages with KHO
//! preservation; [`radix`] wraps the exported C radix tree (for differential tests and
//! benchmarks); [`subtree`] publishes and retrieves the module's KHO subtrees; [`vmalloc`] owns vmalloc areas and maps restored pages. Everything above
//! this layer is safe Rust. KUnit builds add [`block_oracle`], upstream's C block-v1 code as a
//! test oracle.

#[cfg(CONFIG_KUNIT = "y")]
pub(crate) mod block_oracle;
pub(crate) mod ffi;
pub(crate) mod kho;
pub(crate) mod mem;
pub(crate) mod radix;
pub(crate) mod subtree;
pub(crate) mod vmalloc;
