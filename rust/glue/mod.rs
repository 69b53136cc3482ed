// SPDX-License-Identifier: GPL-2.0

//! Kernel glue: the only part of kho_rs that talks to C.
//!
//! [`ffi`] declares the C shim; [`kho`] wraps the KHO state queries; [`mem::KernelMem`]
//! implements the pure core's `PageMem` on real pages with KHO preservation. Everything
//! above this layer is safe Rust.

pub(crate) mod ffi;
pub(crate) mod kho;
pub(crate) mod mem;
