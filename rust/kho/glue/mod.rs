// SPDX-License-Identifier: GPL-2.0

//! Kernel glue: the part of kho_rs that talks to C.
//!
//! [`ffi`] declares the C shim; [`kho`] wraps the KHO state queries and error conversion;
//! [`mem::KernelMem`] implements the pure core's `PageMem` on real pages with KHO
//! preservation; [`radix`] wraps the exported C radix tree (for differential tests and
//! benchmarks); [`subtree`] publishes and retrieves the module's KHO subtrees; [`vmalloc`]
//! owns vmalloc areas and maps restored pages. [`block_oracle`] is upstream's C block-v1
//! code, compiled into the module as the oracle of the KUnit suite `kho_rs_block_c` and of
//! the `blockx` exchange.
//!
//! Above this layer only the KUnit suite `kho_rs_geometry` calls the shim (for C's ABI
//! constants), and `unsafe` is left only for page ownership: reaching, freeing or
//! unpreserving pages by physical address.

// The test module only. Without KUnit only the exchange (`crate::blockx`) uses the
// oracle, and not all of it.
#[cfg(kho_rs_test)]
#[cfg_attr(not(CONFIG_KUNIT = "y"), allow(dead_code))]
pub(crate) mod block_oracle;
#[cfg(kho_rs_test)]
pub(crate) mod c_vmalloc;
pub(crate) mod ffi;
pub(crate) mod kho;
pub(crate) mod mem;
#[cfg(kho_rs_test)]
pub(crate) mod radix;
pub(crate) mod seal;
pub(crate) mod subtree;
pub(crate) mod vmalloc;
