// SPDX-License-Identifier: GPL-2.0

//! Kernel-independent core of kho-rs.
//!
//! Everything below this module uses `core` and zerocopy only: no `kernel` crate, no
//! allocator, no FFI.
//! The same files are compiled twice: into `kho_rs.ko` (as `crate::pure`) and into the host
//! crate in `rust/host/` (where `cargo test`, property tests and fuzzing run). Physical memory
//! is reached only through the [`mem::PageMem`] trait, implemented by the kernel glue on real
//! pages and by a simulated physical memory on the host.
//!
//! Data read from the previous kernel is untrusted: every function that reads such data
//! validates before use and returns an [`error::Error`]; none of them panics on bad input.
//!
//! Items that only the host tests and the fuzzers use (readers of FDT header fields, the
//! strict subtree reader, range deletion, ...) are marked `#[cfg(any(test, feature =
//! "fuzz"))]`, so the module compiles exactly what it uses and warns about anything else.

pub(crate) mod block;
pub(crate) mod compat;
pub(crate) mod damage;
pub(crate) mod error;
pub(crate) mod fdt;
pub(crate) mod geometry;
pub(crate) mod mem;
pub(crate) mod radix;
pub(crate) mod record;
pub(crate) mod rng;
pub(crate) mod seal;
pub(crate) mod subtree;
pub(crate) mod vmalloc;
