// SPDX-License-Identifier: GPL-2.0

//! kho: a Rust library for Kexec HandOver (KHO).
//!
//! KHO keeps memory, and the metadata that describes it, across a kexec. This library
//! reimplements KHO's data structures (the radix-tree preserved-memory tracker,
//! vmalloc preservation and linked-block serialization) byte-for-byte compatible with
//! the C code of Linux 7.2/7.3, and gives a Rust driver a safe API over them.
//!
//! Layout:
//!
//! - [`pure`]: the kernel-independent core. Formats, validation and algorithms, on an
//!   abstract page memory. The same files build as the host crate (`rust/host`) for
//!   `cargo test`, property tests and fuzzing.
//! - [`glue`]: the only code that calls C: page memory with KHO preservation, subtrees,
//!   vmalloc areas. Built with `--cfg kho_rs_test`, it also has the C references the
//!   tests and benchmarks compare against (C's radix tree and upstream's `kho_block.c`).
//!
//! The library is compiled into each module that uses it (`mod kho;`): an out-of-tree
//! module cannot link against another one's Rust items. The crate root that says
//! `mod kho;` also says `use kho::{glue, pure};`: the core is written against
//! `crate::pure`, as the host crate, whose root it is, sees it.

pub(crate) mod glue;
pub(crate) mod pure;
pub(crate) mod state;

pub use state::{Entry, Folio, Outgoing, Published, Restored, VmallocArea, MAX_FOLIO_ORDER};
